package cache

import "time"

// Config is the cache's configuration, from the [cache] table of config.toml. Its zero value
// is usable: every field has a default.
type Config struct {
	MaxBytes  int64 `toml:"max_bytes"`  // memory for heads, bodies and per-entry overhead (default 64 MiB)
	MaxObject int64 `toml:"max_object"` // larger entries are not stored (default 1 MiB; at most MaxBytes/8)
	Shards    int   `toml:"shards"`     // index shards, rounded up to a power of two (default 64)
	// MaxVariants bounds the Vary variants kept per primary key; inserting one more drops
	// the oldest (default 8), so "Vary: User-Agent" cannot fill the cache with one URL.
	MaxVariants int `toml:"max_variants"`
	// Heuristic allows heuristic freshness (RFC 9111 §4.2.2) for responses without explicit
	// freshness: 10% of Date minus Last-Modified, at most HeuristicMax. Off by default.
	Heuristic    bool          `toml:"heuristic"`
	HeuristicMax time.Duration `toml:"heuristic_max"` // (default 24h)
	// CacheCookieRequests lets requests with a Cookie field be served from and stored in
	// the cache like any other. By default they bypass it, and their responses are stored
	// only when marked public.
	CacheCookieRequests bool `toml:"cache_cookie_requests"`
	// StoreSetCookie stores responses that carry Set-Cookie, with the Set-Cookie fields
	// removed from the stored head (the response that goes to the requesting client keeps
	// them). By default such responses are not stored.
	StoreSetCookie bool `toml:"store_set_cookie"`
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.MaxBytes <= 0 {
		d.MaxBytes = 64 << 20
	}
	if d.MaxObject <= 0 {
		d.MaxObject = 1 << 20
	}
	d.MaxObject = min(d.MaxObject, max(d.MaxBytes/8, 1))
	if d.Shards <= 0 {
		d.Shards = 64
	}
	if d.MaxVariants <= 0 {
		d.MaxVariants = 8
	}
	if d.HeuristicMax <= 0 {
		d.HeuristicMax = 24 * time.Hour
	}
	return d
}

// Reason says why a request bypasses the cache or a response is not stored. Its String is
// a snake_case label for logs and metrics.
type Reason uint8

const (
	ReasonNone          Reason = iota // cacheable
	ReasonMethod                      // not GET (HEAD responses are not stored either)
	ReasonStatus                      // status not understood or not stored (206, 304, 1xx, 5xx but 501, ...)
	ReasonNoStore                     // no-store in the request or the response (§5.2.1.5, §5.2.2.5)
	ReasonPrivate                     // private in the response (§5.2.2.7)
	ReasonAuthorization               // request with Authorization, response not marked shareable (§3.5)
	ReasonCookie                      // request with Cookie, response not public (Config.CacheCookieRequests)
	ReasonSetCookie                   // response with Set-Cookie (Config.StoreSetCookie)
	ReasonVaryStar                    // Vary: * (§4.1)
	ReasonNoFreshness                 // no freshness lifetime and nothing to revalidate with
	ReasonTooLarge                    // Content-Length or body above Config.MaxObject
	numReasons
)

