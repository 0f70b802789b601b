package engine_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/stats"
)

// gatedOrigin is a cacheable backend whose answers wait until open is
// closed, so that a test decides when the one request in flight ends.
type gatedOrigin struct {
	addr  string
	total atomic.Int64
	open  chan struct{}
	once  sync.Once
}

// release lets every answer, present and future, go.
func (g *gatedOrigin) release() { g.once.Do(func() { close(g.open) }) }

func startGatedOrigin(t *testing.T, cacheControl string) *gatedOrigin {
	g := &gatedOrigin{open: make(chan struct{})}
	t.Cleanup(g.release)
	g.addr = startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := g.total.Add(1)
		select {
		case <-g.open:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Cache-Control", cacheControl)
		w.Header().Set("ETag", `"v1"`)
		w.Write([]byte("answer " + strings.Repeat("x", int(n)) + " for " + r.URL.Path))
	}))
	return g
}

// The check: 1,000 concurrent misses for one key, on two loops,
// make one backend request; every client gets the same body, the first as
// MISS and the 999 others as HIT once it is stored.
func TestCacheCollapsesConcurrentMisses(t *testing.T) {
	g := startGatedOrigin(t, "max-age=60")
	st := stats.New(stats.Options{})
	cfg := engine.Config{EventLoops: 2, Stats: st, Cache: engine.CacheConfig{Header: "X-Cache"},
		Pools: []engine.Pool{{Name: "p", Cache: true, Backends: []engine.Backend{{Address: g.addr}}}}}
	_, px := startProxy(t, cfg)
	const n = 1000
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, px)
	}
	clients[0].send("GET /cold HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, func() bool { return g.total.Load() == 1 })
	for _, c := range clients[1:] {
		c.send("GET /cold HTTP/1.1\r\nHost: h\r\n\r\n")
	}
	waitFor(t, func() bool { return st.CacheCollapsedTotal() == n-1 })
	g.release()

	var hits, misses atomic.Int64
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.readErr("GET", ioTimeout)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				return
			}
			bodies[i] = r.body
			switch r.Header.Get("X-Cache") {
			case "HIT":
				hits.Add(1)
			case "MISS":
				misses.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := g.total.Load(); got != 1 {
		t.Errorf("the backend answered %d requests; want 1", got)
	}
	if misses.Load() != 1 || hits.Load() != n-1 {
		t.Errorf("%d MISS and %d HIT; want 1 and %d", misses.Load(), hits.Load(), n-1)
	}
	for i, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("client %d got %q, client 0 %q", i, b, bodies[0])
		}
	}
}

// A leader that takes longer than collapse_timeout does not hold the others
// hostage: they go upstream themselves.
func TestCacheCollapseTimeout(t *testing.T) {
	g := startGatedOrigin(t, "max-age=60")
	cfg := engine.Config{Cache: engine.CacheConfig{Header: "X-Cache", CollapseTimeout: 200 * time.Millisecond},
		Pools: []engine.Pool{{Name: "p", Cache: true, Backends: []engine.Backend{{Address: g.addr}}}}}
	_, px := startProxy(t, cfg)
	a, b := dial(t, px), dial(t, px)
	a.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, func() bool { return g.total.Load() == 1 })
	start := time.Now()
	b.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, func() bool { return g.total.Load() == 2 })
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("the waiter went upstream after %v; want about collapse_timeout (200ms)", d)
	}
	g.release()
	for _, c := range []*client{a, b} {
		if r := c.read("GET"); r.StatusCode != 200 || r.Header.Get("X-Cache") != "MISS" {
			t.Errorf("%d %v", r.StatusCode, r.Header)
		}
	}
}

// The leader's client resets before its answer: the waiters do not wait
// for collapse_timeout but go upstream at once; with collapsing off, every
// miss goes upstream.
func TestCacheCollapseLeaderGoneAndOff(t *testing.T) {
	g := startGatedOrigin(t, "max-age=60")
	cfg := engine.Config{Cache: engine.CacheConfig{Header: "X-Cache", CollapseTimeout: time.Minute},
		Pools: []engine.Pool{{Name: "p", Cache: true, Backends: []engine.Backend{{Address: g.addr}}}}}
	_, px := startProxy(t, cfg)
	a, b := dial(t, px), dial(t, px)
	a.send("GET /k HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, func() bool { return g.total.Load() == 1 })
	b.send("GET /k HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	if g.total.Load() != 1 {
		t.Fatal("the second miss did not wait")
	}
	a.c.(*net.TCPConn).SetLinger(0) // a reset: a FIN alone would still be answered (half-close)
	a.c.Close()
	waitFor(t, func() bool { return g.total.Load() == 2 })
	g.release()
	if r := b.read("GET"); r.StatusCode != 200 {
		t.Errorf("waiter: %d", r.StatusCode)
	}

	g2 := startGatedOrigin(t, "max-age=60")
	cfg = engine.Config{Cache: engine.CacheConfig{Header: "X-Cache", NoCollapse: true},
		Pools: []engine.Pool{{Name: "p", Cache: true, Backends: []engine.Backend{{Address: g2.addr}}}}}
	_, px = startProxy(t, cfg)
	c, d := dial(t, px), dial(t, px)
	c.send("GET /k HTTP/1.1\r\nHost: h\r\n\r\n")
	d.send("GET /k HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, func() bool { return g2.total.Load() == 2 })
	g2.release()
	c.read("GET")
	d.read("GET")
}

// Within stale-while-revalidate, a request that finds the entry being
// revalidated gets the stale entry at once (RFC 5861 §3) instead of
// waiting; the revalidation's 304 then refreshes it.
func TestCacheStaleWhileRevalidate(t *testing.T) {
	var total atomic.Int64
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	addr := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := total.Add(1)
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=30")
		w.Header().Set("ETag", `"v1"`)
		if n > 1 {
			<-gate
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(304)
				return
			}
		}
		w.Write([]byte("version one"))
	}))
	cfg := engine.Config{Cache: engine.CacheConfig{Header: "X-Cache"},
		Pools: []engine.Pool{{Name: "p", Cache: true, Backends: []engine.Backend{{Address: addr}}}}}
	_, px := startProxy(t, cfg)
	a, b := dial(t, px), dial(t, px)
	if r := get(t, a, "/swr"); r.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("first: %v", r.Header)
	}
	time.Sleep(2100 * time.Millisecond) // Age 2 > max-age 1: stale
	a.send("GET /swr HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, func() bool { return total.Load() == 2 })
	start := time.Now()
	r := get(t, b, "/swr")
	if r.Header.Get("X-Cache") != "STALE" || r.body != "version one" || time.Since(start) > time.Second {
		t.Errorf("during revalidation: %v %q after %v; want STALE at once", r.Header, r.body, time.Since(start))
	}
	release()
	if r := a.read("GET"); r.Header.Get("X-Cache") != "REVALIDATED" || r.body != "version one" {
		t.Errorf("revalidating request: %v %q", r.Header, r.body)
	}
	if r := get(t, b, "/swr"); r.Header.Get("X-Cache") != "HIT" {
		t.Errorf("after the refresh: %v", r.Header)
	}
}
