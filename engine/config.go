package engine

import (
	"loopgate/certs"
	"runtime"
	"slices"
	"time"

	"loopgate/codec"
	"loopgate/health"
	"loopgate/ratelimit"
	"loopgate/route"
	"loopgate/stats"
	"loopgate/upstream"
)

// Config is everything the engine needs to run. cmd/loopgate decodes it from
// config.toml (or a seed-style config.json) and validates it; the engine reads
// no files. Zero values mean the documented defaults (see WithDefaults).
type Config struct {
	Listen         string        `toml:"listen"`          // (default "0.0.0.0:8080")
	EventLoops     int           `toml:"event_loops"`     // 0 = one per GOMAXPROCS, see Loops (default 0)
	ReusePort      bool          `toml:"reuse_port"`      // SO_REUSEPORT on the listener (default false)
	ReadBufferCap  int           `toml:"read_buffer"`     // bytes read per syscall per loop (default 65536)
	MaxConnections int           `toml:"max_connections"` // client connections; over it new ones get 503 and close (default 10000)
	ShutdownGrace  time.Duration `toml:"shutdown_grace"`  // in-flight requests get this long on SIGTERM (default 10s)
	// MaxConnectionsPerClient bounds the open connections of one peer
	// address; over it a new one gets 429 and closes (default 0: no bound).
	MaxConnectionsPerClient int `toml:"max_connections_per_client"`
	// TrustedProxies are the CIDRs of proxies in front of loopgate whose
	// X-Forwarded-For is believed when hashing on the client IP (ip_hash,
	// hash_key = "ip"). Empty: the socket's peer address is the client (default []).
	TrustedProxies []string `toml:"trusted_proxies"`
	// SeedEndpoints answers GET /__health__, /__metrics__ and /__status__ on
	// the proxy port, as the seed balancers do, instead of forwarding them
	// (cmd/loopgate's default: true).
	SeedEndpoints bool `toml:"seed_endpoints"`
	// SeedEndpointsAllow limits the seed endpoints to clients in these CIDRs
	// (the client as trusted_proxies decide it); the requests of others for
	// those paths are forwarded like any other. /__status__ names every
	// backend and its state. nil: every client, as the seed balancers do
	// (cmd/loopgate's default for config.toml: loopback and private ranges).
	SeedEndpointsAllow []string `toml:"seed_endpoints_allow"`
	// ClientAllow and ClientDeny filter clients by address, the client as
	// trusted_proxies decide it: a client in ClientDeny, or outside a
	// non-empty ClientAllow, gets 403 and the connection closes (nginx's
	// allow and deny; deny wins). CIDRs or addresses; empty: every client.
	ClientAllow []string `toml:"client_allow"`
	ClientDeny  []string `toml:"client_deny"`
	// ConnectPorts are the destination ports a CONNECT request may open a
	// tunnel to (RFC 9110 §9.3.6), e.g. [443]; empty: CONNECT is refused
	// with 405, as a reverse proxy should (default []). A CONNECT to another
	// port gets 403: the allow list keeps loopgate from being a relay to
	// arbitrary services (docs/WEBSOCKET.md).
	ConnectPorts []int `toml:"connect_ports"`
	// RequestIDHeader names the request ID field: a client's is kept (up to
	// maxRequestID bytes), otherwise one is generated; it goes to the backend,
	// back to the client and into the access log. "" = no request IDs
	// (cmd/loopgate's default: "X-Request-ID").
	RequestIDHeader string `toml:"request_id_header"`

	// Stats receives every finished exchange; nil: the engine counts into a
	// Proxy of its own. AccessLog, when not nil, gets one line per exchange.
	// cmd/loopgate builds both; they are not decoded from TOML.
	Stats     *stats.Proxy     `toml:"-"`
	AccessLog *stats.AccessLog `toml:"-"`

	Limits   codec.Limits `toml:"limits"`
	Timeouts Timeouts     `toml:"timeouts"`
	Flow     Flow         `toml:"flow"`
	Pools    []Pool       `toml:"pool"`

	// Routes send requests to pools by host, path, method, header and
	// query (docs/ROUTING.md). None: every request goes to the first pool,
	// as a seed config.json does.
	Routes []Route `toml:"route"`
	// DefaultPool takes the requests no route matches; "" answers them 404.
	// Only used with Routes.
	DefaultPool string `toml:"default_pool"`

	// RateLimits are the rules routes (Route.RateLimit) and every request
	// (RateLimit) may apply (docs/LIMITS.md); Redis is where rules with
	// Store "redis" share their state.
	RateLimits []RateLimit           `toml:"rate_limit"`
	RateLimit  []string              `toml:"-"` // [server] rate_limit: rules every request is subject to
	Redis      ratelimit.RedisConfig `toml:"redis"`
	// MaxRequestsPerClient bounds the requests one client address (as
	// trusted_proxies decide it) has in flight at once, over all its
	// connections; over it a request gets 429 (default 0: no bound).
	MaxRequestsPerClient int `toml:"max_requests_per_client"`
	// OverLimitClose closes a connection over max_connections_per_client
	// or max_requests_per_client without an answer, instead of 429.
	OverLimitClose bool `toml:"-"`

	Compression Compression `toml:"compression"`
	Cache       CacheConfig `toml:"cache"`

	// Listeners are the addresses clients connect to, plain or TLS, all
	// feeding the same routes and pools. Empty: one plain listener on
	// Listen. cmd/loopgate builds them from [[listener]] (TLS configs are
	// not decoded from TOML here).
	Listeners []Listener `toml:"-"`
	// MaxTLSHandshakes bounds the TLS handshakes in progress at once, over
	// all listeners; a connection over it is closed at once (the client
	// may retry) rather than queued behind a flood (default 1024).
	MaxTLSHandshakes int `toml:"max_tls_handshakes"`
	// ACMEChallenge, when not nil, answers ACME HTTP-01 challenges on plain
	// listeners (RFC 8555 §8.3): GET /.well-known/acme-challenge/<token>
	// gets 200 with the returned key authorization when ok, before routes,
	// client filters and the https redirect. An unknown token goes on like
	// any request. Called on an event loop: it must not block.
	ACMEChallenge func(token string) (keyAuth []byte, ok bool) `toml:"-"`
}

