package compress

import (
	"runtime"
	"testing"
)

// benchConfigs are the levels the package doc's table compares; the default of each coding
// is among them.
var benchConfigs = []struct {
	name string
	c    Coding
	o    Options
}{
	{"gzip-1", Gzip, Options{GzipLevel: 1}},
	{"gzip-5", Gzip, Options{GzipLevel: 5}},
	{"gzip-6", Gzip, Options{GzipLevel: 6}},
	{"gzip-9", Gzip, Options{GzipLevel: 9}},
	{"br-1", Brotli, Options{BrotliQuality: 1}},
	{"br-4", Brotli, Options{BrotliQuality: 4}},
	{"br-5", Brotli, Options{BrotliQuality: 5}},
	{"br-5-w22", Brotli, Options{BrotliQuality: 5, BrotliWindow: 22}},
	{"br-6", Brotli, Options{BrotliQuality: 6}},
	{"zstd-1", Zstd, Options{ZstdLevel: 1}},
	{"zstd-3", Zstd, Options{ZstdLevel: 3}},
	{"zstd-3-w1m", Zstd, Options{ZstdLevel: 3, ZstdWindow: 1 << 20}},
	{"zstd-7", Zstd, Options{ZstdLevel: 7}},
}

// BenchmarkCompress codes each corpus file as one response fed in 16 KiB pieces, as the
// engine would, and reports CPU per MiB of input and the ratio (input / output).
func BenchmarkCompress(b *testing.B) {
	corpus := readCorpus(b)
	total := 0
	for _, f := range corpus {
		total += len(f)
	}
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			p := newPool(b, bc.o)
			dst := make([]byte, 0, total)
			out := 0
			b.ReportAllocs()
			b.SetBytes(int64(total))
			for b.Loop() {
				out = 0
				for _, f := range corpus {
					e := p.Get(bc.c)
					d := dst[:0]
					for o := 0; o < len(f); o += 16 << 10 {
						d = e.Compress(d, f[o:min(len(f), o+16<<10)])
					}
					d = e.Close(d)
					out += len(d)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(float64(total)/(1<<20)), "ns/MiB")
			b.ReportMetric(float64(total)/float64(out), "ratio")
		})
	}
}

// BenchmarkStreamMemory reports the heap an active stream holds: n encoders of one
// configuration, each mid-stream after coding the HTML page and flushing, kept live while
// the heap is measured. The b.N loop only satisfies the benchmark framework.
func BenchmarkStreamMemory(b *testing.B) {
	page := readCorpus(b)[0]
	const n = 16
	for _, bc := range benchConfigs {
		b.Run(bc.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			p := newPool(b, bc.o)
			es := make([]*Encoder, n)
			dst := make([]byte, 0, 2*len(page))
			for i := range es {
				es[i] = p.Get(bc.c)
				_ = es[i].Flush(es[i].Compress(dst[:0], page))
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			per := (int64(after.HeapAlloc) - int64(before.HeapAlloc) - int64(cap(dst))) / n
			for _, e := range es {
				e.Discard()
			}
			for b.Loop() {
			}
			b.ReportMetric(float64(per), "B/stream")
			b.ReportMetric(0, "ns/op")
		})
	}
}
