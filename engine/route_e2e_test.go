package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/ratelimit"
	"loopgate/route"
	"loopgate/stats"
)

// namedBackend answers "<name> <method> <request-uri>" and echoes the
// request's X-Rule-* fields back as X-Seen-* so tests see what arrived.
func namedBackend(t *testing.T, name string) string {
	return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.Header {
			if strings.HasPrefix(k, "X-Rule-") {
				w.Header()["X-Seen-"+strings.TrimPrefix(k, "X-Rule-")] = v
			}
		}
		w.Header().Set("X-Powered-By", "test")
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s %s", name, r.Method, r.RequestURI)
	}))
}

// routedConfig is the three pools of examples/routes.toml, each on its own
// backend, with routes.
func routedConfig(t *testing.T, routes ...engine.Route) engine.Config {
	var cfg engine.Config
	for _, n := range []string{"a", "b", "c"} {
		cfg.Pools = append(cfg.Pools, engine.Pool{Name: n, Backends: []engine.Backend{{Address: namedBackend(t, n)}}})
	}
	cfg.Routes = routes
	return cfg
}

func strPtr(s string) *string { return &s }

var exampleRoutes = []engine.Route{
	{Spec: route.Spec{Name: "a", Hosts: []string{"a.example"}}, Pool: "a"},
	{Spec: route.Spec{Name: "b", Hosts: []string{"b.example"}}, Pool: "b",
		ResponseHeaders: engine.HeaderRules{Set: []engine.Field{{Name: "X-Served-By", Value: "b"}}, Remove: []string{"X-Powered-By"}}},
	{Spec: route.Spec{Name: "api", PathPrefix: "/api/"}, Pool: "c", StripPrefix: "/api"},
	{Spec: route.Spec{Name: "old", PathPrefix: "/old/"}, Redirect: "/new/$rest$is_args$query", RedirectStatus: 308},
	{Spec: route.Spec{Name: "v2", PathPrefix: "/v1/"}, Pool: "c", ReplacePrefix: strPtr("/v2/")},
	{Spec: route.Spec{Name: "ping", Path: "/ping"}, Respond: 200, Body: "pong\n"},
	{Spec: route.Spec{Name: "canary", PathPrefix: "/", Headers: []route.Cond{{Name: "X-Canary", Value: "1"}}}, Pool: "b"},
}

