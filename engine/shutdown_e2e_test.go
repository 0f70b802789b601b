package engine_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Shutdown lets the exchange in flight finish, then returns; connections
// made meanwhile are refused or closed unanswered.
func TestGracefulShutdownE2E(t *testing.T) {
	body := strings.Repeat("slow but complete ", 1000)
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond)
		io.WriteString(w, body)
	}))
	srv, px := startProxy(t, poolOf(be))
	idle := dial(t, px) // a keep-alive client between requests
	idle.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")

	c := dial(t, px)
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the request is with the backend

	shutdownDone := make(chan time.Time, 1)
	shutdownErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdownErr <- srv.Shutdown(ctx)
		shutdownDone <- time.Now()
	}()
	time.Sleep(100 * time.Millisecond) // Shutdown has begun

	// A new connection is refused, or accepted and closed without an answer.
	if nc, err := net.DialTimeout("tcp", px, ioTimeout); err == nil {
		nc.SetDeadline(time.Now().Add(ioTimeout))
		io.WriteString(nc, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		b, err := io.ReadAll(nc)
		nc.Close()
		if len(b) > 0 || err != nil && !strings.Contains(err.Error(), "reset") {
			t.Errorf("a connection made during shutdown got %q, %v", b, err)
		}
	}
	// The idle keep-alive client is closed.
	if err := idle.closedWithin(ioTimeout); err != nil {
		t.Errorf("idle client: %v", err)
	}

	r, err := c.readErr("GET", ioTimeout)
	got := time.Now()
	if err != nil {
		t.Fatalf("the in-flight request: %v", err)
	}
	if r.StatusCode != 200 || r.body != body {
		t.Fatalf("the in-flight request got %d and %d of %d bytes", r.StatusCode, len(r.body), len(body))
	}
	if !r.Close {
		t.Errorf("the last response of a draining proxy lacks Connection: close")
	}
	select {
	case at := <-shutdownDone:
		t.Fatalf("Shutdown returned %v before the response was read", got.Sub(at))
	default:
	}
	c.expectClosed(ioTimeout)
	c.c.Close()
	select {
	case err := <-shutdownErr:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Shutdown did not return after the last exchange ended")
	}
	if nc, err := net.DialTimeout("tcp", px, time.Second); err == nil {
		nc.Close()
		t.Errorf("the listener still accepts after Shutdown returned")
	}
}

// Shutdown cuts what is still running when its context ends.
func TestShutdownDeadlineE2E(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	srv, px := startProxy(t, poolOf(be))
	c := dial(t, px)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := srv.Shutdown(ctx)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Shutdown took %v with a 300ms context", el)
	}
	if err == nil {
		t.Errorf("Shutdown cut a connection and returned no error")
	}
	if r, err := c.readErr("GET", ioTimeout); err == nil {
		t.Fatalf("the cut request got a response: %d %q", r.StatusCode, r.body)
	}
}
