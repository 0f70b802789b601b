package engine_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/ratelimit"
	"loopgate/route"
	"loopgate/stats"
)

// limitedConfig is one pool behind a route "/limited" subject to rule, and a
// route for the rest subject to nothing.
func limitedConfig(t *testing.T, backend string, rule engine.RateLimit) engine.Config {
	return engine.Config{
		Pools:      []engine.Pool{{Name: "a", Backends: []engine.Backend{{Address: backend}}}},
		RateLimits: []engine.RateLimit{rule},
		Routes: []engine.Route{
			{Spec: route.Spec{Name: "limited", Path: "/limited"}, Pool: "a", RateLimit: []string{rule.Name}},
			{Spec: route.Spec{Name: "rest"}, Pool: "a"},
		},
	}
}

func okBackend(t *testing.T) string {
	return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
}

// The example's rule: 5 per second with a burst of 5 per client. The 6th
// request in the same second gets 429 with Retry-After and the RateLimit
// fields, on a connection that stays open; other routes are not limited;
// a second later there is room again.
func TestRateLimitPerClient(t *testing.T) {
	st := stats.New(stats.Options{})
	cfg := limitedConfig(t, okBackend(t), engine.RateLimit{Name: "per_ip", Rule: ratelimit.Rule{Rate: 5, Burst: 5}})
	cfg.Stats = st
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	get := func(path string) *response {
		return c.roundTrip("GET", "GET "+path+" HTTP/1.1\r\nHost: h\r\n\r\n")
	}
	for i := range 5 {
		if r := get("/limited"); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+1, r.StatusCode)
		}
	}
	r := get("/limited")
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "1" ||
		r.Header.Get("RateLimit-Policy") != `"per_ip";q=5;w=1` || r.Header.Get("RateLimit") != `"per_ip";r=0;t=1` {
		t.Fatalf("6th: %d %v", r.StatusCode, r.Header)
	}
	if r := get("/other"); r.StatusCode != 200 {
		t.Fatalf("another route: %d", r.StatusCode)
	}
	// The same path spelled otherwise is the same route and the same limit,
	// and a forwarded address from an untrusted peer is not a new client.
	for _, p := range []string{"//limited", "/./limited", "/%6cimited", "/x/../limited"} {
		if r := get(p); r.StatusCode != 429 {
			t.Errorf("%s: %d; want 429", p, r.StatusCode)
		}
	}
	if r := c.roundTrip("GET", "GET /limited HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n"); r.StatusCode != 429 {
		t.Errorf("with a spoofed X-Forwarded-For: %d; want 429", r.StatusCode)
	}
	time.Sleep(250 * time.Millisecond) // one more request's worth (T = 200ms)
	if r := get("/limited"); r.StatusCode != 200 {
		t.Fatalf("after 250ms: %d", r.StatusCode)
	}
	rs := st.RateLimit("per_ip")
	if rs.Allowed.Get() != 6 || rs.Limited.Get() != 6 {
		t.Errorf("allowed %d limited %d; want 6 and 6", rs.Allowed.Get(), rs.Limited.Get())
	}
}

// One limit for the whole process, whatever loop a connection is on: 200
// connections over 2 loops hammering one key for a second admit exactly
// burst + elapsed/T (within the requests in flight at the end).
func TestRateLimitExactAcrossLoops(t *testing.T) {
	cfg := limitedConfig(t, okBackend(t), engine.RateLimit{Name: "r", Rule: ratelimit.Rule{Rate: 100, Burst: 20}})
	cfg.EventLoops = 2
	_, px := startProxy(t, cfg)
	start := time.Now()
	admitted, refused, other := hammer(t, []string{px}, 40, time.Second, 0)
	elapsed := time.Since(start)
	max := 20 + int64(elapsed/(10*time.Millisecond)) + 1
	// The upper bound is the guarantee; the lower one only shows the limit
	// admits what it may, with slack for the last requests, which a busy
	// machine may have sent well before the end.
	min := 20 + int64((elapsed-250*time.Millisecond)/(10*time.Millisecond))
	if admitted < min || admitted > max || other != 0 {
		t.Errorf("admitted %d in %v (refused %d, other %d); want %d..%d", admitted, elapsed, refused, other, min, max)
	}
}

