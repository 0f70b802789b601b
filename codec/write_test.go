package codec

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current writer output")

// golden compares got with testdata/<name>.golden, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read golden file (run with -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}

var testForward = Forward{ClientIP: []byte("192.0.2.7"), Proto: []byte("http")}

func TestAppendRequestHead(t *testing.T) {
	f := func(name, in string, fw *Forward, wantLines ...string) {
		t.Helper()
		b := []byte(in)
		var r Request
		if _, err := ParseRequest(b, &r, nil); err != nil {
			t.Fatalf("%s: ParseRequest: %v", name, err)
		}
		before := r
		got := AppendRequestHead([]byte("prefix"), b, &r, fw)
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("%s: dst prefix lost", name)
		}
		got = got[len("prefix"):]
		golden(t, "request_"+name, got)
		for _, l := range wantLines {
			if !bytes.Contains(got, []byte("\r\n"+l+"\r\n")) {
				t.Fatalf("%s: no line %q in\n%s", name, l, got)
			}
		}
		if !sameRequest(&r, &before) || !bytes.Equal(b, []byte(in)) {
			t.Fatalf("%s: AppendRequestHead changed its input", name)
		}
		// What we send must be a valid request with the same framing.
		var r2 Request
		if n, err := ParseRequest(got, &r2, nil); err != nil || n != len(got) || r2.Body != r.Body || r2.BodyLen != r.BodyLen || r2.Close {
			t.Fatalf("%s: output does not re-parse: n=%d err=%v\n%s", name, n, err, got)
		}
	}
	f("simple", simpleGet, &testForward,
		"X-Forwarded-For: 192.0.2.7", "X-Forwarded-Proto: http", "X-Forwarded-Host: example.com")
	f("hop", "GET /h HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret, x-other\r\nKeep-Alive: 300\r\n"+
		"Proxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: websocket\r\nX-Secret: 1\r\nX-Other: 2\r\n"+
		"Accept: */*\r\nConnection: Upgrade\r\nX-Kept: 3\r\n\r\n", &testForward)
	f("xff_one", "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\r\n",
		&testForward, "X-Forwarded-For: 10.0.0.1, 192.0.2.7", "X-Forwarded-Proto: http", "X-Forwarded-Host: a")
	f("xff_several", "GET / HTTP/1.1\r\nx-forwarded-for: 10.0.0.1, 10.0.0.2\r\nHost: a\r\nX-Forwarded-For:\r\nX-Forwarded-For: 10.0.0.3\r\n\r\n",
		&testForward, "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7")
	f("xff_hop", "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Forwarded-For\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
		&testForward, "X-Forwarded-For: 192.0.2.7")
	f("repeated", "GET / HTTP/1.1\r\nAccept: a\r\nHost: h\r\nCookie: 1\r\nAccept: b\r\nCookie: 2\r\nCookie: 3\r\n\r\n", &testForward)
	f("chunked", chunkPost, &testForward, "Transfer-Encoding: chunked")
	f("chunked_codings", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nX: 1\r\ntransfer-encoding: chunked\r\n\r\n",
		&testForward, "Transfer-Encoding: gzip, chunked")
	f("content_length", "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", &testForward)
	f("http10", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n", &testForward, "Host: ")
	f("http10_absolute", "GET http://user@a.example:81/x?y HTTP/1.0\r\n\r\n", &testForward, "Host: a.example:81")
	f("empty_host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", &testForward)
	f("nil_forward", "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n", nil,
		"X-Forwarded-For: 10.0.0.1", "X-Forwarded-Proto: https")
	f("no_client_ip", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", &Forward{})
	f("browser", browserGet, &testForward)
}

func TestAppendRequestHeadExact(t *testing.T) {
	in := "GET /p HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nX-Forwarded-For: 1.1.1.1\r\nA: 1\r\n\r\n"
	b := []byte(in)
	var r Request
	if _, err := ParseRequest(b, &r, nil); err != nil {
		t.Fatal(err)
	}
	got := string(AppendRequestHead(nil, b, &r, &testForward))
	want := "GET /p HTTP/1.1\r\nHost: h\r\nA: 1\r\nX-Forwarded-For: 1.1.1.1, 192.0.2.7\r\n" +
		"X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n"
	if got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

func TestAppendResponseHead(t *testing.T) {
	f := func(name, in string, m Method, rf ResponseFraming, wantLines ...string) {
		t.Helper()
		b := []byte(in)
		var r Response
		if _, err := ParseResponse(b, &r, m, nil); err != nil {
			t.Fatalf("%s: ParseResponse: %v", name, err)
		}
		got := AppendResponseHead(nil, b, &r, rf)
		golden(t, "response_"+name, got)
		for _, l := range wantLines {
			if !bytes.Contains(got, []byte("\r\n"+l+"\r\n")) {
				t.Fatalf("%s: no line %q in\n%s", name, l, got)
			}
		}
		var r2 Response
		if n, err := ParseResponse(got, &r2, m, nil); err != nil || n != len(got) {
			t.Fatalf("%s: output does not re-parse: err=%v\n%s", name, err, got)
		}
	}
	f("length", simpleResp, MethodGet, ResponseFraming{}, "Content-Length: 5")
	f("length_close", simpleResp, MethodGet, ResponseFraming{Close: true}, "Connection: close")
	f("length_keepalive", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
		MethodGet, ResponseFraming{KeepAlive: true}, "Connection: keep-alive")
	f("close_wins", simpleResp, MethodGet, ResponseFraming{Close: true, KeepAlive: true}, "Connection: close")
	f("extra", simpleResp, MethodGet, ResponseFraming{Extra: []byte("Set-Cookie: lg=abc; Path=/\r\n")},
		"Set-Cookie: lg=abc; Path=/", "Content-Length: 5")
	f("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n", MethodGet,
		ResponseFraming{Chunked: true}, "Transfer-Encoding: chunked")
	f("chunked_codings", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", MethodGet,
		ResponseFraming{Chunked: true}, "Transfer-Encoding: gzip, chunked")
	f("rechunk", "HTTP/1.1 200 OK\r\nConnection: close\r\nX-A: 1\r\n\r\n", MethodGet,
		ResponseFraming{Chunked: true}, "Transfer-Encoding: chunked")
	f("rechunk_codings", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", MethodGet,
		ResponseFraming{Chunked: true}, "Transfer-Encoding: gzip, chunked")
	f("close_delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", MethodGet,
		ResponseFraming{Close: true}, "Transfer-Encoding: gzip", "Connection: close")
	f("chunked_drops_length", simpleResp, MethodGet, ResponseFraming{Chunked: true}, "Transfer-Encoding: chunked")
	f("hop", "HTTP/1.1 200 OK\r\nConnection: x-a, keep-alive\r\nX-A: 1\r\nKeep-Alive: 5\r\nUpgrade: h2\r\n"+
		"Proxy-Connection: close\r\nTE: x\r\nSet-Cookie: a\r\nSet-Cookie: b\r\nContent-Length: 0\r\n\r\n", MethodGet, ResponseFraming{})
	f("empty_reason", "HTTP/1.1 204\r\n\r\n", MethodGet, ResponseFraming{})
	f("head", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", MethodHead, ResponseFraming{}, "Content-Length: 1234")
}

func TestAppendError(t *testing.T) {
	for _, status := range []int{400, 408, 413, 414, 431, 501, 502, 503, 504, 505} {
		got := AppendError(nil, status, true, 0)
		golden(t, "error_"+itoa(status), got)
		var r Response
		n, err := ParseResponse(got, &r, MethodGet, nil)
		body := got[n:]
		if err != nil || r.Status != status || r.Body != BodyLength || int(r.BodyLen) != len(body) || !r.Close ||
			string(body) != itoa(status)+" "+StatusText(status)+"\n" {
			t.Fatalf("AppendError(%d): err=%v %+v body=%q", status, err, r, body)
		}
	}
	got := string(AppendError(nil, 503, false, 7))
	want := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\n" +
		"Retry-After: 7\r\n\r\n503 Service Unavailable\n"
	if got != want {
		t.Fatalf("AppendError(503, retry 7) = %q; want %q", got, want)
	}
	got = string(AppendError(nil, 599, false, 0))
	if want := "HTTP/1.1 599 \r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\r\n599\n"; got != want {
		t.Fatalf("AppendError(599) = %q; want %q", got, want)
	}
}

func TestAppendChunkHeader(t *testing.T) {
	f := func(n int, want string) {
		t.Helper()
		if got := string(AppendChunkHeader([]byte("x"), n)); got != "x"+want {
			t.Fatalf("AppendChunkHeader(%d) = %q; want %q", n, got, "x"+want)
		}
	}
	f(1, "1\r\n")
	f(255, "ff\r\n")
	f(4096, "1000\r\n")
	// A body re-chunked from pieces decodes to the pieces.
	var body []byte
	for _, p := range []string{"hello", " ", strings.Repeat("w", 300)} {
		body = AppendChunkHeader(body, len(p))
		body = append(body, p...)
		body = append(body, "\r\n"...)
	}
	body = append(body, LastChunk...)
	var c Chunked
	payload, n, err := decodeChunked(&c, body, nil, func() int { return len(body) })
	if err != nil || n != len(body) || string(payload) != "hello "+strings.Repeat("w", 300) {
		t.Fatalf("re-chunked body: payload=%q err=%v", payload, err)
	}
}

func itoa(n int) string { return string(appendStatus(nil, n)) }

func TestWriterInvariants(t *testing.T) {
	f := func(name string, fn func()) {
		t.Helper()
		defer func() {
			if r := recover(); r == nil || !strings.HasPrefix(r.(string), "BUG: ") {
				t.Fatalf("%s: recovered %v; want a BUG panic", name, r)
			}
		}()
		fn()
	}
	f("AppendChunkHeader(0)", func() { AppendChunkHeader(nil, 0) })
	f("AppendError(99)", func() { AppendError(nil, 99, false, 0) })
	f("AppendError(1000)", func() { AppendError(nil, 1000, false, 0) })
	for code := 100; code < 600; code++ {
		// RFC 9110 §15.5.14-15 renamed 413 and 414; net/http keeps the older phrases.
		if s := StatusText(code); s != "" && s != http.StatusText(code) && code != 413 && code != 414 {
			t.Fatalf("StatusText(%d)=%q; net/http says %q", code, s, http.StatusText(code))
		}
	}
}
