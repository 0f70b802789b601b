package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"loopgate/certs"
	"loopgate/codec"
	"loopgate/engine"
	"loopgate/health"
	"loopgate/upstream"
)

// Config is everything loopgate reads from its config file: the engine's
// configuration and the settings main applies itself. Load returns it with
// every default filled in, so what main logs is what runs.
type Config struct {
	Engine engine.Config
	// AccessLog writes one line per request (seed: enable_logging). Metrics
	// serves /metrics and the seed endpoints (seed: enable_metrics). Both
	// default to true.
	AccessLog bool
	Metrics   bool
	Log       LogConfig    // [access_log]
	Admin     AdminConfig  // [admin]
	TLS       certs.Config // [tls]: certificates, profile, tickets, ACME (config_tls.go)

	// maxConnAuto is set when the file leaves max_connections unset (or 0):
	// budgetConnections then sizes Engine.MaxConnections from the descriptor
	// limit, and until it does Engine.MaxConnections holds the engine's
	// default. maxConnAt locates the key (or where it would go) for the
	// warning when max_connections does not fit (descriptors.go).
	maxConnAuto bool
	maxConnAt   *Error

	// listenerTLS says which of Engine.Listeners speak TLS; newTLSRuntime
	// gives them their tls.Config when the app starts.
	listenerTLS []bool
	// listenerMTLS holds each listener's own client_ca and client_auth.
	listenerMTLS []listenerMTLS
	// certKeys locates each of TLS.Certs in the file, for its errors.
	certKeys []string

	// warnings are what the file asked for that loopgate adjusted rather
	// than refused (each has Warning set), in file order: -check prints
	// them, start and reload log them (logWarnings).
	warnings []*Error

	// adminFlag is -admin's value when given: it replaces [admin] listen,
	// at start and at every reload.
	adminFlag *string
}

// overrideAdmin applies -admin: the listener is where the command line
// says ("" turns it off), and a taken port is then an error.
func (c *Config) overrideAdmin(listen *string) {
	if listen == nil {
		return
	}
	c.adminFlag = listen
	c.Admin.Listen, c.Admin.Optional = *listen, false
}

// LogConfig is the [access_log] section: where and how the access log is
// written when [server] access_log is on.
type LogConfig struct {
	Path   string // file to append to; "-" = standard output (default "-")
	Format string // "json" (JSON lines) or "combined" (default "json")
	Buffer int    // bytes an event loop buffers before handing them to the writer (default 65536)
	Queue  int    // full buffers waiting for the writer before lines are dropped (default 64)
}

// AdminConfig is the [admin] section: the admin listener (metrics,
// status, dashboard and the runtime API).
type AdminConfig struct {
	Listen string // host:port; "" = no admin listener (default "127.0.0.1:9090")
	// Optional: a taken Listen address leaves the proxy without an admin
	// listener, with a warning, instead of refusing to start. Set for a
	// seed JSON config, which cannot choose the address.
	Optional bool
	// Token is the bearer token every mutating call must carry
	// (Authorization: Bearer <token>); TokenFile reads it from a file
	// instead (trailing white space dropped). Required when Listen is not a
	// loopback address (default "").
	Token     string
	TokenFile string
	// PublicRead leaves the read-only views (/metrics, /api/status,
	// /api/metrics, /dashboard, GET /api/...) open without the token when
	// one is configured (default false).
	PublicRead bool
	// TLSCertFile and TLSKeyFile make the admin listener speak https;
	// ClientCA and ClientAuth then ask its clients for certificates (mTLS;
	// ClientAuth "require" by default with ClientCA). A listener that
	// requires client certificates needs no token off loopback.
	TLSCertFile, TLSKeyFile string
	ClientCA, ClientAuth    string
	// StateFile keeps the changes made through the admin API, replayed over
	// the config file at start and on reload (default: the config file's
	// path + ".state.json").
	StateFile string
}

// Defaults of the observability keys, documented in config.toml.
const (
	defaultAdminListen     = "127.0.0.1:9090"
	defaultRequestIDHeader = "X-Request-ID"
	defaultCacheHeader     = "X-Cache"
	defaultLogPath         = "-"
	defaultLogFormat       = "json"
	defaultLogBuffer       = 64 << 10
	defaultLogQueue        = 64
)

