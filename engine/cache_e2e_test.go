package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/stats"
)

// originBackend answers /x?cc=...&etag=...&status=...&n=... with a body
// naming the request number, the Cache-Control and ETag asked for, and
// If-None-Match answered with 304 when it matches. It counts the requests
// it answers with a body, per path and query.
type originBackend struct {
	addr   string
	mu     sync.Mutex
	served map[string]int
	total  atomic.Int64
	status atomic.Int64 // when not 0, answer this status instead
}

func startOrigin(t *testing.T) *originBackend {
	o := &originBackend{served: map[string]int{}}
	o.addr = startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.total.Add(1)
		q := r.URL.Query()
		if s := o.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		if cc := q.Get("cc"); cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if v := q.Get("vary"); v != "" {
			w.Header().Set("Vary", v)
		}
		if q.Get("cookie") != "" {
			w.Header().Set("Set-Cookie", "a=b")
		}
		w.Header().Set("Content-Type", "text/html")
		if e := q.Get("etag"); e != "" {
			w.Header().Set("ETag", `"`+e+`"`)
			if r.Header.Get("If-None-Match") == `"`+e+`"` {
				w.WriteHeader(304)
				return
			}
		}
		o.mu.Lock()
		o.served[r.URL.RequestURI()]++
		n := o.served[r.URL.RequestURI()]
		o.mu.Unlock()
		body := fmt.Sprintf("response %d for %s", n, r.URL.RequestURI())
		if size := q.Get("n"); size != "" {
			var k int
			fmt.Sscan(size, &k)
			body += strings.Repeat(" <p>padding text</p>", k/20)
		}
		if q.Get("chunked") != "" {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		io.WriteString(w, body)
	}))
	return o
}

func cachedConfig(o *originBackend) engine.Config {
	return engine.Config{Cache: engine.CacheConfig{Header: "X-Cache"},
		Pools: []engine.Pool{{Name: "p", Cache: true, Backends: []engine.Backend{{Address: o.addr}}}}}
}

func get(t *testing.T, c *client, target string, fields ...string) *response {
	t.Helper()
	return c.roundTrip("GET", "GET "+target+" HTTP/1.1\r\nHost: h\r\n"+strings.Join(fields, "")+"\r\n")
}

// The check: two GETs return the same body, the second from the
// cache with X-Cache: HIT and an Age; HEAD and a matching If-None-Match
// are answered from the entry; what must not be stored is not.
func TestCacheHitMissAndRules(t *testing.T) {
	o := startOrigin(t)
	st := stats.New(stats.Options{})
	cfg := cachedConfig(o)
	cfg.Stats = st
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	r1 := get(t, c, "/x?cc=max-age=60&etag=v1")
	r2 := get(t, c, "/x?cc=max-age=60&etag=v1")
	if r1.Header.Get("X-Cache") != "MISS" || r2.Header.Get("X-Cache") != "HIT" || r1.body != r2.body || r2.Header.Get("Age") == "" ||
		r2.Header.Get("ETag") != `"v1"` || r2.Header.Get("Content-Length") != fmt.Sprint(len(r1.body)) {
		t.Fatalf("first %v %q, second %v %q", r1.Header, r1.body, r2.Header, r2.body)
	}
	if r := c.roundTrip("HEAD", "HEAD /x?cc=max-age=60&etag=v1 HTTP/1.1\r\nHost: h\r\n\r\n"); r.Header.Get("X-Cache") != "HIT" || r.body != "" {
		t.Errorf("HEAD: %v %q", r.Header, r.body)
	}
	if r := get(t, c, "/x?cc=max-age=60&etag=v1", "If-None-Match: \"v1\"\r\n"); r.StatusCode != 304 || r.Header.Get("X-Cache") != "HIT" {
		t.Errorf("If-None-Match: %d %v", r.StatusCode, r.Header)
	}
	if n := o.total.Load(); n != 1 {
		t.Errorf("the backend answered %d requests; want 1", n)
	}
	// Not stored, each asked twice: the backend answers both.
	for _, tc := range []struct{ target, fields, xcache string }{
		{"/x?cc=no-store", "", "MISS"},
		{"/x?cc=private,max-age=60", "", "MISS"},
		{"/x?cc=max-age=60&cookie=1", "", "MISS"},
		{"/y?cc=max-age=60", "Authorization: Basic eDp5\r\n", "MISS"}, // looked up, never stored (RFC 9111 §3.5)
		{"/z?cc=max-age=60", "Cookie: s=1\r\n", "BYPASS"},
		{"/x?cc=max-age=60&vary=*", "", "MISS"},
	} {
		before := o.total.Load()
		for range 2 {
			if r := get(t, c, tc.target, tc.fields); r.Header.Get("X-Cache") != tc.xcache {
				t.Errorf("%s %q: X-Cache %q; want %s", tc.target, tc.fields, r.Header.Get("X-Cache"), tc.xcache)
			}
		}
		if n := o.total.Load() - before; n != 2 {
			t.Errorf("%s %q: the backend answered %d of 2; want both (not stored)", tc.target, tc.fields, n)
		}
	}
	if res := st.CacheResults(); res[stats.CacheHit] != 3 || res[stats.CacheBypass] != 2 {
		t.Errorf("cache results %v; want 3 hits and 2 bypasses", res)
	}
}

