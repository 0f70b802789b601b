package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// start serves b on a loopback listener for the length of the test.
func start(t *testing.T, b *Backend) string {
	t.Helper()
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	return srv.URL
}

func do(t *testing.T, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatalf("cannot make request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: cannot read body: %v", method, url, err)
	}
	return resp, b
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("cannot decode %q: %v", body, err)
	}
	return v
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestRootReportsWhatArrived(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	req, _ := http.NewRequest("POST", url+"/a/b?x=1&y=2", strings.NewReader("hello"))
	req.Header.Set("X-Test", "yes")
	req.Host = "example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := decode[Received](t, body)
	if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "b1" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d X-Backend=%q Content-Type=%q", resp.StatusCode, resp.Header.Get("X-Backend"), resp.Header.Get("Content-Type"))
	}
	want := Received{
		Name: "b1", Status: 200, Method: "POST", URI: "/a/b?x=1&y=2", Path: "/a/b", Query: "x=1&y=2",
		Proto: "HTTP/1.1", Host: "example.com", ContentLength: 5, BodyBytes: 5, BodySHA256: sha([]byte("hello")),
	}
	got.Headers, got.RemoteAddr = nil, ""
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	g := decode[Received](t, body)
	if g.Headers.Get("X-Test") != "yes" || !strings.HasPrefix(g.RemoteAddr, "127.0.0.1:") {
		t.Fatalf("headers %v remote %q", g.Headers, g.RemoteAddr)
	}
}

func TestRootChunkedUploadWithTrailer(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"+
		"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	got := decode[Received](t, body)
	if got.ContentLength != -1 || fmt.Sprint(got.TransferEncoding) != "[chunked]" || got.BodyBytes != 5 ||
		got.BodySHA256 != sha([]byte("abcde")) || got.Trailers.Get("X-Sum") != "5" {
		t.Fatalf("got %+v", got)
	}
}

func TestRootKeepsPathAsSent(t *testing.T) {
	// ServeMux would redirect these; the backend must report them unchanged.
	url := start(t, newBackend("b1", 1))
	f := func(target string) {
		t.Helper()
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if got := decode[Received](t, body); resp.StatusCode != 200 || got.URI != target {
			t.Fatalf("GET %s: got %d uri %q", target, resp.StatusCode, got.URI)
		}
	}
	f("//double")
	f("/a/../b")
	f("/health/")
	f("/info/")
}

func TestHealth(t *testing.T) {
	b := newBackend("b1", 1)
	url := start(t, b)
	f := func(method, path string, wantCode int, wantBody string) {
		t.Helper()
		resp, body := do(t, method, url+path, nil)
		if resp.StatusCode != wantCode || strings.TrimSpace(string(body)) != wantBody {
			t.Fatalf("%s %s: got %d %s; want %d %s", method, path, resp.StatusCode, body, wantCode, wantBody)
		}
	}
	f("GET", "/health", 200, `{"name":"b1","status":"healthy"}`)
	b.SetFailing(true)
	f("GET", "/health", 503, `{"name":"b1","status":"unhealthy"}`)
	f("DELETE", "/health/fail", 200, `{"failing":false,"name":"b1"}`)
	f("GET", "/health", 200, `{"name":"b1","status":"healthy"}`)
	f("POST", "/health/fail", 200, `{"failing":true,"name":"b1"}`)
	f("GET", "/health/fail", 200, `{"failing":true,"name":"b1"}`)
	f("GET", "/health", 503, `{"name":"b1","status":"unhealthy"}`)
	f("PATCH", "/health/fail", 405, `{"error":"use POST to fail /health, DELETE to recover","name":"b1"}`)
}

