package codec

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"strconv"
	"testing"
)

// reparseLimits is what the fuzz targets re-parse writer output with: the writers add up to
// five fields and a few hundred bytes to any head.
var reparseLimits = Limits{MaxHeaders: MaxHeaders, MaxHeadBytes: 2 * defaultMaxHeadBytes, MaxRequestLine: defaultMaxRequestLine}

func FuzzParseRequest(f *testing.F) {
	for _, s := range validRequests {
		f.Add([]byte(s))
	}
	for _, s := range oracleRequests {
		f.Add([]byte(s))
	}
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Add([]byte("GET http://u@h:1/ HTTP/1.0\r\n\r\n"))
	for _, s := range canonicalRequests {
		f.Add([]byte(s))
	}
	f.Add([]byte("GET /#x HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("GET mailto:a@b HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.3\r\nHost: a\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		n, err := ParseRequest(b, &r, nil)
		if err != nil {
			if n != 0 {
				t.Fatalf("n=%d with err=%v", n, err)
			}
			var e *Error
			if err != ErrNeedMore && !errors.As(err, &e) {
				t.Fatalf("unexpected error type %T", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("n=%d, len=%d", n, len(b))
		}
		var r2 Request
		if n2, err := ParseRequest(b[:n], &r2, nil); err != nil || n2 != n || !sameRequest(&r, &r2) {
			t.Fatalf("ParseRequest(b[:n]) differs: n=%d err=%v", n2, err)
		}
		for i := range r.Fields() {
			f := r.Headers[i]
			if int(f.Name.Off+f.Name.Len) > n || int(f.Value.Off+f.Value.Len) > n {
				t.Fatalf("field %d out of the head", i)
			}
		}
		// Whenever net/http accepts the head too, it frames the body the same way.
		if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n]))); err == nil {
			kind, length := BodyNone, max(req.ContentLength, 0)
			switch {
			case req.ContentLength < 0:
				kind, length = BodyChunked, 0
			case req.ContentLength > 0:
				kind = BodyLength
			}
			if r.Body != kind || r.BodyLen != length || r.Close != req.Close {
				t.Fatalf("%q: kind=%d len=%d close=%v; net/http kind=%d len=%d close=%v", b[:n], r.Body, r.BodyLen, r.Close, kind, length, req.Close)
			}
		}
		out := AppendRequestHead(nil, b, &r, &testForward)
		if bound := 2*n + len(testForward.ClientIP) + len(testForward.Proto) + 256; len(out) > bound {
			t.Fatalf("writer output %d bytes over the documented bound %d", len(out), bound)
		}
		var r3 Request
		n3, err := ParseRequest(out, &r3, &reparseLimits)
		if err != nil || n3 != len(out) {
			t.Fatalf("writer output does not re-parse: err=%v\n%q\n%q", err, b[:n], out)
		}
		target := wantOrigin(string(r.MethodRaw.Bytes(b)), string(r.Target.Bytes(b)))
		if r3.Method != r.Method || string(r3.Target.Bytes(out)) != target || r3.Authority.Len != 0 ||
			r3.Body != r.Body || r3.BodyLen != r.BodyLen || r3.Minor != 1 ||
			!bytes.Equal(r3.EffectiveHost(out), r.EffectiveHost(b)) {
			t.Fatalf("writer output re-parses differently:\n%q\n%q", b[:n], out)
		}
		// Canonical framing fields: one Content-Length in plain decimal, Transfer-Encoding
		// exactly "chunked".
		for _, f := range r3.Fields() {
			v := string(f.Value.Bytes(out))
			switch f.kind {
			case kindContentLength:
				if f.Hop || v != strconv.FormatInt(r.BodyLen, 10) {
					t.Fatalf("Content-Length forwarded as %q (hop %v)\n%q", v, f.Hop, out)
				}
			case kindTransferEncoding:
				if v != "chunked" {
					t.Fatalf("Transfer-Encoding forwarded as %q\n%q", v, out)
				}
			}
		}
		// Whenever net/http takes what we forward, it reads what we parsed.
		if req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(out))); err == nil {
			cl := r.BodyLen
			if r.Body == BodyChunked {
				cl = -1
			}
			if req.RequestURI != target || req.ContentLength != cl || req.Host != string(r.EffectiveHost(b)) {
				t.Fatalf("net/http reads %q as %s host=%q cl=%d\n%q", out, req.RequestURI, req.Host, req.ContentLength, b[:n])
			}
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range validResponses {
		f.Add([]byte(s), uint8(MethodGet))
	}
	for _, tc := range oracleResponses {
		f.Add([]byte(tc.head), uint8(methodOf([]byte(tc.method))))
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), uint8(MethodGet))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"), uint8(MethodConnect))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), uint8(MethodGet))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: GZIP,,Chunked\r\n\r\n"), uint8(MethodGet))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 007, 7\r\n\r\n"), uint8(MethodHead))
	f.Add([]byte("HTTP/1.5 200 OK\r\nTransfer-Encoding: br\r\n\r\n"), uint8(MethodGet))
	f.Fuzz(func(t *testing.T, b []byte, mb uint8) {
		m := Method(mb % (uint8(MethodPatch) + 1))
		var r Response
		n, err := ParseResponse(b, &r, m, nil)
		if err != nil {
			if n != 0 || err != ErrNeedMore && err != ErrBadResponse {
				t.Fatalf("n=%d err=%v", n, err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("n=%d, len=%d", n, len(b))
		}
		var r2 Response
		if n2, err := ParseResponse(b[:n], &r2, m, nil); err != nil || n2 != n || !sameResponse(&r, &r2) {
			t.Fatalf("ParseResponse(b[:n]) differs: n=%d err=%v", n2, err)
		}
		if m != MethodConnect && m != MethodOther {
			req := &http.Request{Method: methodName[m]}
			if resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b[:n])), req); err == nil {
				kind, length := BodyNone, resp.ContentLength
				switch {
				case m == MethodHead || resp.StatusCode < 200 || resp.StatusCode == 204 || resp.StatusCode == 304:
					length = 0
				case len(resp.TransferEncoding) > 0:
					kind, length = BodyChunked, 0
				case resp.ContentLength > 0:
					kind = BodyLength
				case resp.ContentLength < 0:
					kind, length = BodyClose, 0
				}
				if r.Body != kind || r.BodyLen != length || r.Close != resp.Close && r.Status != 101 {
					t.Fatalf("%s %q: kind=%d len=%d close=%v; net/http kind=%d len=%d close=%v",
						req.Method, b[:n], r.Body, r.BodyLen, r.Close, kind, length, resp.Close)
				}
			}
		}
		rf := ResponseFraming{Chunked: r.Body == BodyChunked, Close: r.Close}
		out := AppendResponseHead(nil, b, &r, rf)
		var r3 Response
		n3, err := ParseResponse(out, &r3, m, &reparseLimits)
		if err != nil || n3 != len(out) {
			t.Fatalf("writer output does not re-parse: err=%v\n%q\n%q", err, b[:n], out)
		}
		if r3.Status != r.Status || r3.Body != r.Body || r3.BodyLen != r.BodyLen || r3.Close != r.Close ||
			r3.clen != r.clen || r3.OtherCodings != r.OtherCodings && rf.Chunked {
			t.Fatalf("writer output re-parses differently:\n%q\n%q\n%+v", b[:n], out, r3)
		}
		// To an HTTP/1.0 client: never Transfer-Encoding (RFC 9112 §6.1), the same length.
		out = AppendResponseHead(out[:0], b, &r, ResponseFraming{HTTP10: true, Close: true})
		if n3, err = ParseResponse(out, &r3, m, &reparseLimits); err != nil || n3 != len(out) {
			t.Fatalf("HTTP/1.0 output does not re-parse: err=%v\n%q\n%q", err, b[:n], out)
		}
		for _, f := range r3.Fields() {
			if f.kind == kindTransferEncoding {
				t.Fatalf("Transfer-Encoding sent to an HTTP/1.0 client:\n%q\n%q", b[:n], out)
			}
		}
		if r3.clen != r.clen || r.Body == BodyLength && (r3.Body != BodyLength || r3.BodyLen != r.BodyLen) {
			t.Fatalf("HTTP/1.0 output frames differently:\n%q\n%q", b[:n], out)
		}
	})
}

