package engine_test

import (
	"testing"
	"time"
)

// max_connections_per_client: a peer with that many connections open gets
// 429 with Retry-After and a close for the next; refused connections do not
// count, and a closed one frees its slot.
func TestMaxConnectionsPerClient(t *testing.T) {
	cfg := poolOf(echoID(t))
	cfg.MaxConnectionsPerClient = 2
	_, addr := startProxy(t, cfg)
	a, b := dial(t, addr), dial(t, addr)
	wantStatus(t, a.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	wantStatus(t, b.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
	for range 2 { // refused ones are not counted: the second refusal is for the same reason
		c := dial(t, addr)
		r := c.read("GET")
		wantStatus(t, r, 429)
		if r.Header.Get("Retry-After") != "1" || !r.Close {
			t.Fatalf("429 with Retry-After %q, close %v", r.Header.Get("Retry-After"), r.Close)
		}
		c.expectClosed(ioTimeout)
	}
	// A slot frees when the proxy has seen the close: a FIN, a reset, or a
	// reset in the middle of a request head.
	nextAccepted := func(how string) *client {
		t.Helper()
		deadline := time.Now().Add(ioTimeout)
		for {
			c := dial(t, addr)
			r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if r.StatusCode == 200 {
				return c
			}
			if r.StatusCode != 429 || time.Now().After(deadline) {
				t.Fatalf("after %s: status %d", how, r.StatusCode)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	a.c.Close()
	a = nextAccepted("a close")
	resetClose(a.c)
	a = nextAccepted("a reset")
	a.send("GET / HTTP/1.1\r\nHo")
	resetClose(a.c)
	nextAccepted("a reset mid-head")
	wantStatus(t, b.roundTrip("GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 200)
}