// A dry-run rule refuses nothing and counts what it would have refused; a
// rule keyed on a header limits each value on its own and leaves requests
// without the header alone; headers_always puts the fields on every answer.
func TestRateLimitDryRunAndKeys(t *testing.T) {
	st := stats.New(stats.Options{})
	b := okBackend(t)
	cfg := engine.Config{Stats: st,
		Pools: []engine.Pool{{Name: "a", Backends: []engine.Backend{{Address: b}}}},
		RateLimits: []engine.RateLimit{
			{Name: "dry", Rule: ratelimit.Rule{Rate: 1, Burst: 1}, DryRun: true},
			{Name: "key", Rule: ratelimit.Rule{Rate: 1, Period: time.Minute, Burst: 2}, Key: []string{"header:X-API-Key"}, HeadersAlways: true},
		},
		Routes: []engine.Route{
			{Spec: route.Spec{Name: "dry", Path: "/dry"}, Pool: "a", RateLimit: []string{"dry"}},
			{Spec: route.Spec{Name: "key", Path: "/key"}, Pool: "a", RateLimit: []string{"key"}},
		},
	}
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	for range 5 {
		wantStatus(t, c.roundTrip("GET", "GET /dry HTTP/1.1\r\nHost: h\r\n\r\n"), 200)
	}
	if d := st.RateLimit("dry"); d.Allowed.Get() != 1 || d.DryRun.Get() != 4 {
		t.Errorf("dry run: allowed %d, dry_run %d; want 1 and 4", d.Allowed.Get(), d.DryRun.Get())
	}
	key := func(k string) *response {
		h := ""
		if k != "" {
			h = "X-API-Key: " + k + "\r\n"
		}
		return c.roundTrip("GET", "GET /key HTTP/1.1\r\nHost: h\r\n"+h+"\r\n")
	}
	r := key("alice")
	if r.StatusCode != 200 || r.Header.Get("RateLimit") != `"key";r=1;t=60` || r.Header.Get("RateLimit-Policy") != `"key";q=1;w=60` {
		t.Errorf("first: %d %v", r.StatusCode, r.Header)
	}
	wantStatus(t, key("alice"), 200)
	if r := key("alice"); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Errorf("alice's third: %d %v", r.StatusCode, r.Header)
	}
	wantStatus(t, key("bob"), 200)
	for range 5 {
		wantStatus(t, key(""), 200)
	}
}

// A reload that keeps a rule keeps its state; one that changes it starts
// afresh.
func TestRateLimitSurvivesReload(t *testing.T) {
	cfg := limitedConfig(t, okBackend(t), engine.RateLimit{Name: "r", Rule: ratelimit.Rule{Rate: 1, Period: time.Minute, Burst: 1}})
	srv, px := startProxy(t, cfg)
	c := dial(t, px)
	get := func() int { return c.roundTrip("GET", "GET /limited HTTP/1.1\r\nHost: h\r\n\r\n").StatusCode }
	if get() != 200 || get() != 429 {
		t.Fatal("the rule does not limit")
	}
	cfg.Listen, cfg.EventLoops = "127.0.0.1:0", 1
	if err := srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if s := get(); s != 429 {
		t.Fatalf("after a reload with the same rule: %d; want 429", s)
	}
	cfg.RateLimits[0].Burst = 2
	if err := srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if s := get(); s != 200 {
		t.Fatalf("after a reload that changed the rule: %d; want 200", s)
	}
}

