package codec

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

const simpleResp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"

// validResponses are complete heads that must parse as answers to GET.
var validResponses = []string{
	simpleResp,
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\n",
	"HTTP/1.1 404 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	"HTTP/1.1 200\r\nContent-Length: 2\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n",
	"HTTP/1.1 500 Internal \xffServer\tError\r\nContent-Length: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 10\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	"HTTP/1.2 200 OK\r\nTransfer-Encoding: GZIP,, chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 005\r\n\r\n",
}

func TestParseResponseFraming(t *testing.T) {
	f := func(in string, m Method, wantStatus int, wantKind BodyKind, wantLen int64, wantClose bool) {
		t.Helper()
		var r Response
		n, err := ParseResponse([]byte(in), &r, m, nil)
		if err != nil || n != len(in) || r.Status != wantStatus || r.Body != wantKind || r.BodyLen != wantLen || r.Close != wantClose {
			t.Fatalf("ParseResponse(%q, %d): n=%d err=%v status=%d kind=%d len=%d close=%v; want status=%d kind=%d len=%d close=%v",
				in, m, n, err, r.Status, r.Body, r.BodyLen, r.Close, wantStatus, wantKind, wantLen, wantClose)
		}
	}
	f(simpleResp, MethodGet, 200, BodyLength, 5, false)
	f(simpleResp, MethodHead, 200, BodyNone, 0, false)
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", MethodGet, 200, BodyChunked, 0, false)
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n", MethodPost, 200, BodyChunked, 0, false)
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n", MethodGet, 200, BodyChunked, 0, false) // unknown codings pass through
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", MethodGet, 200, BodyClose, 0, true)           // RFC 9112 §6.3 rule 4
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", MethodHead, 200, BodyNone, 0, false)
	f("HTTP/1.1 200 OK\r\n\r\n", MethodGet, 200, BodyClose, 0, true)
	f("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", MethodGet, 200, BodyNone, 0, false)
	f("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", MethodGet, 200, BodyLength, 7, false)
	f("HTTP/1.1 204 No Content\r\n\r\n", MethodGet, 204, BodyNone, 0, false)
	f("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", MethodGet, 204, BodyNone, 0, false)
	f("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", MethodGet, 304, BodyNone, 0, false)
	f("HTTP/1.1 100 Continue\r\n\r\n", MethodPut, 100, BodyNone, 0, false)
	f("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", MethodGet, 103, BodyNone, 0, false)
	f("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", MethodGet, 101, BodyNone, 0, true)
	f("HTTP/1.1 200 Connection established\r\n\r\n", MethodConnect, 200, BodyNone, 0, true)
	f("HTTP/1.1 407 Proxy Auth\r\nContent-Length: 3\r\n\r\n", MethodConnect, 407, BodyLength, 3, false)
	f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", MethodGet, 200, BodyLength, 5, true)
	f("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", MethodGet, 200, BodyLength, 5, true)
	f("HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\n\r\n", MethodGet, 200, BodyLength, 5, false)
	f("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", MethodGet, 200, BodyClose, 0, true)
	f("HTTP/1.1 599 Whatever\r\nContent-Length: 1\r\n\r\n", MethodGet, 599, BodyLength, 1, false)
	f("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", MethodGet, 200, BodyLength, 1, false)
	f("HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\n", MethodGet, 200, BodyLength, 1, false)
	f("HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n", MethodGet, 200, BodyLength, 1, false) // RFC 9110 §8.6
	f("HTTP/1.1 200 OK\r\nContent-Length: 007\r\nContent-Length: 7\r\n\r\n", MethodGet, 200, BodyLength, 7, false)
	f("HTTP/1.2 200 OK\r\nContent-Length: 1\r\n\r\n", MethodGet, 200, BodyLength, 1, false) // RFC 9110 §6.2: as 1.1
	f("HTTP/1.9 200 OK\r\n\r\n", MethodGet, 200, BodyClose, 0, true)
}