// newConfig returns a Config holding the defaults of the keys that
// engine.Config.WithDefaults leaves to cmd/loopgate; decoding overwrites
// what the file sets.
func newConfig() *Config {
	return &Config{
		// reuse_port lets an upgrade's new process share the port (docs/UPGRADE.md).
		Engine: engine.Config{ReusePort: true, SeedEndpoints: true, RequestIDHeader: defaultRequestIDHeader,
			SeedEndpointsAllow: slices.Clone(defaultSeedEndpointsAllow), Cache: engine.CacheConfig{Header: defaultCacheHeader, CollapseTimeout: engine.DefaultCollapseTimeout}},
		AccessLog: true, Metrics: true,
		Log:   LogConfig{Path: defaultLogPath, Format: defaultLogFormat, Buffer: defaultLogBuffer, Queue: defaultLogQueue},
		Admin: AdminConfig{Listen: defaultAdminListen},
	}
}

// defaultSeedEndpointsAllow is who gets the seed endpoints on the proxy port
// under config.toml: loopback and the private ranges (RFC 1918, RFC 4193).
// /__status__ names every backend and its state, which the public should not
// read; a seed config.json answers everyone, as the seeds do.
var defaultSeedEndpointsAllow = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// Defaults of the pool keys that engine.Config.WithDefaults leaves zero,
// documented in config.toml. withPoolDefaults fills them in where they apply.
const (
	defaultHashMethod = "ring"
	defaultFallback   = "round_robin"
	defaultStickyPath = "/"
	defaultSameSite   = "Lax"
	defaultTLSVersion = "1.2" // [pool.tls] min_version
)

// Bounds that config values are checked against.
const (
	maxEventLoops    = 1024    // more is a typo, not a machine
	maxWeight        = 1000    // engine.Backend.Weight
	maxPoolMembers   = 1 << 16 // the pickers index backends with uint16
	maxBalanceFactor = 10      // engine.Pool.HashBalanceFactor; above it bounded load is off in all but name
)

// The algorithms that hash a request key, and so have keys of their own.
const (
	algHash   = "hash"
	algIPHash = "ip_hash"
)

// Kinds of config problems. Every *Error wraps one, for errors.Is.
var (
	ErrSyntax    = errors.New("syntax error")
	ErrUnknown   = errors.New("unknown key")
	ErrType      = errors.New("wrong type")
	ErrValue     = errors.New("invalid value")
	ErrMissing   = errors.New("missing key")
	ErrDuplicate = errors.New("duplicate")
	// ErrDescriptors is a warning, not an error: max_connections does not
	// fit in the file descriptor limit (descriptors.go).
	ErrDescriptors = errors.New("too few file descriptors")
)

// Error is one problem in a config file, located by line and key:
//
//	config.toml:14: pool[0].backend[1].address: cannot parse "127.0.0.1": missing port
//
// Key is empty for syntax errors, where the parser knows the line but not
// which key it was in. A warning says so after the key:
//
//	config.toml:19: server.max_connections: warning: 1000 connections need ...
type Error struct {
	File    string
	Line    int // 1-based
	Key     string
	Kind    error // one of the Err* kinds above
	Msg     string
	Warning bool // loopgate runs anyway and -check exits 0
}

func (e *Error) Error() string {
	msg := e.Msg
	if e.Warning {
		msg = "warning: " + msg
	}
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, msg)
}

func (e *Error) Unwrap() error { return e.Kind }

// Load reads, decodes and validates the config file at path: TOML when it
// ends in .toml, the seed balancers' JSON when it ends in .json. It reports
// every problem it finds, not just the first: the error is an errors.Join of
// *Error values in file order. It reads the file once and runs at startup
// only.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	return parse(path, data)
}