func FuzzChunked(f *testing.F) {
	for _, tc := range validBodies {
		f.Add([]byte(tc[0]), uint8(3))
	}
	f.Add([]byte("5\nhello\r\n0\r\n\r\n"), uint8(1))
	f.Add([]byte("-1\r\n"), uint8(1))
	f.Add([]byte("0\r\nX: a\r\n b\r\n\r\n"), uint8(2))
	f.Add([]byte("0005 ;a=\"b\"\r\nhello\r\n000;x\r\nHost: x\r\nX-Sum: 1\r\n\r\n"), uint8(4))
	f.Add([]byte("10000000001\r\n"), uint8(1))
	f.Add([]byte("00000000000000001\r\nx\r\n0\r\n\r\n"), uint8(1))
	rng := rand.New(rand.NewPCG(9, 10))
	for range 8 {
		body, _, _ := randomChunkedBody(rng)
		f.Add(body, uint8(rng.IntN(256)))
	}
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		var c Chunked
		whole, n, err := decodeChunked(&c, b, nil, func() int { return len(b) })
		if err != nil {
			if err != ErrNeedMore && err != ErrBadChunk {
				t.Fatalf("err=%v", err)
			}
			return
		}
		if n <= 0 || n > len(b) || !c.Done() || c.Payload() != int64(len(whole)) {
			t.Fatalf("n=%d done=%v payload=%d", n, c.Done(), c.Payload())
		}
		// The same body in pieces decodes the same.
		var c2 Chunked
		// Offering few bytes at a time re-scans a partial line on every call; keep that
		// quadratic cost bounded for long inputs so minimization stays fast.
		k := 1 + int(step%16) + len(b)/32
		pieces, n2, err := decodeChunked(&c2, b, nil, func() int { return k })
		if err != nil || n2 != n || !bytes.Equal(pieces, whole) {
			t.Fatalf("in pieces of %d: n=%d err=%v payload %q; whole %q", k, n2, err, pieces, whole)
		}
		// Whatever we accept, Go's chunked reader reads to the same payload (it is laxer in
		// places but rejects BWS before ";" and floods of extension bytes).
		if want, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(b[:n]))); err == nil && !bytes.Equal(want, whole) {
			t.Fatalf("payload %q; httputil %q", whole, want)
		}
		// Re-framed as the engine does, whole or in pieces, it is canonical, a fixed point,
		// and Go's chunked reader always takes it, with the same payload.
		out, n3, err := reframe(b, nil, func() int { return len(b) })
		if err != nil || n3 != n {
			t.Fatalf("reframe: n=%d err=%v", n3, err)
		}
		if outK, _, err := reframe(b, nil, func() int { return k }); err != nil || !bytes.Equal(outK, out) {
			t.Fatalf("reframe in pieces of %d: %q, %v; whole %q", k, outK, err, out)
		}
		checkCanonicalFraming(t, out)
		if again, _, err := reframe(out, nil, func() int { return len(out) }); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-framing %q gives %q, %v", out, again, err)
		}
		if got, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(out))); err != nil || !bytes.Equal(got, whole) {
			t.Fatalf("httputil on re-framed %q: %q, %v; want %q", out, got, err, whole)
		}
	})
}

var methodName = [...]string{MethodGet: "GET", MethodHead: "HEAD", MethodPost: "POST", MethodPut: "PUT",
	MethodDelete: "DELETE", MethodConnect: "CONNECT", MethodOptions: "OPTIONS", MethodTrace: "TRACE", MethodPatch: "PATCH"}
