package engine_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"loopgate/engine"
)

// blackhole returns the address of a listening socket that never accepts and
// whose accept queue is already full, so further SYNs are dropped and a dial
// to it hangs: the behaviour of a backend behind a firewall that drops packets.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue until a dial no longer completes.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
		if i > 16 {
			t.Skip("the kernel keeps accepting into a full queue; cannot black-hole a dial here")
		}
	}
}

func TestUpstreamConnectTimeoutE2E(t *testing.T) {
	cfg := poolOf(blackhole(t))
	cfg.Timeouts = engine.Timeouts{UpstreamConnect: 300 * time.Millisecond}
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	start := time.Now()
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	el := time.Since(start)
	wantStatus(t, r, 502)
	if el < 250*time.Millisecond || el > 2*time.Second {
		t.Fatalf("502 after %v; want about the 300ms connect timeout", el)
	}
	// The client connection is still usable: the request had no body.
	if r.Close {
		t.Fatalf("502 for a bodiless request closed the client connection")
	}
}

// An answer of the proxy's own honours the client's Connection: close.
func TestOwnAnswerHonoursConnectionCloseE2E(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	_, px := startProxy(t, poolOf(refused))
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	} {
		c := dial(t, px)
		c.send(req)
		r := c.read("GET")
		wantStatus(t, r, 502)
		if !r.Close {
			t.Errorf("%q: 502 without Connection: close", req)
		}
		c.expectClosed(time.Second)
	}
}

// The retry budget bounds retries of sent requests to a share of requests:
// past its burst of ten, a 1% budget leaves most requests that a backend
// reset answered 502, while a 100% budget retries them all.
func TestRetryBudgetE2E(t *testing.T) {
	resets := startRawBackend(t, func(c net.Conn) {
		c.Read(make([]byte, 4096)) // takes the request, then dies
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	refused := resets.addr()
	good := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for _, budget := range []int{1, 100} {
		cfg := poolOf(refused, good)
		cfg.Pools[0].Algorithm = "round_robin"
		cfg.Pools[0].RetryBudget = budget
		_, px := startProxy(t, cfg)
		failed := 0
		for range 60 {
			resp, err := http.Get("http://" + px + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed++
			}
		}
		switch {
		case budget == 100 && failed != 0:
			t.Fatalf("budget 100%%: %d of 60 failed; every reset GET should have been retried", failed)
		case budget == 1 && (failed < 10 || failed > 40):
			t.Fatalf("budget 1%%: %d of 60 failed; want the reset GETs beyond a burst of ten retries to fail", failed)
		}
		t.Logf("retry_budget %d%%: %d of 60 requests failed", budget, failed)
	}
}

// No retry starts after retry_deadline: a connect that times out after the
// deadline is answered 502 instead of tried elsewhere.
func TestRetryDeadlineE2E(t *testing.T) {
	hole := blackhole(t)
	good := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for _, deadline := range []time.Duration{100 * time.Millisecond, 5 * time.Second} {
		cfg := poolOf(hole, good)
		cfg.Pools[0].Algorithm = "round_robin"
		cfg.Pools[0].RetryDeadline = deadline
		cfg.Timeouts = engine.Timeouts{UpstreamConnect: 300 * time.Millisecond}
		_, px := startProxy(t, cfg)
		c := dial(t, px)
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n") // round robin: the black hole first
		want := 200
		if deadline < 300*time.Millisecond {
			want = 502
		}
		wantStatus(t, r, want)
	}
}

// retry_on_status: an idempotent bodiless request whose answer is a listed
// status goes to another backend; other requests, and the last attempt, get
// the backend's own answer.
func TestRetryOnStatusE2E(t *testing.T) {
	unavailable := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(503)
		io.WriteString(w, "busy")
	}))
	good := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	cfg := poolOf(unavailable, good)
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].RetryOnStatus = []int{503}
	_, px := startProxy(t, cfg)
	for range 6 {
		c := dial(t, px)
		wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	}
	statuses := map[int]int{}
	for range 4 { // a POST is not retried: half of them get the backend's 503
		c := dial(t, px)
		statuses[c.roundTrip("POST", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx").StatusCode]++
	}
	if statuses[503] == 0 || statuses[200] == 0 {
		t.Fatalf("POST statuses %v; want the 503s passed through, not retried", statuses)
	}
	// When every backend answers 503, the client gets the real answer.
	cfg = poolOf(unavailable, unavailable)
	cfg.Pools[0].RetryOnStatus = []int{503}
	_, px = startProxy(t, cfg)
	c := dial(t, px)
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r.StatusCode != 503 || r.body != "busy" {
		t.Fatalf("all backends 503: got %d %q; want the backend's own 503", r.StatusCode, r.body)
	}
}

// retry_backoff delays a retry by its jittered base; the retry still lands.
func TestRetryBackoffE2E(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	good := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	cfg := poolOf(refused, good)
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].RetryBackoff = 100 * time.Millisecond
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	start := time.Now()
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n") // the refused backend first
	el := time.Since(start)
	wantStatus(t, r, 200)
	if el < 50*time.Millisecond || el > time.Second {
		t.Fatalf("retried after %v; want the backoff, 50-150ms", el)
	}
	t.Logf("retried after %v", el)
}