// parse is Load without the file system; name is used in error messages.
func parse(name string, data []byte) (*Config, error) {
	src := &source{file: name}
	var decode func(*source, []byte) *Config
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".toml":
		decode = decodeTOML
	case ".json":
		decode, src.json = decodeJSON, true
	default:
		return nil, fmt.Errorf("cannot load config %q: unknown extension %q (want .toml or .json)", name, ext)
	}
	var c *Config
	if len(bytes.TrimSpace(data)) == 0 {
		src.add("", 1, ErrMissing, "file is empty")
	} else {
		c = decode(src, data)
	}
	slices.SortStableFunc(src.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	var errs []error
	var warnings []*Error
	for _, e := range src.errs {
		if e.Warning {
			warnings = append(warnings, e)
		} else {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.warnings = warnings
	key := "server.max_connections"
	if src.json {
		key = "max_connections"
	}
	c.maxConnAuto = c.Engine.MaxConnections == 0 // WithDefaults fills it; main sizes it (budgetConnections)
	c.maxConnAt = &Error{File: name, Line: src.lineOf(key), Key: key}
	c.Engine = c.Engine.WithDefaults()
	// metrics = false (the seed's enable_metrics) turns the seed endpoints off too.
	c.Engine.SeedEndpoints = c.Engine.SeedEndpoints && c.Metrics
	for i := range c.Engine.Pools {
		c.Engine.Pools[i] = withPoolDefaults(c.Engine.Pools[i])
	}
	return c, nil
}

// source is one config file being decoded. It collects every problem instead
// of stopping at the first, so that -check can list them all.
type source struct {
	file  string
	json  bool           // name types the JSON way (object, number)
	lines map[string]int // key path ("pool[0].name") -> line; see tomlLines and decodeJSON
	errs  []*Error
}

// lineOf returns the line of key, or of its closest enclosing table or array
// element that appears in the file, or 1.
func (s *source) lineOf(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := s.lines[k]; ok {
			return l
		}
	}
	return 1
}

// parentKey strips the last part of a key path: pool[0].backend[1].address ->
// pool[0].backend[1] -> pool[0].backend -> pool[0] -> pool -> "".
func parentKey(k string) string {
	if i := strings.LastIndexAny(k, ".["); i >= 0 {
		return k[:i]
	}
	return ""
}

// add records a problem at line; line 0 means the line of key.
func (s *source) add(key string, line int, kind error, format string, args ...any) {
	if line == 0 {
		line = s.lineOf(key)
	}
	s.errs = append(s.errs, &Error{File: s.file, Line: line, Key: key, Kind: kind, Msg: fmt.Sprintf(format, args...)})
}

func (s *source) errorf(key string, kind error, format string, args ...any) {
	s.add(key, 0, kind, format, args...)
}

// failed reports whether a problem other than a warning was found.
func (s *source) failed() bool {
	return slices.ContainsFunc(s.errs, func(e *Error) bool { return !e.Warning })
}

// warnf records a value that loopgate adjusts instead of refusing. A file
// with errors is refused without its warnings.
func (s *source) warnf(key string, kind error, format string, args ...any) {
	s.add(key, 0, kind, format, args...)
	s.errs[len(s.errs)-1].Warning = true
}

// joinKey appends the key k to the table path p.
func joinKey(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func indexKey(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

// checkHostPort reports why addr is not a host:port with a port in 1..65535.
// An empty host (":8080") is allowed when emptyHost is set.
func checkHostPort(s *source, key, addr string, emptyHost bool) {
	if !strings.Contains(addr, ":") {
		s.errorf(key, ErrValue, "cannot parse %q: missing port", addr)
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		s.errorf(key, ErrValue, "cannot parse %q: want host:port or [ipv6]:port", addr)
		return
	}
	if msg := hostProblem(host, emptyHost); msg != "" {
		s.errorf(key, ErrValue, "cannot parse %q: %s", addr, msg)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		s.errorf(key, ErrValue, "cannot parse %q: port %q is not in 1..65535", addr, port)
	}
}

// hostProblem says what is wrong with host, which must be an IP address or a
// DNS name; "" means nothing is.
func hostProblem(host string, emptyOK bool) string {
	if host == "" {
		if emptyOK {
			return ""
		}
		return "missing host"
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	if len(host) > 253 {
		return "host name longer than 253 bytes"
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("invalid host %q", host)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("invalid host %q", host)
			}
		}
	}
	return ""
}

// withPoolDefaults returns p, whose Algorithm is set, with the defaults of
// the keys that apply to its algorithm filled in; the others stay zero.
func withPoolDefaults(p engine.Pool) engine.Pool {
	if p.Algorithm == algHash {
		p.HashKey = cmp.Or(p.HashKey, engine.DefaultHashKey)
		p.HashMethod = cmp.Or(p.HashMethod, defaultHashMethod)
	}
	if p.Algorithm == algHash || p.Algorithm == algIPHash {
		p.Fallback = cmp.Or(p.Fallback, defaultFallback)
	}
	if p.StickyCookie != nil {
		sc := *p.StickyCookie
		sc.Name = cmp.Or(sc.Name, engine.DefaultStickyName)
		sc.Path = cmp.Or(sc.Path, defaultStickyPath)
		sc.SameSite = cmp.Or(sc.SameSite, defaultSameSite)
		if sc.HTTPOnly == nil {
			on := true
			sc.HTTPOnly = &on
		}
		p.StickyCookie = &sc
	}
	if p.TLS != nil {
		c := *p.TLS
		c.MinVersion = cmp.Or(c.MinVersion, defaultTLSVersion)
		if c.Verify == nil {
			verify := true
			c.Verify = &verify
		}
		if c.SessionReuse == nil {
			reuse := true
			c.SessionReuse = &reuse
		}
		p.TLS = &c
	}
	return p
}

// checkAlgorithm reports whether name is a registered algorithm, and reports
// it if not.
func checkAlgorithm(s *source, key, name string) bool {
	if _, err := upstream.Lookup(name); err != nil {
		s.errorf(key, ErrValue, "unknown algorithm %q (known: %s)", name, strings.Join(upstream.Names(), ", "))
		return false
	}
	return true
}

// checkFallback checks the algorithm that a hash or ip_hash pool uses for
// requests without a key: any registered one that needs no key itself.
func checkFallback(s *source, key, name string) {
	var ok []string
	for _, n := range upstream.Names() {
		if n != algHash && n != algIPHash {
			ok = append(ok, n)
		}
	}
	if name == algHash || name == algIPHash {
		s.errorf(key, ErrValue, "cannot fall back to %q: the fallback serves requests without a hash key (want one of: %s)", name, strings.Join(ok, ", "))
	} else if _, err := upstream.Lookup(name); err != nil {
		s.errorf(key, ErrValue, "unknown algorithm %q (want one of: %s)", name, strings.Join(ok, ", "))
	}
}

// hashKeyProblem says what is wrong with a pool's hash_key, or "".
func hashKeyProblem(k string) string {
	switch k {
	case "ip", "uri", "path":
		return ""
	}
	kind, name, found := strings.Cut(k, ":")
	switch {
	case !found || kind != "header" && kind != "cookie" && kind != "query":
		return fmt.Sprintf(`cannot use %q: want "ip", "uri", "path", "header:NAME", "cookie:NAME" or "query:NAME"`, k)
	case name == "":
		return fmt.Sprintf("cannot use %q: missing the %s name after the colon", k, kind)
	case kind == "query" && strings.ContainsAny(name, "&=#"):
		return fmt.Sprintf("cannot use %q: a query parameter name has no '&', '=' or '#'", k)
	case kind != "query" && !isToken(name):
		// RFC 9110 §5.1 (field-name), RFC 6265 §4.1.1 (cookie-name).
		return fmt.Sprintf("cannot use %q: %q is not a valid %s name (%s)", k, name, kind, tokenChars)
	}
	return ""
}

const tokenChars = "a token: letters, digits and !#$%&'*+-.^_`|~"

// isToken reports whether s is an RFC 9110 §5.6.2 token, as header field
// names and cookie names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// cookiePathProblem says what is wrong with the Path attribute of a cookie,
// or "". It goes into Set-Cookie verbatim (RFC 6265 §4.1.1: path-value).
func cookiePathProblem(p string) string {
	if !strings.HasPrefix(p, "/") {
		return fmt.Sprintf("got %q; want a path starting with \"/\"", p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == ';' {
			return fmt.Sprintf("cannot use %q: a cookie path has no ';' or control characters", p)
		}
	}
	return ""
}

// parseTrustedProxy parses a CIDR or a bare address (a /32 or /128) and
// returns it in CIDR form, or says what is wrong with it.
func parseTrustedProxy(v string) (string, string) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", netipReason(err)
		}
		return p.String(), ""
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", netipReason(err)
	}
	if a.Zone() != "" {
		return "", "want an address without a zone"
	}
	return netip.PrefixFrom(a, a.BitLen()).String(), ""
}

