package engine

import (
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"loopgate/codec"
	"loopgate/route"
	"loopgate/stats"
	"loopgate/upstream"
)

// routeTable is a generation's compiled [[route]] entries.
type routeTable struct {
	table *route.Table // nil: no routes; every request takes implicit
	list  []*routeAction
	// implicit is the action without [[route]]: the first pool, untouched
	// (a seed config.json's one pool, one route). fallback is default_pool's
	// with routes; nil answers 404.
	implicit, fallback *routeAction
	// maxBody is the largest request body any route accepts: the parser's
	// bound, each route checking its own after the match.
	maxBody int64
}

type actionKind uint8

const (
	actPool actionKind = iota
	actRedirect
	actRespond
)

// routeAction is one route as the loops run it: immutable, shared by the
// loops through the generation.
type routeAction struct {
	name  string
	kind  actionKind
	pool  int // index in the generation's pools, for actPool
	stats *stats.RouteStats

	prefixLen int    // bytes of the path the route's prefix matched
	strip     []byte // StripPrefix
	replace   []byte // ReplacePrefix
	rewrite   bool   // strip or replace is set

	status   int      // actRedirect, actRespond
	location template // actRedirect
	body     []byte   // actRespond
	ctype    []byte

	timeout int64 // upstream_response in ns; 0: the loop's
	retries int   // -1: the pool's
	maxBody int64 // 0: no bound

	reqDrop, respDrop []string
	reqAdd, respAdd   []fieldTemplate

	filtered                bool
	clientAllow, clientDeny []netip.Prefix

	compress   bool         // [compression], or the route's compress
	cache      bool         // the pool's cache, or the route's
	limitNames []string     // RateLimit, resolved into limits by linkLimits
	limits     []*limitRule // the server's rules, then the route's
	nameKey    uint64       // hash of name, the "route" part of a rate limit key
}

// fieldTemplate is a header rule's field: its name and value template.
type fieldTemplate struct {
	name  string
	value template
}

// RouteError is a route that cannot be compiled: Route indexes cfg.Routes
// (-1 when the problem is not one route's), Key is its config key.
type RouteError struct {
	Route int
	Key   string
	Err   error
}

func (e *RouteError) Error() string {
	if e.Route < 0 {
		return e.Key + ": " + e.Err.Error()
	}
	return fmt.Sprintf("route[%d].%s: %v", e.Route, e.Key, e.Err)
}

func (e *RouteError) Unwrap() error { return e.Err }

// CheckRoutes reports the first problem of cfg's routes, default pool and
// the pools they name (a *RouteError), as Reload would; nil when they
// compile.
func CheckRoutes(cfg Config) error {
	cfg = cfg.WithDefaults()
	names := make([]string, len(cfg.Pools))
	for i, p := range cfg.Pools {
		names[i] = p.Name
	}
	_, err := compileRoutes(&cfg, names, nil)
	return err
}

// compileRoutes builds the route table of cfg, whose pools are named
// pools, in order. Errors are *RouteError.
func compileRoutes(cfg *Config, pools []string, st *stats.Proxy) (*routeTable, error) {
	rt := &routeTable{maxBody: cfg.Limits.MaxBodyBytes}
	poolIndex := func(name string) int { return slices.Index(pools, name) }
	seen := map[string]bool{}
	for i := range cfg.RateLimits {
		r := &cfg.RateLimits[i]
		if _, err := checkRateLimit(r); err != nil {
			e := err.(*RouteError)
			e.Key = fmt.Sprintf("rate_limit[%d].%s", i, e.Key)
			return nil, e
		}
		if seen[r.Name] {
			return nil, &RouteError{-1, fmt.Sprintf("rate_limit[%d].name", i), fmt.Errorf("duplicate rule name %q", r.Name)}
		}
		seen[r.Name] = true
		if r.Store == "redis" && cfg.Redis.Address == "" {
			return nil, &RouteError{-1, fmt.Sprintf("rate_limit[%d].store", i), fmt.Errorf(`"redis" needs [redis] address`)}
		}
	}
	for _, n := range cfg.RateLimit {
		if !seen[n] {
			return nil, &RouteError{-1, "server.rate_limit", fmt.Errorf("no [[rate_limit]] named %q", n)}
		}
	}
	if len(pools) > 0 {
		rt.implicit = &routeAction{kind: actPool, retries: -1, maxBody: cfg.Limits.MaxBodyBytes, nameKey: upstream.HashKey(nil),
			compress: cfg.Compression.Enabled, cache: cfg.Pools[0].Cache}
	}
	if len(cfg.Routes) == 0 {
		return rt, nil
	}
	if cfg.DefaultPool != "" {
		i := poolIndex(cfg.DefaultPool)
		if i < 0 {
			return nil, &RouteError{-1, "default_pool", fmt.Errorf("no pool named %q", cfg.DefaultPool)}
		}
		rt.fallback = &routeAction{kind: actPool, pool: i, retries: -1, maxBody: cfg.Limits.MaxBodyBytes, nameKey: upstream.HashKey(nil),
			compress: cfg.Compression.Enabled, cache: cfg.Pools[i].Cache}
	}
	specs := make([]route.Spec, len(cfg.Routes))
	for i, r := range cfg.Routes {
		specs[i] = r.Spec
	}
	t, err := route.Compile(specs)
	if err != nil {
		return nil, &RouteError{-1, "route", err}
	}
	rt.table = t
	for i, r := range cfg.Routes {
		a, err := compileRoute(i, &r, cfg, poolIndex)
		if err != nil {
			return nil, err
		}
		a.prefixLen = t.PrefixLen(i)
		if st != nil {
			a.stats = st.Route(a.name)
		}
		if a.maxBody == 0 {
			rt.maxBody = 0 // some route takes any size: the parser must not bound it
		} else if rt.maxBody != 0 {
			rt.maxBody = max(rt.maxBody, a.maxBody)
		}
		rt.list = append(rt.list, a)
	}
	return rt, nil
}

