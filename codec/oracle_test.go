package codec

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

// The differential oracle: on valid inputs our framing (body kind, length, close) agrees with
// net/http, and our chunked payload with httputil.NewChunkedReader.

var oracleRequests = append([]string{
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\nConnection: keep-alive\r\n\r\n",
	"POST / HTTP/1.0\r\nContent-Length: 42\r\n\r\n",
	"POST / HTTP/1.0\r\nContent-Length: 42\r\nConnection: keep-alive\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\nUpgrade: foo\r\n\r\n",
	"DELETE /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n",
}, validRequests...)

func TestOracleRequest(t *testing.T) {
	for _, in := range oracleRequests {
		var r Request
		if _, err := ParseRequest([]byte(in), &r, nil); err != nil {
			t.Fatalf("ParseRequest(%q): %v", in, err)
		}
		// net/http's ReadRequest does not skip leading empty lines (its server loop does).
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.TrimLeft(in, "\r\n"))))
		if err != nil {
			// net/http refuses a few heads we accept on purpose: Transfer-Encoding as a
			// list or in several lines, Content-Length as a list of one value or repeated
			// in different spellings (RFC 9110 §5.6.1, §8.6). Our writer sends those in
			// canonical form; TestOracleRequestHead checks that net/http takes that.
			if r.Body == BodyChunked || clSpelledTwice([]byte(in), &r) {
				continue
			}
			t.Fatalf("http.ReadRequest(%q): %v", in, err)
		}
		var kind BodyKind
		switch {
		case len(req.TransferEncoding) > 0 && req.TransferEncoding[len(req.TransferEncoding)-1] == "chunked":
			kind = BodyChunked
		case req.ContentLength > 0:
			kind = BodyLength
		}
		wantLen := max(req.ContentLength, 0)
		// net/http takes the host of an absolute-form target as we do (RFC 9112 §3.2.2), and
		// keeps a minor version over 1, which we read as 1 (RFC 9110 §6.2).
		host := r.EffectiveHost([]byte(in))
		if r.Body != kind || r.BodyLen != wantLen || r.Close != req.Close || r.Minor != uint8(min(req.ProtoMinor, 1)) ||
			string(host) != req.Host {
			t.Fatalf("%q: got kind=%d len=%d close=%v host=%q; net/http kind=%d len=%d close=%v host=%q",
				in, r.Body, r.BodyLen, r.Close, host, kind, wantLen, req.Close, req.Host)
		}
	}
}

// clSpelledTwice reports whether r's Content-Length came as a list or as lines that differ
// in spelling, which net/http refuses.
func clSpelledTwice(b []byte, r *Request) bool {
	var first []byte
	for _, f := range r.Fields() {
		if f.kind != kindContentLength {
			continue
		}
		v := f.Value.Bytes(b)
		if bytes.IndexByte(v, ',') >= 0 || first != nil && !bytes.Equal(v, first) {
			return true
		}
		first = v
	}
	return false
}

// wantOrigin is the request-target AppendRequestHead must send for target, worked out
// here without the codec: origin-form for an absolute-form target, "/" for its empty path,
// "*" for OPTIONS with neither path nor query (RFC 9112 §3.2.2, §3.2.4).
func wantOrigin(method, target string) string {
	i := strings.Index(target, "://")
	if target[0] == '/' || i < 0 {
		return target
	}
	rest := target[i+3:]
	j := strings.IndexAny(rest, "/?")
	switch {
	case j < 0 && method == "OPTIONS":
		return "*"
	case j < 0:
		return "/"
	case rest[j] == '?':
		return "/" + rest[j:]
	}
	return rest[j:]
}

// canonicalRequests are heads we accept in a spelling a backend might read differently; the
// head we forward must be canonical.
var canonicalRequests = []string{
	"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
	"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0005\r\nX: 1\r\nContent-Length: 5\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 00\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,CHUNKED,\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n",
	"GET http://evil.example/x?q HTTP/1.1\r\nHost: good.example\r\n\r\n",
	"GET HTTPS://evil.example:8443 HTTP/1.1\r\nHost: good.example\r\nX-Forwarded-Host: spoof\r\n\r\n",
	"OPTIONS http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n",
	"OPTIONS http://a.example?x HTTP/1.1\r\nHost: a.example\r\n\r\n",
	"POST http://b.example HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
	"GET / HTTP/1.5\r\nHost: a\r\n\r\n",
	"DELETE /x HTTP/1.9\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
}

