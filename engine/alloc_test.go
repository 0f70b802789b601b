//go:build !race

package engine

import (
	"net/netip"
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

func TestObservedRequestPathDoesNotAllocate(t *testing.T) {
	_, cc := newObservedLoop(t)
	var r codec.Request
	for range 1000 { // grow the buffers and let the log writer recycle some
		observedPath(cc, &r, browserGET)
	}
	if n := testing.AllocsPerRun(1000, func() { sink += observedPath(cc, &r, browserGET) }); n != 0 {
		t.Fatalf("%v allocs per request (ID, metrics, access log); want 0", n)
	}
}

func TestTimersDoNotAllocate(t *testing.T) {
	l := newBenchLoop(t)
	cc := &clientConn{l: l, ln: plainTestListener}
	cc.owner = cc
	if n := testing.AllocsPerRun(1000, func() {
		l.arm(&cc.timer, timerClientHeader)
		cc.timer.touch(now() + 1)
		cc.timer.stop()
	}); n != 0 {
		t.Fatalf("%v allocs per arm/touch/stop; want 0", n)
	}
}

func TestKeysDoNotAllocate(t *testing.T) {
	g := &generation{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	cc := &clientConn{l: &loop{s: &Server{}, gen: g}, ln: plainTestListener, trusted: true}
	b, r := parseReq(t, "GET /p?u=1 HTTP/1.1\r\nHost: a\r\nCookie: sid=1\r\nX-Forwarded-For: 203.0.113.9, 10.2.2.2\r\n\r\n")
	for _, spec := range []string{"ip", "uri", "path", "header:Host", "cookie:sid", "query:u"} {
		k, _ := parseKeySpec(spec)
		if n := testing.AllocsPerRun(100, func() { cc.requestKey(&k, b, r) }); n != 0 {
			t.Errorf("%s: %v allocs per key; want 0", spec, n)
		}
	}
}

func TestRoutedRequestPathDoesNotAllocate(t *testing.T) {
	cc := newRoutedLoop(t, 1000)
	var r codec.Request
	routedPath(cc, &r, browserGET) // grow the buffers once
	if n := testing.AllocsPerRun(1000, func() { sink += routedPath(cc, &r, browserGET) }); n != 0 {
		t.Fatalf("%v allocs per request (route, limits, rewrite, header rules); want 0", n)
	}
}
