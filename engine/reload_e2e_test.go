package engine_test

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/health"
)

// TestReloadKeepsHealthAndConnections reloads with another algorithm, a new
// member and new timeouts: a backend its probes took down stays down (no
// request reaches it), the added one is probed before it takes traffic, and
// a keep-alive client connection keeps working through the reload.
func TestReloadKeepsHealthAndConnections(t *testing.T) {
	var sick atomic.Int64
	ok := func(name string, hits *atomic.Int64) string {
		return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				if name == "sick" {
					w.WriteHeader(503)
				}
				return
			}
			if hits != nil {
				hits.Add(1)
			}
			io.WriteString(w, name)
		}))
	}
	a, b, c := ok("a", nil), ok("sick", &sick), ok("c", nil)
	cfg := poolOf(a, b)
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].Health = &health.Config{Interval: 50 * time.Millisecond, Timeout: 30 * time.Millisecond, Rise: 1, Fall: 1}
	srv, addr := startProxy(t, cfg)
	waitFor(t, func() bool { return srv.Status()[0].Backends[1].State == "down" })
	cl := dial(t, addr)
	wantStatus(t, cl.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)

	next := poolOf(a, b, c)
	next.Listen = "127.0.0.1:0" // as startProxy configured it
	next.EventLoops = 1
	next.Pools[0].Algorithm = "least_connections"
	next.Pools[0].Health = cfg.Pools[0].Health
	next.Timeouts.UpstreamResponse = 5 * time.Second
	before := sick.Load()
	if err := srv.Reload(next); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	st := srv.Status()[0]
	if st.Algorithm != "least_connections" || len(st.Backends) != 3 || st.Backends[1].State != "down" {
		t.Fatalf("after reload: %+v", st)
	}
	for range 50 {
		wantStatus(t, cl.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	}
	if n := sick.Load() - before; n != 0 {
		t.Fatalf("the down backend got %d requests after the reload", n)
	}
	waitFor(t, func() bool { return srv.Status()[0].Backends[2].State == "up" })
}

func TestReloadRefusals(t *testing.T) {
	a := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv, _ := startProxy(t, poolOf(a))
	moved := poolOf(a)
	moved.Listen = "127.0.0.1:1"
	moved.EventLoops = 1
	if err := srv.Reload(moved); !errors.Is(err, engine.ErrNeedsRestart) {
		t.Fatalf("listen change: %v; want ErrNeedsRestart", err)
	}
	bad := poolOf(a)
	bad.Listen, bad.EventLoops = "127.0.0.1:0", 1
	bad.Pools[0].Algorithm = "fastest"
	if err := srv.Reload(bad); err == nil || errors.Is(err, engine.ErrNeedsRestart) {
		t.Fatalf("unknown algorithm: %v; want a validation error", err)
	}
	if alg := srv.Status()[0].Algorithm; alg == "fastest" {
		t.Fatal("a refused reload changed the pool")
	}
}

// TestReloadWithExchangeInFlight: an exchange that spans a reload pools its
// upstream connection in the reloaded pool; when the backend later closes
// that idle connection, the next request must not find it (regression: it
// stayed listed and the next request wrote to a closed connection).
func TestReloadWithExchangeInFlight(t *testing.T) {
	ln := listenLocal(t)
	srv := &http.Server{IdleTimeout: 50 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(200 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	cfg := poolOf(ln.Addr().String())
	proxy, addr := startProxy(t, cfg)

	slow := dial(t, addr)
	slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // in flight
	next := poolOf(ln.Addr().String())
	next.Listen, next.EventLoops = "127.0.0.1:0", 1
	next.Pools[0].Algorithm = "least_connections"
	if err := proxy.Reload(next); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, slow.read("GET"), 200) // pooled in the reloaded pool
	time.Sleep(150 * time.Millisecond)   // the backend closes it as idle
	for range 3 {
		wantStatus(t, dial(t, addr).roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	}
}
