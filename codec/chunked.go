package codec

import "bytes"

// LastChunk ends a chunked body that has no trailer fields.
const LastChunk = "0\r\n\r\n"

// Chunk sizes are bounded in value and in digits: a size line is then the same number to
// every reader, with no overflow or truncation anywhere, and one canonical spelling exists
// for each (RFC 9112 §7.1: "recipients MUST anticipate potentially large hexadecimal
// numerals and prevent parsing errors due to integer conversion overflows").
const (
	maxChunkSize   = 1 << 40 // 1 TiB in one chunk
	maxChunkDigits = 16      // hex digits in a size, leading zeros included
)

type chunkState uint8

const (
	chunkSize    chunkState = iota // expecting a chunk-size line
	chunkData                      // inside chunk data
	chunkDataEnd                   // expecting the CRLF after chunk data
	chunkTrailer                   // expecting a trailer line or the final CRLF
	chunkDone                      // the final CRLF was consumed
	chunkFailed                    // an error was returned; every later call returns it again
)

// chunkPiece is what the last successful Next returned.
type chunkPiece uint8

const (
	pieceNone        chunkPiece = iota // nothing yet, or an error
	pieceData                          // chunk data
	pieceSize                          // a canonical chunk-size line
	pieceSizeAlt                       // a chunk-size line with extensions, BWS or leading zeros
	pieceDataEnd                       // the CRLF after chunk data
	pieceTrailer                       // a trailer field line that may be forwarded
	pieceTrailerDrop                   // a trailer field line that must not be forwarded
	pieceEnd                           // the final CRLF
)

// Chunked tracks chunked framing (RFC 9112 §7.1) across reads: chunk-size line with
// extensions, data, CRLF, last-chunk, trailer section, final CRLF. It validates the framing
// and says, piece by piece, what may be forwarded as is. The zero value is ready; Reset
// reuses it. A Chunked belongs to one connection; it holds no pointers into the bytes it has
// seen.
//
// Canonical re-framing: a proxy must not forward framing that another parser could read
// differently (RFC 9112 §11.2, request smuggling), so loopgate forwards a chunked body only
// in canonical form. The caller walks the body with Next and, for every piece:
//
//   - data (data == true): forward b[:n] as is;
//   - framing (data == false) with Canonical() true: forward b[:n] as is. These are size
//     lines of 1 to 16 hex digits (either case) without leading zero (but the "0" of the
//     last chunk), extension or whitespace, ending in CRLF; the CRLF after chunk data;
//     trailer field lines allowed in a trailer; the final CRLF;
//   - framing with Canonical() false and Size() >= 0: a size line with an extension, BWS
//     before ";" or leading zeros. Write AppendChunkHeader(dst, int(Size())) in its place,
//     or "0\r\n" when Size() is 0 (the last chunk). Extensions are dropped: loopgate
//     understands none, and §7.1.1 has a recipient ignore the ones it does not recognize;
//   - framing with Canonical() false and Size() < 0: a trailer field line that must not be
//     forwarded, because it names a field RFC 9110 §6.5.1 keeps out of trailers (framing,
//     connection, routing, request modifiers, authentication and cookies, response control
//     data, content processing: Content-Length, Transfer-Encoding, Host, Set-Cookie and
//     the like; the list is trailerDenied in chunked.go). Write nothing in its place.
//
// The output then has the payload and allowed trailer fields of the input, in a spelling
// that every HTTP/1.1 parser reads the same way. The caller still bounds Payload.
type Chunked struct {
	state    chunkState
	piece    chunkPiece
	size     int64 // size of the chunk whose size line was last consumed
	remain   int64 // data bytes left in the current chunk
	payload  int64 // data bytes consumed so far
	trailers int   // trailer field lines so far
	trailerB int   // trailer section bytes so far
}

// Reset prepares c for a new body.
func (c *Chunked) Reset() { *c = Chunked{} }

// Done reports whether the final CRLF of the trailer section has been consumed.
func (c *Chunked) Done() bool { return c.state == chunkDone }

// Canonical reports whether the piece the last call to Next returned (with err == nil) may
// be forwarded byte for byte; see the re-framing contract on Chunked. It is true for data,
// and false before the first piece and after an error. It does not allocate.
func (c *Chunked) Canonical() bool {
	switch c.piece {
	case pieceNone, pieceSizeAlt, pieceTrailerDrop:
		return false
	}
	return true
}

