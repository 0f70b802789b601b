//go:build !race

package engine

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"loopgate/cache"
	"loopgate/codec"
)

// memConn is the part of a gnet.Conn that a client exchange served from the
// cache uses: input from memory, output counted. Any other method panics
// (the embedded interface is nil), so the test also shows what a hit
// touches.
type memConn struct {
	gnet.Conn
	in  []byte
	out int
}

func (c *memConn) Peek(n int) ([]byte, error) {
	if n < 0 || n > len(c.in) {
		n = len(c.in)
	}
	return c.in[:n], nil
}
func (c *memConn) Discard(n int) (int, error) { c.in = c.in[n:]; return n, nil }
func (c *memConn) InboundBuffered() int       { return len(c.in) }
func (c *memConn) OutboundBuffered() int      { return 0 }
func (c *memConn) ReadEOF() bool              { return false }
func (c *memConn) ReadPaused() bool           { return false }
func (c *memConn) Write(p []byte) (int, error) {
	c.out += len(p)
	return len(p), nil
}
func (c *memConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	c.out += n
	return n, nil
}

var cacheGET = []byte("GET /articles/2026/11/loopgate?ref=home HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Connection: keep-alive\r\n\r\n")

// newCachedLoop is a loop whose pool has the cache on, holding a fresh
// 16 KiB entry for cacheGET, and a client connection reading from memory.
func newCachedLoop(tb testing.TB) (*clientConn, *memConn) {
	s, err := New(Config{Cache: CacheConfig{Header: "X-Cache"}, RequestIDHeader: "X-Request-ID",
		Pools: []Pool{{Name: "p", Cache: true, Backends: []Backend{{Address: "127.0.0.1:1"}}}}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	l := newLoop(s, nil, 0)
	mc := &memConn{}
	cc := &clientConn{l: l, wire: wire{c: mc}, ln: plainTestListener, ip: []byte("192.0.2.10")}
	cc.owner = cc

	var r codec.Request
	if _, err := codec.ParseRequest(cacheGET, &r, &l.gen.parse); err != nil {
		tb.Fatal(err)
	}
	key := cc.cacheKey(nil, cacheGET, &r)
	st := l.gen.cache
	head := []byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Type: text/html\r\nETag: \"v1\"\r\n" +
		"Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n\r\n")
	e := cache.NewEntry(head, cache.RawFields(cacheGET), cache.Times{Sent: monoNow(), Received: monoNow(), Wall: time.Now().Unix()}, st.Config())
	e.AppendBody(make([]byte, 16<<10))
	if !st.Insert(key, e) {
		tb.Fatal("entry not stored")
	}
	return cc, mc
}

// hitPath serves cacheGET from the cache as the loop does on a read event.
func hitPath(cc *clientConn, mc *memConn) int {
	mc.in = cacheGET
	before := mc.out
	cc.serve()
	return mc.out - before
}

// The cache's hit path, from the read event to the writev of head and
// body: parse, route, key, lookup, head, metrics, next request.
func TestCacheHitDoesNotAllocate(t *testing.T) {
	cc, mc := newCachedLoop(t)
	if n := hitPath(cc, mc); n < 16<<10 || cc.l.s.st.CacheResults()[0] != 1 {
		t.Fatalf("not a hit: wrote %d bytes, results %v", n, cc.l.s.st.CacheResults())
	}
	for range 100 {
		hitPath(cc, mc)
	}
	if n := testing.AllocsPerRun(1000, func() { sink += hitPath(cc, mc) }); n != 0 {
		t.Fatalf("%v allocs per cache hit; want 0", n)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	cc, mc := newCachedLoop(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(cacheGET)))
	for b.Loop() {
		sink += hitPath(cc, mc)
	}
}