func TestInfo(t *testing.T) {
	b := newBackend("b1", 8001)
	url := start(t, b)
	do(t, "GET", url+"/", nil)
	resp, body := do(t, "GET", url+"/info", nil)
	got := decode[struct {
		Name     string  `json:"name"`
		Port     int     `json:"port"`
		PID      int     `json:"pid"`
		Started  string  `json:"started"`
		Uptime   float64 `json:"uptime_seconds"`
		Requests int64   `json:"requests"`
	}](t, body)
	if resp.StatusCode != 200 || got.Name != "b1" || got.Port != 8001 || got.PID <= 0 || got.Started == "" ||
		got.Uptime <= 0 || got.Requests != 2 {
		t.Fatalf("got %d %+v", resp.StatusCode, got)
	}
}

func TestDelay(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	f := func(query string, wantCode int, atLeast time.Duration) {
		t.Helper()
		t0 := time.Now()
		resp, body := do(t, "GET", url+"/delay"+query, nil)
		if took := time.Since(t0); resp.StatusCode != wantCode || took < atLeast {
			t.Fatalf("/delay%s: got %d after %s (%s); want %d after >= %s", query, resp.StatusCode, took, body, wantCode, atLeast)
		}
		if wantCode == 200 && decode[Received](t, body).Path != "/delay" {
			t.Fatalf("/delay%s: body %s", query, body)
		}
	}
	f("?ms=0", 200, 0)
	f("?ms=50", 200, 50*time.Millisecond)
	f("", 400, 0)
	f("?ms=", 400, 0)
	f("?ms=-1", 400, 0)
	f("?ms=60001", 400, 0)
	f("?ms=1.5", 400, 0)
	f("?ms=abc", 400, 0)
}

func TestStatus(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	f := func(query string, wantCode int, wantBody bool) {
		t.Helper()
		resp, body := do(t, "GET", url+"/status"+query, nil)
		if resp.StatusCode != wantCode || (len(body) > 0) != wantBody {
			t.Fatalf("/status%s: got %d %q; want %d body=%v", query, resp.StatusCode, body, wantCode, wantBody)
		}
		if wantCode != 400 && wantBody && decode[Received](t, body).Status != wantCode {
			t.Fatalf("/status%s: body %s", query, body)
		}
	}
	f("?code=200", 200, true)
	f("?code=201", 201, true)
	f("?code=204", 204, false)
	f("?code=304", 304, false)
	f("?code=404", 404, true)
	f("?code=503", 503, true)
	f("?code=599", 599, true)
	f("?code=100", 400, true)
	f("?code=199", 400, true)
	f("?code=600", 400, true)
	f("?code=abc", 400, true)
	f("", 400, true)
}

// wantPattern is an independent spelling of the /bytes content.
func wantPattern(n int) []byte {
	var b bytes.Buffer
	for off := 0; b.Len() < n; off += patternLine {
		fmt.Fprintf(&b, "%016d %s\n", off, patternFill)
	}
	return b.Bytes()[:n]
}

func TestFillPattern(t *testing.T) {
	whole := wantPattern(1000)
	for off := range 200 {
		for _, n := range []int{0, 1, 5, 63, 64, 65, 300} {
			p := make([]byte, n)
			fillPattern(p, int64(off))
			if !bytes.Equal(p, whole[off:off+n]) {
				t.Fatalf("fillPattern(%d bytes, off %d) = %q; want %q", n, off, p, whole[off:off+n])
			}
		}
	}
}