// Compression compresses responses on the fly (docs/CACHE.md) when the
// client accepts a coding and the backend did not encode: gzip, Brotli,
// zstd, chosen by the client's q-values and then the order of Codings.
type Compression struct {
	Enabled bool     `toml:"enabled"`  // for every route unless it says compress = false (default false)
	Types   []string `toml:"types"`    // media types, "text/*" wildcards (default DefaultCompressTypes)
	MinSize int      `toml:"min_size"` // bodies known to be smaller pass as they are (default 1024)
	Codings []string `toml:"codings"`  // offered, in the server's preference (default ["zstd", "br", "gzip"])
	// Levels: gzip 1..9, Brotli quality 0..11, zstd 1..22 in klauspost's
	// four speeds; 0: each coding's default (package compress).
	GzipLevel     int `toml:"gzip_level"`
	BrotliQuality int `toml:"brotli_quality"`
	ZstdLevel     int `toml:"zstd_level"`
	// MaxStreams bounds the responses each event loop encodes at once
	// (each holds an encoder of 1-3 MB); past it responses go as they are
	// (default 256).
	MaxStreams int `toml:"max_streams"`
}

// RateLimit is one [[rate_limit]] rule: Rate requests per Period per key,
// with Burst at once, GCRA (package ratelimit).
type RateLimit struct {
	Name string
	ratelimit.Rule
	// Key is what the limit is per, parts combined: "client" (the address,
	// as trusted_proxies decide it), "header:NAME", "cookie:NAME", "route",
	// "host", "path" (default ["client"]). A request without the header or
	// cookie is not counted by the rule.
	Key    []string
	DryRun bool   // count what would be refused, refuse nothing
	Store  string // "local" (default) or "redis"
	// OnRedisError is what a "redis" rule does while Redis is unreachable:
	// "local" (each instance limits alone), "open" (admit all) or "closed"
	// (refuse all) (default "local").
	OnRedisError  string
	MaxKeys       int  // keys tracked at once; 8 bytes each, 16 with Redis (default 1048576)
	HeadersAlways bool // RateLimit headers on every response, not only on 429s
}

