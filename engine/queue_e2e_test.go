package engine_test

import (
	"fmt"
	"io"
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

// concurrencyBackend counts the requests it holds at once and remembers the
// most it ever held.
type concurrencyBackend struct {
	addr      string
	now, most atomic.Int64
	served    atomic.Int64
}

func startConcurrencyBackend(t *testing.T, hold time.Duration) *concurrencyBackend {
	cb := &concurrencyBackend{}
	cb.addr = startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cb.now.Add(1)
		for m := cb.most.Load(); n > m && !cb.most.CompareAndSwap(m, n); m = cb.most.Load() {
		}
		time.Sleep(hold)
		cb.now.Add(-1)
		cb.served.Add(1)
		io.WriteString(w, "ok")
	}))
	return cb
}

// The check: a burst of 1,000 requests against backends limited to
// 10 exchanges each never has more than 10 on a backend, and every request
// is answered within the queue timeout, whatever loop it arrived on.
func TestMaxConnectionsQueueBurst(t *testing.T) {
	var bs []*concurrencyBackend
	var backends []engine.Backend
	for range 3 {
		cb := startConcurrencyBackend(t, 5*time.Millisecond)
		bs = append(bs, cb)
		backends = append(backends, engine.Backend{Address: cb.addr})
	}
	st := stats.New(stats.Options{})
	cfg := engine.Config{EventLoops: 2, Stats: st, Pools: []engine.Pool{{Name: "p", MaxConnections: 10,
		Queue: 1000, QueueTimeout: 20 * time.Second, Backends: backends}}}
	_, px := startProxy(t, cfg)
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	for range 200 { // 200 connections x 5 requests
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, px)
			for range 5 {
				c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
				r, err := c.readErr("GET", 30*time.Second)
				if err != nil || r.StatusCode != 200 {
					bad.Add(1)
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1000 || bad.Load() != 0 {
		t.Errorf("answered %d with 200, %d otherwise; want 1000 and 0", ok.Load(), bad.Load())
	}
	for i, cb := range bs {
		if m := cb.most.Load(); m > 10 || m < 5 {
			t.Errorf("backend %d held %d at once; want at most 10 (and the bound reached)", i, m)
		}
	}
	ps := st.Pool("p")
	if ps.Queued.Load() != 0 || ps.QueuedTotal.Get() == 0 || ps.QueueTimeouts.Get() != 0 {
		t.Errorf("queue now %d, queued in all %d, timeouts %d; want 0, some, 0", ps.Queued.Load(), ps.QueuedTotal.Get(), ps.QueueTimeouts.Get())
	}
}

// A request that waits out queue_timeout gets 503 with Retry-After; one
// over the queue's bound gets 503 at once; a client that leaves while
// queued frees its place.
func TestQueueTimeoutAndBound(t *testing.T) {
	release := make(chan struct{})
	var held atomic.Int64
	b := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		<-release
		io.WriteString(w, "ok")
	}))
	st := stats.New(stats.Options{})
	cfg := engine.Config{Stats: st, Pools: []engine.Pool{{Name: "p", Retries: -1, Queue: 2, QueueTimeout: 300 * time.Millisecond,
		Backends: []engine.Backend{{Address: b, MaxConnections: 1}}}}}
	_, px := startProxy(t, cfg)
	defer close(release)
	c1 := dial(t, px)
	c1.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
	for deadline := time.Now().Add(ioTimeout); held.Load() < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("first request did not arrive")
		}
	}
	ps := st.Pool("p")
	waitQueued := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(ioTimeout); ps.Queued.Load() != n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("queue length %d; want %d", ps.Queued.Load(), n)
			}
		}
	}
	gone := dial(t, px)
	gone.send("GET /gone HTTP/1.1\r\nHost: h\r\n\r\n")
	waitQueued(1)
	gone.c.(*net.TCPConn).SetLinger(0) // a reset: it is gone (a FIN alone may still read its answer)
	gone.c.Close()
	waitQueued(0)
	if ps.QueueTimeouts.Get() != 0 {
		t.Fatalf("the reset client's place was freed by its timeout, not by the reset")
	}

	c2, c3, c4 := dial(t, px), dial(t, px), dial(t, px)
	t0 := time.Now()
	c2.send("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
	c3.send("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
	waitQueued(2)
	r4 := c4.roundTrip("GET", "GET /4 HTTP/1.1\r\nHost: h\r\n\r\n")
	if r4.StatusCode != 503 || time.Since(t0) > 200*time.Millisecond {
		t.Errorf("over the queue's bound: %d after %v; want 503 at once", r4.StatusCode, time.Since(t0))
	}
	for _, c := range []*client{c2, c3} {
		r := c.read("GET")
		if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" || time.Since(t0) < 250*time.Millisecond {
			t.Errorf("queued: %d after %v; want 503 with Retry-After after the 300ms queue timeout", r.StatusCode, time.Since(t0))
		}
	}
	if ps.QueueTimeouts.Get() != 2 || ps.Queued.Load() != 0 {
		t.Errorf("timeouts %d, queued %d; want 2 and 0", ps.QueueTimeouts.Get(), ps.Queued.Load())
	}
	if held.Load() != 1 {
		t.Errorf("the backend got %d requests; want only the first", held.Load())
	}
}

// A request with a body that waited in the queue is forwarded whole once a
// slot frees, though the client sent everything before it waited (no read
// event comes to restart it), on a pooled connection or a fresh one.
func TestQueuedRequestWithBody(t *testing.T) {
	b := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(50 * time.Millisecond)
		w.Write(body)
	}))
	cfg := engine.Config{Pools: []engine.Pool{{Name: "p", MaxConnections: 1, Backends: []engine.Backend{{Address: b}}}}}
	_, px := startProxy(t, cfg)
	warm := dial(t, px) // leaves a pooled connection behind
	wantStatus(t, warm.roundTrip("POST", "POST /w HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nw"), 200)
	var cs []*client
	for i := range 4 {
		c := dial(t, px)
		body := fmt.Sprintf("body-%d-%s", i, strings.Repeat("x", 3000))
		c.send(fmt.Sprintf("POST /%d HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body))
		cs = append(cs, c)
	}
	for i, c := range cs {
		r, err := c.readErr("POST", 5*time.Second)
		if err != nil || r.StatusCode != 200 || !strings.HasPrefix(r.body, fmt.Sprintf("body-%d-", i)) || len(r.body) != 3000+len(fmt.Sprintf("body-%d-", i)) {
			t.Fatalf("request %d: %v %+v", i, err, r)
		}
	}
}