// netipReason strips the function names and the quoted input from a
// net/netip parse error: `netip.ParsePrefix("a/8"): ParseAddr("a"): unable to
// parse IP` -> "unable to parse IP". The caller quotes the input itself.
func netipReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, `"): `); i >= 0 {
		return msg[i+len(`"): `):]
	}
	return msg
}

// checkBackends checks what concerns the backends of one pool together.
// poolKey locates "no backends"; backendKey(i) locates the address of backend i.
func checkBackends(s *source, poolKey string, backendKey func(int) string, bs []engine.Backend) {
	if len(bs) == 0 {
		s.errorf(poolKey, ErrMissing, "pool has no backends")
		return
	}
	if len(bs) > maxPoolMembers {
		s.errorf(poolKey, ErrValue, "pool has %d backends; at most %d are allowed", len(bs), maxPoolMembers)
	}
	seen := make(map[string]int, len(bs))
	weighted, primary := false, false
	for i, b := range bs {
		weighted = weighted || b.WeightOf() > 0
		primary = primary || !b.Backup
		if b.Address == "" {
			continue // reported as missing already
		}
		a := strings.ToLower(b.Address)
		if j, dup := seen[a]; dup {
			s.errorf(backendKey(i), ErrDuplicate, "duplicate backend %q (also at %s)", b.Address, backendKey(j))
			continue
		}
		seen[a] = i
	}
	if !weighted {
		s.errorf(poolKey, ErrValue, "every backend has weight 0, so the pool would take no requests")
	}
	if !primary {
		s.errorf(poolKey, ErrValue, "every backend is a backup; at least one must not be (backups take traffic only when no other backend can)")
	}
}