// Route is one [[route]]: the requests it takes (route.Spec, matched in the
// order route.Table documents) and what it does with them. Exactly one of
// Pool, Redirect and Respond is the action.
type Route struct {
	route.Spec

	Pool           string // send to this pool
	Redirect       string // answer RedirectStatus with this Location (a template, see Template vars)
	RedirectStatus int    // 301, 302, 303, 307 or 308 (default 302)
	Respond        int    // answer this status with Body
	Body           string
	ContentType    string // of Body (default "text/plain; charset=utf-8")

	// Path rewrite before forwarding: StripPrefix removes a leading
	// prefix ("/api" makes /api/x /x; what is left empty becomes "/");
	// ReplacePrefix, when not nil, replaces the route's PathPrefix.
	StripPrefix   string
	ReplacePrefix *string

	Timeout      time.Duration // the route's upstream_response; 0: [timeouts]' (default 0)
	Retries      *int          // the route's pool retries; nil: the pool's
	MaxBodyBytes int64         // request body bound; 0: [limits] max_body_bytes

	RequestHeaders  HeaderRules // applied to the request sent upstream
	ResponseHeaders HeaderRules // applied to the backend's response

	ClientAllow, ClientDeny []string // as the [server] keys, for this route only
	RateLimit               []string // names of [[rate_limit]] rules the route's requests are subject to
	// Compress turns [compression] on or off for this route; nil: as
	// [compression] enabled says.
	Compress *bool
	// Cache turns the response cache on or off for this route; nil: as
	// its pool's cache says.
	Cache *bool
}

// HeaderRules change a message's header fields. Values are templates:
// $remote_addr, $host, $request_id, $scheme, $path, $query, $is_args ("?"
// when there is a query), $request_uri and $rest (the path after the matched
// prefix) are replaced; $$ is a '$'.
type HeaderRules struct {
	Set    []Field  // replace every field of the name with this one
	Add    []Field  // append, keeping what is there
	Remove []string // drop every field of the name
}

// Field is a header field a rule writes.
type Field struct{ Name, Value string }

// Timeouts bound every phase of an exchange; gnet has no deadlines, so the
// engine enforces them with per-loop timers.
type Timeouts struct {
	UpstreamConnect  time.Duration `toml:"upstream_connect"`  // dial (default 3s) -> 502
	ClientHeader     time.Duration `toml:"client_header"`     // complete request head, from accept or from the first byte of a keep-alive request (default 10s) -> 408
	ClientIdle       time.Duration `toml:"client_idle"`       // keep-alive idle between requests (default 60s)
	UpstreamResponse time.Duration `toml:"upstream_response"` // request sent to response head received (default 30s) -> 504
	UpstreamIdle     time.Duration `toml:"upstream_idle"`     // pooled keep-alive connection unused (default 60s)
	BodyProgress     time.Duration `toml:"body_progress"`     // a body (either way) that makes no progress for this long is cut off (default 60s)
	TLSHandshake     time.Duration `toml:"tls_handshake"`     // accept to the end of the TLS handshake (default 10s) -> close
	TunnelIdle       time.Duration `toml:"tunnel_idle"`       // a tunnel (WebSocket, CONNECT) with no byte either way for this long is closed (default 1h)
}

// Flow bounds the bytes buffered in memory per exchange. When the bytes
// queued for a slow peer exceed HighWatermark the engine stops reading from
// the other side until they fall below LowWatermark (docs/ARCHITECTURE.md).
type Flow struct {
	HighWatermark int `toml:"high_watermark"` // bytes (default 1048576)
	LowWatermark  int `toml:"low_watermark"`  // bytes (default 262144)
}

