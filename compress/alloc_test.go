//go:build !race

package compress

import "testing"

func TestNegotiateAllocs(t *testing.T) {
	offered := []Coding{Zstd, Brotli, Gzip}
	a := []byte(`gzip;q=0.8, br;q=0.9;x="y", zstd;q=0, identity;q=0.1, *;q=0`)
	b := []byte("deflate")
	if n := testing.AllocsPerRun(100, func() { sinkCoding = Negotiate(offered, a, b) }); n != 0 {
		t.Fatalf("Negotiate: %v allocs; want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { sinkCoding = Negotiate(offered, a) }); n != 0 {
		t.Fatalf("Negotiate, one field: %v allocs; want 0", n)
	}
}

func TestEligibleAllocs(t *testing.T) {
	p := newPool(t, Options{})
	var h Head
	name, ct, cc := []byte("Content-Type"), []byte("application/json; charset=utf-8"), []byte("public, max-age=60")
	ccName, get := []byte("Cache-Control"), []byte("GET")
	if n := testing.AllocsPerRun(100, func() {
		h.Reset()
		h.Method, h.Status = get, 200
		h.ResponseField(name, ct)
		h.ResponseField(ccName, cc)
		sinkBool = p.Eligible(&h)
	}); n != 0 || !sinkBool {
		t.Fatalf("Eligible: %v allocs, %v; want 0, true", n, sinkBool)
	}
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		dst = WeakenETag(dst[:0], []byte(`"abc"`))
		dst = AppendVary(dst[:0], []byte("Origin"))
	}); n != 0 {
		t.Fatalf("WeakenETag, AppendVary: %v allocs; want 0", n)
	}
}

// TestStreamAllocs checks the steady state: once a Pool holds a warm encoder, a whole
// stream (Get, Compress, Flush, Close) into a buffer with room allocates nothing, except
// what is listed here per coding.
func TestStreamAllocs(t *testing.T) {
	p := newPool(t, Options{})
	in := readCorpus(t)[0]
	dst := make([]byte, 0, 2*len(in))
	for _, c := range codings {
		stream := func() {
			e := p.Get(c)
			out := dst[:0]
			for o := 0; o < len(in); o += 16 << 10 {
				out = e.Compress(out, in[o:min(len(in), o+16<<10)])
			}
			out = e.Flush(out)
			out = e.Compress(out, in[:100])
			sinkBytes = e.Close(out)
		}
		stream() // warm: the encoder and its tables
		n := testing.AllocsPerRun(20, stream)
		// zstd writes its frame header and its 4-byte checksum from stack arrays through
		// an io.Writer, so both escape: two allocations of under 32 bytes per stream.
		want := 0.0
		if c == Zstd {
			want = 2
		}
		if n > want {
			t.Errorf("%s: %v allocs per stream; want <= %v", c, n, want)
		}
	}
}

var (
	sinkCoding Coding
	sinkBool   bool
	sinkBytes  []byte
)