func compileRoute(i int, r *Route, cfg *Config, poolIndex func(string) int) (*routeAction, error) {
	a := &routeAction{name: r.Name, retries: -1, maxBody: cfg.Limits.MaxBodyBytes}
	if a.name == "" {
		a.name = "route-" + strconv.Itoa(i+1)
	}
	actions := 0
	if r.Pool != "" {
		actions++
		if a.pool = poolIndex(r.Pool); a.pool < 0 {
			return nil, &RouteError{i, "pool", fmt.Errorf("no pool named %q", r.Pool)}
		}
	}
	if r.Redirect != "" {
		actions++
		a.kind, a.status = actRedirect, r.RedirectStatus
		switch a.status {
		case 0:
			a.status = 302
		case 301, 302, 303, 307, 308:
		default:
			return nil, &RouteError{i, "redirect_status", fmt.Errorf("got %d; want 301, 302, 303, 307 or 308", a.status)}
		}
		var err error
		if a.location, err = parseTemplate(r.Redirect); err != nil {
			return nil, &RouteError{i, "redirect", err}
		}
	}
	if r.Respond != 0 {
		actions++
		if r.Respond < 200 || r.Respond > 599 {
			return nil, &RouteError{i, "respond", fmt.Errorf("got %d; want a status 200..599", r.Respond)}
		}
		a.kind, a.status, a.body = actRespond, r.Respond, []byte(r.Body)
		a.ctype = []byte(r.ContentType)
		if len(a.ctype) == 0 {
			a.ctype = []byte("text/plain; charset=utf-8")
		}
	}
	if actions != 1 {
		return nil, &RouteError{i, "pool", fmt.Errorf("want exactly one of pool, redirect and respond (got %d)", actions)}
	}
	if r.StripPrefix != "" {
		if r.StripPrefix[0] != '/' {
			return nil, &RouteError{i, "strip_prefix", fmt.Errorf("%q does not start with '/'", r.StripPrefix)}
		}
		a.strip, a.rewrite = []byte(r.StripPrefix), true
	}
	if r.ReplacePrefix != nil {
		if r.PathPrefix == "" {
			return nil, &RouteError{i, "replace_prefix", fmt.Errorf("the route has no path_prefix to replace")}
		}
		if r.StripPrefix != "" {
			return nil, &RouteError{i, "replace_prefix", fmt.Errorf("cannot be used with strip_prefix")}
		}
		if !strings.HasPrefix(*r.ReplacePrefix, "/") {
			return nil, &RouteError{i, "replace_prefix", fmt.Errorf("%q does not start with '/'", *r.ReplacePrefix)}
		}
		a.replace, a.rewrite = []byte(*r.ReplacePrefix), true
	}
	a.timeout = int64(r.Timeout)
	if r.Retries != nil {
		a.retries = *r.Retries
	}
	if r.MaxBodyBytes != 0 {
		a.maxBody = r.MaxBodyBytes
	}
	var err error
	if a.reqDrop, a.reqAdd, err = compileHeaderRules(&r.RequestHeaders); err != nil {
		return nil, &RouteError{i, "request_headers", err}
	}
	if a.respDrop, a.respAdd, err = compileHeaderRules(&r.ResponseHeaders); err != nil {
		return nil, &RouteError{i, "response_headers", err}
	}
	if a.clientAllow, err = parsePrefixes(r.ClientAllow, "allowed client"); err != nil {
		return nil, &RouteError{i, "client_allow", err}
	}
	if a.clientDeny, err = parsePrefixes(r.ClientDeny, "denied client"); err != nil {
		return nil, &RouteError{i, "client_deny", err}
	}
	a.filtered = len(a.clientAllow)+len(a.clientDeny) > 0
	for _, n := range r.RateLimit {
		if !slices.ContainsFunc(cfg.RateLimits, func(rl RateLimit) bool { return rl.Name == n }) {
			return nil, &RouteError{i, "rate_limit", fmt.Errorf("no [[rate_limit]] named %q", n)}
		}
	}
	a.limitNames = r.RateLimit
	a.compress = cfg.Compression.Enabled
	if r.Compress != nil {
		a.compress = *r.Compress
	}
	if a.kind == actPool {
		a.cache = cfg.Pools[a.pool].Cache
	}
	if r.Cache != nil {
		a.cache = *r.Cache && a.kind == actPool
	}
	a.nameKey = upstream.HashKey([]byte(a.name))
	return a, nil
}