var reasonNames = [numReasons]string{
	"none", "method", "status", "no_store", "private", "authorization", "cookie",
	"set_cookie", "vary_star", "no_freshness", "too_large",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Bypass reports whether a request must go upstream without a cache lookup, and why: a
// method other than GET and HEAD, a Cookie field (unless c.CacheCookieRequests) or
// no-store. It does not allocate. (A Cookie request may be personalised even when the
// origin forgot to say so; serving it a shared copy is the costlier mistake.)
func Bypass(method string, req Fields, c *Config) Reason {
	if method != "GET" && method != "HEAD" {
		return ReasonMethod
	}
	if !c.CacheCookieRequests && has(req, "Cookie") {
		return ReasonCookie
	}
	if cc := ParseCacheControl(req); cc.NoStore {
		return ReasonNoStore
	}
	return ReasonNone
}

// defaultCacheable reports whether a status is heuristically cacheable (RFC 9110 §15.1),
// minus 206: the cache has no range support, so it stores no partial content.
func defaultCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understood lists the final statuses the cache may store with explicit freshness: the
// cacheable-by-default ones plus redirects and errors whose semantics do not depend on the
// request's state. 206 (no range support) and 304 (see Refresh) are never stored.
func understood(status int) bool {
	switch status {
	case 302, 303, 307, 400, 403, 500, 502, 503, 504:
		return true
	}
	return defaultCacheable(status)
}

// Storable reports whether a shared cache may store the response to a request (RFC 9111
// §3), and if not why. method is the request method, status the response status; c may be
// nil for the defaults. It does not allocate.
//
// Only GET responses are stored: a HEAD request is answered from the stored GET response
// of the same primary key, but a response to HEAD is neither stored nor used to update a
// stored response (§4.3.5 allows that; we skip it). A response is stored when no rule
// forbids it and it has a freshness lifetime (explicit, or heuristic when enabled), or it
// asks to be revalidated (no-cache, or max-age=0 and the like) and carries a validator, so
// a 304 saves sending the body again. Its only clock reading is time.Now, for a
// response with Expires or Last-Modified but no valid Date.
func Storable(method string, status int, req, resp Fields, c *Config) (bool, Reason) {
	var d Config
	if c != nil {
		d = *c
	}
	d = d.withDefaults()
	if method != "GET" {
		return false, ReasonMethod
	}
	if !understood(status) {
		return false, ReasonStatus
	}
	qcc, cc := ParseCacheControl(req), ParseCacheControl(resp)
	switch {
	case qcc.NoStore || cc.NoStore:
		return false, ReasonNoStore
	case cc.Private:
		return false, ReasonPrivate
	case has(req, "Authorization") && cc.SMaxAge == Absent && !cc.Public && !cc.MustRevalidate:
		return false, ReasonAuthorization
	case !d.CacheCookieRequests && !cc.Public && has(req, "Cookie"):
		return false, ReasonCookie
	case !d.StoreSetCookie && has(resp, "Set-Cookie"):
		return false, ReasonSetCookie
	case varyStar(resp):
		return false, ReasonVaryStar
	}
	if v, ok := first(resp, "Content-Length"); ok {
		if n := delta(v, true, -1); n > d.MaxObject {
			return false, ReasonTooLarge
		}
	}
	explicit := cc.MaxAge != Absent || cc.SMaxAge != Absent || has(resp, "Expires")
	if !explicit && !defaultCacheable(status) && !cc.Public {
		return false, ReasonStatus
	}
	if Freshness(status, resp, &cc, time.Now().Unix(), &d) > 0 {
		return true, ReasonNone
	}
	if (explicit || cc.NoCache) && (has(resp, "ETag") || has(resp, "Last-Modified")) {
		return true, ReasonNone
	}
	return false, ReasonNoFreshness
}

// varyStar reports whether the response's Vary lists "*".
func varyStar(resp Fields) bool {
	for n := 0; ; n++ {
		v, ok := resp.Field("Vary", n)
		if !ok {
			return false
		}
		for item, i := nextItem(v, 0); item != nil; item, i = nextItem(v, i) {
			if len(item) == 1 && item[0] == '*' {
				return true
			}
		}
	}
}

// Freshness returns the freshness lifetime of a response for a shared cache (RFC 9111
// §4.2.1): s-maxage, else max-age, else Expires minus Date, else, if c.Heuristic, 10% of
// Date minus Last-Modified capped at c.HeuristicMax (§4.2.2) for statuses cacheable by
// default or public responses. now is the Unix time (s) the response was received, used
// when Date is missing or invalid. A response with no-cache has lifetime 0. An invalid
// Expires, or several different ones, mean "already expired" (§5.3). It does not allocate.
func Freshness(status int, resp Fields, cc *CacheControl, now int64, c *Config) time.Duration {
	if cc.NoCache {
		return 0
	}
	if cc.SMaxAge != Absent {
		return seconds(cc.SMaxAge)
	}
	if cc.MaxAge != Absent {
		return seconds(cc.MaxAge)
	}
	date := responseDate(resp, now)
	if v, ok := first(resp, "Expires"); ok {
		exp, ok := ParseHTTPDate(v)
		if v2, dup := resp.Field("Expires", 1); !ok || (dup && string(v2) != string(v)) {
			return 0
		}
		return seconds(max(exp-date, 0))
	}
	if c == nil || !c.Heuristic || !(defaultCacheable(status) || cc.Public) {
		return 0
	}
	lm, ok := lastModified(resp)
	if !ok || lm >= date {
		return 0
	}
	limit := c.HeuristicMax
	if limit <= 0 {
		limit = 24 * time.Hour
	}
	return min(seconds(date-lm)/10, limit)
}

func seconds(s int64) time.Duration { return time.Duration(min(s, MaxDelta)) * time.Second }

// responseDate returns the Date of a response, or now when it has none or an invalid one.
func responseDate(resp Fields, now int64) int64 {
	if v, ok := first(resp, "Date"); ok {
		if t, ok := ParseHTTPDate(v); ok {
			return t
		}
	}
	return now
}

func lastModified(resp Fields) (int64, bool) {
	if v, ok := first(resp, "Last-Modified"); ok {
		return ParseHTTPDate(v)
	}
	return 0, false
}

// Times locates one exchange in time for the age calculation of RFC 9111 §4.2.3. Sent and
// Received are read from the engine's monotonic clock (ns), the same clock whose readings it
// later passes to Lookup; Wall is the Unix time (s) at Received, compared with Date.
type Times struct {
	Sent     int64 // request_time: the request was sent upstream
	Received int64 // response_time: the response head arrived
	Wall     int64 // Unix seconds at Received
}

// InitialAge returns corrected_initial_age (RFC 9111 §4.2.3): the larger of the apparent age
// (Wall minus Date, at least 0) and the Age field plus the response delay (Received minus
// Sent). Several Age field lines keep the largest; an invalid Age counts as MaxDelta, making
// the response stale on arrival. It does not allocate.
func InitialAge(resp Fields, t Times) time.Duration {
	apparent := seconds(max(t.Wall-responseDate(resp, t.Wall), 0))
	var age int64
	for n := 0; ; n++ {
		v, ok := resp.Field("Age", n)
		if !ok {
			break
		}
		age = max(age, delta(v, true, MaxDelta))
	}
	corrected := seconds(age) + time.Duration(max(t.Received-t.Sent, 0))
	return max(apparent, corrected)
}