// Pool is a named group of backends behind one balancing algorithm.
type Pool struct {
	Name              string         `toml:"name"`                 // required, unique
	Algorithm         string         `toml:"algorithm"`            // (default DefaultAlgorithm)
	MaxIdlePerBackend int            `toml:"max_idle_per_backend"` // idle keep-alive connections per backend per loop (default 1024)
	HashKey           string         `toml:"hash_key"`             // hash: ip, uri, path, header:NAME, cookie:NAME, query:NAME (default "ip")
	HashMethod        string         `toml:"hash_method"`          // hash: ring or maglev (default "ring")
	HashBalanceFactor float64        `toml:"hash_balance_factor"`  // hash: bounded load, > 1 (e.g. 1.25); 0 = off (default 0)
	Fallback          string         `toml:"fallback"`             // hash, ip_hash: algorithm for requests without the key (default "round_robin")
	StickyCookie      *StickyCookie  `toml:"sticky_cookie"`        // stickiness by cookie on top of any algorithm; nil = off
	Health            *health.Config `toml:"health"`               // active probes; nil = off (a backend is up unless probes say otherwise)
	// Retries is how many times a request moves to another backend after a
	// failure that is safe to retry: a failed connect (nothing was sent), or
	// a connection closed before any response byte for an idempotent request
	// without a body (RFC 9110 §9.2.2). Negative: never (default 2).
	Retries int `toml:"retries"`
	// RetryBudget caps retries of requests that were sent (not failed
	// connects, which cost no backend any work) at this percentage of the pool's requests
	// (per event loop, with a burst of ten), so retries cannot multiply the
	// load on a failing pool; 1..100 (default 20).
	RetryBudget int `toml:"retry_budget"`
	// RetryDeadline: no retry starts once a request has been in the proxy
	// this long; each attempt is bounded by upstream_response (default 10s).
	RetryDeadline time.Duration `toml:"retry_deadline"`
	// RetryOnStatus: a response with one of these statuses to an
	// idempotent request without a body is not passed on; the request goes
	// to another backend instead, within the same bounds (default none).
	RetryOnStatus []int `toml:"retry_on_status"`
	// RetryBackoff delays each retry by this base x 2^(attempt-1), with ±50%
	// jitter, capped at ten bases. 0 retries at once on another backend, as
	// HAProxy's redispatch does (default 0).
	RetryBackoff time.Duration `toml:"retry_backoff"`

	Passive *Passive `toml:"passive"` // passive ejection from real traffic; nil = off
	// SlowStart ramps a backend that comes back (probes pass again, its
	// ejection ends, or the admin API adds or undrains it) from a tenth of
	// its weight to all of it over this long,
	// so a cold cache or JIT is not flooded at once. 0 = off (default 0).
	SlowStart time.Duration `toml:"slow_start"`
	// PanicMode: when no backend may take traffic (all down or ejected),
	// spread requests over all of them instead of answering 503 (default false).
	PanicMode bool `toml:"panic_mode"`
	// Cache stores this pool's cacheable responses in the response cache
	// ([cache], docs/CACHE.md); a route may say otherwise (default false).
	Cache bool `toml:"cache"`

	// MaxConnections bounds the exchanges in flight on each backend (a
	// backend's own MaxConnections overrides it): pickers skip a full
	// backend, and when every backend that may take traffic is full a
	// request waits in the pool's queue (HAProxy's maxconn). 0 = no bound
	// (default 0).
	MaxConnections int `toml:"max_connections"`
	// Queue bounds the requests waiting for a slot, over all loops; a
	// request over it gets 503 at once (HAProxy's maxqueue) (default 1024).
	Queue int `toml:"queue"`
	// QueueTimeout is how long a request may wait for a slot; then it gets
	// 503 with Retry-After (HAProxy's timeout queue) (default 5s).
	QueueTimeout time.Duration `toml:"queue_timeout"`

	// TLS makes the pool's backends HTTPS: loopgate connects to them over
	// TLS, verifies them and pools the connections like plain ones
	// (docs/TLS.md, "Backends over TLS"). nil = plain HTTP (default nil).
	TLS *certs.Client `toml:"tls"`

	Backends []Backend `toml:"backend"`
}

// StickyCookie makes a client stay on the backend it was first sent to: the
// response carries a cookie naming that backend (an opaque HMAC of its
// address), and later requests with the cookie go to it while it can take
// traffic; otherwise the algorithm picks again and the cookie is replaced.
type StickyCookie struct {
	Name     string        `toml:"name"`     // (default "lg_sticky")
	Path     string        `toml:"path"`     // (default "/")
	MaxAge   time.Duration `toml:"max_age"`  // 0 = a session cookie (default 0)
	Secure   bool          `toml:"secure"`   // (default false)
	HTTPOnly *bool         `toml:"httponly"` // (default true)
	SameSite string        `toml:"samesite"` // "", Lax, Strict or None (default "Lax")
	Secret   string        `toml:"secret"`   // HMAC key; empty = random per process, so cookies do not survive a restart (default "")
}

// Backend is one server of a pool as configured.
type Backend struct {
	Address string `toml:"address"` // host:port (required)
	Weight  *int   `toml:"weight"`  // 0..1000; 0 takes no new requests (default 1)
	Backup  bool   `toml:"backup"`  // takes traffic only when no primary can (default false)
	// MaxConnections bounds this backend's exchanges in flight; 0: the
	// pool's max_connections.
	MaxConnections int `toml:"max_connections"`
	// Drained takes no new requests (set through the admin API and kept in
	// its state file, not in config.toml).
	Drained bool `toml:"-"`
}

