package main

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"loopgate/codec"
	"loopgate/engine"
	"loopgate/health"
)

// decodeTOML decodes config.toml (layout: the sample config.toml at the
// repository root). It decodes into a map rather than a struct so that it can
// check every key with its full path and report all problems, which
// toml.Decode into a struct cannot (it stops at the first type error and
// MetaData.Undecoded loses array indexes).
func decodeTOML(src *source, data []byte) *Config {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		line, msg := 1, err.Error()
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line, msg = max(pe.Position.Line, 1), pe.Message
			if p := pe.Position.Start; p >= 0 && p < len(data) {
				// The parser counts a line break it stopped at as the
				// next line; the problem is on the line it ends.
				line = 1 + bytes.Count(data[:p], []byte{'\n'})
			}
		}
		src.add("", line, ErrSyntax, "cannot parse TOML: %s", msg)
		return nil
	}
	src.lines = tomlLines(data)
	root := &table{src: src, m: m}
	c := newConfig()
	e := &c.Engine

	s := root.table("server")
	listenSet := s.str("listen", &e.Listen)
	if listenSet {
		checkHostPort(src, s.key("listen"), e.Listen, true)
	}
	s.setInt("max_tls_handshakes", &e.MaxTLSHandshakes, 0, math.MaxInt32)
	s.setInt("event_loops", &e.EventLoops, 0, maxEventLoops)
	s.boolean("reuse_port", &e.ReusePort)
	s.setInt("read_buffer", &e.ReadBufferCap, 0, math.MaxInt32)
	s.setInt("max_connections", &e.MaxConnections, 0, math.MaxInt32)
	s.setInt("max_connections_per_client", &e.MaxConnectionsPerClient, 0, math.MaxInt32)
	s.str("default_pool", &e.DefaultPool)
	s.setInt("max_requests_per_client", &e.MaxRequestsPerClient, 0, math.MaxInt32)
	var overLimit string
	if s.str("over_limit", &overLimit) {
		switch overLimit {
		case "429":
		case "close":
			e.OverLimitClose = true
		default:
			src.errorf(s.key("over_limit"), ErrValue, `got %q; want "429" or "close"`, overLimit)
		}
	}
	strOrList(s, "rate_limit", &e.RateLimit)
	s.duration("shutdown_grace", &e.ShutdownGrace)
	s.boolean("access_log", &c.AccessLog)
	s.boolean("metrics", &c.Metrics)
	s.boolean("seed_endpoints", &e.SeedEndpoints)
	if s.str("request_id_header", &e.RequestIDHeader) && e.RequestIDHeader != "" && !isToken(e.RequestIDHeader) {
		src.errorf(s.key("request_id_header"), ErrValue, "cannot use %q: want a field name (letters, digits, '-'), or \"\" for no request IDs", e.RequestIDHeader)
	}
	// Lists of CIDRs or addresses (an address is its /32 or /128).
	cidrs := func(k string, dst *[]string) {
		s.strList(k, func(key, v string) {
			if cidr, msg := parseTrustedProxy(v); msg != "" {
				src.errorf(key, ErrValue, "cannot parse %q: %s", v, msg)
			} else {
				*dst = append(*dst, cidr)
			}
		})
	}
	if _, ok := s.get("seed_endpoints_allow"); ok {
		e.SeedEndpointsAllow = []string{} // the file's list replaces the default; [] lets nobody in
	}
	cidrs("seed_endpoints_allow", &e.SeedEndpointsAllow)
	cidrs("client_allow", &e.ClientAllow)
	cidrs("client_deny", &e.ClientDeny)
	cidrs("trusted_proxies", &e.TrustedProxies)
	connectPorts(s, &e.ConnectPorts)
	s.finish()

	al := root.table("access_log")
	al.str("path", &c.Log.Path)
	if al.str("format", &c.Log.Format) && c.Log.Format != "json" && c.Log.Format != "combined" {
		src.errorf(al.key("format"), ErrValue, "cannot use %q: want \"json\" or \"combined\"", c.Log.Format)
	}
	al.setInt("buffer", &c.Log.Buffer, 512, math.MaxInt32)
	al.setInt("queue", &c.Log.Queue, 1, 1<<16)
	al.finish()
	if c.Log.Path == "" {
		src.errorf(al.key("path"), ErrValue, "cannot use an empty path: want a file, or \"-\" for standard output")
	}

	ad := root.table("admin")
	if ad.str("listen", &c.Admin.Listen) && c.Admin.Listen != "" {
		checkHostPort(src, ad.key("listen"), c.Admin.Listen, true)
	}
	ad.str("token", &c.Admin.Token)
	ad.str("token_file", &c.Admin.TokenFile)
	ad.boolean("public_read", &c.Admin.PublicRead)
	ad.str("state_file", &c.Admin.StateFile)
	ad.str("tls_cert_file", &c.Admin.TLSCertFile)
	ad.str("tls_key_file", &c.Admin.TLSKeyFile)
	ad.str("client_ca", &c.Admin.ClientCA)
	ad.str("client_auth", &c.Admin.ClientAuth)
	ad.finish()
	checkAdminTLS(src, ad, &c.Admin)
	if c.Admin.Token != "" && c.Admin.TokenFile != "" {
		src.errorf(ad.key("token_file"), ErrValue, "cannot use both token and token_file: choose one")
	}
	if c.Admin.Listen != "" && !isLoopback(c.Admin.Listen) && c.Admin.Token == "" && c.Admin.TokenFile == "" && !c.Admin.requiresClientCerts() {
		src.errorf(ad.key("listen"), ErrValue, "cannot listen on %q without a token: the admin API changes the running proxy; set token or token_file, require client certificates (client_ca), or bind 127.0.0.1", c.Admin.Listen)
	}

	l := root.table("limits")
	l.setInt("max_request_line", &e.Limits.MaxRequestLine, 0, math.MaxInt32)
	l.setInt("max_header_bytes", &e.Limits.MaxHeadBytes, 0, math.MaxInt32)
	l.setInt("max_headers", &e.Limits.MaxHeaders, 0, codec.MaxHeaders)
	l.setInt("max_chunk_line", &e.Limits.MaxChunkLine, 0, math.MaxInt32)
	l.setInt("max_interim_responses", &e.Limits.MaxInterim, 0, 1<<16)
	if n, ok := l.integer("max_body_bytes", 0, math.MaxInt64); ok {
		e.Limits.MaxBodyBytes = n
	}
	l.finish()
	checkLimits(src, e.Limits)

	t := root.table("timeouts")
	t.duration("upstream_connect", &e.Timeouts.UpstreamConnect)
	t.duration("client_header", &e.Timeouts.ClientHeader)
	t.duration("client_idle", &e.Timeouts.ClientIdle)
	t.duration("upstream_response", &e.Timeouts.UpstreamResponse)
	t.duration("upstream_idle", &e.Timeouts.UpstreamIdle)
	t.duration("body_progress", &e.Timeouts.BodyProgress)
	t.duration("tls_handshake", &e.Timeouts.TLSHandshake)
	t.duration("tunnel_idle", &e.Timeouts.TunnelIdle)
	t.finish()

	f := root.table("flow")
	f.setInt("high_watermark", &e.Flow.HighWatermark, 0, math.MaxInt)
	f.setInt("low_watermark", &e.Flow.LowWatermark, 0, math.MaxInt)
	f.finish()
	checkFlow(src, e.Flow)

	if _, ok := root.m["pool"]; !ok {
		src.errorf("pool", ErrMissing, "no [[pool]]: at least one pool with backends is required")
	}
	names := map[string]int{}
	pools, _ := root.tables("pool")
	for i, pt := range pools {
		if pt.bad {
			continue
		}
		var p engine.Pool
		if pt.required("name") && pt.str("name", &p.Name) {
			if msg := poolNameProblem(p.Name); msg != "" {
				src.errorf(pt.key("name"), ErrValue, "%s", msg)
			} else if j, dup := names[p.Name]; dup {
				src.errorf(pt.key("name"), ErrDuplicate, "duplicate pool name %q (also pool[%d])", p.Name, j)
			} else {
				names[p.Name] = i
			}
		}
		algOK := true
		if pt.str("algorithm", &p.Algorithm) {
			algOK = checkAlgorithm(src, pt.key("algorithm"), p.Algorithm)
		}
		pt.setInt("max_idle_per_backend", &p.MaxIdlePerBackend, 0, math.MaxInt32)
		pt.setInt("retries", &p.Retries, -1, 100)
		pt.setInt("retry_budget", &p.RetryBudget, 0, 100)
		pt.duration("retry_deadline", &p.RetryDeadline)
		p.RetryOnStatus = statusList(pt, "retry_on_status")
		pt.duration("retry_backoff", &p.RetryBackoff)
		pt.duration("slow_start", &p.SlowStart)
		pt.boolean("panic_mode", &p.PanicMode)
		pt.boolean("cache", &p.Cache)
		pt.setInt("max_connections", &p.MaxConnections, 0, math.MaxInt32)
		pt.setInt("queue", &p.Queue, 0, math.MaxInt32)
		pt.duration("queue_timeout", &p.QueueTimeout)
		decodeHashKeys(pt, &p, algOK)
		p.StickyCookie = decodeSticky(pt)

		p.Health = decodeHealth(pt)
		p.Passive = decodePassive(pt)
		p.TLS = decodePoolTLS(pt)

		bts, isArray := pt.tables("backend")
		for _, bt := range bts {
			var b engine.Backend
			if bt.bad {
				p.Backends = append(p.Backends, b) // keeps indexes aligned
				continue
			}
			if bt.required("address") && bt.str("address", &b.Address) {
				checkHostPort(src, bt.key("address"), b.Address, false)
			}
			if w, ok := bt.integer("weight", 0, maxWeight); ok {
				w := int(w)
				b.Weight = &w
			}
			bt.boolean("backup", &b.Backup)
			bt.setInt("max_connections", &b.MaxConnections, 0, math.MaxInt32)
			bt.finish()
			p.Backends = append(p.Backends, b)
		}
		if _, present := pt.m["backend"]; isArray || !present {
			backends := pt.key("backend")
			checkBackends(src, backends, func(j int) string { return indexKey(backends, j) + ".address" }, p.Backends)
		}
		pt.finish()
		e.Pools = append(e.Pools, p)
	}
	decodeRoutes(root, e)
	decodeCompression(root, e)
	decodeCache(root, e)
	decodeTLS(root, c)
	decodeListeners(root, c, listenSet)
	checkCertificates(src, c)
	root.finish()
	if !src.failed() {
		checkRoutes(src, e)
	}
	return c
}

