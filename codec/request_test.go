package codec

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

const (
	simpleGet = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"
	chunkPost = "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
)

// validRequests are complete heads that must parse; the split, reuse and fuzz tests use them.
var validRequests = []string{
	simpleGet,
	chunkPost,
	"GET / HTTP/1.0\r\n\r\n",
	"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /p?q=1 HTTP/1.1\r\nHost: a:8080\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
	"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
	"GET HTTPS://evil.example:8443?q HTTP/1.1\r\nHost: good.example\r\n\r\n",
	"OPTIONS http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n",
	"GET / HTTP/1.7\r\nHost: a\r\n\r\n",
	"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0010\r\n\r\n",
	"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nContent-Length: 05\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,,CHUNKED,\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\nUpgrade: h2c\r\nTE: trailers\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nTransfer-Encoding: Chunked\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\nA: \t v \xff\t\r\nB:\r\n\r\n",
	browserGet,
}

const browserGet = "GET /assets/app.js?v=1234 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"Connection: keep-alive\r\n" +
	"sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
	"sec-ch-ua-mobile: ?0\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
	"sec-ch-ua-platform: \"Linux\"\r\n" +
	"Accept: */*\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"Sec-Fetch-Mode: no-cors\r\n" +
	"Sec-Fetch-Dest: script\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n" +
	"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; _ga=GA1.1.123456789.1700000000\r\n" +
	"If-None-Match: \"5f2b3c-1a2b\"\r\n" +
	"If-Modified-Since: Tue, 14 May 2024 10:00:00 GMT\r\n" +
	"Cache-Control: max-age=0\r\n" +
	"DNT: 1\r\n" +
	"Priority: u=1\r\n" +
	"X-Requested-With: XMLHttpRequest\r\n" +
	"\r\n"

func parseReq(t *testing.T, in string) (*Request, int, error) {
	t.Helper()
	r := new(Request)
	n, err := ParseRequest([]byte(in), r, &DefaultLimits)
	return r, n, err
}

func TestParseRequestSimple(t *testing.T) {
	b := []byte(simpleGet)
	var r Request
	n, err := ParseRequest(b, &r, nil)
	if err != nil || n != len(b) {
		t.Fatalf("ParseRequest: n=%d err=%v; want n=%d", n, err, len(b))
	}
	if r.Method != MethodGet || string(r.MethodRaw.Bytes(b)) != "GET" || string(r.Target.Bytes(b)) != "/index.html" ||
		r.Minor != 1 || r.Body != BodyNone || r.Close || !r.HasHost || string(r.Host.Bytes(b)) != "example.com" ||
		r.NHeaders != 1 || string(r.Headers[0].Name.Bytes(b)) != "Host" {
		t.Fatalf("unexpected request: %+v", r)
	}
}

func TestParseRequestReturnsHeadLength(t *testing.T) {
	f := func(in string, want int) {
		t.Helper()
		_, n, err := parseReq(t, in)
		if err != nil || n != want {
			t.Fatalf("ParseRequest(%q): n=%d err=%v; want n=%d", in, n, err, want)
		}
	}
	f(simpleGet, len(simpleGet))
	f(simpleGet+"GET / HTTP/1.1\r\n", len(simpleGet)) // pipelined bytes stay unconsumed
	f(simpleGet+"body", len(simpleGet))
	f("\r\n\r\n"+simpleGet, len(simpleGet)+4)
}

func TestParseRequestMethod(t *testing.T) {
	f := func(method string, want Method, idempotent bool) {
		t.Helper()
		in := method + " / HTTP/1.1\r\nHost: a\r\n\r\n"
		r, _, err := parseReq(t, in)
		if err != nil || r.Method != want || r.Method.Idempotent() != idempotent || string(r.MethodRaw.Bytes([]byte(in))) != method {
			t.Fatalf("method %q: got %d idempotent=%v err=%v; want %d %v", method, r.Method, r.Method.Idempotent(), err, want, idempotent)
		}
	}
	f("GET", MethodGet, true)
	f("HEAD", MethodHead, true)
	f("POST", MethodPost, false)
	f("PUT", MethodPut, true)
	f("DELETE", MethodDelete, true)
	f("OPTIONS", MethodOptions, true)
	f("TRACE", MethodTrace, true)
	f("PATCH", MethodPatch, false)
	f("get", MethodOther, false) // methods are case-sensitive (RFC 9110 §9.1)
	f("PROPFIND", MethodOther, false)
	f("X-Custom!#$%&'*+-.^_`|~", MethodOther, false)
}

