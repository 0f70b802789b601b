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
	f("chunked_list", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\nX: 1\r\ntransfer-encoding: CHUNKED,\r\n\r\n",
		&testForward, "Transfer-Encoding: chunked")
	f("content_length", "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", &testForward)
	f("http10", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n", &testForward, "Host: ")
	f("http10_absolute", "GET http://a.example:81/x?y HTTP/1.0\r\n\r\n", &testForward, "Host: a.example:81",
		"X-Forwarded-Host: a.example:81")
	f("absolute", "GET http://evil.example/x?q HTTP/1.1\r\nHost: good.example\r\nX-Forwarded-Host: spoof\r\n\r\n",
		&testForward, "Host: evil.example", "X-Forwarded-Host: evil.example")
	f("content_length_canonical", "PUT /x HTTP/1.1\r\nHost: a\r\ncontent-length: 0010\r\nX: 1\r\nContent-Length: 10, 010\r\n\r\n",
		&testForward, "Content-Length: 10")
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

// TestAppendRequestHeadCanonical checks that what decides the backend's framing and routing
// leaves in one canonical spelling, whatever spelling came in.
func TestAppendRequestHeadCanonical(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		b := []byte(in)
		var r Request
		if _, err := ParseRequest(b, &r, nil); err != nil {
			t.Fatalf("ParseRequest(%q): %v", in, err)
		}
		if got := string(AppendRequestHead(nil, b, &r, nil)); got != want {
			t.Fatalf("AppendRequestHead(%q):\n got %q\nwant %q", in, got, want)
		}
	}
	// Content-Length: one line, canonical decimal, where the first one was (RFC 9110 §8.6).
	f("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0010\r\nX: 1\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nX: 1\r\n\r\n")
	f("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
	f("PUT / HTTP/1.1\r\nHost: a\r\nCONTENT-LENGTH:  5 \r\nX: 1\r\ncontent-length: 05\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: 1\r\n\r\n")
	f("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
	f("POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n")
	// Transfer-Encoding: exactly "chunked", the one coding accepted.
	f("POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	f("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,,Chunked , \r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	f("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nTransfer-Encoding: chunked,\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
	// Absolute-form: origin-form target, the authority as Host (RFC 9112 §3.2.2, §3.2.4).
	f("GET http://evil.example/x?q HTTP/1.1\r\nHost: good.example\r\n\r\n",
		"GET /x?q HTTP/1.1\r\nHost: evil.example\r\n\r\n")
	f("GET HTTPS://a.example:8443 HTTP/1.1\r\nhost: b\r\nX: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nhost: a.example:8443\r\nX: 1\r\n\r\n")
	f("GET http://a?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
	f("GET http://a//x HTTP/1.1\r\nHost: a\r\n\r\n", "GET //x HTTP/1.1\r\nHost: a\r\n\r\n")
	f("OPTIONS http://a HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
	f("OPTIONS http://a?x HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS /?x HTTP/1.1\r\nHost: a\r\n\r\n")
	f("OPTIONS http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n")
	f("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
	f("GET http://[::1]:8080/p HTTP/1.0\r\n\r\n", "GET /p HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")
	f("GET /p HTTP/1.0\r\n\r\n", "GET /p HTTP/1.1\r\nHost: \r\n\r\n")
	// HTTP/1.2 is read as, and forwarded as, HTTP/1.1 (RFC 9110 §6.2).
	f("GET / HTTP/1.2\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
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
		for _, fl := range r2.Fields() {
			// RFC 9112 §6.1: never Transfer-Encoding to an HTTP/1.0 client.
			if rf.HTTP10 && fl.kind == kindTransferEncoding {
				t.Fatalf("%s: Transfer-Encoding sent to an HTTP/1.0 client\n%s", name, got)
			}
		}
		if (rf.Chunked || r.Body == BodyClose && !rf.HTTP10) && r2.OtherCodings != r.OtherCodings {
			t.Fatalf("%s: codings lost\n%s", name, got)
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
	f("chunked_codings_canonical", "HTTP/1.1 200 OK\r\nTransfer-Encoding: GZIP ,, br\r\nX: 1\r\ntransfer-encoding: Chunked,\r\n\r\n",
		MethodGet, ResponseFraming{Chunked: true}, "Transfer-Encoding: gzip, br, chunked")
	f("http10_dechunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n", MethodGet,
		ResponseFraming{HTTP10: true, Close: true}, "X: 1", "Connection: close")
	f("http10_close_codings", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", MethodGet,
		ResponseFraming{HTTP10: true, Close: true}, "Connection: close")
	f("http10_length", "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n", MethodGet,
		ResponseFraming{HTTP10: true, KeepAlive: true}, "Content-Length: 7", "Connection: keep-alive")
	f("length_canonical", "HTTP/1.1 200 OK\r\nContent-Length: 0010\r\nX: 1\r\ncontent-length: 10, 10\r\n\r\n", MethodGet,
		ResponseFraming{}, "Content-Length: 10")
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
	f("head_canonical", "HTTP/1.1 200 OK\r\nContent-Length: 01234\r\n\r\n", MethodHead, ResponseFraming{}, "Content-Length: 1234")
	f("not_modified", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5,5\r\n\r\n", MethodGet, ResponseFraming{}, "Content-Length: 5")
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
	f("AppendResponseHead(HTTP10 and Chunked)", func() {
		AppendResponseHead(nil, []byte(simpleResp), &Response{Status: 200}, ResponseFraming{HTTP10: true, Chunked: true})
	})
	for code := 100; code < 600; code++ {
		// RFC 9110 §15.5.14-15 renamed 413 and 414; net/http keeps the older phrases.
		if s := StatusText(code); s != "" && s != http.StatusText(code) && code != 413 && code != 414 {
			t.Fatalf("StatusText(%d)=%q; net/http says %q", code, s, http.StatusText(code))
		}
	}
}

// TestAppendHeadRules checks a route's rewrite plan: a replaced target and
// dropped fields, where the framing and forwarding fields cannot be dropped.
func TestAppendHeadRules(t *testing.T) {
	in := "POST /api/v1?x=1 HTTP/1.1\r\nHost: h\r\nx-debug: 1\r\nContent-Length: 2\r\nX-Keep: k\r\nX-DEBUG: 2\r\n\r\nhi"
	b := []byte(in)
	var r Request
	if _, err := ParseRequest(b, &r, nil); err != nil {
		t.Fatal(err)
	}
	fw := Forward{ClientIP: []byte("192.0.2.7"), Proto: []byte("http"), Target: []byte("/v1?x=1"),
		Drop: []string{"X-Debug", "Host", "Content-Length", "X-Forwarded-For"}}
	got := string(AppendRequestHead(nil, b, &r, &fw))
	want := "POST /v1?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nX-Keep: k\r\nX-Forwarded-For: 192.0.2.7\r\n" +
		"X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n"
	if got != want {
		t.Fatalf("request: got %q; want %q", got, want)
	}

	resp := []byte("HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 0\r\nx-powered-by: php\r\nVary: a\r\n\r\n")
	var rr Response
	if _, err := ParseResponse(resp, &rr, MethodGet, nil); err != nil {
		t.Fatal(err)
	}
	out := string(AppendResponseHead(nil, resp, &rr, ResponseFraming{Drop: []string{"X-Powered-By", "server", "content-length"},
		Extra: []byte("X-Served-By: b\r\n")}))
	wantResp := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVary: a\r\nX-Served-By: b\r\n\r\n"
	if out != wantResp {
		t.Fatalf("response: got %q; want %q", out, wantResp)
	}
}
