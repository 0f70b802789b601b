//go:build !race

package engine

import (
	"testing"

	"loopgate/codec"
)

func TestRequestPathDoesNotAllocate(t *testing.T) {
	l := newBenchLoop(t)
	var r codec.Request
	ip := []byte("192.0.2.10")
	requestPath(l, &r, browserGET, ip) // grow the scratch buffer once
	if n := testing.AllocsPerRun(1000, func() { sink += requestPath(l, &r, browserGET, ip) }); n != 0 {
		t.Fatalf("%v allocs per request (parse, pick, rewrite); want 0", n)
	}
}

func TestTimersDoNotAllocate(t *testing.T) {
	l := newBenchLoop(t)
	cc := &clientConn{l: l}
	cc.owner = cc
	if n := testing.AllocsPerRun(1000, func() {
		l.arm(&cc.timer, timerClientHeader)
		cc.timer.touch(now() + 1)
		cc.timer.stop()
	}); n != 0 {
		t.Fatalf("%v allocs per arm/touch/stop; want 0", n)
	}
}
