package compress

import (
	"fmt"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Options configures compression. The zero value is usable: every zero field takes the
// default written beside it. A Pool copies Options when it is made.
type Options struct {
	// Types lists the media types to compress: "type/subtype" or "type/*", any case
	// (default DefaultTypes).
	Types []string `toml:"types"`
	// MinSize is the smallest Content-Length worth compressing; bodies of unknown length are
	// always eligible (default 1024).
	MinSize int `toml:"min_size"`
	// Offered lists the codings the server uses, in its order of preference when the client
	// ranks several equally (default zstd, br, gzip).
	Offered []Coding `toml:"offered"`
	// GzipLevel is the gzip level, 1..9 (default 5).
	GzipLevel int `toml:"gzip_level"`
	// BrotliQuality is the Brotli quality, 0..11 (default 5); 11 is for static assets.
	BrotliQuality int `toml:"brotli_quality"`
	// BrotliWindow is log2 of Brotli's window, 10..24 (default 18, 256 KiB).
	BrotliWindow int `toml:"brotli_window"`
	// ZstdLevel is the zstd level, 1..22, which this encoder maps onto four speeds:
	// 1-2 fastest, 3-5 default, 6-9 better, 10+ best (default 3).
	ZstdLevel int `toml:"zstd_level"`
	// ZstdWindow is zstd's window in bytes, a power of two, 1 KiB..8 MiB (default 256 KiB).
	// Decoders must hold this much per stream, and the encoder about three times it.
	ZstdWindow int `toml:"zstd_window"`
	// MaxIdle is how many idle encoders of each coding a Pool keeps for reuse (default 4).
	MaxIdle int `toml:"max_idle"`
	// MaxStreams caps the streams a Pool has open at once, all codings together; past it
	// Get returns nil and the response goes out unencoded. It bounds a loop's memory to
	// about MaxStreams times the per-stream figure in doc.go (default 256).
	MaxStreams int `toml:"max_streams"`
}

// DefaultTypes are the media types compressed when Options.Types is empty: text and the
// structured formats that are text underneath.
var DefaultTypes = []string{
	"text/*",
	"application/json", "application/javascript", "application/xml", "application/xhtml+xml",
	"application/rss+xml", "application/atom+xml", "application/manifest+json", "application/ld+json",
	"application/wasm", "image/svg+xml",
}

// Defaults of Options, chosen with the corpus measurements in doc.go.
const (
	DefaultMinSize       = 1024
	DefaultGzipLevel     = 5
	DefaultBrotliQuality = 5
	DefaultBrotliWindow  = 18
	DefaultZstdLevel     = 3
	DefaultZstdWindow    = 256 << 10
	DefaultMaxIdle       = 4
	DefaultMaxStreams    = 256
)

// DefaultOffered is the server's preference when Options.Offered is empty.
var DefaultOffered = []Coding{Zstd, Brotli, Gzip}

// withDefaults returns o with every zero field set to its default, or an error naming the
// first field out of range.
func (o *Options) withDefaults() (Options, error) {
	v := *o
	def := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	def(&v.MinSize, DefaultMinSize)
	def(&v.GzipLevel, DefaultGzipLevel)
	def(&v.BrotliQuality, DefaultBrotliQuality)
	def(&v.BrotliWindow, DefaultBrotliWindow)
	def(&v.ZstdLevel, DefaultZstdLevel)
	def(&v.ZstdWindow, DefaultZstdWindow)
	def(&v.MaxIdle, DefaultMaxIdle)
	def(&v.MaxStreams, DefaultMaxStreams)
	if len(v.Types) == 0 {
		v.Types = DefaultTypes
	}
	if len(v.Offered) == 0 {
		v.Offered = DefaultOffered
	}
	switch {
	case v.MinSize < 0:
		return v, fmt.Errorf("cannot use min_size %d: want >= 0", v.MinSize)
	case v.GzipLevel < 1 || v.GzipLevel > 9:
		return v, fmt.Errorf("cannot use gzip_level %d: want 1..9", v.GzipLevel)
	case v.BrotliQuality < 0 || v.BrotliQuality > 11:
		return v, fmt.Errorf("cannot use brotli_quality %d: want 0..11", v.BrotliQuality)
	case v.BrotliWindow < 10 || v.BrotliWindow > 24:
		return v, fmt.Errorf("cannot use brotli_window %d: want 10..24", v.BrotliWindow)
	case v.ZstdLevel < 1 || v.ZstdLevel > 22:
		return v, fmt.Errorf("cannot use zstd_level %d: want 1..22", v.ZstdLevel)
	case v.ZstdWindow < zstd.MinWindowSize || v.ZstdWindow > 8<<20 || v.ZstdWindow&(v.ZstdWindow-1) != 0:
		return v, fmt.Errorf("cannot use zstd_window %d: want a power of two in %d..%d", v.ZstdWindow, zstd.MinWindowSize, 8<<20)
	case v.MaxIdle < 0:
		return v, fmt.Errorf("cannot use max_idle %d: want >= 0", v.MaxIdle)
	case v.MaxStreams < 0:
		return v, fmt.Errorf("cannot use max_streams %d: want >= 0", v.MaxStreams)
	}
	for _, c := range v.Offered {
		if c == Identity || c >= numCodings {
			return v, fmt.Errorf("cannot offer coding %q: want gzip, br or zstd", c)
		}
	}
	for _, t := range v.Types {
		if i := strings.IndexByte(t, '/'); i <= 0 || i == len(t)-1 || strings.ContainsAny(t, "; \t") {
			return v, fmt.Errorf("cannot use media type %q: want type/subtype or type/*", t)
		}
	}
	return v, nil
}

// Pool hands out encoders and keeps up to MaxIdle idle ones per coding. Make one per event
// loop: a Pool and its Encoders are owned by that loop, take no locks and start no
// goroutines. Eligible and Negotiate may be called from any goroutine.
type Pool struct {
	o      Options
	types  []string // o.Types in lower case
	free   [numCodings][]*Encoder
	active int // encoders handed out and not yet Closed or Discarded
}

// NewPool checks o and returns a Pool that uses it. It is meant for startup and reloads.
func NewPool(o *Options) (*Pool, error) {
	v, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{o: v}
	for _, t := range v.Types {
		p.types = append(p.types, strings.ToLower(t))
	}
	v.Offered = append([]Coding(nil), v.Offered...)
	p.o = v
	return p, nil
}

// Options returns the options p uses, with defaults filled in. The slices are p's own:
// do not modify them.
func (p *Pool) Options() Options { return p.o }

// Negotiate is the package's Negotiate with p's offered codings.
func (p *Pool) Negotiate(accept ...[]byte) Coding { return Negotiate(p.o.Offered, accept...) }

// Get returns an encoder for a new stream in coding c (Gzip, Brotli or Zstd), idle or new,
// or nil when MaxStreams streams are open: then send the response unencoded. A new encoder
// allocates its window and tables (see doc.go for sizes); a reused one does not. The stream
// ends with Close, or Discard when the response is abandoned; either hands the encoder back
// to p. Must run on the loop that owns p.
func (p *Pool) Get(c Coding) *Encoder {
	if c == Identity || c >= numCodings {
		panic("BUG: compress: Get called for coding " + c.String())
	}
	if p.active >= p.o.MaxStreams {
		return nil
	}
	p.active++
	var e *Encoder
	if f := p.free[c]; len(f) > 0 {
		e = f[len(f)-1]
		f[len(f)-1] = nil
		p.free[c] = f[:len(f)-1]
	} else {
		e = p.newEncoder(c)
	}
	e.reset()
	return e
}

func (p *Pool) newEncoder(c Coding) *Encoder {
	e := &Encoder{c: c, pool: p}
	switch c {
	case Gzip:
		w, err := gzip.NewWriterLevel(&e.sink, p.o.GzipLevel)
		if err != nil {
			panic("BUG: compress: gzip level passed the check but was refused: " + err.Error())
		}
		e.gz = w
	case Brotli:
		e.br = brotli.NewWriterOptions(&e.sink, brotli.WriterOptions{Quality: p.o.BrotliQuality, LGWin: p.o.BrotliWindow})
	case Zstd:
		w, err := zstd.NewWriter(&e.sink,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(p.o.ZstdLevel)),
			zstd.WithWindowSize(p.o.ZstdWindow),
			zstd.WithEncoderConcurrency(1), // synchronous: no goroutines, nothing left running
			zstd.WithZeroFrames(true),      // an empty body is still a valid frame
			zstd.WithLowerEncoderMem(true),
		)
		if err != nil {
			panic("BUG: compress: zstd options passed the check but were refused: " + err.Error())
		}
		e.zs = w
	}
	return e
}