func TestBytes(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	f := func(n int, chunked bool) {
		t.Helper()
		q := fmt.Sprintf("/bytes?n=%d", n)
		if chunked {
			q += "&chunked=1"
		}
		resp, body := do(t, "GET", url+q, nil)
		wantCL := int64(n)
		if chunked {
			wantCL = -1
		}
		if resp.StatusCode != 200 || resp.ContentLength != wantCL || !bytes.Equal(body, wantPattern(n)) {
			t.Fatalf("%s: got %d CL=%d len=%d TE=%v; want CL=%d", q, resp.StatusCode, resp.ContentLength, len(body), resp.TransferEncoding, wantCL)
		}
		if chunked && fmt.Sprint(resp.TransferEncoding) != "[chunked]" {
			t.Fatalf("%s: TE=%v", q, resp.TransferEncoding)
		}
	}
	for _, n := range []int{0, 1, 63, 64, 65, 64 << 10, 1<<20 + 7} {
		f(n, false)
		f(n, true)
	}

	bad := func(q string) {
		t.Helper()
		if resp, body := do(t, "GET", url+"/bytes"+q, nil); resp.StatusCode != 400 {
			t.Fatalf("/bytes%s: got %d %s; want 400", q, resp.StatusCode, body)
		}
	}
	bad("")
	bad("?n=-1")
	bad(fmt.Sprintf("?n=%d", maxBytes+1))
	bad("?n=10&chunked=maybe")
	bad("?n=10&max_age=")
	bad("?n=10&max_age=-1")
	bad(fmt.Sprintf("?n=10&max_age=%d", int64(maxAge)+1))

	resp, body := do(t, "HEAD", url+"/bytes?n=1000", nil)
	if resp.StatusCode != 200 || resp.ContentLength != 1000 || len(body) != 0 {
		t.Fatalf("HEAD: got %d CL=%d len=%d", resp.StatusCode, resp.ContentLength, len(body))
	}
}

// TestBytesMaxAge checks that ?max_age=S makes /bytes cacheable and that without it the
// answer says nothing about caching.
func TestBytesMaxAge(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	f := func(q, wantCC string) {
		t.Helper()
		resp, body := do(t, "GET", url+"/bytes?n=100"+q, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, wantPattern(100)) {
			t.Fatalf("/bytes?n=100%s: got %d len=%d", q, resp.StatusCode, len(body))
		}
		if got := resp.Header.Get("Cache-Control"); got != wantCC {
			t.Fatalf("/bytes?n=100%s: Cache-Control %q; want %q", q, got, wantCC)
		}
	}
	f("", "")
	f("&max_age=0", "max-age=0")
	f("&max_age=3600", "max-age=3600")
	f("&max_age=3600&chunked=1", "max-age=3600")
	f(fmt.Sprintf("&max_age=%d", maxAge), fmt.Sprintf("max-age=%d", maxAge))
}

func TestEcho(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	payload := make([]byte, 3<<20+5)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}

	// Content-Length in, Content-Length out.
	req, _ := http.NewRequest("POST", url+"/echo", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "image/png")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ContentLength != int64(len(payload)) || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, payload) {
		t.Fatalf("CL echo: got CL=%d type=%q len=%d", resp.ContentLength, resp.Header.Get("Content-Type"), len(body))
	}

	// Chunked in, chunked out.
	resp, body = do(t, "POST", url+"/echo", io.MultiReader(bytes.NewReader(payload))) // unknown length
	if resp.ContentLength != -1 || fmt.Sprint(resp.TransferEncoding) != "[chunked]" || !bytes.Equal(body, payload) {
		t.Fatalf("chunked echo: got CL=%d TE=%v len=%d", resp.ContentLength, resp.TransferEncoding, len(body))
	}

	// Streaming: each piece comes back before the upload ends.
	pr, pw := io.Pipe()
	req, _ = http.NewRequest("POST", url+"/echo", pr)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			close(done)
			return
		}
		done <- resp
	}()
	if _, err := pw.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	resp = <-done
	if resp == nil {
		t.Fatal("no response")
	}
	defer resp.Body.Close()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("streamed echo: got %q, %v", buf, err)
	}
	pw.Close()
	if rest, _ := io.ReadAll(resp.Body); len(rest) != 0 {
		t.Fatalf("streamed echo: extra %q", rest)
	}
}