func TestParseResponseCodings(t *testing.T) {
	f := func(te string, wantKind BodyKind, wantOther bool) {
		t.Helper()
		in := "HTTP/1.1 200 OK\r\n" + te + "\r\n"
		var r Response
		if _, err := ParseResponse([]byte(in), &r, MethodGet, nil); err != nil || r.Body != wantKind || r.OtherCodings != wantOther {
			t.Fatalf("%q: kind=%d other=%v err=%v; want kind=%d other=%v", te, r.Body, r.OtherCodings, err, wantKind, wantOther)
		}
	}
	f("Transfer-Encoding: chunked\r\n", BodyChunked, false)
	f("Transfer-Encoding: ,Chunked,\r\n", BodyChunked, false)
	f("Transfer-Encoding: gzip, chunked\r\n", BodyChunked, true)
	f("Transfer-Encoding: br\r\nTransfer-Encoding: chunked\r\n", BodyChunked, true)
	f("Transfer-Encoding: gzip\r\n", BodyClose, true)
	f("Transfer-Encoding: identity\r\n", BodyClose, true)
	f("Content-Length: 3\r\n", BodyLength, false)
	f("", BodyClose, false)
}

func TestParseResponseVersion(t *testing.T) {
	f := func(in string, wantMinor uint8) {
		t.Helper()
		var r Response
		if _, err := ParseResponse([]byte(in), &r, MethodGet, nil); err != nil || r.Minor != wantMinor {
			t.Fatalf("%q: minor=%d err=%v; want %d", in, r.Minor, err, wantMinor)
		}
	}
	f("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0)
	f("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1)
	f("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", 1)
	f("HTTP/1.9 200 OK\r\nContent-Length: 0\r\n\r\n", 1)
}

func TestParseResponseReason(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		b := []byte(in)
		var r Response
		if _, err := ParseResponse(b, &r, MethodGet, nil); err != nil || string(r.Reason.Bytes(b)) != want {
			t.Fatalf("ParseResponse(%q): reason=%q err=%v; want %q", in, r.Reason.Bytes(b), err, want)
		}
	}
	f("HTTP/1.1 200 OK\r\n\r\n", "OK")
	f("HTTP/1.1 200 \r\n\r\n", "")
	f("HTTP/1.1 200\r\n\r\n", "")
	f("HTTP/1.1 200 A  b\tc\r\n\r\n", "A  b\tc")
}

func TestParseResponseErrors(t *testing.T) {
	f := func(in string) {
		t.Helper()
		var r Response
		if n, err := ParseResponse([]byte(in), &r, MethodGet, nil); !errors.Is(err, ErrBadResponse) || n != 0 {
			t.Fatalf("ParseResponse(%q): n=%d err=%v; want ErrBadResponse", in, n, err)
		}
	}
	f("HTTP/2.0 200 OK\r\n\r\n")
	f("HTTP/1.x 200 OK\r\n\r\n")
	f("HTTP/1.10 200 OK\r\n\r\n")
	f("HTTP/1.1 200 OK\n\r\n")
	f("HTTP/1.1 200 OK\r\nA: b\n\r\n")
	f("http/1.1 200 OK\r\n\r\n")
	f("HTTX")         // garbage fails before any LF
	f("\x00\x01\x02") // ditto
	f("\r\nHTTP/1.1 200 OK\r\n\r\n")
	f("HTTP/1.1  200 OK\r\n\r\n")
	f("HTTP/1.1 20 OK\r\n\r\n")
	f("HTTP/1.1 2000 OK\r\n\r\n")
	f("HTTP/1.1 20x OK\r\n\r\n")
	f("HTTP/1.1 099 Low\r\n\r\n")
	f("HTTP/1.1 600 High\r\n\r\n")
	f("HTTP/1.1\r\n\r\n")
	f("HTTP/1.1 200 O\x00K\r\n\r\n")
	f("HTTP/1.1 200 O\rK\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
	f("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
	f("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nContent-Length: 1,2\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nContent-Length: 1,\r\n\r\n")
	// Chunked not final on a close-delimited body cannot be re-chunked canonically.
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nA : b\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nA@: b\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nA: b\x00\r\n\r\n")
	f("HTTP/1.1 200 OK\r\nConnection: a b\r\n\r\n")
	f("HTTP/1.1 200 OK\r\n" + strings.Repeat("A: b\r\n", 101) + "\r\n")
	f("HTTP/1.1 200 OK\r\nA: " + strings.Repeat("b", 70000)) // over MaxHeadBytes before complete
}

func TestParseResponseHop(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nConnection: x-a\r\nX-A: 1\r\nKeep-Alive: 5\r\nTransfer-Encoding: chunked\r\nUpgrade: h2\r\nX-B: 2\r\n\r\n"
	b := []byte(in)
	var r Response
	if _, err := ParseResponse(b, &r, MethodGet, nil); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, f := range r.Fields() {
		if !f.Hop {
			kept = append(kept, string(f.Name.Bytes(b)))
		}
	}
	if got := strings.Join(kept, ","); got != "X-B" {
		t.Fatalf("kept %s; want X-B", got)
	}
	if v, ok := r.Lookup(b, "x-a"); !ok || string(v.Bytes(b)) != "1" {
		t.Fatal("Lookup(x-a)")
	}
	if string(r.TE.Bytes(b)) != "chunked" {
		t.Fatalf("TE=%q", r.TE.Bytes(b))
	}
}

func sameResponse(a, b *Response) bool {
	return a.Status == b.Status && a.Reason == b.Reason && a.Minor == b.Minor && a.Body == b.Body &&
		a.BodyLen == b.BodyLen && a.Close == b.Close && a.TE == b.TE && a.OtherCodings == b.OtherCodings &&
		a.clen == b.clen && equalFields(a.Fields(), b.Fields())
}

func TestParseResponseSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, in := range validResponses {
		b := []byte(in)
		var want, r Response
		if n, err := ParseResponse(b, &want, MethodGet, nil); err != nil || n != len(b) {
			t.Fatalf("ParseResponse(%q): n=%d err=%v", in, n, err)
		}
		for i := 0; i < len(b); i++ {
			if n, err := ParseResponse(b[:i], &r, MethodGet, nil); err != ErrNeedMore || n != 0 {
				t.Fatalf("prefix %q: n=%d err=%v; want ErrNeedMore", b[:i], n, err)
			}
		}
		for round := 0; round < 20; round++ {
			var buf []byte
			for off := 0; off < len(b); {
				k := min(1+rng.IntN(16), len(b)-off)
				buf = append(buf, b[off:off+k]...)
				off += k
				n, err := ParseResponse(buf, &r, MethodGet, nil)
				if off < len(b) {
					if err != ErrNeedMore {
						t.Fatalf("chunked arrival of %q at %d: err=%v", in, off, err)
					}
				} else if err != nil || n != len(b) || !sameResponse(&r, &want) {
					t.Fatalf("chunked arrival of %q: n=%d err=%v", in, n, err)
				}
			}
		}
	}
}

func TestParseResponseReuse(t *testing.T) {
	bad := "HTTP/1.1 200 OK\r\nConnection: close\r\nA: 1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	var r Response
	for _, in := range validResponses {
		var want Response
		if _, err := ParseResponse([]byte(in), &want, MethodGet, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseResponse([]byte(bad), &r, MethodGet, nil); err == nil {
			t.Fatal("bad response parsed")
		}
		if n, err := ParseResponse([]byte(in), &r, MethodGet, nil); err != nil || n != len(in) || !sameResponse(&r, &want) {
			t.Fatalf("after failure, ParseResponse(%q): n=%d err=%v", in, n, err)
		}
	}
}
