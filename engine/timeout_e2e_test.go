package engine_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"loopgate/engine"
)

func TestClientHeaderTimeoutE2E(t *testing.T) {
	rec := startRecorder(t)
	cfg := poolOf(rec.addr())
	cfg.Timeouts = engine.Timeouts{ClientHeader: 300 * time.Millisecond}
	_, px := startProxy(t, cfg)
	letClockTick()

	t.Run("partial-head", func(t *testing.T) {
		c := dial(t, px)
		start := time.Now()
		c.send("GET / HTTP/1.1\r\nHost: a\r\n")
		r := c.read("GET")
		el := time.Since(start)
		wantStatus(t, r, 408)
		if !r.Close {
			t.Errorf("408 without Connection: close: %v", r.Header)
		}
		if el < 250*time.Millisecond || el > 2*time.Second {
			t.Errorf("408 after %v, want about 300ms", el)
		}
		c.expectClosed(ioTimeout)
	})
	t.Run("trickle", func(t *testing.T) {
		// Bytes that keep coming do not extend the deadline of the head.
		c := dial(t, px)
		start := time.Now()
		c.send("GET / HTTP/1.1\r\n")
		var r *response
		for r == nil && time.Since(start) < 3*time.Second {
			c.c.Write([]byte("X-A: 1\r\n"))
			c.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if b, err := c.br.Peek(1); err == nil && len(b) > 0 {
				r = c.read("GET")
			}
		}
		if r == nil {
			t.Fatalf("no answer after %v of trickling a head", time.Since(start))
		}
		wantStatus(t, r, 408)
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("408 after %v, want about 300ms", el)
		}
	})
	t.Run("silent", func(t *testing.T) {
		// A connection that never sends a byte is closed too (a 408 or not).
		c := dial(t, px)
		start := time.Now()
		c.c.SetReadDeadline(time.Now().Add(ioTimeout))
		io.Copy(io.Discard, c.br)
		if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
			t.Errorf("closed after %v, want about 300ms", el)
		}
	})
	if n, got := rec.seen(); n != 0 || got != "" {
		t.Fatalf("the backend got %d connection(s) and %q", n, got)
	}
}

func TestUpstreamResponseTimeoutE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "done")
	}))
	cfg := poolOf(be)
	cfg.Timeouts = engine.Timeouts{UpstreamResponse: 300 * time.Millisecond}
	_, px := startProxy(t, cfg)
	letClockTick()
	c := dial(t, px)
	start := time.Now()
	r := c.roundTrip("GET", "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	el := time.Since(start)
	wantStatus(t, r, 504)
	if el < 250*time.Millisecond || el > 1500*time.Millisecond {
		t.Errorf("504 after %v, want about 300ms", el)
	}
	// The client connection survives a bodiless request's 504, and the late
	// answer of the slow backend never shows up on it.
	if !r.Close {
		r = c.roundTrip("GET", "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
		if r.StatusCode != 200 || r.body != "done" {
			t.Fatalf("next request: %d %q", r.StatusCode, r.body)
		}
	}
	c2 := dial(t, px)
	r = c2.roundTrip("GET", "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	if r.StatusCode != 200 || r.body != "done" {
		t.Fatalf("other client: %d %q", r.StatusCode, r.body)
	}
}

func TestClientIdleTimeoutE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	cfg := poolOf(be)
	cfg.Timeouts = engine.Timeouts{ClientIdle: 300 * time.Millisecond}
	_, px := startProxy(t, cfg)
	letClockTick()
	c := dial(t, px)
	// Requests closer together than client_idle keep the connection.
	for range 4 {
		if r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.body != "ok" {
			t.Fatalf("body %q", r.body)
		}
		time.Sleep(150 * time.Millisecond)
	}
	start := time.Now()
	c.expectClosed(3 * time.Second)
	if el := time.Since(start) + 150*time.Millisecond; el < 250*time.Millisecond || el > 2*time.Second {
		t.Errorf("idle connection closed after %v, want about 300ms", el)
	}
}

// letClockTick waits until the proxy's coarse clock has been advanced by its
// ticker, so the tests above measure timeouts, not the stale-clock bug that
// TestTimersRightAfterStartE2E covers.
func letClockTick() { time.Sleep(120 * time.Millisecond) }

// The engine's timers read a coarse clock that only a running server's ticker
// advances (every 50ms). Timers armed right after a server starts must still
// last their whole duration, however long the process ran without a server.
func TestTimersRightAfterStartE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(600 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	}))
	f := func(t *testing.T, to engine.Timeouts, req string, want int) {
		time.Sleep(600 * time.Millisecond) // no server runs meanwhile, as between two tests
		cfg := poolOf(be)
		cfg.Timeouts = to
		_, px := startProxy(t, cfg)
		c := dial(t, px)
		start := time.Now()
		c.send(req)
		r, err := c.readErr("GET", ioTimeout)
		el := time.Since(start)
		if err != nil {
			t.Fatalf("after %v: %v", el, err)
		}
		if r.StatusCode != want || el < 250*time.Millisecond {
			t.Fatalf("got %d after %v, want %d after about 300ms", r.StatusCode, el, want)
		}
	}
	t.Run("client-header", func(t *testing.T) {
		f(t, engine.Timeouts{ClientHeader: 300 * time.Millisecond}, "GET / HTTP/1.1\r\n", 408)
	})
	t.Run("upstream-response", func(t *testing.T) {
		f(t, engine.Timeouts{UpstreamResponse: 300 * time.Millisecond}, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n", 504)
	})
}