// TestOracleRequestHead sends what AppendRequestHead writes, followed by a body and a second
// request, to net/http: it must read the method, target, host and body framing we parsed,
// the same payload, and then exactly the second request, so that nothing we forward can be
// split into requests other than the ones we saw (RFC 9112 §11.2).
func TestOracleRequestHead(t *testing.T) {
	const next = "GET /next HTTP/1.1\r\nHost: n\r\n\r\n"
	// A chunked body in a spelling net/http refuses (BWS before ";"), with a trailer that
	// must be dropped.
	rawBody := []byte("005 ;a=b\r\nhello\r\n0006\r\n world\r\n00;x\r\nX-Sum: 1\r\nContent-Length: 99\r\n\r\n")
	inputs := append(append([]string{}, oracleRequests...), canonicalRequests...)
	for _, in := range inputs {
		b := []byte(in)
		var r Request
		if _, err := ParseRequest(b, &r, nil); err != nil {
			t.Fatalf("ParseRequest(%q): %v", in, err)
		}
		stream := AppendRequestHead(nil, b, &r, &testForward)
		var payload []byte
		switch r.Body {
		case BodyLength:
			payload = bytes.Repeat([]byte("p"), int(r.BodyLen))
			stream = append(stream, payload...)
		case BodyChunked:
			out, _, err := reframe(rawBody, nil, func() int { return 3 })
			if err != nil {
				t.Fatal(err)
			}
			payload = []byte("hello world")
			stream = append(stream, out...)
		}
		stream = append(stream, next...)

		br := bufio.NewReader(bytes.NewReader(stream))
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("%q: net/http refuses what we forward: %v\n%s", in, err, stream)
		}
		wantTarget := wantOrigin(string(r.MethodRaw.Bytes(b)), string(r.Target.Bytes(b)))
		wantCL := r.BodyLen
		if r.Body == BodyChunked {
			wantCL = -1
		}
		if req.Method != string(r.MethodRaw.Bytes(b)) || req.RequestURI != wantTarget ||
			req.Host != string(r.EffectiveHost(b)) || req.ContentLength != wantCL || req.ProtoMinor != 1 {
			t.Fatalf("%q: net/http reads %s %s host=%q cl=%d minor=%d; we parsed target %q host=%q cl=%d\n%s",
				in, req.Method, req.RequestURI, req.Host, req.ContentLength, req.ProtoMinor, wantTarget,
				r.EffectiveHost(b), wantCL, stream)
		}
		if cl := req.Header.Values("Content-Length"); r.Body == BodyChunked && len(cl) != 0 ||
			r.Body != BodyChunked && len(cl) > 1 {
			t.Fatalf("%q: Content-Length forwarded as %q", in, cl)
		}
		if te := req.TransferEncoding; r.Body == BodyChunked && (len(te) != 1 || te[0] != "chunked") {
			t.Fatalf("%q: Transfer-Encoding forwarded as %q", in, te)
		}
		got, err := io.ReadAll(req.Body)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%q: net/http reads body %q, %v; want %q", in, got, err, payload)
		}
		if r.Body == BodyChunked && (req.Trailer.Get("X-Sum") != "1" || req.Trailer.Get("Content-Length") != "") {
			t.Fatalf("%q: trailers %v", in, req.Trailer)
		}
		if req2, err := http.ReadRequest(br); err != nil || req2.RequestURI != "/next" {
			t.Fatalf("%q: the request after it is not read as sent: %v\n%s", in, err, stream)
		}
	}
}

var oracleResponses = []struct {
	method string
	head   string
}{
	{"GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
	{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"},
	{"GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"GET", "HTTP/1.1 200 OK\r\n\r\n"},
	{"GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	{"GET", "HTTP/1.1 204 No Content\r\n\r\n"},
	{"GET", "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"},
	{"GET", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"},
	{"GET", "HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\n"},
	{"GET", "HTTP/1.0 200 OK\r\nContent-Length: 9\r\nConnection: keep-alive\r\n\r\n"},
	{"GET", "HTTP/1.0 200 OK\r\n\r\n"},
	{"POST", "HTTP/1.1 201 Created\r\nLocation: /x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"},
	{"GET", "HTTP/1.1 500 Oops\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n"},
}

func TestOracleResponse(t *testing.T) {
	for _, tc := range oracleResponses {
		var r Response
		m := methodOf([]byte(tc.method))
		if _, err := ParseResponse([]byte(tc.head), &r, m, nil); err != nil {
			t.Fatalf("ParseResponse(%q): %v", tc.head, err)
		}
		req, _ := http.NewRequest(tc.method, "http://a/", nil)
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(tc.head)), req)
		if err != nil {
			t.Fatalf("http.ReadResponse(%q): %v", tc.head, err)
		}
		noBody := tc.method == "HEAD" || resp.StatusCode < 200 || resp.StatusCode == 204 || resp.StatusCode == 304
		var kind BodyKind
		switch {
		case noBody:
		case len(resp.TransferEncoding) > 0:
			kind = BodyChunked
		case resp.ContentLength > 0:
			kind = BodyLength
		case resp.ContentLength < 0:
			kind = BodyClose
		}
		wantLen := resp.ContentLength
		if kind != BodyLength {
			wantLen = 0
		}
		if r.Status != resp.StatusCode || r.Body != kind || r.BodyLen != wantLen || r.Close != resp.Close {
			t.Fatalf("%s %q: got status=%d kind=%d len=%d close=%v; net/http status=%d kind=%d len=%d close=%v",
				tc.method, tc.head, r.Status, r.Body, r.BodyLen, r.Close, resp.StatusCode, kind, wantLen, resp.Close)
		}
	}
}

func TestOracleChunked(t *testing.T) {
	bodies := [][2]string{}
	bodies = append(bodies, validBodies...)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000)
	var sb strings.Builder
	for i := 0; i < len(big); i += 1000 {
		sb.Write(AppendChunkHeader(nil, 1000))
		sb.Write(big[i : i+1000])
		sb.WriteString("\r\n")
	}
	sb.WriteString(LastChunk)
	bodies = append(bodies, [2]string{sb.String(), string(big)})
	for _, tc := range bodies {
		want, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(tc[0])))
		if err != nil {
			// httputil rejects BWS before ";", which RFC 9112 §7.1.1 allows.
			if strings.Contains(tc[0], " ;") {
				continue
			}
			t.Fatalf("NewChunkedReader(%q): %v", tc[0], err)
		}
		var c Chunked
		b := []byte(tc[0])
		got, _, err := decodeChunked(&c, b, nil, func() int { return 7 })
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%.60q: payload %.60q err=%v; httputil %.60q", tc[0], got, err, want)
		}
	}
}