// decodeHashKeys decodes the keys of pool pt that only its hashing
// algorithms use. Setting one for another algorithm is an error, unless the
// algorithm itself is wrong (algOK false; reported already): then the key is
// checked as if it applied.
func decodeHashKeys(pt *table, p *engine.Pool, algOK bool) {
	src := pt.src
	alg := cmp.Or(p.Algorithm, engine.DefaultAlgorithm)
	applies := func(k string, algs ...string) bool {
		if _, set := pt.m[k]; !set || !algOK || slices.Contains(algs, alg) {
			return true
		}
		pt.get(k) // known, but misplaced
		this := strconv.Quote(alg)
		if p.Algorithm == "" {
			this = "the default, " + this
		}
		src.errorf(pt.key(k), ErrValue, `only used with algorithm = "%s" (this pool's algorithm is %s)`, strings.Join(algs, `" or "`), this)
		return false
	}
	if applies("hash_key", algHash) && pt.str("hash_key", &p.HashKey) {
		if msg := hashKeyProblem(p.HashKey); msg != "" {
			src.errorf(pt.key("hash_key"), ErrValue, "%s", msg)
		}
	}
	if applies("hash_method", algHash, algIPHash) && pt.str("hash_method", &p.HashMethod) {
		if p.HashMethod != "ring" && p.HashMethod != "maglev" {
			src.errorf(pt.key("hash_method"), ErrValue, `got %q; want "ring" or "maglev"`, p.HashMethod)
		}
	}
	if applies("hash_balance_factor", algHash, algIPHash) {
		if f, ok := pt.number("hash_balance_factor"); ok {
			if f == 0 || f > 1 && f <= maxBalanceFactor {
				p.HashBalanceFactor = f
			} else {
				src.errorf(pt.key("hash_balance_factor"), ErrValue, "got %g; want 0 (off) or more than 1 and at most %d, such as 1.25", f, maxBalanceFactor)
			}
		}
	}
	if applies("fallback", algHash, algIPHash) && pt.str("fallback", &p.Fallback) {
		checkFallback(src, pt.key("fallback"), p.Fallback)
	}
}