// compileHeaderRules turns set into remove + add: a set replaces every
// field of its name.
func compileHeaderRules(h *HeaderRules) (drop []string, add []fieldTemplate, err error) {
	drop = append(drop, h.Remove...)
	for _, f := range h.Set {
		drop = append(drop, f.Name)
	}
	for _, name := range drop {
		if framingField(name) {
			return nil, nil, fmt.Errorf("cannot change %s: loopgate writes it from the message's framing and routing", name)
		}
	}
	for _, f := range append(append([]Field(nil), h.Set...), h.Add...) {
		if !codec.ValidFieldName(f.Name) {
			return nil, nil, fmt.Errorf("cannot use %q as a field name", f.Name)
		}
		if framingField(f.Name) {
			return nil, nil, fmt.Errorf("cannot add %s: loopgate writes it from the message's framing and routing", f.Name)
		}
		t, err := parseTemplate(f.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		for _, p := range t {
			if bytes.ContainsAny(p.lit, "\r\n\x00") {
				return nil, nil, fmt.Errorf("%s: a value cannot hold CR, LF or NUL", f.Name)
			}
		}
		add = append(add, fieldTemplate{name: f.Name, value: t})
	}
	return drop, add, nil
}

// framingField reports whether header rules must leave the field named
// name alone: the proxy regenerates it (RFC 9112 §6, §7.6.1; Host from the
// target, X-Forwarded-* from the connection).
func framingField(name string) bool {
	switch strings.ToLower(name) {
	case "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
		"upgrade", "proxy-connection", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host":
		return true
	}
	return false
}

// template is a value with variables, parsed once at load.
type template []templatePart

type templatePart struct {
	lit []byte
	v   templateVar // tvNone: lit
}

type templateVar uint8

const (
	tvNone templateVar = iota
	tvRemoteAddr
	tvHost
	tvRequestID
	tvScheme
	tvPath
	tvQuery
	tvRequestURI
	tvRest
	tvIsArgs
)

var templateVars = map[string]templateVar{
	"remote_addr": tvRemoteAddr, "host": tvHost, "request_id": tvRequestID, "scheme": tvScheme,
	"path": tvPath, "query": tvQuery, "request_uri": tvRequestURI, "rest": tvRest, "is_args": tvIsArgs,
}

// parseTemplate parses "text $var ${var} $$". An unknown variable is an
// error naming it and the ones there are.
func parseTemplate(s string) (template, error) {
	var t template
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			t = append(t, templatePart{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			lit = append(lit, c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit = append(lit, '$')
			i++
			continue
		}
		var name string
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed ${", s)
			}
			name, i = s[i+2:i+2+end], i+2+end
		} else {
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] == '_') {
				j++
			}
			name, i = s[i+1:j], j-1
		}
		v, ok := templateVars[name]
		if !ok {
			return nil, fmt.Errorf("%q: unknown variable $%s; want $remote_addr, $host, $request_id, $scheme, $path, $query, $is_args, $request_uri or $rest ($$ for a '$')", s, name)
		}
		flush()
		t = append(t, templatePart{v: v})
	}
	flush()
	return t, nil
}

