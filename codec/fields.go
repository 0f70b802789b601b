package codec

import "encoding/binary"

// maxConnTokens bounds the Connection options other than close and keep-alive that one head
// may name; more is ErrBadFieldValue. Real clients send one or two.
const maxConnTokens = 16

// maxContentLength keeps Content-Length far from int64 overflow (2^62).
const maxContentLength = 1 << 62

// scanField parses one field line (RFC 9112 §5) that starts at b[i], a byte that is not CR,
// LF, SP or HTAB. It returns where the name ends, the value trimmed of OWS, and the offset
// after the line's CRLF; ErrNeedMore when the line is not complete yet.
func scanField(b []byte, i int) (nameEnd, vs, ve, next int, err error) {
	start := i
	for i < len(b) && class[b[i]]&cToken != 0 {
		i++
	}
	if i >= len(b) {
		return 0, 0, 0, 0, ErrNeedMore
	}
	if b[i] != ':' {
		switch b[i] {
		case ' ', '\t':
			// RFC 9112 §5.1: no whitespace between name and colon; a proxy must reject it.
			return 0, 0, 0, 0, ErrSpaceBeforeColon
		case '\n':
			return 0, 0, 0, 0, ErrBareLF
		}
		return 0, 0, 0, 0, ErrBadFieldName
	}
	if i == start {
		return 0, 0, 0, 0, ErrBadFieldName
	}
	nameEnd = i
	i++
	for i < len(b) && isOWS(b[i]) {
		i++
	}
	vs = i
	i = skipValue(b, i)
	if i+1 >= len(b) {
		if i < len(b) && b[i] != '\r' {
			return 0, 0, 0, 0, badValueByte(b[i])
		}
		return 0, 0, 0, 0, ErrNeedMore
	}
	if b[i] != '\r' {
		return 0, 0, 0, 0, badValueByte(b[i])
	}
	if b[i+1] != '\n' {
		// RFC 9112 §2.2: a bare CR is invalid.
		return 0, 0, 0, 0, ErrBadFieldValue
	}
	ve = i
	for ve > vs && isOWS(b[ve-1]) {
		ve--
	}
	return nameEnd, vs, ve, i + 2, nil
}

// skipValue returns the offset of the first byte at or after i that may not appear in a
// field value (a CTL other than HTAB, or DEL), or len(b).
func skipValue(b []byte, i int) int {
	// Fast path: eight bytes at a time while none is below 0x20 or equal to 0x7f. The test
	// for "some byte < 0x20" is exact about existence, which is all that is needed here;
	// HTAB and the CR ending the line drop to the byte loop.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		y := x ^ 0x7f*ones
		if (x-0x20*ones)&^x&highs|(y-ones)&^y&highs != 0 {
			break
		}
		i += 8
	}
	for i < len(b) && class[b[i]]&cValue != 0 {
		i++
	}
	return i
}

func badValueByte(c byte) error {
	if c == '\n' {
		return ErrBareLF
	}
	return ErrBadFieldValue
}

// parseFields parses the field lines from b[i] through the empty line that ends the section,
// storing at most maxFields of them in h. It returns the offset after the final CRLF.
func parseFields(b []byte, i int, h *[MaxHeaders]Field, maxFields int) (end, nh int, err error) {
	for {
		if i >= len(b) {
			return 0, 0, ErrNeedMore
		}
		switch b[i] {
		case '\r':
			if i+1 >= len(b) {
				return 0, 0, ErrNeedMore
			}
			if b[i+1] != '\n' {
				return 0, 0, ErrBadFieldName
			}
			return i + 2, nh, nil
		case '\n':
			return 0, 0, ErrBareLF
		case ' ', '\t':
			// RFC 9112 §5.2: obs-fold, and §2.2: whitespace before the first field line;
			// a proxy rejects both rather than guess.
			return 0, 0, ErrObsFold
		}
		ne, vs, ve, next, err := scanField(b, i)
		if err != nil {
			return 0, 0, err
		}
		if nh == maxFields {
			return 0, 0, ErrTooManyHeaders
		}
		h[nh] = Field{Name: span(i, ne), Value: span(vs, ve), kind: kindOf(b[i:ne])}
		nh++
		i = next
	}
}

// meta is what the fields the proxy acts on say, gathered in one pass over the stored fields.
type meta struct {
	cl        int64 // the Content-Length value, when hasCL
	hasCL     bool
	nTE       int  // Transfer-Encoding field lines
	codings   int  // transfer codings listed in them
	te        Span // the last Transfer-Encoding value
	chunked   bool // the last coding is chunked
	sawChunk  bool
	other     bool // a coding other than chunked (RFC 9112 §7)
	closeTok  bool // Connection: close
	keepAlive bool // Connection: keep-alive
	expect100 bool
	host      Span
	nHost     int
	upgradeOn bool // Connection lists "upgrade"
	upgrade   Span // the last Upgrade value
	nUpgrade  int  // Upgrade field lines
}