// statusList decodes the array of HTTP status codes at k.
func statusList(t *table, k string) []int {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	elems, isArray := v.([]any)
	if !isArray {
		t.wrong(k, "an array of status codes", v)
	}
	var codes []int
	for i, e := range elems {
		if n, isInt := e.(int64); !isInt || n < 100 || n > 599 {
			t.src.errorf(indexKey(t.key(k), i), ErrValue, "got %s; want a status code 100..599", t.src.describe(e))
		} else {
			codes = append(codes, int(n))
		}
	}
	return codes
}

// decodePassive decodes [pool.passive]. Passive ejection is on unless the
// section says enabled = false: without it a backend that hangs (SIGSTOP, a
// deadlock) keeps its share of the requests, each waiting out the response
// timeout, for as long as it hangs (nginx's max_fails is on by default too).
func decodePassive(pt *table) *engine.Passive {
	v, present := pt.m["passive"]
	st := pt.table("passive")
	if !present {
		return defaultPassive()
	}
	if _, isTable := v.(map[string]any); !isTable {
		return nil // reported
	}
	enabled := true
	st.boolean("enabled", &enabled)
	pc := &engine.Passive{}
	st.setInt("consecutive_failures", &pc.ConsecutiveFailures, 0, 10000)
	pc.Statuses = statusList(st, "statuses")
	st.duration("base_ejection_time", &pc.BaseEjectionTime)
	st.duration("max_ejection_time", &pc.MaxEjectionTime)
	st.setInt("max_ejection_percent", &pc.MaxEjectionPercent, 0, 100)
	d := pc.WithDefaults()
	if pc.MaxEjectionTime != 0 && d.MaxEjectionTime < d.BaseEjectionTime {
		st.src.errorf(st.key("max_ejection_time"), ErrValue, "got %s; want at least base_ejection_time (%s)", d.MaxEjectionTime, d.BaseEjectionTime)
	}
	st.finish()
	if !enabled {
		return nil
	}
	return &d
}

