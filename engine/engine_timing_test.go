package engine

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"loopgate/codec"
	"loopgate/ratelimit"
	"loopgate/route"
	"loopgate/stats"
	"loopgate/upstream"
)

// newBenchLoop returns a loop of a server that is not running, for measuring
// the per-request work the engine does between reading and writing.
func newBenchLoop(tb testing.TB) *loop {
	s, err := New(Config{Pools: []Pool{{Name: "p", Backends: []Backend{
		{Address: "127.0.0.1:1"}, {Address: "127.0.0.1:2"}, {Address: "127.0.0.1:3"},
	}}}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	return newLoop(s, nil, 0)
}

var browserGET = []byte("GET /articles/2026/11/loopgate?ref=home HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=0123456789abcdef; theme=dark\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"X-Forwarded-For: 203.0.113.7\r\n\r\n")

// requestPath is what clientConn.start does per request before its write:
// parse the head in place, pick a backend, append the rewritten head.
func requestPath(l *loop, r *codec.Request, raw, ip []byte) int {
	n, err := codec.ParseRequest(raw, r, &l.cfg.Limits)
	if err != nil {
		panic(err)
	}
	lp := l.pool(0)
	i := lp.picker.Pick(0, lp.st.mask, -1)
	lp.picker.Done(i, 0, true)
	fw := codec.Forward{ClientIP: ip, Proto: protoHTTP}
	l.scratch = codec.AppendRequestHead(l.scratch[:0], raw, r, &fw)
	return n + i
}

var sink int

// newObservedLoop is newBenchLoop with everything issue 5 adds to a request:
// request IDs, seed endpoint checks, metrics and a JSON access log (to
// io.Discard).
func newObservedLoop(tb testing.TB) (*loop, *clientConn) {
	alog, err := stats.OpenAccessLog(stats.AccessLogOptions{Stdout: io.Discard})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { alog.Close() })
	s, err := New(Config{RequestIDHeader: "X-Request-ID", SeedEndpoints: true, AccessLog: alog,
		Pools: []Pool{{Name: "p", Backends: []Backend{
			{Address: "127.0.0.1:1"}, {Address: "127.0.0.1:2"}, {Address: "127.0.0.1:3"},
		}}}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	l := newLoop(s, nil, 0)
	cc := &clientConn{l: l, ln: plainTestListener, ip: []byte("192.0.2.10")}
	cc.owner = cc
	return l, cc
}

// observedPath is requestPath plus what the engine records per exchange:
// the exchange taken from and given back to the loop's free list, the
// request ID (generated), the seed endpoint check, the response status, the
// metrics and the access log line.
func observedPath(cc *clientConn, r *codec.Request, raw []byte) int {
	l := cc.l
	cc.hold()
	defer cc.release()
	n, err := codec.ParseRequest(raw, r, &l.cfg.Limits)
	if err != nil {
		panic(err)
	}
	cc.beginExchange(raw, r, n)
	if seedEndpoint(r.Target.Bytes(raw)) != seedNone {
		panic("seed endpoint")
	}
	cc.log.pooled = true
	lp := l.pool(0)
	cc.lp = lp
	i := lp.picker.Pick(0, lp.st.mask, -1)
	cc.log.bs = lp.st.stats[i]
	lp.picker.Done(i, 0, true)
	fw := codec.Forward{ClientIP: cc.ip, Proto: protoHTTP}
	l.extra = cc.appendIDField(l.extra[:0])
	fw.Extra = l.extra
	l.scratch = codec.AppendRequestHead(l.scratch[:0], raw, r, &fw)
	cc.log.status, cc.log.bytesOut = 200, 512
	cc.record()
	if l.idSeq%256 == 0 {
		l.alog.Flush() // the loop's sweep does this every 50ms
	}
	return n + i
}

func BenchmarkRequestPathObserved(b *testing.B) {
	_, cc := newObservedLoop(b)
	var r codec.Request
	b.ReportAllocs()
	b.SetBytes(int64(len(browserGET)))
	for b.Loop() {
		sink += observedPath(cc, &r, browserGET)
	}
}

func BenchmarkRequestPath(b *testing.B) {
	l := newBenchLoop(b)
	var r codec.Request
	ip := []byte("192.0.2.10")
	b.ReportAllocs()
	b.SetBytes(int64(len(browserGET)))
	for b.Loop() {
		sink += requestPath(l, &r, browserGET, ip)
	}
}

// newRoutedLoop is newBenchLoop with what issue 13 adds to a request:
// n routes (one per host svcN.example.com, and the one browserGET takes:
// a path prefix with a rewrite and header rules), a rate limit per client
// and an in-flight bound per client.
func newRoutedLoop(tb testing.TB, n int) *clientConn {
	cfg := Config{MaxRequestsPerClient: 1 << 20,
		Pools:      []Pool{{Name: "p", Backends: []Backend{{Address: "127.0.0.1:1"}, {Address: "127.0.0.1:2"}}}},
		RateLimits: []RateLimit{{Name: "per_client", Rule: ratelimit.Rule{Rate: 1 << 20, Burst: 1 << 20}}},
	}
	for i := range n - 1 {
		cfg.Routes = append(cfg.Routes, Route{Spec: route.Spec{Name: fmt.Sprintf("svc%d", i),
			Hosts: []string{fmt.Sprintf("svc%d.example.com", i)}, PathPrefix: fmt.Sprintf("/svc%d/", i)}, Pool: "p"})
	}
	cfg.Routes = append(cfg.Routes, Route{Spec: route.Spec{Name: "articles", Hosts: []string{"*.example.com"}, PathPrefix: "/articles/"},
		Pool: "p", StripPrefix: "/articles", RateLimit: []string{"per_client"},
		RequestHeaders:  HeaderRules{Set: []Field{{Name: "X-Env", Value: "prod"}}, Add: []Field{{Name: "X-Real-IP", Value: "$remote_addr"}}},
		ResponseHeaders: HeaderRules{Set: []Field{{Name: "X-Served-By", Value: "p"}}, Remove: []string{"Server"}}})
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	l := newLoop(s, nil, 0)
	cc := &clientConn{l: l, ln: plainTestListener, ip: []byte("192.0.2.10")}
	cc.owner = cc
	cc.ipKey = upstream.HashKey(cc.ip)
	return cc
}

// routedPath is requestPath with routing, the per-client bounds and the
// route's rewrite and header rules, as clientConn.start runs them.
func routedPath(cc *clientConn, r *codec.Request, raw []byte) int {
	l := cc.l
	cc.hold()
	defer cc.release()
	n, err := codec.ParseRequest(raw, r, &l.gen.parse)
	if err != nil {
		panic(err)
	}
	a := cc.route(raw, r)
	if a == nil || a.name != "articles" {
		panic("not routed")
	}
	key := cc.clientIPKey(raw, r)
	if !l.gen.inflight.Acquire(key, l.cfg.MaxRequestsPerClient) {
		panic("over the in-flight bound")
	}
	if cc.limited(a.limits, raw, r, a, n) {
		panic("rate limited")
	}
	lp := l.pool(a.pool)
	cc.lp = lp
	i := lp.picker.Pick(0, lp.st.mask, -1)
	lp.picker.Done(i, 0, true)
	fw := codec.Forward{ClientIP: cc.ip, Proto: protoHTTP, Target: cc.rewriteTarget(a), Drop: a.reqDrop}
	l.extra = appendFields(l.extra[:0], a.reqAdd, &l.vars)
	fw.Extra = l.extra
	cc.respExtra = appendFields(cc.respExtra[:0], a.respAdd, &l.vars)
	l.scratch = codec.AppendRequestHead(l.scratch[:0], raw, r, &fw)
	l.gen.inflight.Release(key)
	return n + i
}

func BenchmarkRequestPathRouted(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			cc := newRoutedLoop(b, n)
			var r codec.Request
			b.ReportAllocs()
			b.SetBytes(int64(len(browserGET)))
			for b.Loop() {
				sink += routedPath(cc, &r, browserGET)
			}
		})
	}
}
