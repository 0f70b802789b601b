package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"loopgate/engine"
)

// startExample loads an examples/ config and runs it with its listener on a
// free loopback port and its pools' backends replaced, in order, by test
// servers that answer "<pool> <request-uri>". It returns the address.
func startExample(t *testing.T, file string) string {
	t.Helper()
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Engine
	for i := range e.Pools {
		name := e.Pools[i].Name
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.RequestURI)
		}))
		t.Cleanup(b.Close)
		e.Pools[i].Backends = []engine.Backend{{Address: strings.TrimPrefix(b.URL, "http://")}}
	}
	e.Listen, e.EventLoops = "127.0.0.1:0", 1
	srv, err := engine.New(e, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Run()
	select {
	case <-srv.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("not ready")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv.Addr().String()
}

// examples/routes.toml does what its comment and docs/ROUTING.md say.
func TestRoutesExample(t *testing.T) {
	addr := startExample(t, "../../examples/routes.toml")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(host, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	for _, tc := range []struct {
		host, path string
		status     int
		body       string
	}{
		{"a.example", "/", 200, "a /"},
		{"b.example", "/x", 200, "b /x"},
		{"anything", "/api/users?id=1", 200, "c /users?id=1"},
		{"a.example", "/api/v", 200, "c /v"},
		{"anything", "/elsewhere", 404, ""},
	} {
		resp, body := get(tc.host, tc.path)
		if resp.StatusCode != tc.status || tc.body != "" && body != tc.body {
			t.Errorf("%s%s: %d %q; want %d %q", tc.host, tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	if resp, _ := get("b.example", "/"); resp.Header.Get("X-Served-By") != "b" {
		t.Errorf("pool b's response lacks X-Served-By: b")
	}
	for i := 1; i <= 6; i++ {
		resp, _ := get("any", "/limited")
		if i <= 5 && resp.StatusCode != 200 {
			t.Fatalf("/limited request %d: %d", i, resp.StatusCode)
		}
		if i == 6 && (resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit") == "" ||
			resp.Header.Get("RateLimit-Policy") != `"per_client";q=5;w=1`) {
			t.Fatalf("/limited request 6: %d %v", resp.StatusCode, resp.Header)
		}
	}
	resp, _ := get("x", "/old/page?x=1")
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "/new/page?x=1" {
		t.Errorf("/old/page?x=1: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// A route problem names the file, the line, the route's key and the fix.
func TestRouteConfigErrors(t *testing.T) {
	const pools = "[server]\ndefault_pool = \"\"\n[[pool]]\nname = \"a\"\n[[pool.backend]]\naddress = \"127.0.0.1:8001\"\n"
	for _, tc := range []struct{ in, want string }{
		{"[[route]]\npool = \"b\"\n", `c.toml:8: route[0].pool: no pool named "b"`},
		{"[[route]]\npath = \"/x\"\n", `c.toml:7: route[0].pool: want exactly one of pool, redirect and respond (got 0)`},
		{"[[route]]\npool = \"a\"\nredirect = \"/y\"\n", `c.toml:8: route[0].pool: want exactly one of pool, redirect and respond (got 2)`},
		{"[[route]]\nredirect = \"/$nope\"\n", `c.toml:8: route[0].redirect: "/$nope": unknown variable $nope`},
		{"[[route]]\npool = \"a\"\nmethods = [\"get\"]\n", `c.toml:9: route[0].methods[0]: cannot use "get"`},
		{"[[route]]\npool = \"a\"\nheaders = { \"X-A\" = 1 }\n", `c.toml:9: route[0].headers.X-A: want a string or true`},
		{"[[route]]\npool = \"a\"\nresponse_headers = { set = { \"Content-Length\" = \"1\" } }\n", `c.toml:9: route[0].response_headers: cannot change Content-Length`},
		{"[[route]]\npool = \"a\"\npath_regex = \"(\"\n", `c.toml:7: route[0]: route 0: `},
		{"[[route]]\npool = \"a\"\npaht = \"/x\"\n", `c.toml:9: route[0].paht: unknown key (did you mean "path"?)`},
		{"[[route]]\nname = \"x\"\npool = \"a\"\n[[route]]\nname = \"y\"\npool = \"a\"\n", `c.toml:10: route[1]: route 1 (y) is never matched: route 0 (x) takes the same requests first`},
	} {
		_, err := parse("c.toml", []byte(pools+tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s...", tc.in, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"[server]\ndefault_pool = \"a\"\n", `c.toml:2: server.default_pool: only used with [[route]]`},
		{"[server]\ndefault_pool = \"z\"\n[[route]]\npool = \"a\"\n", `c.toml:2: server.default_pool: no pool named "z"`},
	} {
		_, err := parse("c.toml", []byte(tc.in+strings.TrimPrefix(pools, "[server]\ndefault_pool = \"\"\n")))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s...", tc.in, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"[[rate_limit]]\nname = \"r\"\n", `c.toml:7: rate_limit[0].rate: missing (required)`},
		{"[[rate_limit]]\nname = \"r\"\nrate = 5\nkey = \"ip\"\n", `c.toml:10: rate_limit[0].key: cannot use "ip"`},
		{"[[rate_limit]]\nname = \"r\"\nrate = 5\nstore = \"redis\"\n", `c.toml:10: rate_limit[0].store: "redis" needs [redis] address`},
		{"[[route]]\npool = \"a\"\nrate_limit = \"nope\"\n", `c.toml:9: route[0].rate_limit: no [[rate_limit]] named "nope"`},
	} {
		_, err := parse("c.toml", []byte(pools+tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s...", tc.in, err, tc.want)
		}
	}
	// And a good one decodes every key.
	c, err := parse("c.toml", []byte(pools+`[[route]]
name = "r"
host = ["a.example", "*.b.example"]
path_prefix = "/api/"
methods = ["GET", "POST"]
headers = { "X-Canary" = "1", "X-Debug" = true }
query = { "v" = "2" }
pool = "a"
strip_prefix = "/api"
timeout = "2s"
retries = 0
max_body_bytes = 1024
request_headers = { set = { "X-Env" = "prod" }, add = { "X-Via" = "$host" }, remove = ["X-Debug"] }
response_headers = { remove = ["Server"] }
client_allow = ["10.0.0.0/8"]
rate_limit = ["k"]
[[rate_limit]]
name = "k"
rate = 100
period = "1m"
burst = 10
key = ["header:X-API-Key", "route"]
dry_run = true
store = "redis"
on_redis_error = "closed"
max_keys = 1000
headers = "always"
[redis]
address = "127.0.0.1:6379"
db = 2
sync = "50ms"
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Engine.Routes[0]
	if len(r.Hosts) != 2 || len(r.Methods) != 2 || len(r.Headers) != 2 || !r.Headers[1].Any || r.Query[0].Value != "2" ||
		r.Timeout != 2*time.Second || r.Retries == nil || *r.Retries != 0 || r.MaxBodyBytes != 1024 ||
		r.RequestHeaders.Set[0].Value != "prod" || r.RequestHeaders.Add[0].Value != "$host" || r.ResponseHeaders.Remove[0] != "Server" ||
		r.ClientAllow[0] != "10.0.0.0/8" || r.RateLimit[0] != "k" {
		t.Errorf("decoded %+v", r)
	}
	rl := c.Engine.RateLimits[0]
	if rl.Rate != 100 || rl.Period != time.Minute || rl.Burst != 10 || len(rl.Key) != 2 || !rl.DryRun || rl.Store != "redis" ||
		rl.OnRedisError != "closed" || rl.MaxKeys != 1000 || !rl.HeadersAlways || c.Engine.Redis.DB != 2 || c.Engine.Redis.Sync != 50*time.Millisecond {
		t.Errorf("decoded %+v %+v", rl, c.Engine.Redis)
	}
}

// [compression] and a route's compress decode, and bad values name their key.
func TestCompressionConfig(t *testing.T) {
	const pools = "[[pool]]\nname = \"a\"\n[[pool.backend]]\naddress = \"127.0.0.1:8001\"\n"
	c, err := parse("c.toml", []byte(pools+`[compression]
enabled = true
types = ["text/html", "application/*"]
min_size = 10
codings = ["gzip", "zstd"]
gzip_level = 6
brotli_quality = 4
zstd_level = 1
max_streams = 8
[[route]]
pool = "a"
compress = false
`))
	if err != nil {
		t.Fatal(err)
	}
	z := c.Engine.Compression
	if !z.Enabled || len(z.Types) != 2 || z.MinSize != 10 || len(z.Codings) != 2 || z.GzipLevel != 6 || z.BrotliQuality != 4 ||
		z.ZstdLevel != 1 || z.MaxStreams != 8 || c.Engine.Routes[0].Compress == nil || *c.Engine.Routes[0].Compress {
		t.Errorf("decoded %+v, route compress %v", z, c.Engine.Routes[0].Compress)
	}
	for _, tc := range []struct{ in, want string }{
		{"[compression]\ncodings = [\"deflate\"]\n", `c.toml:6: compression.codings[0]: cannot use "deflate"`},
		{"[compression]\ngzip_level = 10\n", `c.toml:6: compression.gzip_level:`},
		{"[compression]\ntypes = [\"html\"]\n", `c.toml:6: compression.types[0]: cannot use "html"`},
		{"[compression]\nenable = true\n", `c.toml:6: compression.enable: unknown key (did you mean "enabled"?)`},
	} {
		_, err := parse("c.toml", []byte(pools+tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s...", tc.in, err, tc.want)
		}
	}
}

// [cache] decodes, collapsing on by default, and bad values name their key.
func TestCacheConfig(t *testing.T) {
	const pools = "[[pool]]\nname = \"a\"\ncache = true\n[[pool.backend]]\naddress = \"127.0.0.1:8001\"\n"
	c, err := parse("c.toml", []byte(pools))
	if err != nil {
		t.Fatal(err)
	}
	if x := c.Engine.Cache; x.NoCollapse || x.CollapseTimeout != 5*time.Second || x.Header != "X-Cache" || !c.Engine.Pools[0].Cache {
		t.Errorf("defaults: %+v", x)
	}
	c, err = parse("c.toml", []byte(pools+`[cache]
max_bytes = 1048576
max_object = 4096
max_variants = 2
heuristic = true
heuristic_max = "1h"
cache_cookie_requests = true
store_set_cookie = true
header = "X-Cache-Status"
collapse = false
collapse_timeout = "2s"
`))
	if err != nil {
		t.Fatal(err)
	}
	x := c.Engine.Cache
	if x.MaxBytes != 1<<20 || x.MaxObject != 4096 || x.MaxVariants != 2 || !x.Heuristic || x.HeuristicMax != time.Hour ||
		!x.CacheCookieRequests || !x.StoreSetCookie || x.Header != "X-Cache-Status" || !x.NoCollapse || x.CollapseTimeout != 2*time.Second {
		t.Errorf("decoded %+v", x)
	}
	for _, tc := range []struct{ in, want string }{
		{"[cache]\ncollapse = \"yes\"\n", `c.toml:7: cache.collapse:`},
		{"[cache]\ncollapse_timeout = 5\n", `c.toml:7: cache.collapse_timeout:`},
		{"[cache]\nheader = \"X Cache\"\n", `c.toml:7: cache.header: cannot use "X Cache"`},
		{"[cache]\ncolapse = true\n", `c.toml:7: cache.colapse: unknown key (did you mean "collapse"?)`},
	} {
		_, err := parse("c.toml", []byte(pools+tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s...", tc.in, err, tc.want)
		}
	}
}

// The seeds' planned "LRU caching layer", from a seed-style config.json:
// enable_cache turns the cache on for its pool, cache_size_mb bounds it,
// and a repeated GET is answered from the cache.
func TestSeedJSONCache(t *testing.T) {
	b := startTestBackendWith(t, "b", "max-age=60")
	host, port, _ := net.SplitHostPort(b.addr)
	listen := freeAddr(t)
	lhost, lport, _ := net.SplitHostPort(listen)
	path := writeConfig(t, t.TempDir(), "config.json", fmt.Sprintf(`{"proxy_host": %q, "proxy_port": %s,
		"backend_servers": [{"host": %q, "port": %s}], "enable_logging": false, "enable_cache": true, "cache_size_mb": 16}`,
		lhost, lport, host, port))
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Engine.Pools[0].Cache || c.Engine.Cache.MaxBytes != 16<<20 {
		t.Fatalf("decoded cache %v, max_bytes %d", c.Engine.Pools[0].Cache, c.Engine.Cache.MaxBytes)
	}
	r := startApp(t, path)
	for i, want := range []string{"MISS", "HIT", "HIT"} {
		resp, err := http.Get("http://" + r.proxy + "/page")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("X-Cache"); got != want || string(body) != "b" {
			t.Errorf("request %d: X-Cache %q, body %q; want %s", i, got, body, want)
		}
	}
	if n := b.served.Load(); n != 1 {
		t.Errorf("the backend served %d requests; want 1", n)
	}
	if _, err := parse("c.json", []byte(`{"backend_servers": [{"host": "::1", "port": 80}], "cache_size_mb": 0}`)); err == nil ||
		!strings.Contains(err.Error(), "cache_size_mb") {
		t.Errorf("cache_size_mb = 0: %v", err)
	}
}