// defaultPassive is passive ejection with every default: what a pool gets
// without a [pool.passive] section, and a seed config.json's pool.
func defaultPassive() *engine.Passive {
	d := engine.Passive{}.WithDefaults()
	return &d
}

// decodeSticky decodes [pool.sticky_cookie]; the section's presence turns
// sticky sessions on, so an empty one means every default.
func decodeSticky(pt *table) *engine.StickyCookie {
	v, present := pt.m["sticky_cookie"]
	st := pt.table("sticky_cookie")
	if _, isTable := v.(map[string]any); !present || !isTable {
		return nil // absent, or reported
	}
	src := st.src
	sc := &engine.StickyCookie{}
	if st.str("name", &sc.Name) && !isToken(sc.Name) {
		// RFC 6265 §4.1.1: cookie-name is a token.
		src.errorf(st.key("name"), ErrValue, "cannot use %q as a cookie name: want %s", sc.Name, tokenChars)
	}
	if st.str("path", &sc.Path) {
		if msg := cookiePathProblem(sc.Path); msg != "" {
			src.errorf(st.key("path"), ErrValue, "%s", msg)
		}
	}
	st.duration("max_age", &sc.MaxAge)
	if sc.MaxAge%time.Second != 0 {
		// Max-Age counts seconds; rounding "500ms" down would delete the cookie.
		src.errorf(st.key("max_age"), ErrValue, "got %s; want whole seconds (Max-Age counts seconds)", sc.MaxAge)
	}
	st.boolean("secure", &sc.Secure)
	httpOnly := true
	st.boolean("httponly", &httpOnly)
	if _, set := st.m["httponly"]; set {
		sc.HTTPOnly = &httpOnly
	}
	if st.str("samesite", &sc.SameSite) {
		switch sc.SameSite {
		case "", "Lax", "Strict":
		case "None":
			if !sc.Secure {
				// Browsers reject SameSite=None without Secure.
				src.errorf(st.key("samesite"), ErrValue, `"None" requires secure = true`)
			}
		default:
			src.errorf(st.key("samesite"), ErrValue, `got %q; want "Lax", "Strict", "None" or "" (the default, "Lax")`, sc.SameSite)
		}
	}
	st.str("secret", &sc.Secret)
	st.finish()
	return sc
}