// A stale entry with a validator is revalidated: the backend's 304 keeps
// the body, and the client's own conditions are answered from the entry; a
// backend failure within stale-if-error serves the stale entry.
func TestCacheRevalidationAndStaleIfError(t *testing.T) {
	o := startOrigin(t)
	_, px := startProxy(t, cachedConfig(o))
	c := dial(t, px)
	const target = "/r?cc=max-age=1,stale-if-error=60&etag=e1"
	first := get(t, c, target)
	time.Sleep(1100 * time.Millisecond)
	r := get(t, c, target)
	if r.Header.Get("X-Cache") != "REVALIDATED" || r.body != first.body {
		t.Fatalf("after expiry: %v %q; want the entry revalidated", r.Header, r.body)
	}
	if r := get(t, c, target); r.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("after revalidation: %v; want a hit", r.Header)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := get(t, c, target, "If-None-Match: \"e1\"\r\n"); r.StatusCode != 304 || r.Header.Get("X-Cache") != "REVALIDATED" {
		t.Errorf("conditional after expiry: %d %v", r.StatusCode, r.Header)
	}
	time.Sleep(1100 * time.Millisecond)
	o.status.Store(503)
	if r := get(t, c, target); r.StatusCode != 200 || r.Header.Get("X-Cache") != "STALE" || r.body != first.body {
		t.Errorf("backend failing: %d %v %q; want the stale entry", r.StatusCode, r.Header, r.body)
	}
	o.mu.Lock()
	n := o.served[target]
	o.mu.Unlock()
	if n != 1 {
		t.Errorf("the backend sent the body %d times; want once", n)
	}
}