// scanMeta interprets the known fields of h and marks hop-by-hop ones. http10 drops Expect,
// which an HTTP/1.0 request may not carry on (RFC 9110 §10.1.1). Errors are request flavoured;
// ParseResponse maps them to ErrBadResponse.
func scanMeta(b []byte, h []Field, m *meta, http10 bool) error {
	var tokens [maxConnTokens]Span
	nt := 0
	for i := range h {
		f := &h[i]
		switch f.kind {
		case kindOther, kindXForwardedFor, kindXForwardedProto, kindXForwardedHost:
		case kindHost:
			m.nHost++
			m.host = f.Value
		case kindContentLength:
			// RFC 9110 §8.6: repeated lines or a list of the same decimal value are what an
			// earlier hop combining duplicates produces; a recipient may take the single
			// value. That is safe here because the writers never forward the received
			// lines: they write one Content-Length in canonical decimal instead.
			n, ok := parseContentLength(f.Value.Bytes(b))
			if !ok || m.hasCL && n != m.cl {
				return ErrBadContentLength
			}
			if m.hasCL {
				f.Hop = true
				continue
			}
			m.cl, m.hasCL = n, true
		case kindTransferEncoding:
			f.Hop = true
			m.nTE++
			m.te = f.Value
			v := f.Value.Bytes(b)
			for j := 0; ; {
				s, e, next := nextElem(v, j)
				if s == e {
					break
				}
				if err := m.coding(v[s:e]); err != nil {
					return err
				}
				j = next
			}
		case kindConnection:
			f.Hop = true
			v := f.Value.Bytes(b)
			for j := 0; ; {
				s, e, next := nextElem(v, j)
				if s == e {
					break
				}
				j = next
				tok := v[s:e]
				switch {
				case !isToken(tok):
					return ErrBadFieldValue
				case eqFold(tok, "close"):
					m.closeTok = true
				case eqFold(tok, "keep-alive"):
					m.keepAlive = true
				case eqFold(tok, "upgrade"):
					m.upgradeOn = true // Upgrade itself is hop-by-hop already
				default:
					if nt == len(tokens) {
						return ErrBadFieldValue
					}
					tokens[nt] = Span{Off: f.Value.Off + uint32(s), Len: uint32(e - s)}
					nt++
				}
			}
		case kindUpgrade:
			f.Hop = true
			m.nUpgrade++
			m.upgrade = f.Value
		case kindKeepAlive, kindProxyConnection, kindTE:
			f.Hop = true
		case kindExpect:
			if http10 {
				f.Hop = true
				continue
			}
			v := f.Value.Bytes(b)
			for j := 0; ; {
				s, e, next := nextElem(v, j)
				if s == e {
					break
				}
				if eqFold(v[s:e], "100-continue") {
					m.expect100 = true
				}
				j = next
			}
		}
	}
	if m.nTE > 0 && m.codings == 0 {
		return ErrBadTransferEncoding
	}
	// Slow path: Connection names other fields (RFC 9110 §7.6.1). Host and Content-Length
	// are never dropped that way: losing them would change how the backend frames the message.
	for t := 0; t < nt; t++ {
		tok := tokens[t].Bytes(b)
		for i := range h {
			f := &h[i]
			if f.Hop || f.kind == kindHost || f.kind == kindContentLength {
				continue
			}
			if eqFoldBytes(f.Name.Bytes(b), tok) {
				f.Hop = true
			}
		}
	}
	return nil
}

// coding records one transfer coding of a Transfer-Encoding list (RFC 9112 §6.1, §7).
// Coding names are case-insensitive (RFC 9112 §7). Whether a coding
// other than chunked is acceptable is the caller's decision: requests refuse it (501),
// responses pass it on.
func (m *meta) coding(c []byte) error {
	if !isToken(c) {
		// Parameters are defined for no registered coding; a ";" is not worth the risk.
		return ErrBadTransferEncoding
	}
	m.codings++
	if eqFold(c, "chunked") {
		if m.sawChunk {
			// RFC 9112 §6.1: a sender must not apply chunked more than once.
			return ErrBadTransferEncoding
		}
		m.sawChunk, m.chunked = true, true
		return nil
	}
	// "identity" is not a transfer coding since RFC 7230; it lands here too.
	m.chunked, m.other = false, true
	return nil
}

// nextElem returns the next non-empty element of the comma-separated list v at or after j,
// trimmed of OWS, as v[s:e], and where to continue. s == e means the list is exhausted.
// Empty elements are skipped, as RFC 9110 §5.6.1.2 requires of recipients.
func nextElem(v []byte, j int) (s, e, next int) {
	for j < len(v) && (v[j] == ',' || isOWS(v[j])) {
		j++
	}
	s = j
	for j < len(v) && v[j] != ',' {
		j++
	}
	e = j
	for e > s && isOWS(v[e-1]) {
		e--
	}
	return s, e, j
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if class[c]&cToken == 0 {
			return false
		}
	}
	return true
}

// parseContentLength parses a Content-Length value (RFC 9110 §8.6): 1*DIGIT without sign
// or spaces, or a comma-separated list whose elements are all the same decimal value
// ("5, 5", "5,05"), which §8.6 lets a recipient read as that value. Empty list elements are
// refused: Content-Length is not a list field, the list form is tolerated only as the trace
// of combined duplicates. Values are bounded by maxContentLength.
func parseContentLength(v []byte) (int64, bool) {
	n := int64(-1)
	for i := 0; ; {
		j := i
		var x int64
		for j < len(v) && isDigit(v[j]) {
			if x > maxContentLength/10 {
				return 0, false
			}
			x = x*10 + int64(v[j]-'0')
			j++
		}
		if j == i || n >= 0 && x != n {
			return 0, false
		}
		n = x
		for j < len(v) && isOWS(v[j]) {
			j++
		}
		if j == len(v) {
			return n, true
		}
		if v[j] != ',' {
			return 0, false
		}
		j++
		for j < len(v) && isOWS(v[j]) {
			j++
		}
		i = j
	}
}

func validHost(v []byte) bool {
	for _, c := range v {
		if class[c]&cHost == 0 {
			return false
		}
	}
	return true
}
