package main

import (
	"bufio"
	"bytes"
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

	resp, body := do(t, "HEAD", url+"/bytes?n=1000", nil)
	if resp.StatusCode != 200 || resp.ContentLength != 1000 || len(body) != 0 {
		t.Fatalf("HEAD: got %d CL=%d len=%d", resp.StatusCode, resp.ContentLength, len(body))
	}
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
	go func() { served <- serve(ctx, ln, newBackend("b1", 1), 5*time.Second) }()

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