// max_requests_per_client bounds a client's requests in flight over all its
// connections; the count comes back when requests end however they end
// (answered, cut by a client reset, timed out).
func TestMaxRequestsPerClient(t *testing.T) {
	release := make(chan struct{})
	var inHandler atomic.Int64
	b := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			inHandler.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}))
	cfg := engine.Config{MaxRequestsPerClient: 2, EventLoops: 2,
		Pools: []engine.Pool{{Name: "a", Retries: -1, Backends: []engine.Backend{{Address: b}}}}}
	_, px := startProxy(t, cfg)
	c1, c2, c3 := dial(t, px), dial(t, px), dial(t, px)
	c1.send("GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	c2.send("GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	for deadline := time.Now().Add(ioTimeout); inHandler.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the held requests did not arrive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := c3.roundTrip("GET", "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	if r.StatusCode != 429 {
		t.Fatalf("third in flight: %d; want 429", r.StatusCode)
	}
	// A client that resets mid-request gives its slot back.
	c1.c.(*net.TCPConn).SetLinger(0)
	c1.c.Close()
	time.Sleep(100 * time.Millisecond)
	wantStatus(t, c3.roundTrip("GET", "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"), 200)
	close(release)
	wantStatus(t, c2.read("GET"), 200)
	// And every slot is free once nothing is in flight.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, px)
			for range 50 {
				if r := c.roundTrip("GET", "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"); r.StatusCode != 200 {
					t.Errorf("sequential requests on two connections: %d", r.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// testRedis is a redis-server on a free loopback port, for the shared limit
// tests; LOOPGATE_REQUIRE_REDIS=1 (set by .ci/run) makes its absence fail.
type testRedis struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
	dir  string
}

func startRedis(t *testing.T) *testRedis {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("LOOPGATE_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server not installed and LOOPGATE_REQUIRE_REDIS is set")
		}
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	ln := listenLocal(t)
	r := &testRedis{t: t, addr: ln.Addr().String(), dir: t.TempDir()}
	ln.Close()
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *testRedis) start() {
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", r.addr); err == nil {
			c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := io.ReadFull(c, buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not answer PING within 5s")
		}
	}
}

func (r *testRedis) kill() {
	if r.cmd != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// Two loopgate instances share a limit of 100 per second on Redis: driven
// together for 2 s they admit 100/s + burst within the stated bound. With
// Redis killed, on_redis_error = "closed" refuses; restarted, sharing
// resumes and nothing crashed.
func TestRateLimitSharedOnRedis(t *testing.T) {
	rd := startRedis(t)
	b := okBackend(t)
	rule := engine.RateLimit{Name: "global", Rule: ratelimit.Rule{Rate: 100, Burst: 10}, Store: "redis", OnRedisError: "closed"}
	var pxs []string
	var sts []*stats.Proxy
	for range 2 {
		cfg := limitedConfig(t, b, rule)
		cfg.Redis = ratelimit.RedisConfig{Address: rd.addr}
		cfg.Stats = stats.New(stats.Options{})
		_, px := startProxy(t, cfg)
		pxs, sts = append(pxs, px), append(sts, cfg.Stats)
	}
	drive := func(d time.Duration) (admitted, refused, other int64) {
		return hammer(t, pxs, 8, d, time.Millisecond)
	}
	a, rf, o := drive(2 * time.Second)
	// Bound (package ratelimit): (N-1)·(burst + rate·D), D = 2·sync + 4·RTT,
	// about 15 here; plus one period's worth for the edges of the window.
	lo, hi := int64(200+10-15), int64(200+10+15+2)
	t.Logf("two instances, 2 s: admitted %d (per instance %d / %d), refused %d", a,
		sts[0].RateLimit("global").Allowed.Get(), sts[1].RateLimit("global").Allowed.Get(), rf)
	if a < lo || a > hi || o != 0 {
		t.Errorf("admitted %d (other statuses %d); want %d..%d", a, o, lo, hi)
	}
	rd.kill()
	time.Sleep(300 * time.Millisecond)
	if a, _, o := drive(500 * time.Millisecond); a != 0 || o != 0 {
		t.Errorf("with Redis down and on_redis_error = closed: admitted %d, other %d; want none", a, o)
	}
	rd.start()
	time.Sleep(1500 * time.Millisecond) // go-redis redials a refused address once a second
	if a, _, o := drive(time.Second); a < 50 || a > 100+10+17 || o != 0 {
		t.Errorf("after Redis came back: admitted %d in 1 s, other %d; want a shared limit again", a, o)
	}
}

// over_limit = "close" closes a connection over either per-client bound
// without an answer.
func TestOverLimitClose(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	cfg := engine.Config{MaxRequestsPerClient: 1, MaxConnectionsPerClient: 2, OverLimitClose: true,
		Pools: []engine.Pool{{Name: "a", Backends: []engine.Backend{{Address: b}}}}}
	_, px := startProxy(t, cfg)
	c1, c2 := dial(t, px), dial(t, px)
	c1.send("GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c2.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	c2.expectClosed(ioTimeout) // over max_requests_per_client
	time.Sleep(50 * time.Millisecond)
	c3, c4 := dial(t, px), dial(t, px)
	c4.expectClosed(ioTimeout) // the third connection, over max_connections_per_client
	_ = c3
}

// hammer sends GET /limited on conns keep-alive connections spread over the
// proxies at pxs, each waiting pause between requests, for d; it counts the
// 200s, the 429s and anything else.
func hammer(t *testing.T, pxs []string, conns int, d, pause time.Duration) (admitted, refused, other int64) {
	var a, rf, o atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, pxs[i%len(pxs)])
			for time.Now().Before(deadline) {
				c.send("GET /limited HTTP/1.1\r\nHost: h\r\n\r\n")
				r, err := c.readErr("GET", ioTimeout)
				if err != nil {
					t.Error(err)
					return
				}
				switch r.StatusCode {
				case 200:
					a.Add(1)
				case 429:
					rf.Add(1)
				default:
					o.Add(1)
				}
				time.Sleep(pause)
			}
		}()
	}
	wg.Wait()
	return a.Load(), rf.Load(), o.Load()
}