// The routes of examples/routes.toml, each checked on the wire: by host, by
// path prefix with the prefix stripped or replaced, a redirect that keeps
// the query, a fixed answer, a header condition, and 404 for the rest.
func TestRoutes(t *testing.T) {
	st := stats.New(stats.Options{})
	cfg := routedConfig(t, exampleRoutes...)
	cfg.Stats = st
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	get := func(host, target, fields string) *response {
		t.Helper()
		return c.roundTrip("GET", "GET "+target+" HTTP/1.1\r\nHost: "+host+"\r\n"+fields+"\r\n")
	}
	for _, tc := range []struct {
		host, target, fields string
		status               int
		body                 string
	}{
		{"a.example", "/x", "", 200, "a GET /x"},
		{"A.Example:8080", "/x", "", 200, "a GET /x"},
		{"b.example", "/", "", 200, "b GET /"},
		{"b.example", "/api/users?id=7", "", 200, "c GET /users?id=7"}, // the longer path wins over the host
		{"other", "/api/", "", 200, "c GET /"},
		{"other", "/api", "", 404, ""},
		{"other", "/v1/items", "", 200, "c GET /v2/items"},
		{"other", "/%61pi/./x/../y", "", 200, "c GET /y"}, // routed and forwarded normalised
		{"other", "//api//z", "", 200, "c GET /z"},
		{"other", "/ping", "", 200, "pong\n"},
		{"other", "/nothing", "", 404, ""},
		{"other", "/nothing", "X-Canary: 1\r\n", 200, "b GET /nothing"},
		{"a.example", "/x", "X-Canary: 1\r\n", 200, "b GET /x"}, // a condition outranks the host
	} {
		r := get(tc.host, tc.target, tc.fields)
		if r.StatusCode != tc.status || tc.body != "" && r.body != tc.body {
			t.Errorf("%s %s %q: %d %q; want %d %q", tc.host, tc.target, tc.fields, r.StatusCode, r.body, tc.status, tc.body)
		}
	}
	// An absolute-form target names the host (RFC 9112 §3.2.2): it is what
	// is routed on and what the backend is told, whatever Host says.
	if r := c.roundTrip("GET", "GET http://b.example/abs HTTP/1.1\r\nHost: a.example\r\n\r\n"); r.body != "b GET /abs" {
		t.Errorf("absolute-form to b.example with Host a.example: %q", r.body)
	}
	r := get("b.example", "/", "")
	if r.Header.Get("X-Served-By") != "b" || r.Header.Get("X-Powered-By") != "" {
		t.Errorf("b's response headers: %v", r.Header)
	}
	if r := get("a.example", "/", ""); r.Header.Get("X-Served-By") != "" || r.Header.Get("X-Powered-By") != "test" {
		t.Errorf("a's response headers: %v", r.Header)
	}
	r = get("x", "/old/page?x=1&y=2", "")
	if r.StatusCode != 308 || r.Header.Get("Location") != "/new/page?x=1&y=2" {
		t.Errorf("redirect: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := get("x", "/old/page", ""); r.Header.Get("Location") != "/new/page" {
		t.Errorf("redirect without a query: %q", r.Header.Get("Location"))
	}
	// A HEAD gets the answer's head alone, and the connection goes on.
	for _, target := range []string{"/old/p", "/ping", "/nothing"} {
		r := c.roundTrip("HEAD", "HEAD "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if r.body != "" {
			t.Errorf("HEAD %s: body %q", target, r.body)
		}
	}
	if r := get("a.example", "/after", ""); r.body != "a GET /after" {
		t.Errorf("after HEADs: %q", r.body)
	}
	if n := st.Route("api").Requests(); n != 4 {
		t.Errorf("route api counted %d requests; want 4", n)
	}
}

// Pipelined requests for different routes, the bytes split at every
// offset: each answer comes from its own route, in order, and one route's
// response rules never reach another's response.
func TestRoutesPipelinedSplits(t *testing.T) {
	_, px := startProxy(t, routedConfig(t, exampleRoutes...))
	reqs := []struct{ req, method, want, servedBy string }{
		{"GET /1 HTTP/1.1\r\nHost: b.example\r\n\r\n", "GET", "b GET /1", "b"},
		{"GET /2 HTTP/1.1\r\nHost: a.example\r\n\r\n", "GET", "a GET /2", ""},
		{"POST /api/3 HTTP/1.1\r\nHost: b.example\r\nContent-Length: 5\r\n\r\nhello", "POST", "c POST /3", ""},
		{"GET /old/4 HTTP/1.1\r\nHost: b.example\r\n\r\n", "GET", "", ""},
		{"GET /5 HTTP/1.1\r\nHost: b.example\r\n\r\n", "GET", "b GET /5", "b"},
		{"GET /ping HTTP/1.1\r\nHost: b.example\r\n\r\n", "GET", "pong\n", ""},
	}
	var all string
	for _, r := range reqs {
		all += r.req
	}
	for cut := 1; cut < len(all); cut += 7 {
		c := dial(t, px)
		c.send(all[:cut])
		time.Sleep(time.Millisecond)
		c.send(all[cut:])
		for i, r := range reqs {
			resp := c.read(r.method)
			if r.want != "" && resp.body != r.want || resp.Header.Get("X-Served-By") != r.servedBy {
				t.Fatalf("cut %d, request %d: %d %q X-Served-By %q; want %q %q", cut, i, resp.StatusCode, resp.body, resp.Header.Get("X-Served-By"), r.want, r.servedBy)
			}
		}
		c.c.Close()
	}
}

// Request header rules: set replaces every field of the name, add appends,
// remove drops, and values expand variables.
func TestRouteRequestHeaderRules(t *testing.T) {
	rt := engine.Route{Spec: route.Spec{Name: "r"}, Pool: "a", RequestHeaders: engine.HeaderRules{
		Set:    []engine.Field{{Name: "X-Rule-Set", Value: "$host|$remote_addr|$scheme|$path|$query"}},
		Add:    []engine.Field{{Name: "X-Rule-Add", Value: "two"}, {Name: "X-Rule-Id", Value: "$request_id"}},
		Remove: []string{"X-Rule-Gone"},
	}}
	cfg := routedConfig(t, rt)
	cfg.RequestIDHeader = "X-Request-ID"
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	r := c.roundTrip("GET", "GET /p?q=1 HTTP/1.1\r\nHost: h.example\r\nX-Rule-Set: old1\r\nx-rule-set: old2\r\n"+
		"X-Rule-Add: one\r\nX-Rule-Gone: x\r\nX-Request-ID: rid-7\r\n\r\n")
	h := r.Header
	if got := h.Values("X-Seen-Set"); len(got) != 1 || got[0] != "h.example|127.0.0.1|http|/p|q=1" {
		t.Errorf("set: %q", got)
	}
	if got := h.Values("X-Seen-Add"); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("add: %q", got)
	}
	if got := h.Values("X-Seen-Gone"); len(got) != 0 {
		t.Errorf("remove: %q", got)
	}
	if got := h.Get("X-Seen-Id"); got != "rid-7" {
		t.Errorf("$request_id: %q", got)
	}
}

// The default pool takes what no route matches; a route's client_deny
// refuses with 403 and a close; a route's own body bound answers 413 above
// it, and may be larger than [limits] max_body_bytes.
func TestRouteDefaultPoolFilterAndBodyBound(t *testing.T) {
	cfg := routedConfig(t,
		engine.Route{Spec: route.Spec{Name: "private", PathPrefix: "/private/"}, Pool: "b", ClientDeny: []string{"127.0.0.0/8"}},
		engine.Route{Spec: route.Spec{Name: "small", PathPrefix: "/small/"}, Pool: "b", MaxBodyBytes: 4},
		engine.Route{Spec: route.Spec{Name: "big", PathPrefix: "/big/"}, Pool: "b", MaxBodyBytes: 1 << 20},
	)
	cfg.DefaultPool = "c"
	cfg.Limits.MaxBodyBytes = 100
	_, px := startProxy(t, cfg)

	c := dial(t, px)
	if r := c.roundTrip("GET", "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"); r.body != "c GET /x" {
		t.Fatalf("default pool: %d %q", r.StatusCode, r.body)
	}
	wantStatus(t, c.roundTrip("GET", "GET /private/x HTTP/1.1\r\nHost: h\r\n\r\n"), 403)
	c.expectClosed(ioTimeout)

	post := func(target string, n int, chunked bool) int {
		t.Helper()
		c := dial(t, px)
		body := strings.Repeat("x", n)
		if chunked {
			c.send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", target, n, body))
		} else {
			c.send(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", target, n, body))
		}
		return c.read("POST").StatusCode
	}
	for _, tc := range []struct {
		target  string
		n       int
		chunked bool
		want    int
	}{
		{"/small/", 4, false, 200}, {"/small/", 5, false, 413}, {"/small/", 5, true, 413},
		{"/big/", 5000, false, 200}, {"/big/", 5000, true, 200},
		{"/other", 100, false, 200}, {"/other", 101, false, 413}, {"/other", 101, true, 413},
	} {
		if got := post(tc.target, tc.n, tc.chunked); got != tc.want {
			t.Errorf("POST %s %d bytes (chunked %v): %d; want %d", tc.target, tc.n, tc.chunked, got, tc.want)
		}
	}
}

// A route's timeout bounds its own requests only.
func TestRouteTimeout(t *testing.T) {
	slow := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		io.WriteString(w, "slow")
	}))
	cfg := engine.Config{Pools: []engine.Pool{{Name: "s", Retries: -1, Backends: []engine.Backend{{Address: slow}}}},
		Routes: []engine.Route{
			{Spec: route.Spec{Name: "hurry", PathPrefix: "/hurry"}, Pool: "s", Timeout: 100 * time.Millisecond},
			{Spec: route.Spec{Name: "rest"}, Pool: "s"},
		}}
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	t0 := time.Now()
	r := c.roundTrip("GET", "GET /hurry HTTP/1.1\r\nHost: h\r\n\r\n")
	if r.StatusCode != 504 || time.Since(t0) > 350*time.Millisecond {
		t.Errorf("/hurry: %d after %v; want 504 within the route's 100ms (plus a tick)", r.StatusCode, time.Since(t0))
	}
	c = dial(t, px)
	if r := c.roundTrip("GET", "GET /other HTTP/1.1\r\nHost: h\r\n\r\n"); r.body != "slow" {
		t.Errorf("/other: %d %q", r.StatusCode, r.body)
	}
}