// checkHealth reports the problems health.Config.Validate finds in h, each at
// the key it names ("cannot use health.timeout ..."): key maps a health.Config
// key such as "timeout" to the file's key path, or to "" if the file cannot
// set it; then, and for a message that names no key, the problem goes to
// section. Validate stops at its first problem, so checkHealth resets the key
// it named to its default and validates again, to report every problem.
func checkHealth(s *source, section string, key func(string) string, h health.Config) {
	seen := map[string]bool{}
	for {
		err := h.Validate()
		if err == nil {
			return
		}
		k := ""
		if m := healthKeyRe.FindStringSubmatch(err.Error()); m != nil {
			k = m[1]
		}
		if seen[k] {
			return // reported already; its default cannot be what is wrong
		}
		if k == "" || !resetHealthKey(&h, k) {
			s.errorf(section, ErrValue, "%s", err)
			return
		}
		seen[k] = true
		s.errorf(cmp.Or(key(k), section), ErrValue, "%s", err)
	}
}

// healthKeyRe finds the key that a health.Config.Validate error names.
var healthKeyRe = regexp.MustCompile(`\bhealth\.([a-z_]+)\b`)

// resetHealthKey sets the field of h whose toml tag is key to its zero value,
// the default, and reports whether there is one.
func resetHealthKey(h *health.Config, key string) bool {
	v := reflect.ValueOf(h).Elem()
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("toml") == key {
			v.Field(i).SetZero()
			return true
		}
	}
	return false
}

// checkLimits checks l once defaults are applied; keys are the TOML ones.
func checkLimits(s *source, l codec.Limits) {
	d := l.WithDefaults()
	if d.MaxRequestLine > d.MaxHeadBytes {
		s.errorf("limits.max_request_line", ErrValue, "request line limit %d exceeds max_header_bytes %d", d.MaxRequestLine, d.MaxHeadBytes)
	}
}

// checkFlow checks f once defaults are applied; keys are the TOML ones.
func checkFlow(s *source, f engine.Flow) {
	d := engine.Config{Flow: f}.WithDefaults().Flow
	if d.LowWatermark >= d.HighWatermark {
		s.errorf("flow.low_watermark", ErrValue, "low watermark %d must be below the high watermark %d", d.LowWatermark, d.HighWatermark)
	}
}
