package engine

import "loopgate/codec"

// walkChunks consumes the complete chunked framing at the start of b, as far
// as it goes, and returns how many bytes it consumed and what to forward for
// them. Chunked bodies are re-framed, never passed through (issue 11): the
// peer then parses exactly the framing loopgate parsed, whatever its own
// tolerance, so a chunk extension, whitespace or a leading zero that a lax
// backend reads differently cannot smuggle a request (RFC 9112 §7.1, §11.2).
//
// Canonical framing is forwarded as it lies (out is a sub-slice of b, no
// copy): that is what every well-behaved peer sends. Only when a piece must
// change (a size line with an extension or leading zeros, a trailer field a
// trailer may not carry) is the run so far copied into the loop's reframe
// buffer with the canonical replacement. With payloadOnly (an HTTP/1.0
// client, which cannot take chunked) only the data goes out. max bounds the
// payload (0: no bound). out is valid until the next call on this loop.
func (l *loop) walkChunks(b []byte, ch *codec.Chunked, payloadOnly bool, max int64) (n int, out []byte, err error) {
	lim := &l.cfg.Limits
	buf := l.reframe[:0]
	run := 0 // start of the bytes forwarded as they are
	for n < len(b) && !ch.Done() {
		k, data, err := ch.Next(b[n:], lim)
		if err == codec.ErrNeedMore {
			break
		}
		if err != nil {
			return 0, nil, err
		}
		if data {
			if max > 0 && ch.Payload() > max {
				return 0, nil, codec.ErrBodyTooLarge
			}
		} else if payloadOnly || !ch.Canonical() {
			buf = append(buf, b[run:n]...)
			if !payloadOnly {
				buf = appendCanonicalPiece(buf, ch)
			}
			run = n + k
		}
		n += k
	}
	if len(buf) == 0 {
		return n, b[run:n], nil
	}
	l.reframe = append(buf, b[run:n]...)
	return n, l.reframe, nil
}

// appendCanonicalPiece appends what replaces the non-canonical framing piece
// ch has just consumed: a bare size line, or nothing for a dropped trailer
// field.
func appendCanonicalPiece(dst []byte, ch *codec.Chunked) []byte {
	switch size := ch.Size(); {
	case size < 0: // a trailer field a trailer may not carry: dropped
		return dst
	case size == 0:
		return append(dst, "0\r\n"...)
	default:
		return codec.AppendChunkHeader(dst, int(size))
	}
}