// A reload swaps the routes: new requests take the new table.
func TestRoutesReload(t *testing.T) {
	cfg := routedConfig(t, engine.Route{Spec: route.Spec{Name: "x", PathPrefix: "/x/"}, Pool: "a"})
	srv, px := startProxy(t, cfg)
	c := dial(t, px)
	if r := c.roundTrip("GET", "GET /x/1 HTTP/1.1\r\nHost: h\r\n\r\n"); r.body != "a GET /x/1" {
		t.Fatalf("before: %q", r.body)
	}
	cfg.Listen, cfg.EventLoops = "127.0.0.1:0", 1 // as startProxy configured it
	cfg.Routes = []engine.Route{{Spec: route.Spec{Name: "x", PathPrefix: "/x/"}, Pool: "b"}}
	if err := srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if r := c.roundTrip("GET", "GET /x/2 HTTP/1.1\r\nHost: h\r\n\r\n"); r.body != "b GET /x/2" {
		t.Fatalf("after: %q", r.body)
	}
	bad := cfg
	bad.Routes = []engine.Route{{Spec: route.Spec{Name: "x"}, Pool: "nope"}}
	var re *engine.RouteError
	if err := srv.Reload(bad); !errors.As(err, &re) || re.Key != "pool" {
		t.Fatalf("reload with an unknown pool: %v", err)
	}
	if r := c.roundTrip("GET", "GET /x/3 HTTP/1.1\r\nHost: h\r\n\r\n"); r.body != "b GET /x/3" {
		t.Fatalf("after a refused reload: %q", r.body)
	}
}