// Size returns the chunk size on the chunk-size line that the last call to Next consumed
// (0 for the last chunk), or -1 when that piece was not a chunk-size line. A size is at most
// 2^40, so it fits an int on 64-bit platforms.
func (c *Chunked) Size() int64 {
	if c.piece == pieceSize || c.piece == pieceSizeAlt {
		return c.size
	}
	return -1
}

// Payload returns how many data bytes Next has reported so far. The framing does not bound
// it: the caller compares it with Limits.MaxBodyBytes for request bodies.
func (c *Chunked) Payload() int64 { return c.payload }

// Next consumes the next piece of chunked framing at the start of b (b may be a partial
// read). It returns n bytes consumed; data reports whether b[:n] is payload (chunk data) as
// opposed to framing (size lines, CRLFs, trailers). It returns ErrNeedMore with n == 0 when b
// holds only part of a line it must see whole (a size line, a CRLF, a trailer line). Payload
// comes in pieces as it arrives. After the final CRLF Done is true and Next consumes nothing
// more. Any framing error is ErrBadChunk, and c stays failed until Reset. A size over 2^40
// or of more than 16 hex digits (leading zeros count) is such an error. After each piece,
// Canonical and Size say how to re-frame it.
//
// Lines are bounded by lim.MaxChunkLine, trailer lines in number by lim.MaxHeaders and in
// total size by lim.MaxHeadBytes; lim may be nil for DefaultLimits. It does not allocate; a
// partial line is scanned again on each call, which MaxChunkLine keeps bounded.
func (c *Chunked) Next(b []byte, lim *Limits) (n int, data bool, err error) {
	if lim == nil {
		lim = &DefaultLimits
	}
	switch c.state {
	case chunkData:
		if len(b) == 0 {
			return 0, false, ErrNeedMore
		}
		n := len(b)
		if int64(n) > c.remain {
			n = int(c.remain)
		}
		c.remain -= int64(n)
		c.payload += int64(n)
		c.piece = pieceData
		if c.remain == 0 {
			c.state = chunkDataEnd
		}
		return n, true, nil
	case chunkSize:
		n, err := c.sizeLine(b, lim.chunkLine())
		return n, false, c.fail(err)
	case chunkDataEnd:
		if len(b) < 2 {
			if len(b) == 1 && b[0] != '\r' {
				return 0, false, c.fail(ErrBadChunk)
			}
			return 0, false, ErrNeedMore
		}
		if b[0] != '\r' || b[1] != '\n' {
			return 0, false, c.fail(ErrBadChunk)
		}
		c.state, c.piece = chunkSize, pieceDataEnd
		return 2, false, nil
	case chunkTrailer:
		n, err := c.trailerLine(b, lim)
		return n, false, c.fail(err)
	case chunkDone:
		return 0, false, nil
	}
	return 0, false, ErrBadChunk
}

// fail passes err through and, unless it is nil or ErrNeedMore, latches the failed state.
func (c *Chunked) fail(err error) error {
	if err != nil && err != ErrNeedMore {
		c.state, c.piece = chunkFailed, pieceNone
		return ErrBadChunk
	}
	return err
}

// sizeLine parses chunk-size [ chunk-ext ] CRLF. What has arrived is checked before the LF
// does, so a garbage size fails at once.
func (c *Chunked) sizeLine(b []byte, maxLine int) (int, error) {
	window := b
	if len(window) > maxLine+2 {
		window = window[:maxLine+2]
	}
	lf := bytes.IndexByte(window, '\n')
	line := window
	if lf >= 0 {
		if lf == 0 || b[lf-1] != '\r' {
			// Bare LF is never a chunk line terminator (RFC 9112 §7.1, erratum 7633).
			return 0, ErrBadChunk
		}
		line = b[:lf-1]
	} else if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}

	// chunk-size = 1*HEXDIG: no sign, no "0x", at most maxChunkDigits digits and
	// maxChunkSize. Both bounds are checked on what has arrived, so an oversized size fails
	// before its LF. More than 16 digits wrap the accumulator, but those fail on the count.
	var size uint64
	i := 0
	for ; i < len(line); i++ {
		d := unhex[line[i]]
		if d == 0xff {
			break
		}
		size = size<<4 | uint64(d)
	}
	if i == 0 && (len(line) > 0 || lf >= 0) || i > maxChunkDigits || size > maxChunkSize {
		return 0, ErrBadChunk
	}
	digits := i
	// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ). Extensions are not
	// interpreted and a canonical re-framing drops them, so only their octets are checked:
	// no CTL but HTAB.
	ws := i
	for i < len(line) && isOWS(line[i]) {
		i++
	}
	if i == len(line) && i > ws && lf >= 0 {
		return 0, ErrBadChunk // BWS is allowed only before ";" (RFC 9112 §7.1.1)
	}
	if i < len(line) {
		if line[i] != ';' {
			return 0, ErrBadChunk
		}
		for _, ch := range line[i:] {
			if class[ch]&cValue == 0 {
				return 0, ErrBadChunk
			}
		}
	}
	if lf < 0 {
		if len(b) >= maxLine+2 {
			return 0, ErrBadChunk
		}
		return 0, ErrNeedMore
	}
	// Canonical: digits only, and no leading zero but the single "0" of the last chunk.
	c.piece = pieceSizeAlt
	if digits == len(line) && (line[0] != '0' || digits == 1) {
		c.piece = pieceSize
	}
	c.size = int64(size)
	if size == 0 {
		c.state = chunkTrailer
	} else {
		c.state, c.remain = chunkData, int64(size)
	}
	return lf + 1, nil
}