// requestVars are the values of a template's variables for the request
// being routed; the slices are valid during start.
type requestVars struct {
	remoteAddr, host, requestID, scheme, path, query, uri, rest []byte
	isArgs                                                      []byte // "?" when the target has a query
}

func (t template) append(dst []byte, rv *requestVars) []byte {
	for _, p := range t {
		var v []byte
		switch p.v {
		case tvNone:
			v = p.lit
		case tvRemoteAddr:
			v = rv.remoteAddr
		case tvHost:
			v = rv.host
		case tvRequestID:
			v = rv.requestID
		case tvScheme:
			v = rv.scheme
		case tvPath:
			v = rv.path
		case tvQuery:
			v = rv.query
		case tvRequestURI:
			v = rv.uri
		case tvRest:
			v = rv.rest
		case tvIsArgs:
			v = rv.isArgs
		}
		dst = append(dst, v...)
	}
	return dst
}

// appendFields appends "Name: value\r\n" for each rule field. No value
// can break the head: literals are checked at load, and every variable
// comes from a parsed head (field values and targets hold no CR, LF or
// NUL, RFC 9110 §5.5, RFC 9112 §3.2) or is an address or ID loopgate made.
func appendFields(dst []byte, fs []fieldTemplate, rv *requestVars) []byte {
	for i := range fs {
		dst = append(dst, fs[i].name...)
		dst = append(dst, ": "...)
		dst = fs[i].value.append(dst, rv)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// headerView lets route conditions read the fields of the request being
// routed; it is the loop's, so passing it as a route.Header allocates nothing.
type headerView struct {
	b []byte
	r *codec.Request
}

func (h *headerView) Value(name string) ([]byte, bool) {
	sp, ok := h.r.Lookup(h.b, name)
	if !ok {
		return nil, false
	}
	return sp.Bytes(h.b), true
}

// targetParts splits the request-target of r into its path and query (the
// query without '?'). An absolute-form target's path is what follows its
// authority ("/" when empty); "*" is its own path.
func targetParts(b []byte, r *codec.Request) (path, query []byte) {
	t := r.Target.Bytes(b)
	if r.Authority.Len > 0 {
		t = b[r.Authority.Off+r.Authority.Len : r.Target.Off+r.Target.Len]
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t, query = t[:i], t[i+1:]
	}
	if len(t) == 0 {
		t = slash
	}
	return t, query
}

var (
	slash        = []byte("/")
	questionMark = []byte("?")
)

// route finds the route of the request r parsed from b and fills the loop's
// requestVars for it; nil when none matches and there is no default pool.
func (cc *clientConn) route(b []byte, r *codec.Request) *routeAction {
	l := cc.l
	rt := l.gen.routes
	path, query := targetParts(b, r)
	host := r.EffectiveHost(b)
	l.hostBuf = route.NormalizeHost(l.hostBuf[:0], host)
	var changed bool
	l.pathBuf, changed = route.NormalizePath(l.pathBuf[:0], path)
	l.hv = headerView{b: b, r: r}
	i := rt.table.Match(l.hostBuf, l.pathBuf, query, r.MethodRaw.Bytes(b), &l.hv)
	l.hv = headerView{}
	rv := &l.vars
	*rv = requestVars{remoteAddr: cc.ip, host: host, requestID: cc.log.id, scheme: cc.ln.scheme,
		path: l.pathBuf, query: query, uri: r.Target.Bytes(b), rest: l.pathBuf}
	if query != nil {
		rv.isArgs = questionMark
	}
	l.pathChanged = changed
	if i < 0 {
		return rt.fallback
	}
	a := rt.list[i]
	rv.rest = l.pathBuf[min(a.prefixLen, len(l.pathBuf)):]
	return a
}

// rewriteTarget returns the target to send upstream for action a, or nil
// to send the received one: the path rewritten by the route's prefix
// rules, or normalised when the route matched a normalised path, so that
// the backend sees the path that was routed.
func (cc *clientConn) rewriteTarget(a *routeAction) []byte {
	l := cc.l
	if !a.rewrite && !l.pathChanged {
		return nil
	}
	path := l.pathBuf
	if len(path) == 1 && path[0] == '*' {
		return nil
	}
	t := l.targetBuf[:0]
	switch {
	case a.replace != nil:
		t = append(append(t, a.replace...), path[min(a.prefixLen, len(path)):]...)
	case a.strip != nil && bytes.HasPrefix(path, a.strip):
		t = append(t, path[len(a.strip):]...)
	default:
		t = append(t, path...)
	}
	if len(t) == 0 || t[0] != '/' {
		t = append(t, 0)
		copy(t[1:], t)
		t[0] = '/'
	}
	if q := l.vars.query; q != nil {
		t = append(append(t, '?'), q...)
	}
	l.targetBuf = t
	return t
}

// routeAdmits applies a route's client_allow and client_deny.
func (cc *clientConn) routeAdmits(a *routeAction, b []byte, r *codec.Request) bool {
	addr, ok := cc.clientAddr(b, r)
	return ok && !inPrefixes(a.clientDeny, addr) && (len(a.clientAllow) == 0 || inPrefixes(a.clientAllow, addr))
}

var headEnd = []byte("\r\n\r\n")

// redirect answers a route's redirect: its status and Location, the
// connection kept (RFC 9110 §15.4).
func (cc *clientConn) redirect(a *routeAction) {
	l := cc.l
	f := append(l.fields[:0], "Location: "...)
	f = a.location.append(f, &l.vars)
	l.fields = append(f, "\r\n"...)
	cc.answerWith(a.status, false, l.fields)
}

// respond answers a route's fixed status and body.
func (cc *clientConn) respond(a *routeAction) {
	cc.answerBody(a.status, a.ctype, nil, a.body)
}

// linkLimits gives each action its rules: the server's, then its own.
func (rt *routeTable) linkLimits(server []string, rules map[string]*limitRule) {
	for _, a := range append([]*routeAction{rt.implicit, rt.fallback}, rt.list...) {
		if a == nil {
			continue
		}
		a.limits = nil
		for _, n := range append(append([]string(nil), server...), a.limitNames...) {
			if lr := rules[n]; lr != nil && !slices.Contains(a.limits, lr) {
				a.limits = append(a.limits, lr)
			}
		}
	}
}

// routeViews describes the running routes and rate limits for the admin
// API and the dashboard.
func (s *Server) routeViews() ([]stats.RouteView, []stats.LimitView) {
	g := s.gen.Load()
	var rv []stats.RouteView
	for i, r := range g.cfg.Routes {
		a := g.routes.list[i]
		rv = append(rv, stats.RouteView{Name: a.name, Match: describeMatch(&r.Spec), Action: describeAction(&r),
			RateLimits: r.RateLimit, Stats: a.stats})
	}
	if g.cfg.DefaultPool != "" {
		rv = append(rv, stats.RouteView{Name: "(default)", Match: "no route matched", Action: "pool " + g.cfg.DefaultPool})
	}
	var lv []stats.LimitView
	for _, r := range g.cfg.RateLimits {
		lr := g.limits[r.Name]
		v := stats.LimitView{Name: r.Name, Rule: describeRule(&r), Store: cmp.Or(r.Store, "local"), DryRun: r.DryRun, Stats: lr.stats}
		if lr.shared != nil {
			v.RedisHealthy = lr.shared.Healthy
		}
		lv = append(lv, v)
	}
	return rv, lv
}

func describeMatch(sp *route.Spec) string {
	var parts []string
	add := func(k string, v ...string) {
		if len(v) > 0 && v[0] != "" {
			parts = append(parts, k+" "+strings.Join(v, " "))
		}
	}
	add("host", sp.Hosts...)
	add("path", sp.Path)
	add("path_prefix", sp.PathPrefix)
	add("path_regex", sp.PathRegex)
	add("methods", sp.Methods...)
	for _, c := range sp.Headers {
		add("header", condString(c))
	}
	for _, c := range sp.Query {
		add("query", condString(c))
	}
	if len(parts) == 0 {
		return "every request"
	}
	return strings.Join(parts, ", ")
}

func condString(c route.Cond) string {
	if c.Any {
		return c.Name
	}
	return c.Name + "=" + c.Value
}

func describeAction(r *Route) string {
	switch {
	case r.Redirect != "":
		return fmt.Sprintf("redirect %d %s", cmp.Or(r.RedirectStatus, 302), r.Redirect)
	case r.Respond != 0:
		return fmt.Sprintf("respond %d", r.Respond)
	}
	s := "pool " + r.Pool
	if r.StripPrefix != "" {
		s += ", strip_prefix " + r.StripPrefix
	}
	if r.ReplacePrefix != nil {
		s += ", replace_prefix " + *r.ReplacePrefix
	}
	return s
}

func describeRule(r *RateLimit) string {
	key := strings.Join(r.Key, "+")
	if key == "" {
		key = "client"
	}
	return fmt.Sprintf("%d per %s, burst %d, per %s", r.Rate, cmp.Or(r.Period, time.Second), cmp.Or(r.Burst, r.Rate), key)
}