func TestParseRequestErrors(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		_, n, err := parseReq(t, in)
		if !errors.Is(err, want) || n != 0 {
			t.Fatalf("ParseRequest(%q): n=%d err=%v; want %v", in, n, err, want)
		}
	}
	// Request line.
	f(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("GET / \r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("GET /\r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("GET\r\n\r\n", ErrBadRequestLine)
	f("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine) // too many empty lines
	f("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine)
	f("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadMethod)
	f("GET\x00 / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadMethod)
	f("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ErrBadMethod) // TLS ClientHello, no LF needed
	f("GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET /a\x01", ErrBadTarget)
	f("GET a HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET * HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	// RFC 9112 §3.2: no fragment, and a URI is ASCII; both fail before the line ends.
	f("GET /?a=b#frag HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET /# HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET #", ErrBadTarget)
	f("GET http://a/#x HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET /\x80", ErrBadTarget)
	f("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET http://\xe4.example/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	// Absolute-form: http or https with a non-empty authority, no userinfo (RFC 9112 §3.2.2).
	f("GET foo:bar HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET http:x HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET mailto:a@b HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET httpx://a/x HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", ErrBadTarget)
	f("GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n", ErrBadTarget)
	f("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET https://?q HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET http://:80/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget) // RFC 9110 §4.2.1: empty host
	f("GET http://a\\b/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET http://a\"b/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("GET / HTTP/1.x\r\nHost: a\r\n\r\n", ErrBadVersion)
	f("GET / HTTX/1.1\r\nHost: a\r\n\r\n", ErrBadVersion)
	f("GET / http/1.1\r\nHost: a\r\n\r\n", ErrBadVersion)
	f("GET / HTTP/1.10\r\nHost: a\r\n\r\n", ErrBadVersion)
	f("GET / HTTP/1\r\nHost: a\r\n\r\n", ErrBadVersion)
	f("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", ErrBadVersion)
	f("GET / HTTP/2.0\r\nHost: a\r\n\r\n", ErrVersion)
	f("GET / HTTP/0.9\r\nHost: a\r\n\r\n", ErrVersion)
	f("GET / HTTP/3.0\r\nHost: a\r\n\r\n", ErrVersion)
	f("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ErrHTTP2Preface)
	f("PRI * HTTP/2.0\r\n", ErrHTTP2Preface)

	// Bare LF anywhere.
	f("GET / HTTP/1.1\nHost: a\r\n\r\n", ErrBareLF)
	f("GET / HTTP/1.1\r\nHost: a\n\r\n", ErrBareLF)
	f("GET / HTTP/1.1\r\nHost: a\r\n\n", ErrBareLF)
	f("GET / HTTP/1.1\r\nHost\n: a\r\n\r\n", ErrBareLF)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", ErrBareLF)
	f("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBareLF)
	f("GET\n", ErrBareLF)
	f("GET /\n", ErrBareLF)
	f("GET / \n", ErrBareLF)

	// Field lines.
	f("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", ErrObsFold)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", ErrObsFold)
	f("GET / HTTP/1.1\r\n Host: a\r\n\r\n", ErrObsFold)
	f("GET / HTTP/1.1\r\nHost : a\r\n\r\n", ErrSpaceBeforeColon)
	f("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", ErrSpaceBeforeColon)
	f("GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", ErrBadFieldName)
	f("GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n", ErrBadFieldName)
	f("GET / HTTP/1.1\r\nHost: a\r\nX\xffy: v\r\n\r\n", ErrBadFieldName)
	f("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", ErrBadFieldName)
	f("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n\r\n", ErrBadFieldName)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", ErrBadFieldValue)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", ErrBadFieldValue)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", ErrBadFieldValue)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1bb\r\n\r\n", ErrBadFieldValue)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: \x00", ErrBadFieldValue) // before the line is complete

	// Host (RFC 9112 §3.2).
	f("GET / HTTP/1.1\r\n\r\n", ErrMissingHost)
	f("GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n", ErrDuplicateHost)
	f("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", ErrDuplicateHost)
	f("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ErrBadHost)
	f("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ErrBadHost)
	f("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", ErrBadHost)

	// Connection options.
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: close;x\r\n\r\n", ErrBadFieldValue)
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: "+strings.Repeat("a,", maxConnTokens+1)+"\r\n\r\n", ErrBadFieldValue)
}

func TestParseRequestAccepted(t *testing.T) {
	f := func(in string) {
		t.Helper()
		if _, _, err := parseReq(t, in); err != nil {
			t.Fatalf("ParseRequest(%q): %v", in, err)
		}
	}
	f("GET / HTTP/1.0\r\n\r\n")                                      // Host optional in 1.0
	f("GET / HTTP/1.1\r\nHost:\r\n\r\n")                             // empty Host is valid
	f("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")                  // IP literal
	f("GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n")         // obs-text in values
	f("GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n")                     // empty value
	f("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb  c\r\n\r\n")             // HTAB and SP inside
	f("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")           // four leading empty lines
	f("GET https://a:1/x?y HTTP/1.1\r\nHost: a:1\r\n\r\n")           // absolute-form
	f("GET HtTp://a HTTP/1.1\r\nHost: b\r\n\r\n")                    // scheme in any case, empty path
	f("GET http://[::1]:8080/x HTTP/1.0\r\n\r\n")                    // IP literal authority
	f("GET //a/x HTTP/1.1\r\nHost: a\r\n\r\n")                       // origin-form whose path starts with //
	f("GET /a{b}|c^d\"e\\f`g<h>[i] HTTP/1.1\r\nHost: a\r\n\r\n")     // any VCHAR but "#" in a target
	f("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")                       // asterisk-form
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, close ,\r\n\r\n") // empty list elements
}

func TestParseRequestFields(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost:  a.example \t\r\nX-Empty:\r\nX-Pad: \t v w \t\r\nx-dup: 1\r\nX-Dup: 2\r\n\r\n"
	b := []byte(in)
	var r Request
	if _, err := ParseRequest(b, &r, nil); err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"Host", "a.example"}, {"X-Empty", ""}, {"X-Pad", "v w"}, {"x-dup", "1"}, {"X-Dup", "2"}}
	if r.NHeaders != len(want) {
		t.Fatalf("NHeaders=%d; want %d", r.NHeaders, len(want))
	}
	for i, w := range want {
		f := r.Headers[i]
		if string(f.Name.Bytes(b)) != w[0] || string(f.Value.Bytes(b)) != w[1] || f.Hop {
			t.Fatalf("field %d: %q: %q hop=%v; want %q: %q", i, f.Name.Bytes(b), f.Value.Bytes(b), f.Hop, w[0], w[1])
		}
	}
	if string(r.Host.Bytes(b)) != "a.example" {
		t.Fatalf("Host=%q", r.Host.Bytes(b))
	}
	if v, ok := r.Lookup(b, "X-DUP"); !ok || string(v.Bytes(b)) != "1" {
		t.Fatalf("Lookup(X-DUP)=%q,%v", v.Bytes(b), ok)
	}
	if _, ok := r.Lookup(b, "X-None"); ok {
		t.Fatal("Lookup(X-None) found something")
	}
	if len(r.Fields()) != r.NHeaders {
		t.Fatal("Fields length")
	}
}

func TestParseRequestContentLength(t *testing.T) {
	f := func(in string, wantKind BodyKind, wantLen int64, wantErr error) {
		t.Helper()
		r, _, err := parseReq(t, "POST / HTTP/1.1\r\nHost: a\r\n"+in+"\r\n")
		if !errors.Is(err, wantErr) || (err == nil && (r.Body != wantKind || r.BodyLen != wantLen)) {
			t.Fatalf("%q: got kind=%d len=%d err=%v; want kind=%d len=%d err=%v", in, r.Body, r.BodyLen, err, wantKind, wantLen, wantErr)
		}
	}
	f("", BodyNone, 0, nil)
	f("Content-Length: 5\r\n", BodyLength, 5, nil)
	f("content-LENGTH: 5\r\n", BodyLength, 5, nil)
	f("Content-Length: 0\r\n", BodyNone, 0, nil)
	f("Content-Length: 007\r\n", BodyLength, 7, nil)
	f("Content-Length:  5 \r\n", BodyLength, 5, nil)
	f("Content-Length: 4611686018427387903\r\n", BodyLength, 1<<62-1, nil)
	f("Content-Length: 0010\r\n", BodyLength, 10, nil)
	f("Content-Length: 000000000000000000000000000000000000005\r\n", BodyLength, 5, nil)
	// RFC 9110 §8.6: repeats of the same decimal value, in lines or as a list, are that
	// value; AppendRequestHead forwards it once, canonical.
	f("Content-Length: 5\r\nContent-Length: 5\r\n", BodyLength, 5, nil)
	f("Content-Length: 5\r\nContent-Length: 05\r\n", BodyLength, 5, nil)
	f("Content-Length: 5, 5\r\n", BodyLength, 5, nil)
	f("Content-Length: 5,5 ,\t05\r\nContent-Length: 5\r\n", BodyLength, 5, nil)
	f("Content-Length: 0, 0\r\n", BodyNone, 0, nil)
	f("Content-Length: 5\r\nContent-Length: 6\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 5, 6\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 5,\r\n", 0, 0, ErrBadContentLength) // no empty elements: not a list field
	f("Content-Length: ,5\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 5,,5\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 5;5\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 5, 99999999999999999999\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: +5\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: -5\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 5 5\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 0x5\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 5a\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length:\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 99999999999999999999\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 9223372036854775807\r\n", 0, 0, ErrBadContentLength)
	f("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 0, 0, ErrCLAndTE)
	f("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 0, 0, ErrCLAndTE)
}

func TestParseRequestTransferEncoding(t *testing.T) {
	f := func(in string, wantErr error) {
		t.Helper()
		r, _, err := parseReq(t, "POST / HTTP/1.1\r\nHost: a\r\n"+in+"\r\n")
		if !errors.Is(err, wantErr) || (err == nil && r.Body != BodyChunked) {
			t.Fatalf("%q: got kind=%d err=%v; want chunked err=%v", in, r.Body, err, wantErr)
		}
	}
	f("Transfer-Encoding: chunked\r\n", nil)
	f("Transfer-Encoding: CHUNKED\r\n", nil) // coding names are case-insensitive (RFC 9112 §7)
	f("Transfer-Encoding: Chunked\r\n", nil)
	f("Transfer-Encoding: chunked,\r\n", nil) // empty list elements (RFC 9110 §5.6.1)
	f("Transfer-Encoding: ,,chunked\r\n", nil)
	f("Transfer-Encoding: , chunked,\r\n", nil)
	f("Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n", nil)
	// RFC 9112 §6.3 rule 4: chunked not final is 400, whatever else is listed.
	f("Transfer-Encoding: gzip\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: identity\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: br\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: xchunked\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: chunked, gzip\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: chunked, identity\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: chunked, br\r\n", ErrBadTransferEncoding)
	// RFC 9112 §6.1: chunked at most once.
	f("Transfer-Encoding: chunked, chunked\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: gzip, chunked, chunked\r\n", ErrBadTransferEncoding)
	// Syntax.
	f("Transfer-Encoding:\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: ,\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: chunked;q=1\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: \"chunked\"\r\n", ErrBadTransferEncoding)
	f("Transfer-Encoding: chun ked\r\n", ErrBadTransferEncoding)
	// RFC 9112 §6.1: a coding the server does not implement is 501; loopgate implements
	// only chunked.
	f("Transfer-Encoding: gzip, chunked\r\n", ErrUnknownCoding)
	f("Transfer-Encoding: identity, chunked\r\n", ErrUnknownCoding)
	f("Transfer-Encoding: br, chunked\r\n", ErrUnknownCoding)
	f("Transfer-Encoding: x-gzip,deflate , compress,x-compress, chunked\r\n", ErrUnknownCoding)
	f("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", ErrUnknownCoding)

	// RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
	_, _, err := parseReq(t, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
	if !errors.Is(err, ErrBadTransferEncoding) {
		t.Fatalf("TE in HTTP/1.0: err=%v", err)
	}
	b := []byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , Chunked\r\n\r\n")
	var r Request
	if _, err := ParseRequest(b, &r, nil); err != nil || string(r.TE.Bytes(b)) != ", Chunked" {
		t.Fatalf("TE span %q err=%v", r.TE.Bytes(b), err)
	}
}

func TestParseRequestVersion(t *testing.T) {
	f := func(version string, wantMinor uint8, wantErr error) {
		t.Helper()
		r, _, err := parseReq(t, "GET / "+version+"\r\nHost: a\r\n\r\n")
		if !errors.Is(err, wantErr) || err == nil && r.Minor != wantMinor {
			t.Fatalf("%q: minor=%d err=%v; want minor=%d err=%v", version, r.Minor, err, wantMinor, wantErr)
		}
	}
	f("HTTP/1.0", 0, nil)
	f("HTTP/1.1", 1, nil)
	// RFC 9110 §6.2: a higher minor version is handled as the highest one supported.
	for c := '2'; c <= '9'; c++ {
		f("HTTP/1."+string(c), 1, nil)
	}
	f("HTTP/0.9", 0, ErrVersion)
	f("HTTP/0.0", 0, ErrVersion)
	f("HTTP/2.0", 0, ErrVersion)
	f("HTTP/3.0", 0, ErrVersion)
	f("HTTP/9.9", 0, ErrVersion)
	f("HTTP/1.10", 0, ErrBadVersion)
	f("HTTP/01.1", 0, ErrBadVersion)
	f("HTTP/1", 0, ErrBadVersion)
	f("HTTP/1.", 0, ErrBadVersion)
	f("HTTP/1.a", 0, ErrBadVersion)
	f("HTTP/2", 0, ErrBadVersion)
	f("HTTPS/1.1", 0, ErrBadVersion)

	// HTTP/1.2 keeps the connection open like HTTP/1.1 and needs a Host.
	r, _, err := parseReq(t, "GET / HTTP/1.2\r\n\r\n")
	if !errors.Is(err, ErrMissingHost) {
		t.Fatalf("HTTP/1.2 without Host: err=%v", err)
	}
	if r, _, err = parseReq(t, "GET / HTTP/1.2\r\nHost: a\r\n\r\n"); err != nil || r.Close {
		t.Fatalf("HTTP/1.2: close=%v err=%v", r.Close, err)
	}
}

func TestParseRequestAbsoluteForm(t *testing.T) {
	f := func(in, wantAuthority, wantHost string) {
		t.Helper()
		b := []byte(in)
		var r Request
		if _, err := ParseRequest(b, &r, nil); err != nil {
			t.Fatalf("ParseRequest(%q): %v", in, err)
		}
		if got := string(r.Authority.Bytes(b)); got != wantAuthority {
			t.Fatalf("%q: Authority=%q; want %q", in, got, wantAuthority)
		}
		if got := r.EffectiveHost(b); string(got) != wantHost || (got == nil) != (wantHost == "" && !r.HasHost) {
			t.Fatalf("%q: EffectiveHost=%q; want %q", in, got, wantHost)
		}
	}
	f("GET http://evil.example/x?q HTTP/1.1\r\nHost: good.example\r\n\r\n", "evil.example", "evil.example")
	f("GET https://a.example:8443 HTTP/1.1\r\nHost: a.example:8443\r\n\r\n", "a.example:8443", "a.example:8443")
	f("GET HTTP://A.Example?x HTTP/1.1\r\nHost: b\r\n\r\n", "A.Example", "A.Example")
	f("GET http://[2001:db8::1]:80/ HTTP/1.0\r\n\r\n", "[2001:db8::1]:80", "[2001:db8::1]:80")
	f("GET /x HTTP/1.1\r\nHost: good.example\r\n\r\n", "", "good.example")
	f("GET /x HTTP/1.1\r\nHost:\r\n\r\n", "", "")
	f("GET /x HTTP/1.0\r\n\r\n", "", "")
	f("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "", "a")
	// Host is still checked as RFC 9112 §3.2 requires, even though it is replaced.
	_, _, err := parseReq(t, "GET http://a/ HTTP/1.1\r\n\r\n")
	if !errors.Is(err, ErrMissingHost) {
		t.Fatalf("absolute-form without Host: err=%v", err)
	}
	if _, _, err = parseReq(t, "GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"); !errors.Is(err, ErrDuplicateHost) {
		t.Fatalf("absolute-form with two Hosts: err=%v", err)
	}
}

// TestParseRequestConnect: CONNECT is refused with 405 once its head is known to be valid;
// a malformed one gets its 400 (RFC 9110 §9.3.6, §15.5.6).
func TestParseRequestConnect(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		r, n, err := parseReq(t, in)
		if !errors.Is(err, want) || n != 0 || r.NHeaders != 0 {
			t.Fatalf("ParseRequest(%q): n=%d err=%v; want %v", in, n, err, want)
		}
	}
	f("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", ErrConnect)
	f("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", ErrConnect)
	f("CONNECT a.example:443 HTTP/1.0\r\n\r\n", ErrConnect)
	f("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n", ErrNeedMore)
	f("CONNECT a.example:443 HTTP/1.1\r\n\r\n", ErrMissingHost)
	f("CONNECT a.example:443 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", ErrCLAndTE)
	f("CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("CONNECT http://a.example:443/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget)
	f("connect a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget) // MethodOther: not authority-form
	var e *Error
	if !errors.As(error(ErrConnect), &e) || e.Status != 405 {
		t.Fatal("ErrConnect status")
	}
}

func TestParseRequestClose(t *testing.T) {
	f := func(in string, wantClose, wantExpect bool) {
		t.Helper()
		r, _, err := parseReq(t, in)
		if err != nil || r.Close != wantClose || r.Expect100 != wantExpect {
			t.Fatalf("%q: close=%v expect=%v err=%v; want close=%v expect=%v", in, r.Close, r.Expect100, err, wantClose, wantExpect)
		}
	}
	f("GET / HTTP/1.1\r\nHost: a\r\n\r\n", false, false)
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", true, false)
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", true, false)
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", true, false)
	f("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", false, false)
	f("GET / HTTP/1.0\r\n\r\n", true, false)
	f("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, false)
	f("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", true, false)
	f("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", false, true)
	f("PUT / HTTP/1.1\r\nHost: a\r\nexpect: 100-CONTINUE\r\nContent-Length: 1\r\n\r\n", false, true)
	f("PUT / HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 1\r\n\r\n", false, false)
	f("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", true, false) // RFC 9110 §10.1.1
}

func TestParseRequestHop(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, x-a, X-B, host, content-length\r\n" +
		"Keep-Alive: 5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: websocket\r\n" +
		"X-A: 1\r\nx-b: 2\r\nX-C: 3\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"
	b := []byte(in)
	var r Request
	if _, err := ParseRequest(b, &r, nil); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, f := range r.Fields() {
		if !f.Hop {
			kept = append(kept, string(f.Name.Bytes(b)))
		}
	}
	// Connection-named Host and Content-Length survive: dropping them would change framing.
	if got, want := strings.Join(kept, ","), "Host,X-C,Content-Length"; got != want {
		t.Fatalf("kept %s; want %s", got, want)
	}
}

func TestParseRequestLimits(t *testing.T) {
	f := func(in string, lim Limits, want error) {
		t.Helper()
		var r Request
		_, err := ParseRequest([]byte(in), &r, &lim)
		if !errors.Is(err, want) {
			t.Fatalf("ParseRequest(%.40q, %+v): err=%v; want %v", in, lim, err, want)
		}
	}
	long := "GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\n" // line of 114 bytes without CRLF
	f(long+"Host: a\r\n\r\n", Limits{MaxRequestLine: 114}, nil)
	f(long+"Host: a\r\n\r\n", Limits{MaxRequestLine: 113}, ErrURITooLong)
	// Too long already before the line is complete.
	f("GET /"+strings.Repeat("a", 200), Limits{MaxRequestLine: 100}, ErrURITooLong)
	f("GET /"+strings.Repeat("a", 95), Limits{MaxRequestLine: 100}, ErrNeedMore)
	f("GET /"+strings.Repeat("a", 95)+" HTTP/1.1\r", Limits{MaxRequestLine: 100}, ErrURITooLong)
	f("GET /"+strings.Repeat("a", 86)+" HTTP/1.1\r", Limits{MaxRequestLine: 100}, ErrNeedMore)
	f("GET /"+strings.Repeat("a", 87)+" HTTP/1.1", Limits{MaxRequestLine: 100}, ErrURITooLong)
	f(strings.Repeat("a", 9000), Limits{}, ErrURITooLong) // default 8192

	head := "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 100) + "\r\n\r\n"
	f(head, Limits{MaxHeadBytes: len(head)}, nil)
	f(head, Limits{MaxHeadBytes: len(head) - 1}, ErrHeadTooLarge)
	f(head[:len(head)-2], Limits{MaxHeadBytes: len(head) - 2}, ErrHeadTooLarge) // incomplete, already too big
	f(head[:len(head)-2], Limits{MaxHeadBytes: len(head) - 1}, ErrNeedMore)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: "+strings.Repeat("v", 70000), Limits{}, ErrHeadTooLarge) // default 64 KiB

	many := func(n int) string {
		var sb strings.Builder
		sb.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&sb, "X-%d: v\r\n", i)
		}
		return sb.String() + "\r\n"
	}
	f(many(100), Limits{}, nil)
	f(many(101), Limits{}, ErrTooManyHeaders)
	f(many(5), Limits{MaxHeaders: 5}, nil)
	f(many(6), Limits{MaxHeaders: 5}, ErrTooManyHeaders)
	f(many(128), Limits{MaxHeaders: 1000}, nil) // clamped to MaxHeaders
	f(many(129), Limits{MaxHeaders: 1000}, ErrTooManyHeaders)
	f(many(6)[:len(many(6))-2], Limits{MaxHeaders: 5}, ErrTooManyHeaders) // before the head is complete

	body := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n"
	f(body, Limits{MaxBodyBytes: 1000}, nil)
	f(body, Limits{MaxBodyBytes: 999}, ErrBodyTooLarge)
	f(body, Limits{}, nil)
}

func TestLimitsWithDefaults(t *testing.T) {
	var zero Limits
	if got := zero.WithDefaults(); got != DefaultLimits {
		t.Fatalf("zero.WithDefaults()=%+v; want %+v", got, DefaultLimits)
	}
	l := Limits{MaxRequestLine: 10, MaxHeadBytes: -1, MaxHeaders: 500, MaxChunkLine: 7, MaxBodyBytes: -3, MaxInterim: 2}
	want := Limits{MaxRequestLine: 10, MaxHeadBytes: 65536, MaxHeaders: MaxHeaders, MaxChunkLine: 7, MaxInterim: 2}
	if got := l.WithDefaults(); got != want {
		t.Fatalf("WithDefaults()=%+v; want %+v", got, want)
	}
}

func TestErrorValues(t *testing.T) {
	f := func(err *Error, status int) {
		t.Helper()
		if err.Status != status || !strings.HasPrefix(err.Error(), "codec: ") || err.Reason == "" {
			t.Fatalf("%v: status %d; want %d", err, err.Status, status)
		}
	}
	f(ErrBadRequestLine, 400)
	f(ErrBadTransferEncoding, 400)
	f(ErrBadTarget, 400)
	f(ErrConnect, 405)
	f(ErrVersion, 505)
	f(ErrUnknownCoding, 501)
	f(ErrURITooLong, 414)
	f(ErrHeadTooLarge, 431)
	f(ErrTooManyHeaders, 431)
	f(ErrBodyTooLarge, 413)
	f(ErrBadResponse, 502)
	var e *Error
	if !errors.As(error(ErrBadChunk), &e) || e.Status != 400 {
		t.Fatal("errors.As")
	}
	if (&Error{Status: 400, Reason: "x"}).Error() != "codec: x" {
		t.Fatal("Error() of a literal")
	}
}

// sameRequest reports whether a and b hold the same parse.
func sameRequest(a, b *Request) bool {
	if a.Method != b.Method || a.MethodRaw != b.MethodRaw || a.Target != b.Target || a.Minor != b.Minor ||
		a.Body != b.Body || a.BodyLen != b.BodyLen || a.Close != b.Close || a.Expect100 != b.Expect100 ||
		a.Host != b.Host || a.HasHost != b.HasHost || a.Authority != b.Authority || a.TE != b.TE || a.NHeaders != b.NHeaders {
		return false
	}
	return equalFields(a.Fields(), b.Fields())
}

func equalFields(a, b []Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestParseRequestSplit feeds every valid head in growing prefixes: every proper prefix is
// ErrNeedMore, and the whole head parses like the one-shot parse, however it was split.
func TestParseRequestSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range validRequests {
		b := []byte(in)
		var want Request
		n, err := ParseRequest(b, &want, nil)
		if err != nil || n != len(b) {
			t.Fatalf("ParseRequest(%q): n=%d err=%v", in, n, err)
		}
		var r Request
		// Every proper prefix (byte-at-a-time arrival and every two-way split).
		for i := 0; i < len(b); i++ {
			if n, err := ParseRequest(b[:i], &r, nil); err != ErrNeedMore || n != 0 {
				t.Fatalf("prefix %q of %q: n=%d err=%v; want ErrNeedMore", b[:i], in, n, err)
			}
		}
		// The second half of a split arrives into the same buffer; a fresh copy checks that
		// nothing depends on bytes beyond what was offered.
		for i := 0; i <= len(b); i++ {
			buf := append(append(make([]byte, 0, len(b)), b[:i]...), b[i:]...)
			if n, err := ParseRequest(buf, &r, nil); err != nil || n != len(b) || !sameRequest(&r, &want) {
				t.Fatalf("split %d of %q: n=%d err=%v", i, in, n, err)
			}
		}
		// Seeded random chunks.
		for round := 0; round < 20; round++ {
			var buf []byte
			for off := 0; off < len(b); {
				k := min(1+rng.IntN(16), len(b)-off)
				buf = append(buf, b[off:off+k]...)
				off += k
				n, err := ParseRequest(buf, &r, nil)
				if off < len(b) {
					if err != ErrNeedMore {
						t.Fatalf("chunked arrival of %q at %d: err=%v", in, off, err)
					}
				} else if err != nil || n != len(b) || !sameRequest(&r, &want) {
					t.Fatalf("chunked arrival of %q: n=%d err=%v", in, n, err)
				}
			}
		}
	}
}

// TestParseRequestReuse parses a valid head with the same Request right after each failure.
func TestParseRequestReuse(t *testing.T) {
	bad := []string{
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-1: 1\r\nX-2: 2\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: close, x-a\r\nX-A: 1\r\nX: \x00\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nA: b\r\n",
		"GET http://u@a.example/x HTTP/1.1\r\nHost: a\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\nX: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
	}
	var r Request
	for _, in := range validRequests {
		var want Request
		if _, err := ParseRequest([]byte(in), &want, nil); err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			if _, err := ParseRequest([]byte(b), &r, nil); err == nil {
				t.Fatalf("ParseRequest(%q) succeeded", b)
			}
			if n, err := ParseRequest([]byte(in), &r, nil); err != nil || n != len(in) || !sameRequest(&r, &want) {
				t.Fatalf("after %q, ParseRequest(%q): n=%d err=%v", b, in, n, err)
			}
		}
	}
}

// TestParseRequestQuickScan covers big incomplete heads, which are checked only up to the
// end of the request line until CRLF CRLF arrives.
func TestParseRequestQuickScan(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		if _, _, err := parseReq(t, in); !errors.Is(err, want) {
			t.Fatalf("ParseRequest(%.50q... %d bytes): err=%v; want %v", in, len(in), err, want)
		}
	}
	pad := "X-Pad: " + strings.Repeat("p", 3000) + "\r\n"
	f("GET / HTTP/1.1\r\nHost: a\r\n"+pad, ErrNeedMore)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n"+pad, ErrNeedMore) // reported once the head ends...
	f("GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n"+pad+"\r\n", ErrBadFieldValue)
	f("GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n"+strings.Repeat(pad, 22), ErrHeadTooLarge) // ...or hits the limit
	f("GET / HTTP/1.1\nHost: a\n"+pad, ErrBareLF)                                          // an LF-only client fails at once
	f("GET / HTTP/1.1\r\r\nHost: a\r\n"+pad, ErrBadVersion)
	f("G@T / HTTP/1.1\r\nHost: a\r\n"+pad, ErrBadMethod)
	f("GET /"+strings.Repeat("a", 9000), ErrURITooLong)
	f("GET /"+strings.Repeat("a", 9000)+" HTTP/1.1\r\n"+pad, ErrURITooLong)
	f("PRI * HTTP/2.0\r\n"+pad, ErrHTTP2Preface)

	var r Response
	if _, err := ParseResponse([]byte("HTTP/1.1 200 OK\r\nA: \x00\r\n"+pad), &r, MethodGet, nil); err != ErrNeedMore {
		t.Fatalf("big incomplete response: err=%v", err)
	}
	if _, err := ParseResponse([]byte("HTTP/1.1 20 OK\r\n"+pad), &r, MethodGet, nil); err != ErrBadResponse {
		t.Fatalf("big incomplete response with a bad status line: err=%v", err)
	}
}

// TestParseRequestConnectAllowed: with AllowConnect a valid CONNECT parses, its
// authority-form target kept for the caller to dial; malformed ones still get 400.
func TestParseRequestConnectAllowed(t *testing.T) {
	lim := DefaultLimits
	lim.AllowConnect = true
	f := func(in, wantTarget string, want error) {
		t.Helper()
		var r Request
		n, err := ParseRequest([]byte(in), &r, &lim)
		if !errors.Is(err, want) || err == nil && (n != len(in) || string(r.Target.Bytes([]byte(in))) != wantTarget) {
			t.Fatalf("ParseRequest(%q): n=%d err=%v target=%q; want %v %q", in, n, err, r.Target.Bytes([]byte(in)), want, wantTarget)
		}
	}
	f("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", "a.example:443", nil)
	f("CONNECT [::1]:8443 HTTP/1.0\r\n\r\n", "[::1]:8443", nil)
	f("CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n", "", ErrBadTarget)
	f("CONNECT a.example:443 HTTP/1.1\r\n\r\n", "", ErrMissingHost)
	if got := lim.WithDefaults(); !got.AllowConnect {
		t.Fatal("WithDefaults dropped AllowConnect")
	}
}

// TestParseRequestUpgrade: Upgrade is reported only for an HTTP/1.1 request whose
// Connection lists "upgrade" and that has exactly one Upgrade line (RFC 9110 §7.8);
// both fields stay hop-by-hop.
func TestParseRequestUpgrade(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		var r Request
		b := []byte(in)
		if _, err := ParseRequest(b, &r, nil); err != nil {
			t.Fatalf("ParseRequest(%q): %v", in, err)
		}
		if got := string(r.Upgrade.Bytes(b)); got != want {
			t.Fatalf("ParseRequest(%q): Upgrade=%q; want %q", in, got, want)
		}
		for _, fd := range r.Fields() {
			name := string(fd.Name.Bytes(b))
			if (strings.EqualFold(name, "upgrade") || strings.EqualFold(name, "connection")) && !fd.Hop {
				t.Fatalf("ParseRequest(%q): %s not hop-by-hop", in, name)
			}
		}
	}
	f("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "websocket")
	f("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, upgrade\r\nUpgrade: websocket, foo/2\r\n\r\n", "websocket, foo/2")
	f("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: UPGRADE\r\n\r\n", "websocket")
	f("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", "")                                        // not in Connection
	f("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", "")                                       // no Upgrade
	f("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: a\r\nUpgrade: b\r\n\r\n", "")           // two lines
	f("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade:\r\n\r\n", "")                           // empty
	f("GET /ws HTTP/1.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", "")                 // HTTP/1.0
	f("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: close, upgrade\r\nUpgrade: websocket\r\n\r\n", "websocket") // the caller decides
	// Reuse after a parse with an upgrade: the next request has none.
	var r Request
	b := []byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
	if _, err := ParseRequest(b, &r, nil); err != nil || r.Upgrade.Len == 0 {
		t.Fatalf("first parse: %v", err)
	}
	if _, err := ParseRequest([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), &r, nil); err != nil || r.Upgrade.Len != 0 {
		t.Fatalf("reuse: err=%v Upgrade=%v", err, r.Upgrade)
	}
}