// Chunked responses are stored and served with a Content-Length; a response
// cut by the backend is never stored; each coding is its own entry, and a
// hit is never compressed again; a purge empties the key.
func TestCacheFramingCodingsAndPurge(t *testing.T) {
	o := startOrigin(t)
	cfg := cachedConfig(o)
	cfg.Compression.Enabled = true
	srv, px := startProxy(t, cfg)
	c := dial(t, px)
	r1 := get(t, c, "/c?cc=max-age=60&chunked=1&n=5000")
	r2 := get(t, c, "/c?cc=max-age=60&chunked=1&n=5000")
	if len(r1.TransferEncoding) == 0 || r2.Header.Get("X-Cache") != "HIT" || r2.body != r1.body || r2.ContentLength != int64(len(r1.body)) {
		t.Fatalf("chunked: first TE %v, second %v CL %d", r1.TransferEncoding, r2.Header, r2.ContentLength)
	}
	gz := func() *response { return get(t, c, "/g?cc=max-age=60&n=20000", "Accept-Encoding: gzip\r\n") }
	plain := get(t, c, "/g?cc=max-age=60&n=20000")
	g1, g2 := gz(), gz()
	if plain.Header.Get("Content-Encoding") != "" || g1.Header.Get("X-Cache") != "MISS" || g2.Header.Get("X-Cache") != "HIT" ||
		g2.Header.Get("Content-Encoding") != "gzip" || g2.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("variants: plain %v, gzip %v then %v", plain.Header, g1.Header, g2.Header)
	}
	if got, want := string(decodeBody(t, "gzip", []byte(g2.body))), string(decodeBody(t, "gzip", []byte(g1.body))); got != want ||
		!strings.HasPrefix(got, "response 2 for /g?") {
		t.Fatalf("the gzip hit decodes to %d bytes, not the gzip miss's body", len(got))
	}
	if r := get(t, c, "/g?cc=max-age=60&n=20000"); r.Header.Get("X-Cache") != "HIT" || r.Header.Get("Content-Encoding") != "" {
		t.Errorf("identity variant: %v", r.Header)
	}
	if n, err := srv.PurgeCache("", "h/g", false); err != nil || n != 2 {
		t.Errorf("purge prefix h/g: %d %v; want the 2 variants", n, err)
	}
	if r := get(t, c, "/g?cc=max-age=60&n=20000"); r.Header.Get("X-Cache") != "MISS" {
		t.Errorf("after the purge: %v", r.Header)
	}
	if n, err := srv.PurgeCache("", "", true); err != nil || n == 0 {
		t.Errorf("flush: %d %v", n, err)
	}
}

// A response cut mid-body is never stored.
func TestCacheNeverStoresCut(t *testing.T) {
	var calls atomic.Int64
	b := startRawBackend(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			if calls.Add(1) == 1 {
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 100\r\n\r\nonly part")
				resetClose(conn)
				return
			}
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 4\r\n\r\nfull")
		}
	})
	cfg := engine.Config{Cache: engine.CacheConfig{Header: "X-Cache"},
		Pools: []engine.Pool{{Name: "p", Cache: true, Retries: -1, Backends: []engine.Backend{{Address: b.addr()}}}}}
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	c.send("GET /cut HTTP/1.1\r\nHost: h\r\n\r\n")
	readUntilClosed(c, ioTimeout)
	c = dial(t, px)
	if r := get(t, c, "/cut"); r.body != "full" || r.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("after a cut response: %v %q; want a miss with the full body", r.Header, r.body)
	}
	if r := get(t, c, "/cut"); r.body != "full" || r.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("then: %v %q; want a hit", r.Header, r.body)
	}
}

// stale-if-error shields an outage: with the only backend gone (refused
// connections, then ejected), the stale entry still answers within its
// window, and a fresh key gets the usual error.
func TestCacheStaleWhenBackendsAreDown(t *testing.T) {
	ln := listenLocal(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=60")
		w.Header().Set("ETag", `"s"`)
		io.WriteString(w, "kept")
	})}
	go srv.Serve(ln)
	cfg := engine.Config{Cache: engine.CacheConfig{Header: "X-Cache"}, Pools: []engine.Pool{{Name: "p", Cache: true, Retries: -1,
		Passive: &engine.Passive{ConsecutiveFailures: 1}, Backends: []engine.Backend{{Address: ln.Addr().String()}}}}}
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	if r := get(t, c, "/s"); r.body != "kept" {
		t.Fatalf("first: %q", r.body)
	}
	srv.Close()
	time.Sleep(1100 * time.Millisecond)
	for i := range 3 { // refused, then ejected: both answered from the stale entry
		if r := get(t, c, "/s"); r.StatusCode != 200 || r.body != "kept" || r.Header.Get("X-Cache") != "STALE" {
			t.Fatalf("request %d with the backend down: %d %q %v", i, r.StatusCode, r.body, r.Header)
		}
	}
	if r := get(t, c, "/other"); r.StatusCode < 500 {
		t.Errorf("an uncached key with the backend down: %d; want an error", r.StatusCode)
	}
}
