package compress

import (
	"runtime"
	"strconv"
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

// BenchmarkCompressConcurrent codes the corpus the way a loop with many clients does: n
// streams open at once, fed 64 KiB pieces (a read of the backend) in turn, each piece but a
// file's last flushed (the engine flushes whenever the backend's bytes are used up), and a
// stream that ends is closed and replaced by the next file from the Pool. streams=1 against
// BenchmarkCompress shows what the flushes cost; streams=50 what 50 encoders' tables cost in
// the CPU's caches; max_idle is how many closed encoders the Pool keeps: with fewer than the
// streams, most new streams allocate an encoder afresh (issue 14: the perf harness's
// compression family runs 50 connections).
func BenchmarkCompressConcurrent(b *testing.B) {
	corpus := readCorpus(b)
	total := 0
	for _, f := range corpus {
		total += len(f)
	}
	const piece = 64 << 10
	for _, bc := range []struct {
		name string
		c    Coding
		o    Options
	}{
		{"gzip-1", Gzip, Options{GzipLevel: 1}},
		{"gzip-6", Gzip, Options{GzipLevel: 6}},
		{"zstd-3", Zstd, Options{ZstdLevel: 3}},
		{"br-5", Brotli, Options{BrotliQuality: 5}},
	} {
		for _, n := range []int{1, 50} {
			for _, idle := range []int{DefaultMaxIdle, 64} {
				name := bc.name + "/streams=" + strconv.Itoa(n) + "/max_idle=" + strconv.Itoa(idle)
				b.Run(name, func(b *testing.B) {
					o := bc.o
					o.MaxIdle = idle
					p := newPool(b, o)
					type stream struct {
						e   *Encoder
						f   []byte
						off int
					}
					ss := make([]stream, n)
					next := 0
					start := func(s *stream) {
						s.e, s.f, s.off = p.Get(bc.c), corpus[next%len(corpus)], 0
						next++
					}
					for i := range ss {
						start(&ss[i])
					}
					dst := make([]byte, 0, 2*piece)
					k, all := 0, 0 // the turn goes on from one op to the next
					b.ReportAllocs()
					b.SetBytes(int64(total))
					for b.Loop() {
						for coded := 0; coded < total; k++ {
							s := &ss[k%n]
							in := s.f[s.off:min(len(s.f), s.off+piece)]
							d := s.e.Compress(dst[:0], in)
							s.off += len(in)
							coded += len(in)
							all += len(in)
							if s.off == len(s.f) {
								_ = s.e.Close(d)
								start(s)
							} else {
								_ = s.e.Flush(d)
							}
						}
					}
					for i := range ss {
						ss[i].e.Discard()
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/(float64(all)/(1<<20)), "ns/MiB")
				})
			}
		}
	}
}