// Active returns the number of open streams. Must run on the loop that owns p.
func (p *Pool) Active() int { return p.active }

func (p *Pool) put(e *Encoder) {
	p.active--
	if len(p.free[e.c]) < p.o.MaxIdle {
		p.free[e.c] = append(p.free[e.c], e)
	}
}

// Encoder compresses one response body at a time. Get it from a Pool; it is owned by the
// Pool's loop. Its output goes straight into the caller's buffer: it holds no output of its
// own, only the coding's window and tables and the input it has not yet coded.
type Encoder struct {
	c    Coding
	pool *Pool
	sink sink
	gz   *gzip.Writer
	br   *brotli.Writer
	zs   *zstd.Encoder
	done bool // Closed or Discarded: back in the pool
}

// sink is the io.Writer the encoders write into: it appends to the caller's buffer for the
// length of one call. Writes never fail, so the encoders never report an I/O error.
type sink struct{ b []byte }

func (s *sink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// Coding returns the encoder's coding, for Content-Encoding.
func (e *Encoder) Coding() Coding { return e.c }

func (e *Encoder) reset() {
	e.done = false
	switch e.c {
	case Gzip:
		e.gz.Reset(&e.sink)
	case Brotli:
		e.br.Reset(&e.sink)
	case Zstd:
		e.zs.Reset(&e.sink)
	}
}

// Compress feeds src to the stream and returns dst with whatever coded output that produced
// appended: often nothing, since the codings buffer input up to a block (zstd 128 KiB at
// most, gzip and Brotli less). src may be reused once Compress returns. Feed a large body
// in pieces (say 16-64 KiB) so that dst stays small. It does not allocate once dst has room.
func (e *Encoder) Compress(dst, src []byte) []byte {
	if len(src) == 0 {
		return dst
	}
	return e.do(dst, src, opWrite)
}

// Flush returns dst with everything fed so far coded and appended, so the client can decode
// it all now. Call it when the upstream stalls (a streamed response, server-sent events);
// each Flush costs some ratio, so not after every piece of a body that is still arriving.
func (e *Encoder) Flush(dst []byte) []byte { return e.do(dst, nil, opFlush) }

// Close finishes the stream, returns dst with the rest of it and its trailer appended, and
// hands e back to its Pool: e must not be used afterwards.
func (e *Encoder) Close(dst []byte) []byte {
	dst = e.do(dst, nil, opClose)
	e.release()
	return dst
}

// Discard abandons the stream (the client or upstream went away) and hands e back to its
// Pool without producing output: e must not be used afterwards.
func (e *Encoder) Discard() { e.release() }

func (e *Encoder) release() {
	if e.done {
		panic("BUG: compress: Encoder closed twice")
	}
	e.done = true
	e.pool.put(e)
}

type op uint8

const (
	opWrite op = iota
	opFlush
	opClose
)

func (e *Encoder) do(dst, src []byte, o op) []byte {
	if e.done {
		panic("BUG: compress: Encoder used after Close or Discard")
	}
	e.sink.b = dst
	var err error
	switch e.c {
	case Gzip:
		err = run(e.gz, src, o)
	case Brotli:
		err = run(e.br, src, o)
	case Zstd:
		err = run(e.zs, src, o)
	}
	if err != nil {
		// The sink never fails, so the encoders fail only when misused.
		panic("BUG: compress: " + e.c.String() + " encoder failed: " + err.Error())
	}
	dst = e.sink.b
	e.sink.b = nil // hold no reference to the caller's buffer
	return dst
}

// writer is what the three encoders have in common.
type writer interface {
	Write([]byte) (int, error)
	Flush() error
	Close() error
}

func run[W writer](w W, src []byte, o op) error {
	switch o {
	case opFlush:
		return w.Flush()
	case opClose:
		return w.Close()
	}
	_, err := w.Write(src)
	return err
}