// get sends a GET with the given fields ("Name: value") and returns the response and body.
func get(t *testing.T, url string, fields ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ": ")
		req.Header.Add(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestCache(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	f := func(query string, wantCount int64, wantCC string) {
		t.Helper()
		resp, body := get(t, url+"/cache"+query)
		got := decode[CacheBody](t, body)
		if resp.StatusCode != 200 || got.Name != "b1" || got.Count != wantCount ||
			resp.Header.Get("Cache-Control") != wantCC || resp.Header.Get("Content-Type") != "application/json" ||
			resp.ContentLength != int64(len(body)) || resp.Header.Get("ETag") != "" || resp.Header.Get("Vary") != "" {
			t.Fatalf("/cache%s: got %d %s %v; want count %d, %s", query, resp.StatusCode, body, resp.Header, wantCount, wantCC)
		}
	}
	// One counter per path and query.
	f("?max_age=60", 1, "max-age=60")
	f("?max_age=60", 2, "max-age=60")
	f("?max_age=0", 1, "max-age=0")
	f("?max_age=60&name=x", 1, "max-age=60")
	f("?max_age=60", 3, "max-age=60")
	f("?max_age=2147483647", 1, "max-age=2147483647")
	if _, body := get(t, url+"/cache?max_age=5&name=abc"); decode[CacheBody](t, body).Label != "abc" {
		t.Fatalf("label: %s", body)
	}

	bad := func(q string) {
		t.Helper()
		if resp, body := get(t, url+"/cache"+q); resp.StatusCode != 400 {
			t.Fatalf("/cache%s: got %d %s; want 400", q, resp.StatusCode, body)
		}
	}
	bad("")
	bad("?max_age=-1")
	bad("?max_age=2147483648")
	bad("?max_age=10&etag=maybe")
	bad("?max_age=10&vary=Bad%20Name")
	bad("?max_age=10&vary=a:b")
}

func TestCacheConcurrentCount(t *testing.T) {
	b := newBackend("b1", 1)
	const n = 200
	done := make(chan struct{})
	for range 4 {
		go func() {
			for range n / 4 {
				b.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/cache?max_age=1", nil))
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	w := httptest.NewRecorder()
	b.ServeHTTP(w, httptest.NewRequest("GET", "/cache?max_age=1", nil))
	if got := decode[CacheBody](t, w.Body.Bytes()).Count; got != n+1 || w.Header().Get("X-Requests") != fmt.Sprint(n+1) {
		t.Fatalf("count %d, X-Requests %s; want %d", got, w.Header().Get("X-Requests"), n+1)
	}
}

func TestCacheETag(t *testing.T) {
	url := start(t, newBackend("b1", 1)) + "/cache?max_age=30&etag=1"
	resp, body := get(t, url)
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || tag != bodyETag(body) || !strings.HasPrefix(tag, `"`) || decode[CacheBody](t, body).Count != 1 {
		t.Fatalf("first: %d ETag %q body %s", resp.StatusCode, tag, body)
	}
	// A matching If-None-Match, strong or weak (as a compressing proxy sends it), in a list,
	// or "*": 304 with the same validator and no new body.
	f := func(inm string, wantCode int, wantCount int64, wantReq string) {
		t.Helper()
		resp, body := get(t, url, "If-None-Match: "+inm)
		if resp.StatusCode != wantCode || resp.Header.Get("X-Requests") != wantReq ||
			resp.Header.Get("Cache-Control") != "max-age=30" {
			t.Fatalf("If-None-Match %s: got %d %v %s; want %d X-Requests %s", inm, resp.StatusCode, resp.Header, body, wantCode, wantReq)
		}
		if wantCode == 304 && (len(body) != 0 || resp.Header.Get("ETag") != tag) {
			t.Fatalf("If-None-Match %s: 304 with body %q ETag %q", inm, body, resp.Header.Get("ETag"))
		}
		if wantCode == 200 {
			if got := decode[CacheBody](t, body); got.Count != wantCount || resp.Header.Get("ETag") != bodyETag(body) {
				t.Fatalf("If-None-Match %s: body %s ETag %q", inm, body, resp.Header.Get("ETag"))
			}
			tag = resp.Header.Get("ETag")
		}
	}
	f(tag, 304, 1, "2")
	f("W/"+tag, 304, 1, "3")
	f(`"nope", `+tag, 304, 1, "4")
	f("*", 304, 1, "5")
	f(`"nope"`, 200, 2, "6") // a new body: count 2, a new tag
	f(tag, 304, 2, "7")

	// Without etag=1 If-None-Match is ignored and there is no ETag.
	resp, body = get(t, strings.Replace(url, "&etag=1", "", 1), "If-None-Match: *")
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != "" || len(body) == 0 {
		t.Fatalf("no etag: %d %v", resp.StatusCode, resp.Header)
	}
	// Only GET and HEAD revalidate.
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("If-None-Match", "*")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestCacheVary(t *testing.T) {
	url := start(t, newBackend("b1", 1)) + "/cache?max_age=30&etag=1&vary=X-Lang"
	resp, en := get(t, url, "X-Lang: en")
	_, fr := get(t, url, "X-Lang: fr")
	_, none := get(t, url)
	if resp.Header.Get("Vary") != "X-Lang" {
		t.Fatalf("Vary %q", resp.Header.Get("Vary"))
	}
	ben, bfr, bnone := decode[CacheBody](t, en), decode[CacheBody](t, fr), decode[CacheBody](t, none)
	if ben.Value != "en" || bfr.Value != "fr" || bnone.Value != "" || ben.Vary != "X-Lang" || bodyETag(en) == bodyETag(fr) {
		t.Fatalf("variants: %s %s %s", en, fr, none)
	}
	// The en variant's tag does not validate the fr variant.
	if resp, _ := get(t, url, "X-Lang: fr", "If-None-Match: "+bodyETag(en)); resp.StatusCode != 200 {
		t.Fatalf("fr with en's tag: %d", resp.StatusCode)
	}
}

// checkText checks the /text content by an independent reading of its framing: every 1 KiB block
// is a paragraph with its number, padded, closed.
func checkText(t *testing.T, b []byte) {
	t.Helper()
	if len(b)%textBlock != 0 {
		t.Fatalf("len %d: not whole blocks", len(b))
	}
	for k := 0; k*textBlock < len(b); k++ {
		blk := string(b[k*textBlock : (k+1)*textBlock])
		if k == 0 {
			if !strings.HasPrefix(blk, "<!DOCTYPE html>\n") {
				t.Fatalf("block 0: %q", blk[:40])
			}
			blk = strings.TrimPrefix(blk, textHead)
		}
		if !strings.HasPrefix(blk, fmt.Sprintf(`<p id="p%08d">`, k)) || !strings.HasSuffix(blk, "</p>\n") ||
			strings.ContainsAny(blk[:len(blk)-1], "\n\x00") {
			t.Fatalf("block %d: %q", k, blk)
		}
	}
}

func TestFillText(t *testing.T) {
	whole := make([]byte, 5*textBlock)
	fillText(whole, 0)
	checkText(t, whole)
	for off := 0; off < 3*textBlock; off += 37 {
		for _, n := range []int{0, 1, 5, 1023, 1024, 1025, 2000} {
			p := make([]byte, n)
			fillText(p, int64(off))
			if !bytes.Equal(p, whole[off:off+n]) {
				t.Fatalf("fillText(%d bytes, off %d) differs from the whole", n, off)
			}
		}
	}
}

func TestText(t *testing.T) {
	url := start(t, newBackend("b1", 1))
	f := func(kb int) []byte {
		t.Helper()
		resp, body := do(t, "GET", fmt.Sprintf("%s/text?kb=%d", url, kb), nil)
		if resp.StatusCode != 200 || resp.ContentLength != int64(kb)<<10 || len(body) != kb<<10 ||
			resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("kb=%d: got %d CL=%d len=%d type %q", kb, resp.StatusCode, resp.ContentLength, len(body), resp.Header.Get("Content-Type"))
		}
		checkText(t, body)
		return body
	}
	f(0)
	f(1)
	a := f(300)
	if b := f(300); !bytes.Equal(a, b) {
		t.Fatalf("two answers for kb=300 differ")
	}
	if b := f(100); !bytes.Equal(b, a[:len(b)]) {
		t.Fatalf("kb=100 is not a prefix of kb=300")
	}
	// Compressible, but not trivially.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(a)
	zw.Close()
	if ratio := float64(len(a)) / float64(z.Len()); ratio < 2 || ratio > 20 {
		t.Fatalf("gzip ratio %.1f; want 2..20", ratio)
	}

	bad := func(q string) {
		t.Helper()
		if resp, body := do(t, "GET", url+"/text"+q, nil); resp.StatusCode != 400 {
			t.Fatalf("/text%s: got %d %s; want 400", q, resp.StatusCode, body)
		}
	}
	bad("")
	bad("?kb=-1")
	bad(fmt.Sprintf("?kb=%d", maxTextKB+1))
	bad("?kb=1.5")

	resp, body := do(t, "HEAD", url+"/text?kb=10", nil)
	if resp.StatusCode != 200 || resp.ContentLength != 10<<10 || len(body) != 0 {
		t.Fatalf("HEAD: got %d CL=%d len=%d", resp.StatusCode, resp.ContentLength, len(body))
	}
}

func TestLatency(t *testing.T) {
	b := newBackend("b1", 1)
	b.Latency = 40 * time.Millisecond
	url := start(t, b)
	for _, path := range []string{"/", "/health", "/info"} {
		t0 := time.Now()
		do(t, "GET", url+path, nil)
		if took := time.Since(t0); took < b.Latency {
			t.Fatalf("%s took %s; want >= %s", path, took, b.Latency)
		}
	}
}

func TestFailRate(t *testing.T) {
	f := func(rate float64, path string, wantLo, wantHi int) {
		t.Helper()
		b := newBackend("b1", 1)
		b.FailRate = rate
		failed := 0
		for range 2000 {
			w := httptest.NewRecorder()
			b.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			if w.Code == 500 {
				failed++
			}
		}
		if failed < wantLo || failed > wantHi {
			t.Fatalf("rate %v %s: %d of 2000 failed; want %d..%d", rate, path, failed, wantLo, wantHi)
		}
	}
	f(0, "/", 0, 0)
	f(1, "/", 2000, 2000)
	f(1, "/echo", 2000, 2000)
	f(0.5, "/", 800, 1200) // about 9 standard deviations either side
	f(1, "/health", 0, 0)
	f(1, "/info", 0, 0)
}

func TestRequestLog(t *testing.T) {
	var logs bytes.Buffer
	b := newBackend("b1", 1)
	b.Log = slog.New(slog.NewTextHandler(&logs, nil))
	url := start(t, b)
	do(t, "GET", url+"/status?code=404", nil)
	do(t, "GET", url+"/bytes?n=10", nil)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `uri="/status?code=404" status=404`) ||
		!strings.Contains(lines[1], `uri="/bytes?n=10" status=200 bytes=10`) {
		t.Fatalf("log:\n%s", logs.String())
	}

	// -quiet leaves Log nil: nothing is logged and nothing breaks.
	q := newBackend("b2", 1)
	if resp, _ := do(t, "GET", start(t, q)+"/bytes?n=10&chunked=1", nil); resp.StatusCode != 200 {
		t.Fatalf("quiet: got %d", resp.StatusCode)
	}
}

func TestCheckFlags(t *testing.T) {
	f := func(port int, latency time.Duration, rate float64, wantOK bool) {
		t.Helper()
		if err := checkFlags(port, latency, rate); (err == nil) != wantOK {
			t.Fatalf("checkFlags(%d, %s, %v) = %v; want ok=%v", port, latency, rate, err, wantOK)
		}
	}
	f(8001, 0, 0, true)
	f(0, 20*time.Millisecond, 1, true)
	f(-1, 0, 0, false)
	f(65536, 0, 0, false)
	f(8001, -time.Millisecond, 0, false)
	f(8001, 0, -0.1, false)
	f(8001, 0, 1.1, false)
}

func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serve(ctx, ln, newBackend("b1", 1), nil, 5*time.Second) }()

	inflight := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/delay?ms=300")
		if err != nil {
			inflight <- 0
			return
		}
		resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // let the request arrive
	cancel()
	if code := <-inflight; code != 200 {
		t.Fatalf("in-flight request: got %d; want 200", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatalf("still accepting after shutdown")
	}
}
