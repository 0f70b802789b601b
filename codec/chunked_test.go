package codec

import (
	"errors"
	"math/rand/v2"
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

	// The largest size accepted.
	var c Chunked
	if n, _, err := c.Next([]byte("3fffffffffffffff\r\n"), nil); n != 18 || err != nil {
		t.Fatalf("largest size: n=%d err=%v", n, err)
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