// decodeHealth decodes [pool.health] into a health.Config with its defaults
// filled in; the section's presence turns active probes on, so an empty one
// means every default and an absent one (nil) means no probes.
func decodeHealth(pt *table) *health.Config {
	v, present := pt.m["health"]
	ht := pt.table("health")
	if _, isTable := v.(map[string]any); !present || !isTable {
		return nil // absent, or reported
	}
	var h health.Config
	ht.boolean("disabled", &h.Disabled)
	ht.str("type", &h.Type)
	ht.str("method", &h.Method)
	ht.str("path", &h.Path)
	ht.str("host", &h.Host)
	ht.strList("headers", func(_, s string) { h.Headers = append(h.Headers, s) })
	ht.str("expect", &h.Expect)
	ht.str("body_contains", &h.BodyContains)
	ht.duration("interval", &h.Interval)
	ht.duration("timeout", &h.Timeout)
	ht.setInt("rise", &h.Rise, 0, 1000)
	ht.setInt("fall", &h.Fall, 0, 1000)
	if f, ok := ht.number("jitter"); ok {
		h.Jitter = f
	}
	ht.duration("fast_interval", &h.FastInterval)
	ht.duration("down_interval", &h.DownInterval)
	ht.finish()
	checkHealth(ht.src, ht.path, ht.key, h)
	h = h.WithDefaults()
	return &h
}

// required reports whether t has key k, and reports it missing if not.
func (t *table) required(k string) bool {
	if _, ok := t.m[k]; ok {
		return true
	}
	t.src.errorf(t.key(k), ErrMissing, "missing (required)")
	return false
}

// poolNameProblem says what is wrong with a pool name, or "". Names become
// metric labels and log fields, so they are kept plain.
func poolNameProblem(name string) string {
	if name == "" || len(name) > 64 {
		return "want 1..64 characters"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "cannot use " + strconv.Quote(name) + ": want letters, digits, '-', '_' or '.'"
		}
	}
	return ""
}

// tomlLines maps the key paths of a TOML document to their lines:
// "pool[0].backend[1].address" -> 14. A table or array element maps to its
// header (or, inline, to where it starts). data must already have parsed as
// TOML; tomlLines never fails, and where it cannot follow the text it records
// less, so lineOf falls back to an enclosing table.
func tomlLines(data []byte) map[string]int {
	s := &lineScanner{src: data, line: 1, lines: map[string]int{}, arrays: map[string]int{}}
	for s.i < len(s.src) {
		s.skipSpace(true)
		if s.i == len(s.src) {
			break
		}
		if s.peek() == '[' {
			s.header()
		} else {
			s.keyValue()
		}
		s.skipLine() // a trailing comment, or whatever the scanner did not follow
	}
	return s.lines
}

// lineScanner walks a TOML document once, tracking the current table and the
// number of elements of each array of tables, like the parser does.
type lineScanner struct {
	src    []byte
	i      int
	line   int
	lines  map[string]int
	arrays map[string]int // path of an array of tables -> elements so far
	table  string         // path of the current table
}

func (s *lineScanner) peek() byte {
	if s.i < len(s.src) {
		return s.src[s.i]
	}
	return 0
}

func (s *lineScanner) next() {
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

func (s *lineScanner) mark(path string) {
	if _, ok := s.lines[path]; !ok {
		s.lines[path] = s.line
	}
}

// skipSpace skips blanks; with newlines also line breaks and comments.
func (s *lineScanner) skipSpace(newlines bool) {
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case ' ', '\t', '\r':
		case '\n':
			if !newlines {
				return
			}
		case '#':
			if !newlines {
				return
			}
			for s.i < len(s.src) && s.src[s.i] != '\n' {
				s.i++
			}
			continue
		default:
			return
		}
		s.next()
	}
}

func (s *lineScanner) skipLine() {
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		s.i++
	}
	if s.i < len(s.src) {
		s.next()
	}
}

// header reads [a.b] or [[a.b]] and makes it the current table.
func (s *lineScanner) header() {
	s.next()
	array := s.peek() == '['
	if array {
		s.next()
	}
	segs := s.key()
	p := ""
	for i, seg := range segs {
		p = joinKey(p, seg)
		n, isArray := s.arrays[p]
		switch {
		case array && i == len(segs)-1:
			s.arrays[p] = n + 1
			s.mark(p)
			p = indexKey(p, n)
		case isArray:
			p = indexKey(p, n-1)
		}
	}
	s.mark(p)
	s.table = p
}

// keyValue reads key = value in the current table.
func (s *lineScanner) keyValue() {
	segs := s.key()
	if len(segs) == 0 || s.peek() != '=' {
		return
	}
	s.next()
	p := s.table
	for _, seg := range segs { // a dotted key also defines its parent tables
		p = joinKey(p, seg)
		s.mark(p)
	}
	s.value(p)
}