// Defaults, documented in config.toml.
const (
	DefaultListen           = "0.0.0.0:8080"
	DefaultReadBufferCap    = 64 << 10
	DefaultMaxConnections   = 10000
	DefaultShutdownGrace    = 10 * time.Second
	DefaultAlgorithm        = upstream.DefaultAlgorithm
	DefaultHashKey          = "ip"
	DefaultRetries          = 2
	DefaultRetryBudget      = 20
	DefaultRetryDeadline    = 10 * time.Second
	DefaultStickyName       = "lg_sticky"
	DefaultMaxIdle          = 1024
	DefaultHighWatermark    = 1 << 20
	DefaultLowWatermark     = 256 << 10
	DefaultQueue            = 1024
	DefaultQueueTimeout     = 5 * time.Second
	DefaultMaxTLSHandshakes = 1024
)

// DefaultTimeouts are the timeouts used for zero fields.
var DefaultTimeouts = Timeouts{
	UpstreamConnect:  3 * time.Second,
	ClientHeader:     10 * time.Second,
	ClientIdle:       60 * time.Second,
	UpstreamResponse: 30 * time.Second,
	UpstreamIdle:     60 * time.Second,
	BodyProgress:     60 * time.Second,
	TLSHandshake:     10 * time.Second,
	TunnelIdle:       time.Hour,
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.ReadBufferCap == 0 {
		c.ReadBufferCap = DefaultReadBufferCap
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.MaxTLSHandshakes == 0 {
		c.MaxTLSHandshakes = DefaultMaxTLSHandshakes
	}
	c.Listeners = slices.Clone(c.Listeners)
	for i := range c.Listeners {
		if c.Listeners[i].HTTPSPort == 0 {
			c.Listeners[i].HTTPSPort = DefaultHTTPSPort
		}
	}
	c.Limits = c.Limits.WithDefaults()
	t, d := &c.Timeouts, DefaultTimeouts
	for _, f := range []struct{ v, d *time.Duration }{
		{&t.UpstreamConnect, &d.UpstreamConnect}, {&t.ClientHeader, &d.ClientHeader},
		{&t.ClientIdle, &d.ClientIdle}, {&t.UpstreamResponse, &d.UpstreamResponse},
		{&t.UpstreamIdle, &d.UpstreamIdle}, {&t.BodyProgress, &d.BodyProgress},
		{&t.TLSHandshake, &d.TLSHandshake},
		{&t.TunnelIdle, &d.TunnelIdle},
	} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	if c.Flow.HighWatermark == 0 {
		c.Flow.HighWatermark = DefaultHighWatermark
	}
	if c.Flow.LowWatermark == 0 {
		c.Flow.LowWatermark = min(DefaultLowWatermark, c.Flow.HighWatermark/2)
	}
	pools := make([]Pool, len(c.Pools))
	for i, p := range c.Pools {
		if p.Algorithm == "" {
			p.Algorithm = DefaultAlgorithm
		}
		if p.MaxIdlePerBackend == 0 {
			p.MaxIdlePerBackend = DefaultMaxIdle
		}
		if p.Retries == 0 {
			p.Retries = DefaultRetries
		}
		if p.RetryBudget == 0 {
			p.RetryBudget = DefaultRetryBudget
		}
		if p.RetryDeadline == 0 {
			p.RetryDeadline = DefaultRetryDeadline
		}
		if p.Queue == 0 {
			p.Queue = DefaultQueue
		}
		if p.QueueTimeout == 0 {
			p.QueueTimeout = DefaultQueueTimeout
		}
		pools[i] = p
	}
	c.Pools = pools
	return c
}

// Loops is the number of event loops c runs: EventLoops, or with 0 one per
// P the Go runtime may run at once (GOMAXPROCS, which Go 1.25+ derives from a
// container's CPU limit), not one per core: two loops sharing one P take
// turns in the scheduler's 10 ms slices, and their latency shows it (issue 15).
// At most gnet's 256.
func (c Config) Loops() int {
	n := c.EventLoops
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return min(n, gnetMaxLoops)
}

// WeightOf returns the configured weight of b, or 1 when it is not set.
func (b Backend) WeightOf() int {
	if b.Weight == nil {
		return 1
	}
	return *b.Weight
}
