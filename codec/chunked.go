package codec

import "bytes"

// LastChunk ends a chunked body that has no trailer fields.
const LastChunk = "0\r\n\r\n"

type chunkState uint8

const (
	chunkSize    chunkState = iota // expecting a chunk-size line
	chunkData                      // inside chunk data
	chunkDataEnd                   // expecting the CRLF after chunk data
	chunkTrailer                   // expecting a trailer line or the final CRLF
	chunkDone                      // the final CRLF was consumed
	chunkFailed                    // an error was returned; every later call returns it again
)

// Chunked tracks chunked framing (RFC 9112 §7.1) across reads: chunk-size line with
// extensions, data, CRLF, last-chunk, trailer section, final CRLF. It validates the framing
// so that the proxy can pass it through verbatim. The zero value is ready; Reset reuses it.
// A Chunked belongs to one connection; it holds no pointers into the bytes it has seen.
type Chunked struct {
	state    chunkState
	remain   int64 // data bytes left in the current chunk
	payload  int64 // data bytes consumed so far
	trailers int   // trailer field lines so far
	trailerB int   // trailer section bytes so far
}

// Reset prepares c for a new body.
func (c *Chunked) Reset() { *c = Chunked{} }

// Done reports whether the final CRLF of the trailer section has been consumed.
func (c *Chunked) Done() bool { return c.state == chunkDone }

// Payload returns how many data bytes Next has reported so far. The framing does not bound
// it: the caller compares it with Limits.MaxBodyBytes for request bodies.
func (c *Chunked) Payload() int64 { return c.payload }

// Next consumes the next piece of chunked framing at the start of b (b may be a partial
// read). It returns n bytes consumed; data reports whether b[:n] is payload (chunk data) as
// opposed to framing (size lines, CRLFs, trailers). It returns ErrNeedMore with n == 0 when b
// holds only part of a line it must see whole (a size line, a CRLF, a trailer line). Payload
// comes in pieces as it arrives. After the final CRLF Done is true and Next consumes nothing
// more. Any framing error is ErrBadChunk, and c stays failed until Reset.
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
		c.state = chunkSize
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
		c.state = chunkFailed
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

	// chunk-size = 1*HEXDIG: no sign, no "0x", bounded well below int64 overflow.
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex[line[i]]
		if d == 0xff {
			break
		}
		if size >= maxContentLength>>4 {
			return 0, ErrBadChunk
		}
		size = size<<4 | int64(d)
	}
	if i == 0 && (len(line) > 0 || lf >= 0) {
		return 0, ErrBadChunk
	}
	// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ). Extensions are passed
	// through, not interpreted, so only their octets are checked: no CTL but HTAB.
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
	if size == 0 {
		c.state = chunkTrailer
	} else {
		c.state, c.remain = chunkData, size
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
		c.state = chunkDone
		return 2, nil
	case '\n', ' ', '\t':
		return 0, ErrBadChunk
	}
	maxLine := lim.chunkLine()
	window := b
	if len(window) > maxLine+2 {
		window = window[:maxLine+2]
	}
	_, _, _, next, err := scanField(window, 0)
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
	return next, nil
}
