package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

var codings = []Coding{Gzip, Brotli, Zstd}

// corpusFiles are the committed test corpus, in a fixed order.
var corpusFiles = []string{"page.html", "api.json", "site.css", "app.js", "chart.svg"}

func readCorpus(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, name := range corpusFiles {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", name))
		if err != nil {
			tb.Fatalf("cannot read corpus: %v", err)
		}
		out = append(out, b)
	}
	return out
}

// decode decodes a whole stream with a decoder other than the encoder where there is one
// (the standard library's gzip), failing the test on error.
func decode(tb testing.TB, c Coding, b []byte) []byte {
	tb.Helper()
	out, err := decodeErr(c, b)
	if err != nil {
		tb.Fatalf("cannot decode %s stream of %d bytes: %v", c, len(b), err)
	}
	return out
}

func newReader(c Coding, b []byte) (io.Reader, error) {
	switch c {
	case Gzip:
		return stdgzip.NewReader(bytes.NewReader(b))
	case Brotli:
		return brotli.NewReader(bytes.NewReader(b)), nil
	case Zstd:
		d, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	panic("BUG: no reader for " + c.String())
}

func decodeErr(c Coding, b []byte) ([]byte, error) {
	r, err := newReader(c, b)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func newPool(tb testing.TB, o Options) *Pool {
	tb.Helper()
	p, err := NewPool(&o)
	if err != nil {
		tb.Fatalf("NewPool: %v", err)
	}
	return p
}

// encodePieces feeds pieces one Compress each, flushing after those whose index is in
// flushAt, and closes.
func encodePieces(p *Pool, c Coding, pieces [][]byte, flushAt map[int]bool) []byte {
	e := p.Get(c)
	var out []byte
	for i, pc := range pieces {
		out = e.Compress(out, pc)
		if flushAt[i] {
			out = e.Flush(out)
		}
	}
	return e.Close(out)
}

func TestRoundTripSplits(t *testing.T) {
	p := newPool(t, Options{})
	in := readCorpus(t)[0] // the HTML page
	for _, c := range codings {
		// Every two-way split at a stride, plus the edges.
		offs := []int{0, 1, 2, len(in) - 1, len(in)}
		for o := 3; o < len(in)-1; o += 1009 {
			offs = append(offs, o)
		}
		for _, o := range offs {
			for _, flush := range []bool{false, true} {
				got := decode(t, c, encodePieces(p, c, [][]byte{in[:o], in[o:]}, map[int]bool{0: flush}))
				if !bytes.Equal(got, in) {
					t.Fatalf("%s split at %d flush=%v: decoded %d bytes, want %d", c, o, flush, len(got), len(in))
				}
			}
		}
	}
}

func TestRoundTripByteAtATime(t *testing.T) {
	p := newPool(t, Options{})
	in := readCorpus(t)[2][:3000]
	var pieces [][]byte
	flushAt := map[int]bool{}
	for i := range in {
		pieces = append(pieces, in[i:i+1])
		if i%500 == 499 {
			flushAt[i] = true
		}
	}
	for _, c := range codings {
		if got := decode(t, c, encodePieces(p, c, pieces, flushAt)); !bytes.Equal(got, in) {
			t.Fatalf("%s byte at a time: decoded %d bytes, want %d", c, len(got), len(in))
		}
	}
}

func TestRoundTripRandomChunks(t *testing.T) {
	p := newPool(t, Options{})
	var in []byte
	for _, b := range readCorpus(t) {
		in = append(in, b...)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, c := range codings {
		for range 20 {
			var pieces [][]byte
			flushAt := map[int]bool{}
			for rest := in; len(rest) > 0; {
				n := min(len(rest), r.IntN(200<<10))
				if r.IntN(8) == 0 {
					n = 0 // empty pieces are fine too
				}
				pieces = append(pieces, rest[:n])
				rest = rest[n:]
				if r.IntN(4) == 0 {
					flushAt[len(pieces)-1] = true
				}
			}
			if got := decode(t, c, encodePieces(p, c, pieces, flushAt)); !bytes.Equal(got, in) {
				t.Fatalf("%s random chunks: decoded %d bytes, want %d", c, len(got), len(in))
			}
		}
	}
}

func TestRoundTripSizes(t *testing.T) {
	p := newPool(t, Options{})
	corpus := readCorpus(t)
	big := make([]byte, 0, 16<<20)
	for i := 0; len(big) < 16<<20; i++ {
		b := corpus[i%len(corpus)]
		big = append(big, b[:min(len(b), 16<<20-len(big))]...)
	}
	for _, c := range codings {
		for _, in := range [][]byte{nil, []byte("a"), []byte("hello, hello, hello"), big} {
			// One piece, and 64 KiB pieces as a proxy would feed them.
			one := encodePieces(p, c, [][]byte{in}, nil)
			var pieces [][]byte
			for o := 0; o < len(in); o += 64 << 10 {
				pieces = append(pieces, in[o:min(len(in), o+64<<10)])
			}
			many := encodePieces(p, c, pieces, nil)
			for _, out := range [][]byte{one, many} {
				if len(out) == 0 {
					t.Fatalf("%s: %d-byte input gave an empty stream", c, len(in))
				}
				if got := decode(t, c, out); !bytes.Equal(got, in) {
					t.Fatalf("%s: %d-byte input decoded to %d bytes", c, len(in), len(got))
				}
			}
			if len(in) == len(big) && len(one) > len(in)/3 {
				t.Fatalf("%s: 16 MiB of corpus coded to %d bytes; want it to compress", c, len(one))
			}
		}
	}
}

// TestFlushDelivers checks that what Flush returned decodes to everything fed before it,
// before the stream ends: that is what a stalled streamed response relies on.
func TestFlushDelivers(t *testing.T) {
	p := newPool(t, Options{})
	in := readCorpus(t)[1][:20000]
	for _, c := range codings {
		e := p.Get(c)
		out := e.Compress(nil, in[:7000])
		out = e.Flush(out)
		r, err := newReader(c, out)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		got := make([]byte, 7000)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, in[:7000]) {
			t.Fatalf("%s: after Flush read %v; want the 7000 bytes fed", c, err)
		}
		out = e.Compress(out, in[7000:])
		if got := decode(t, c, e.Close(out)); !bytes.Equal(got, in) {
			t.Fatalf("%s: whole stream decoded to %d bytes", c, len(got))
		}
	}
}

// TestPooledEncoderIsFresh checks that a reused encoder starts an independent stream: no
// history, no buffered input, no flag from the previous response leaks into the next.
func TestPooledEncoderIsFresh(t *testing.T) {
	p := newPool(t, Options{MaxIdle: 1})
	corpus := readCorpus(t)
	a, b := corpus[0], corpus[1]
	for _, c := range codings {
		e := p.Get(c)
		_ = e.Close(e.Compress(nil, a))
		// Abandoned mid-stream, with input still buffered.
		e2 := p.Get(c)
		if e2 != e {
			t.Fatalf("%s: Get did not reuse the idle encoder", c)
		}
		_ = e2.Compress(nil, a[:5000])
		e2.Discard()

		e3 := p.Get(c)
		if e3 != e {
			t.Fatalf("%s: Get did not reuse the discarded encoder", c)
		}
		out := e3.Close(e3.Compress(nil, b))
		if got := decode(t, c, out); !bytes.Equal(got, b) {
			t.Fatalf("%s: reused encoder's stream decoded to %d bytes; want B alone (%d)", c, len(got), len(b))
		}
		// And it codes exactly like a new encoder would.
		fresh := newPool(t, Options{}).Get(c)
		if want := fresh.Close(fresh.Compress(nil, b)); !bytes.Equal(out, want) {
			t.Fatalf("%s: reused encoder's output differs from a new encoder's", c)
		}
	}
}

func TestPoolKeepsAtMostMaxIdle(t *testing.T) {
	p := newPool(t, Options{MaxIdle: 2})
	var es []*Encoder
	for range 5 {
		es = append(es, p.Get(Gzip))
	}
	for _, e := range es {
		e.Discard()
	}
	if n := len(p.free[Gzip]); n != 2 || p.Active() != 0 {
		t.Fatalf("idle gzip encoders: %d, active %d; want 2, 0", n, p.Active())
	}
}

func TestPoolCapsStreams(t *testing.T) {
	p := newPool(t, Options{MaxStreams: 2})
	a, b := p.Get(Gzip), p.Get(Zstd)
	if a == nil || b == nil || p.Get(Brotli) != nil || p.Active() != 2 {
		t.Fatalf("MaxStreams 2: third Get should be nil; active %d", p.Active())
	}
	a.Close(nil)
	c := p.Get(Brotli)
	if c == nil {
		t.Fatalf("Get after Close: nil")
	}
	b.Discard()
	c.Discard()
	if p.Active() != 0 {
		t.Fatalf("active %d; want 0", p.Active())
	}
}

func TestMisuseIsABug(t *testing.T) {
	p := newPool(t, Options{})
	f := func(name string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("%s: no panic", name)
			}
		}()
		fn()
	}
	f("Get(Identity)", func() { p.Get(Identity) })
	f("Compress after Close", func() {
		e := p.Get(Gzip)
		e.Close(nil)
		e.Compress(nil, []byte("x"))
	})
	f("Discard after Close", func() {
		e := p.Get(Zstd)
		e.Close(nil)
		e.Discard()
	})
}

