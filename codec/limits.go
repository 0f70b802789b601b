package codec

// Limits bound what the parsers accept. They are data: exceeding one returns an error, never
// panics. The zero value (and every zero field) means the default.
type Limits struct {
	MaxRequestLine int   `toml:"max_request_line"` // request line without CRLF (default 8192); over it: ErrURITooLong
	MaxHeadBytes   int   `toml:"max_header_bytes"` // whole head incl. request line and final CRLF (default 65536); over it: ErrHeadTooLarge
	MaxHeaders     int   `toml:"max_headers"`      // field lines per head or trailer section (default 100, at most MaxHeaders); over it: ErrTooManyHeaders
	MaxChunkLine   int   `toml:"max_chunk_line"`   // chunk-size line incl. extensions, and each trailer line (default 4096); over it: ErrBadChunk
	MaxBodyBytes   int64 `toml:"max_body_bytes"`   // request Content-Length (default 0 = unlimited); over it: ErrBodyTooLarge
	// MaxInterim bounds the 1xx responses relayed before a final one to one request
	// (default 32): more is a broken or hostile backend. The parsers do not read it; the
	// proxy counts (RFC 9110 §15.2 sets no bound, so one is ours to choose).
	MaxInterim int `toml:"max_interim_responses"`
	// AllowConnect parses CONNECT requests (authority-form target, RFC 9110 §9.3.6)
	// instead of failing them with ErrConnect: the caller tunnels them. Not a file key:
	// the engine sets it when a listener accepts CONNECT.
	AllowConnect bool `toml:"-" json:"-"`
}

const (
	defaultMaxRequestLine = 8192
	defaultMaxHeadBytes   = 65536
	defaultMaxHeaders     = 100
	defaultMaxChunkLine   = 4096
	defaultMaxInterim     = 32
)

// DefaultLimits holds the defaults. The parsers treat a nil *Limits as &DefaultLimits.
var DefaultLimits = Limits{
	MaxRequestLine: defaultMaxRequestLine,
	MaxHeadBytes:   defaultMaxHeadBytes,
	MaxHeaders:     defaultMaxHeaders,
	MaxChunkLine:   defaultMaxChunkLine,
	MaxInterim:     defaultMaxInterim,
}

// WithDefaults returns a copy of l with zero (or negative) fields replaced by the defaults
// and MaxHeaders clamped to the MaxHeaders constant. The parsers apply the same rules on
// the fly, so calling it is optional; it is for showing the effective configuration.
func (l *Limits) WithDefaults() Limits {
	return Limits{
		MaxRequestLine: l.requestLine(),
		MaxHeadBytes:   l.headBytes(),
		MaxHeaders:     l.headers(),
		MaxChunkLine:   l.chunkLine(),
		MaxBodyBytes:   max(l.MaxBodyBytes, 0),
		MaxInterim:     orDefault(l.MaxInterim, defaultMaxInterim),
		AllowConnect:   l.AllowConnect,
	}
}

func (l *Limits) requestLine() int {
	if l.MaxRequestLine > 0 {
		return l.MaxRequestLine
	}
	return defaultMaxRequestLine
}

func (l *Limits) headBytes() int {
	if l.MaxHeadBytes > 0 {
		return l.MaxHeadBytes
	}
	return defaultMaxHeadBytes
}

func (l *Limits) headers() int {
	switch {
	case l.MaxHeaders <= 0:
		return defaultMaxHeaders
	case l.MaxHeaders > MaxHeaders:
		return MaxHeaders
	}
	return l.MaxHeaders
}

func (l *Limits) chunkLine() int {
	if l.MaxChunkLine > 0 {
		return l.MaxChunkLine
	}
	return defaultMaxChunkLine
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}
