//go:build !race

package perf

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestRequestAllocs checks that a keep-alive request costs the load generator no allocation,
// so that the garbage collector stays out of the measurement.
func TestRequestAllocs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Backend: b1\r\n\r\nhello")
		buf := make([]byte, 4096)
		for {
			// The client sends one request at a time, each in one write.
			if _, err := c.Read(buf); err != nil {
				return
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}()
	r, err := newRunner(context.Background(), Config{URL: "http://" + ln.Addr().String(), Requests: 1, ByHeader: "X-Backend"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.cancel()
	w := r.workers[0]
	defer w.closeConn()
	w.do(time.Now()) // dial, and the first map entry for "b1"
	allocs := testing.AllocsPerRun(200, func() { w.do(time.Now()) })
	if allocs != 0 {
		t.Fatalf("%v allocations per request; want 0", allocs)
	}
	if got := r.shards[0].lat.Count(); got != 202 { // ours, AllocsPerRun's warm-up, its 200
		t.Fatalf("%d requests recorded; want 202", got)
	}
}