// trailerLine consumes one trailer field line or the final CRLF (RFC 9112 §7.1.2). Trailer
// lines obey the field syntax of a head.
func (c *Chunked) trailerLine(b []byte, lim *Limits) (int, error) {
	if len(b) == 0 {
		return 0, ErrNeedMore
	}
	switch b[0] {
	case '\r':
		if len(b) < 2 {
			return 0, ErrNeedMore
		}
		if b[1] != '\n' {
			return 0, ErrBadChunk
		}
		c.state, c.piece = chunkDone, pieceEnd
		return 2, nil
	case '\n', ' ', '\t':
		return 0, ErrBadChunk
	}
	maxLine := lim.chunkLine()
	window := b
	if len(window) > maxLine+2 {
		window = window[:maxLine+2]
	}
	nameEnd, _, _, next, err := scanField(window, 0)
	if err == ErrNeedMore && len(b) >= maxLine+2 {
		return 0, ErrBadChunk
	}
	if err != nil {
		return 0, err
	}
	c.trailers++
	c.trailerB += next
	if c.trailers > lim.headers() || c.trailerB > lim.headBytes() {
		return 0, ErrBadChunk
	}
	c.piece = pieceTrailer
	if trailerDropped(b[:nameEnd]) {
		c.piece = pieceTrailerDrop
	}
	return next, nil
}

// trailerDenied lists, in lower case, the fields a trailer section must not carry. RFC 9110
// §6.5.1: fields needed before the content is processed (message framing, routing,
// authentication, request modifiers, response controls, content format) cannot be sent as
// trailers, and §6.5.2: a recipient must not merge a trailer field into the header section
// unless its definition allows it. Some backends merge trailers into the header fields
// anyway, so loopgate drops these rather than let a trailer override what it checked or set
// in the head. Other trailer fields pass:
var trailerDenied = [...]string{
	// message framing and the connection (RFC 9112 §6, §7; RFC 9110 §7.6.1, §6.6.2)
	"content-length", "transfer-encoding", "trailer", "connection", "keep-alive",
	"proxy-connection", "te", "upgrade",
	// routing (RFC 9110 §7.2), and what loopgate itself sets in the head (RFC 7239)
	"host", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
	// request modifiers: controls, conditionals, range (RFC 9110 §10.1, §13.1, §14.2)
	"cache-control", "expect", "max-forwards", "pragma", "range", "if-match",
	"if-none-match", "if-modified-since", "if-unmodified-since", "if-range",
	// authentication and state (RFC 9110 §11; RFC 6265)
	"authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate",
	"cookie", "set-cookie",
	// response control data (RFC 9110 §6.6.1, §10.2; RFC 9111 §5)
	"age", "date", "expires", "location", "retry-after", "vary", "warning",
	// processing of the content (RFC 9110 §8.3, §8.4, §14.4)
	"content-encoding", "content-type", "content-range",
}

// trailerDropped reports whether a trailer field named name must be dropped (trailerDenied).
// Trailers are rare, so a scan of the list is cheap enough; it does not allocate.
func trailerDropped(name []byte) bool {
	for _, d := range trailerDenied {
		if len(d) == len(name) && eqFold(name, d) {
			return true
		}
	}
	return false
}