// key reads a dotted key of bare, "basic" and 'literal' parts.
func (s *lineScanner) key() []string {
	var segs []string
	for {
		s.skipSpace(false)
		start := s.i
		switch s.peek() {
		case '"', '\'':
			s.str()
			raw := string(s.src[start:s.i])
			seg, err := strconv.Unquote(raw) // TOML's escapes are Go's, near enough for a key
			if err != nil || raw[0] == '\'' {
				seg = raw[1 : len(raw)-min(len(raw)-1, 1)]
			}
			segs = append(segs, seg)
		default:
			for s.i < len(s.src) && isBareKeyChar(s.src[s.i]) {
				s.i++
			}
			if s.i == start {
				return segs
			}
			segs = append(segs, string(s.src[start:s.i]))
		}
		s.skipSpace(false)
		if s.peek() != '.' {
			return segs
		}
		s.next()
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// value skips one value, recording the elements of arrays and the keys of
// inline tables under path.
func (s *lineScanner) value(path string) {
	s.skipSpace(false)
	switch s.peek() {
	case '"', '\'':
		s.str()
	case '[':
		s.next()
		for i := 0; s.i < len(s.src); i++ {
			s.skipSpace(true)
			if s.peek() == ']' {
				break
			}
			elem := indexKey(path, i)
			s.mark(elem)
			s.value(elem)
			s.skipSpace(true)
			if s.peek() != ',' {
				break
			}
			s.next()
		}
		if s.peek() == ']' {
			s.next()
		}
	case '{':
		s.next()
		for s.i < len(s.src) {
			s.skipSpace(true)
			if s.peek() == '}' {
				break
			}
			segs := s.key()
			if len(segs) == 0 || s.peek() != '=' {
				break
			}
			s.next()
			p := path
			for _, seg := range segs {
				p = joinKey(p, seg)
				s.mark(p)
			}
			s.value(p)
			s.skipSpace(true)
			if s.peek() != ',' {
				break
			}
			s.next()
		}
		if s.peek() == '}' {
			s.next()
		}
	default: // number, boolean, date: up to a separator
		for s.i < len(s.src) {
			switch s.src[s.i] {
			case ',', ']', '}', '#', '\n':
				return
			}
			s.i++
		}
	}
}

// str skips a basic, literal or multi-line string.
func (s *lineScanner) str() {
	q := s.peek()
	if s.i+2 < len(s.src) && s.src[s.i+1] == q && s.src[s.i+2] == q {
		s.i += 3
		for s.i < len(s.src) {
			if q == '"' && s.src[s.i] == '\\' {
				s.next()
				if s.i < len(s.src) {
					s.next()
				}
				continue
			}
			if s.i+2 < len(s.src) && s.src[s.i] == q && s.src[s.i+1] == q && s.src[s.i+2] == q {
				s.i += 3
				for s.peek() == q { // up to two quotes may end the content
					s.i++
				}
				return
			}
			s.next()
		}
		return
	}
	s.i++
	for s.i < len(s.src) && s.src[s.i] != '\n' {
		c := s.src[s.i]
		s.i++
		if q == '"' && c == '\\' && s.i < len(s.src) && s.src[s.i] != '\n' {
			s.i++
			continue
		}
		if c == q {
			return
		}
	}
}

// connectPorts reads [server] connect_ports: the ports a CONNECT may open a
// tunnel to, each 1..65535 (docs/WEBSOCKET.md).
func connectPorts(s *table, dst *[]int) {
	const k = "connect_ports"
	v, ok := s.get(k)
	if !ok {
		return
	}
	elems, ok := v.([]any)
	if !ok {
		s.wrong(k, "an array of port numbers", v)
		return
	}
	for i, e := range elems {
		key := indexKey(s.key(k), i)
		switch n, ok := e.(int64); {
		case !ok:
			s.src.errorf(key, ErrType, "want a port number, got %s", s.src.describe(e))
		case n < 1 || n > 65535:
			s.src.errorf(key, ErrValue, "got %d; want a port, 1..65535", n)
		case slices.Contains(*dst, int(n)):
			s.src.errorf(key, ErrValue, "port %d is listed twice", n)
		default:
			*dst = append(*dst, int(n))
		}
	}
}
