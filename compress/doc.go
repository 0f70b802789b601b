// Package compress codes response bodies on the fly with gzip, Brotli or zstd.
//
// Negotiate reads Accept-Encoding, Pool.Eligible decides from the parsed heads whether a
// response may be coded, and a Pool made per event loop hands out pooled Encoders that append
// their output to the caller's buffer: no goroutines, no locks, no blocking.
//
//	c := p.Negotiate(acceptEncoding)
//	if p.Eligible(&head) && c != compress.Identity {
//		e := p.Get(c)
//		out = e.Compress(out, piece) // for every piece of the body
//		out = e.Close(out)           // at the end of it
//	}
package compress