func TestNewPoolChecksOptions(t *testing.T) {
	f := func(o Options, wantOK bool) {
		t.Helper()
		if _, err := NewPool(&o); (err == nil) != wantOK {
			t.Fatalf("NewPool(%+v) = %v; want ok=%v", o, err, wantOK)
		}
	}
	f(Options{}, true)
	f(Options{GzipLevel: 9, BrotliQuality: 11, BrotliWindow: 24, ZstdLevel: 22, ZstdWindow: 8 << 20}, true)
	f(Options{GzipLevel: 10}, false)
	f(Options{GzipLevel: -1}, false)
	f(Options{BrotliQuality: 12}, false)
	f(Options{BrotliWindow: 9}, false)
	f(Options{ZstdLevel: 23}, false)
	f(Options{ZstdWindow: 3 << 10}, false)
	f(Options{ZstdWindow: 16 << 20}, false)
	f(Options{MinSize: -1}, false)
	f(Options{MaxIdle: -1}, false)
	f(Options{MaxStreams: -1}, false)
	f(Options{Offered: []Coding{Identity}}, false)
	f(Options{Offered: []Coding{Gzip}}, true)
	f(Options{Types: []string{"text/html"}}, true)
	f(Options{Types: []string{"text"}}, false)
	f(Options{Types: []string{"text/"}}, false)
	f(Options{Types: []string{"text/html; charset=utf-8"}}, false)
}

func TestCodingText(t *testing.T) {
	for _, c := range []Coding{Identity, Gzip, Brotli, Zstd} {
		b, err := c.MarshalText()
		var back Coding
		if err != nil || back.UnmarshalText(b) != nil || back != c {
			t.Fatalf("%v: marshal %q %v, back %v", c, b, err, back)
		}
	}
	var c Coding
	if err := c.UnmarshalText([]byte("deflate")); err != ErrUnknownCoding {
		t.Fatalf("deflate: %v", err)
	}
	if err := c.UnmarshalText([]byte("*")); err != ErrUnknownCoding {
		t.Fatalf("*: %v", err)
	}
	if err := c.UnmarshalText([]byte("BR")); err != nil || c != Brotli {
		t.Fatalf("BR: %v %v", c, err)
	}
	if s := fmt.Sprint(Coding(9)); s != "unknown" {
		t.Fatalf("Coding(9) = %q", s)
	}
}