// What CheckRoutes refuses, each with its key.
func TestCheckRoutes(t *testing.T) {
	base := engine.Config{Pools: []engine.Pool{{Name: "a", Backends: []engine.Backend{{Address: "127.0.0.1:1"}}}}}
	for _, tc := range []struct {
		r   engine.Route
		key string
	}{
		{engine.Route{Pool: "zz"}, "pool"},
		{engine.Route{}, "pool"},
		{engine.Route{Pool: "a", Redirect: "/x"}, "pool"},
		{engine.Route{Redirect: "/x", RedirectStatus: 200}, "redirect_status"},
		{engine.Route{Redirect: "/$nope"}, "redirect"},
		{engine.Route{Respond: 99}, "respond"},
		{engine.Route{Pool: "a", StripPrefix: "api"}, "strip_prefix"},
		{engine.Route{Pool: "a", ReplacePrefix: strPtr("/v2/")}, "replace_prefix"},
		{engine.Route{Pool: "a", RequestHeaders: engine.HeaderRules{Set: []engine.Field{{Name: "Host", Value: "x"}}}}, "request_headers"},
		{engine.Route{Pool: "a", ResponseHeaders: engine.HeaderRules{Remove: []string{"Content-Length"}}}, "response_headers"},
		{engine.Route{Pool: "a", RequestHeaders: engine.HeaderRules{Add: []engine.Field{{Name: "Bad Name", Value: "x"}}}}, "request_headers"},
		{engine.Route{Pool: "a", ClientAllow: []string{"300.0.0.0/8"}}, "client_allow"},
		{engine.Route{Spec: route.Spec{PathRegex: "("}, Pool: "a"}, "route"},
	} {
		cfg := base
		cfg.Routes = []engine.Route{tc.r}
		err := engine.CheckRoutes(cfg)
		var re *engine.RouteError
		if !errors.As(err, &re) || re.Key != tc.key {
			t.Errorf("%+v: %v; want an error at %q", tc.r, err, tc.key)
		}
	}
	cfg := base
	cfg.Routes = []engine.Route{{Pool: "a"}}
	cfg.DefaultPool = "b"
	if err := engine.CheckRoutes(cfg); err == nil {
		t.Errorf("an unknown default_pool passed")
	}
}

// /api/routes (stats.AppendAPIRoutes over the engine's view) lists every
// route with its match, action and counters, and every rate limit.
func TestRoutesAPI(t *testing.T) {
	st := stats.New(stats.Options{})
	cfg := routedConfig(t, exampleRoutes...)
	cfg.Stats = st
	cfg.RateLimits = []engine.RateLimit{{Name: "per_ip", Rule: ratelimit.Rule{Rate: 1, Period: time.Minute}}}
	cfg.Routes[0].RateLimit = []string{"per_ip"}
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	for range 2 {
		c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
	}
	c.roundTrip("GET", "GET /old/x HTTP/1.1\r\nHost: z\r\n\r\n")
	// An exchange is counted just after its answer is written.
	for deadline := time.Now().Add(ioTimeout); st.Route("old").Requests() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	var got struct {
		Routes []struct {
			Name, Match, Action string
			RateLimits          []string `json:"rate_limits"`
			Requests            uint64
			Responses           map[string]uint64
		}
		RateLimits []struct {
			Name, Rule, Store string
			Allowed, Limited  uint64
		} `json:"rate_limits"`
	}
	if err := json.Unmarshal(st.AppendAPIRoutes(nil), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Routes) != len(exampleRoutes) {
		t.Fatalf("%d routes listed; want %d", len(got.Routes), len(exampleRoutes))
	}
	a, old := got.Routes[0], got.Routes[3]
	if a.Name != "a" || a.Match != "host a.example" || a.Action != "pool a" || a.Requests != 2 ||
		a.Responses["2xx"] != 1 || a.Responses["4xx"] != 1 || len(a.RateLimits) != 1 {
		t.Errorf("route a: %+v", a)
	}
	if old.Action != "redirect 308 /new/$rest$is_args$query" || old.Responses["3xx"] != 1 {
		t.Errorf("route old: %+v", old)
	}
	if l := got.RateLimits; len(l) != 1 || l[0].Rule != "1 per 1m0s, burst 1, per client" || l[0].Store != "local" || l[0].Allowed != 1 || l[0].Limited != 1 {
		t.Errorf("rate limits: %+v", l)
	}
}
