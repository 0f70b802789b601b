// Package compress codes response bodies on the fly with gzip, Brotli or zstd.
//
// Negotiate reads Accept-Encoding, Pool.Eligible decides from the parsed heads whether a
// response may be coded, and a Pool made per event loop hands out pooled Encoders that append
// their output to the caller's buffer: no goroutines, no locks, no blocking. A Pool and its
// Encoders belong to one loop; Negotiate, Eligible, WeakenETag and AppendVary run anywhere.
//
//	c := p.Negotiate(acceptEncoding)
//	if p.Eligible(&head) && c != compress.Identity { // add Vary: Accept-Encoding whatever c is
//		if e := p.Get(c); e != nil { // nil: MaxStreams open, send it unencoded
//			out = e.Compress(out, piece) // for every piece of the body; e.Flush(out) when it stalls
//			out = e.Close(out)           // at the end of it
//		}
//	}
//
// Measured on testdata/corpus (340 KiB: HTML, JSON, CSS, JS, SVG; each file one stream fed
// in 16 KiB pieces; BenchmarkCompress and BenchmarkStreamMemory, one core of a shared 2-core
// amd64 machine, Go 1.26, klauspost/compress v1.18.0, andybalholm/brotli v1.3.0):
//
//	coding/level        CPU ms/MiB  ratio  heap per stream
//	gzip 1                    3.4   4.60   0.80 MB
//	gzip 5 (default)          4.9   5.26   1.07 MB
//	gzip 6                    5.2   5.38   1.07 MB
//	gzip 9                   39.8   5.76   1.13 MB
//	br 1                      5.1   4.11   1.62 MB
//	br 4                     13.8   5.29   2.10 MB
//	br 5 (default)           19.0   5.84   2.65 MB
//	br 5, window 4 MiB       19.5   5.84  10.5  MB
//	br 6                     22.8   5.95   3.69 MB
//	zstd 1                    3.4   5.04   0.90 MB
//	zstd 3 (default)          4.1   5.26   2.03 MB
//	zstd 3, window 1 MiB      3.9   5.26   2.82 MB
//	zstd 7                    5.7   5.49   4.99 MB
//
// Hence the defaults: zstd 3 codes as well as gzip 5 for less CPU, so it is offered first;
// gzip 5 costs 45% more CPU than gzip 1 for 14% less output, and 9 is eight times dearer for
// 10% more; Brotli 4 is no better than gzip 5 here at almost three times the CPU, so the
// default is 5, the lowest quality that buys ratio (11% less output than gzip 5 for four
// times the CPU): a CPU-bound proxy should leave "br" out of Offered. Windows of 256 KiB
// (zstd) and 2^18 (Brotli) lose nothing on bodies of this size and keep memory down; a
// Brotli window of 4 MiB quadruples it. Heap per stream stays the same while the encoder is
// idle in a Pool, so a loop holds at most (MaxStreams + 3*MaxIdle) encoders.
package compress
