package engine

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

func TestConfigLoops(t *testing.T) {
	f := func(eventLoops, procs, want int) {
		t.Helper()
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		if got := (Config{EventLoops: eventLoops}).Loops(); got != want {
			t.Fatalf("event_loops %d with GOMAXPROCS %d: %d loops, want %d", eventLoops, procs, got, want)
		}
	}
	f(0, 1, 1) // a container limited to one CPU: one loop, not one per core
	f(0, 3, 3)
	f(2, 1, 2) // an explicit count is kept
	f(1000, 1, gnetMaxLoops)
}

// With event_loops = 0 and GOMAXPROCS 1 (a one-CPU container), gnet runs one
// loop: with reuse_port exactly one listening socket exists.
func TestLoopsFollowGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer be.Close()
	s := startReusePort(t, 0, be.Listener.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := s.Listeners(ctx); err != nil || n != 1 {
		t.Fatalf("Listeners: %d, %v; want 1 loop for GOMAXPROCS 1", n, err)
	}
}
