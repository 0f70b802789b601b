package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

// validBodies are complete chunked bodies with their payloads.
var validBodies = [][2]string{
	{"0\r\n\r\n", ""},
	{"5\r\nhello\r\n0\r\n\r\n", "hello"},
	{"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
	{"a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij"},
	{"005\r\nhello\r\n000\r\n\r\n", "hello"},
	{"5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello"},
	{"5 ;a=\"q s\";b\r\nhello\r\n0\r\n\r\n", "hello"},
	{"3\r\n\r\n\r\r\n0\r\n\r\n", "\r\n\r"},
	{"5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: abc \r\n\r\n", "hello"},
	{"1\r\n\x00\r\n0\r\n\r\n", "\x00"},
}

// decodeChunked runs c over body, offering at most step bytes of what is unconsumed after
// each call (growing the offer on ErrNeedMore), and returns the payload and bytes consumed.
func decodeChunked(c *Chunked, body []byte, lim *Limits, step func() int) (payload []byte, consumed int, err error) {
	avail := min(len(body), step())
	for !c.Done() {
		n, data, err := c.Next(body[consumed:avail], lim)
		if err == ErrNeedMore {
			if n != 0 {
				return nil, 0, errors.New("ErrNeedMore with n != 0")
			}
			if avail == len(body) {
				return payload, consumed, err
			}
			avail = min(len(body), avail+step())
			continue
		}
		if err != nil {
			return payload, consumed, err
		}
		if n <= 0 || consumed+n > avail {
			return nil, 0, errors.New("Next consumed nothing, or more than offered")
		}
		if data {
			payload = append(payload, body[consumed:consumed+n]...)
		}
		consumed += n
	}
	return payload, consumed, nil
}

func TestChunkedValid(t *testing.T) {
	for _, tc := range validBodies {
		var c Chunked
		body := []byte(tc[0] + "GET / HTTP/1.1\r\n") // the next request must stay unconsumed
		payload, n, err := decodeChunked(&c, body, nil, func() int { return len(body) })
		if err != nil || string(payload) != tc[1] || n != len(tc[0]) || !c.Done() || c.Payload() != int64(len(tc[1])) {
			t.Fatalf("%q: payload=%q n=%d done=%v err=%v; want %q n=%d", tc[0], payload, n, c.Done(), err, tc[1], len(tc[0]))
		}
		if n, data, err := c.Next(body[n:], nil); n != 0 || data || err != nil {
			t.Fatalf("%q: Next after Done: n=%d data=%v err=%v", tc[0], n, data, err)
		}
	}
}

func TestChunkedPieces(t *testing.T) {
	// Framing and data come back piece by piece; data in as many pieces as it arrives.
	var c Chunked
	b := []byte("5;x\r\nhel")
	steps := []struct {
		n    int
		data bool
		err  error
	}{{5, false, nil}, {3, true, nil}, {0, false, ErrNeedMore}}
	for i, s := range steps {
		n, data, err := c.Next(b, nil)
		if n != s.n || data != s.data || err != s.err {
			t.Fatalf("step %d: n=%d data=%v err=%v; want %+v", i, n, data, err, s)
		}
		b = b[n:]
	}
	b = []byte("lo\r")
	if n, data, err := c.Next(b, nil); n != 2 || !data || err != nil {
		t.Fatalf("rest of data: n=%d data=%v err=%v", n, data, err)
	}
	if n, _, err := c.Next(b[2:], nil); n != 0 || err != ErrNeedMore {
		t.Fatalf("lone CR: n=%d err=%v", n, err)
	}
	if n, data, err := c.Next([]byte("\r\n0\r\n"), nil); n != 2 || data || err != nil {
		t.Fatalf("CRLF: n=%d data=%v err=%v", n, data, err)
	}
	if n, data, err := c.Next([]byte("0\r\n"), nil); n != 3 || data || err != nil || c.Done() {
		t.Fatalf("last chunk: n=%d data=%v err=%v", n, data, err)
	}
	if n, data, err := c.Next([]byte("\r\n"), nil); n != 2 || data || err != nil || !c.Done() {
		t.Fatalf("final CRLF: n=%d data=%v err=%v", n, data, err)
	}
	c.Reset()
	if c.Done() || c.Payload() != 0 {
		t.Fatal("Reset")
	}
}

func TestChunkedErrors(t *testing.T) {
	f := func(body string, lim Limits) {
		t.Helper()
		var c Chunked
		b := []byte(body)
		_, _, err := decodeChunked(&c, b, &lim, func() int { return len(b) })
		if !errors.Is(err, ErrBadChunk) {
			t.Fatalf("%q: err=%v; want ErrBadChunk", body, err)
		}
		// The failure latches.
		if _, _, err := c.Next([]byte("0\r\n\r\n"), &lim); !errors.Is(err, ErrBadChunk) {
			t.Fatalf("%q: Next after failure: err=%v", body, err)
		}
	}
	f("\r\n", Limits{})
	f("-5\r\nhello\r\n0\r\n\r\n", Limits{})
	f("+5\r\nhello\r\n0\r\n\r\n", Limits{})
	f("0x5\r\nhello\r\n0\r\n\r\n", Limits{})
	f("g\r\n", Limits{})
	f("5 5\r\nhello\r\n", Limits{})
	f(";ext\r\n", Limits{})
	f("5\nhello\r\n0\r\n\r\n", Limits{})
	f("5\r\nhello\n0\r\n\r\n", Limits{})
	f("5\r\nhelloXY0\r\n\r\n", Limits{})
	f("5\r\nhello\rX", Limits{})
	f("5\r\nhello0\r\n\r\n", Limits{})
	f("5;a\x00b\r\nhello\r\n", Limits{})
	f("5;a\rb\r\nhello\r\n", Limits{})
	f("5 \r\nhello\r\n", Limits{}) // BWS without an extension (RFC 9112 §7.1.1)
	f("5\t\r\nhello\r\n", Limits{})
	f("5\r\r\nhello\r\n", Limits{})
	f("4000000000000000\r\n", Limits{})                                            // 2^62
	f("10000000000000000\r\n", Limits{})                                           // 2^64
	f("ffffffffffffffffff\r\n", Limits{})                                          // overflow
	f("10000000001\r\n", Limits{})                                                 // 2^40 + 1
	f("20000000000\r\n", Limits{})                                                 // 2^41
	f("10000000001", Limits{})                                                     // ... fails before its LF
	f("00000000000000005\r\n", Limits{})                                           // 17 digits
	f("00000000000000000\r\n\r\n", Limits{})                                       // 17 digits, last chunk
	f("00000000000000000", Limits{})                                               // ... fails before its LF
	f("000000000000000000000000000000001;x\r\nx\r\n0\r\n\r\n", Limits{})           // leading zeros count
	f("0\r\n\n", Limits{})                                                         // bare LF ends the trailer section
	f("0\r\n\rX", Limits{})                                                        // bare CR
	f("0\r\nX: a\n\r\n", Limits{})                                                 // bare LF in a trailer
	f("0\r\nX : a\r\n\r\n", Limits{})                                              // trailer field syntax
	f("0\r\nX: a\r\n b\r\n\r\n", Limits{})                                         // obs-fold in trailers
	f("0\r\nX: a\x00\r\n\r\n", Limits{})                                           // CTL in a trailer value
	f("0\r\n: a\r\n\r\n", Limits{})                                                // empty trailer name
	f("0\r\nX\r\n\r\n", Limits{})                                                  // no colon
	f("1"+strings.Repeat(";", 100), Limits{MaxChunkLine: 50})                      // too long, no LF yet
	f("1;"+strings.Repeat("a", 60)+"\r\nx\r\n0\r\n\r\n", Limits{MaxChunkLine: 50}) // too long
	f("0\r\nX: "+strings.Repeat("a", 60)+"\r\n\r\n", Limits{MaxChunkLine: 50})     // trailer line too long
	f("0\r\nX: "+strings.Repeat("a", 60), Limits{MaxChunkLine: 50})                // ... before it completes
	f("0\r\n"+strings.Repeat("X: a\r\n", 4)+"\r\n", Limits{MaxHeaders: 3})         // too many trailers
	f("0\r\n"+strings.Repeat("X: aaaa\r\n", 4)+"\r\n", Limits{MaxHeadBytes: 30})   // trailer section too big
	f("0\r\n\x00", Limits{})
	f("z", Limits{}) // garbage fails before the LF arrives
}

func TestChunkedLimitsAccepted(t *testing.T) {
	f := func(body string, lim Limits) {
		t.Helper()
		var c Chunked
		b := []byte(body)
		if _, _, err := decodeChunked(&c, b, &lim, func() int { return len(b) }); err != nil {
			t.Fatalf("%q: err=%v", body, err)
		}
	}
	f("1;"+strings.Repeat("a", 48)+"\r\nx\r\n0\r\n\r\n", Limits{MaxChunkLine: 50})
	f("0\r\nX: "+strings.Repeat("a", 47)+"\r\n\r\n", Limits{MaxChunkLine: 50})
	f("0\r\n"+strings.Repeat("X: a\r\n", 3)+"\r\n", Limits{MaxHeaders: 3})

	// The largest size accepted, and the most digits.
	g := func(line string, want int64) {
		t.Helper()
		var c Chunked
		if n, _, err := c.Next([]byte(line), nil); n != len(line) || err != nil || c.Size() != want {
			t.Fatalf("%q: n=%d err=%v size=%d; want %d", line, n, err, c.Size(), want)
		}
	}
	g("10000000000\r\n", 1<<40)
	g("0000010000000000\r\n", 1<<40)
	g("000000000000000F\r\n", 15)
	g("0000000000000000\r\n", 0)
	g("ffffffffff;x\r\n", 1<<40-1)
}

// TestChunkedCanonical checks what Canonical and Size say about each kind of piece: prefix
// brings the Chunked to the state where piece is read.
func TestChunkedCanonical(t *testing.T) {
	f := func(prefix, piece string, wantCanon bool, wantSize int64) {
		t.Helper()
		var c Chunked
		b := []byte(prefix + piece + "GET")
		for off := 0; off < len(prefix); {
			n, _, err := c.Next(b[off:len(prefix)], nil)
			if err != nil {
				t.Fatalf("prefix %q: %v", prefix, err)
			}
			off += n
		}
		n, data, err := c.Next(b[len(prefix):], nil)
		if err != nil || n != len(piece) || data {
			t.Fatalf("%q after %q: n=%d data=%v err=%v; want framing of %d bytes", piece, prefix, n, data, err, len(piece))
		}
		if c.Canonical() != wantCanon || c.Size() != wantSize {
			t.Fatalf("%q after %q: canonical=%v size=%d; want %v %d", piece, prefix, c.Canonical(), c.Size(), wantCanon, wantSize)
		}
	}
	// Size lines: 1..16 hex digits in either case without leading zero, no extension, no
	// whitespace, are forwarded as is; anything else is replaced by AppendChunkHeader(Size).
	f("", "1\r\n", true, 1)
	f("", "a\r\n", true, 10)
	f("", "A\r\n", true, 10)
	f("", "fFfF\r\n", true, 0xffff)
	f("", "10000000000\r\n", true, 1<<40)
	f("", "0\r\n", true, 0)
	f("", "00\r\n", false, 0)
	f("", "01\r\n", false, 1)
	f("", "0000000000000001\r\n", false, 1)
	f("", "1;a=b\r\n", false, 1)
	f("", "1;\r\n", false, 1)
	f("", "1 ;a\r\n", false, 1)
	f("", "1\t;a\r\n", false, 1)
	f("", "1;a=\"x y\"\r\n", false, 1)
	f("", "0;x\r\n", false, 0)
	f("1\r\nx\r\n", "000\r\n", false, 0)
	// The CRLF after data and the final CRLF are canonical.
	f("1\r\nx", "\r\n", true, -1)
	f("0\r\n", "\r\n", true, -1)
	f("0\r\nX-A: 1\r\n", "\r\n", true, -1)
	// Trailer lines: allowed ones are forwarded, the fields RFC 9110 §6.5.1 keeps out of
	// trailers are dropped (Size -1 tells them from size lines).
	f("0\r\n", "X-Checksum: abc\r\n", true, -1)
	f("0\r\n", "Grpc-Status: 0\r\n", true, -1)
	f("0\r\n", "Server-Timing: db;dur=53\r\n", true, -1)
	f("0\r\n", "Content-Lengthy: 5\r\n", true, -1)
	f("0\r\n", "Digest: sha-256=x\r\n", true, -1)
	f("0\r\n", "X:\r\n", true, -1)
	for _, name := range []string{"Content-Length", "Transfer-Encoding", "Host", "Connection", "Keep-Alive",
		"Proxy-Connection", "TE", "Trailer", "Upgrade", "Content-Encoding", "Content-Type", "Content-Range",
		"Cache-Control", "Expect", "Max-Forwards", "Authorization", "Set-Cookie", "Cookie",
		"Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate", "Range", "If-Match", "If-None-Match",
		"If-Modified-Since", "If-Unmodified-Since", "If-Range", "Pragma", "Age", "Date", "Expires", "Location",
		"Retry-After", "Vary", "Warning", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"content-length", "HOST", "set-COOKIE"} {
		f("0\r\n", name+": v\r\n", false, -1)
		f("0\r\nX-A: 1\r\n", name+":v \r\n", false, -1)
	}

	// Data is forwarded as is; nothing is canonical before the first piece or after an error.
	var c Chunked
	if c.Canonical() || c.Size() != -1 {
		t.Fatalf("zero Chunked: canonical=%v size=%d", c.Canonical(), c.Size())
	}
	if n, data, err := c.Next([]byte("3;x\r\nabc"), nil); n != 5 || err != nil || c.Canonical() || c.Size() != 3 {
		t.Fatalf("size line: n=%d data=%v err=%v canonical=%v size=%d", n, data, err, c.Canonical(), c.Size())
	}
	if n, data, err := c.Next([]byte("ab"), nil); n != 2 || !data || err != nil || !c.Canonical() || c.Size() != -1 {
		t.Fatalf("data: n=%d data=%v err=%v canonical=%v size=%d", n, data, err, c.Canonical(), c.Size())
	}
	if _, _, err := c.Next([]byte(""), nil); err != ErrNeedMore || !c.Canonical() {
		t.Fatalf("ErrNeedMore changed the piece: err=%v canonical=%v", err, c.Canonical())
	}
	if _, _, err := c.Next([]byte("cX"), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Next([]byte("X\r\n"), nil); err != ErrBadChunk || c.Canonical() || c.Size() != -1 {
		t.Fatalf("after an error: err=%v canonical=%v size=%d", err, c.Canonical(), c.Size())
	}
	c.Reset()
	if c.Canonical() || c.Size() != -1 {
		t.Fatal("Reset kept the piece")
	}
}

// TestChunkedSplit feeds each body split at every boundary, byte at a time, and in seeded
// random pieces: the payload and the end are always the same.
func TestChunkedSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range validBodies {
		body := []byte(tc[0])
		check := func(how string, step func() int) {
			t.Helper()
			var c Chunked
			payload, n, err := decodeChunked(&c, body, nil, step)
			if err != nil || string(payload) != tc[1] || n != len(body) || !c.Done() {
				t.Fatalf("%q %s: payload=%q n=%d err=%v", body, how, payload, n, err)
			}
		}
		check("byte at a time", func() int { return 1 })
		for i := 1; i < len(body); i++ {
			first := true
			check("two-way split", func() int {
				if first {
					first = false
					return i
				}
				return len(body)
			})
		}
		for round := 0; round < 20; round++ {
			check("random pieces", func() int { return 1 + rng.IntN(8) })
		}
		// Every proper prefix leaves Done false.
		for i := 0; i < len(body); i++ {
			var c Chunked
			b := body[:i]
			if _, _, err := decodeChunked(&c, b, nil, func() int { return len(b) }); err != ErrNeedMore || c.Done() {
				t.Fatalf("%q prefix %d: err=%v done=%v", body, i, err, c.Done())
			}
		}
	}
}

// reframe re-frames the chunked body at the start of body exactly as the engine does with
// the Chunked API, offering it at most step() more bytes after each ErrNeedMore: data and
// canonical framing are copied, a non-canonical size line is replaced by its canonical form
// and a dropped trailer line by nothing. It returns the output and the bytes consumed.
func reframe(body []byte, lim *Limits, step func() int) (out []byte, consumed int, err error) {
	var c Chunked
	avail := min(len(body), step())
	for !c.Done() {
		n, data, err := c.Next(body[consumed:avail], lim)
		if err == ErrNeedMore {
			if avail == len(body) {
				return out, consumed, err
			}
			avail = min(len(body), avail+step())
			continue
		}
		if err != nil {
			return out, consumed, err
		}
		switch size := c.Size(); {
		case data || c.Canonical():
			out = append(out, body[consumed:consumed+n]...)
		case size > 0:
			out = AppendChunkHeader(out, int(size))
		case size == 0:
			out = append(out, "0\r\n"...)
		}
		consumed += n
	}
	return out, consumed, nil
}

var (
	keptTrailers    = []string{"X-Checksum", "Digest", "Grpc-Status", "Server-Timing", "X-Content-Length"}
	droppedTrailers = []string{"Content-Length", "Transfer-Encoding", "Host", "Set-Cookie", "Trailer",
		"X-Forwarded-For", "Authorization", "Content-Type", "Connection", "TE"}
)

// randomCase returns s with each letter in a random case.
func randomCase(rng *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if rng.IntN(2) == 0 {
			b[i] = lower[c]
		} else if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// randomSizeLine spells size n the many ways RFC 9112 §7.1 allows: either case, leading
// zeros (at most 16 digits in all), extensions with BWS before ";" and around "=".
func randomSizeLine(rng *rand.Rand, n int) string {
	digits := randomCase(rng, fmt.Sprintf("%x", n))
	if rng.IntN(3) == 0 {
		digits = strings.Repeat("0", rng.IntN(16-len(digits)+1)) + digits
	}
	var ext strings.Builder
	for range rng.IntN(4) {
		ext.WriteString([]string{"", " ", "\t", " \t "}[rng.IntN(4)])
		ext.WriteString(";")
		ext.WriteString([]string{"", " "}[rng.IntN(2)])
		ext.WriteString([]string{"a", "name", "x-ext", "q"}[rng.IntN(4)])
		switch rng.IntN(4) {
		case 1:
			ext.WriteString("=v1")
		case 2:
			ext.WriteString(" = \"quoted ;value\\\"\"")
		case 3:
			ext.WriteString("=")
		}
	}
	return digits + ext.String() + "\r\n"
}

// randomChunkedBody returns a valid chunked body in a random spelling, its payload, and the
// trailer fields that must survive re-framing.
func randomChunkedBody(rng *rand.Rand) (body, payload []byte, trailers http.Header) {
	for range rng.IntN(5) {
		n := 1 + rng.IntN(40)
		if rng.IntN(8) == 0 {
			n = 200 + rng.IntN(300)
		}
		data := make([]byte, n)
		for i := range data {
			const alphabet = "ab\r\n0;\x00\xff"
			data[i] = alphabet[rng.IntN(len(alphabet))]
		}
		body = append(body, randomSizeLine(rng, n)...)
		body = append(body, data...)
		body = append(body, "\r\n"...)
		payload = append(payload, data...)
	}
	body = append(body, randomSizeLine(rng, 0)...)
	trailers = http.Header{}
	for range rng.IntN(4) {
		name, value := keptTrailers[rng.IntN(len(keptTrailers))], fmt.Sprintf("v%d", rng.IntN(100))
		if rng.IntN(2) == 0 {
			name = droppedTrailers[rng.IntN(len(droppedTrailers))]
		} else {
			trailers.Add(name, value)
		}
		body = append(body, randomCase(rng, name)+":"+[]string{"", " ", "\t"}[rng.IntN(3)]+value+"\r\n"...)
	}
	return append(body, "\r\n"...), payload, trailers
}

// checkCanonicalFraming walks the re-framed out and checks, independently of Canonical,
// that every size line is bare lower- or upper-case hex without leading zero and every
// trailer line is allowed.
func checkCanonicalFraming(t *testing.T, out []byte) {
	t.Helper()
	var c Chunked
	for off := 0; !c.Done(); {
		n, data, err := c.Next(out[off:], nil)
		if err != nil {
			t.Fatalf("re-framed body does not parse at %d: %v\n%q", off, err, out)
		}
		piece := out[off : off+n]
		off += n
		if data {
			continue
		}
		if !c.Canonical() {
			t.Fatalf("non-canonical piece %q in re-framed body\n%q", piece, out)
		}
		if c.Size() < 0 {
			if colon := bytes.IndexByte(piece, ':'); colon > 0 && trailerDropped(piece[:colon]) {
				t.Fatalf("dropped trailer %q forwarded", piece)
			}
			continue
		}
		line := piece[:len(piece)-2]
		if len(line) == 0 || len(line) > 16 || line[0] == '0' && len(line) > 1 {
			t.Fatalf("size line %q", piece)
		}
		for _, ch := range line {
			if unhex[ch] == 0xff {
				t.Fatalf("size line %q: extension or whitespace", piece)
			}
		}
	}
}

// TestChunkedReframe re-frames random valid chunked bodies as the engine does, split at
// every offset, and checks with net/http that the result carries the same payload and
// allowed trailers, and with checkCanonicalFraming that nothing but canonical framing is
// left. Re-framing is a fixed point: the output re-frames to itself.
func TestChunkedReframe(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	for round := 0; round < 300; round++ {
		body, payload, trailers := randomChunkedBody(rng)
		whole := func() int { return len(body) }
		out, n, err := reframe(body, nil, whole)
		if err != nil || n != len(body) {
			t.Fatalf("reframe(%q): n=%d err=%v", body, n, err)
		}
		checkCanonicalFraming(t, out)
		if again, _, err := reframe(out, nil, whole); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-framing %q again gives %q, err=%v", out, again, err)
		}

		// (a) net/http decodes the output to the same payload and the allowed trailers.
		got, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(out)))
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("httputil on %q: %q, %v; want %q", out, got, err, payload)
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head + string(out) + "GET")))
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(req.Body)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("net/http body of %q: %q, %v; want %q", out, got, err, payload)
		}
		if len(req.Trailer) != len(trailers) {
			t.Fatalf("net/http trailers of %q: %v; want %v", out, req.Trailer, trailers)
		}
		for k, v := range trailers {
			if strings.Join(req.Trailer[k], ",") != strings.Join(v, ",") {
				t.Fatalf("net/http trailer %s of %q: %v; want %v", k, out, req.Trailer[k], v)
			}
		}

		// (b) Split at every offset, byte at a time, and in random pieces: the same output.
		for i := 1; i < len(body); i++ {
			first := true
			split, _, err := reframe(body, nil, func() int {
				if first {
					first = false
					return i
				}
				return len(body)
			})
			if err != nil || !bytes.Equal(split, out) {
				t.Fatalf("%q split at %d: %q, %v; want %q", body, i, split, err, out)
			}
		}
		if round%10 == 0 {
			if one, _, err := reframe(body, nil, func() int { return 1 }); err != nil || !bytes.Equal(one, out) {
				t.Fatalf("%q byte at a time: %q, %v", body, one, err)
			}
		}
		pieces, _, err := reframe(body, nil, func() int { return 1 + rng.IntN(8) })
		if err != nil || !bytes.Equal(pieces, out) {
			t.Fatalf("%q in random pieces: %q, %v", body, pieces, err)
		}
	}
}
