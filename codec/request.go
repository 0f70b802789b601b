package codec

import "bytes"

// maxLeadingEmpty is how many empty lines may precede a request line (RFC 9112 §2.2 asks
// servers to ignore at least one; old clients send a CRLF after a POST body).
const maxLeadingEmpty = 4

// quickScanMin is the buffer size above which an incomplete head is not parsed in full
// again on every read; heads shorter than this usually arrive in one read anyway.
const quickScanMin = 2048

var crlfCRLF = []byte("\r\n\r\n")

// http2Preface is the request line of the HTTP/2 connection preface (RFC 9113 §3.4).
const http2Preface = "PRI * HTTP/2.0"

// Request is a parsed request head. Its Spans point into the buffer it was parsed from and
// are valid only while that buffer is. The zero value is ready to use; ParseRequest resets
// it, so one Request per connection is reused for every request. It is about 2.6 KB, so keep
// it in the connection's state rather than on the stack of a hot function.
type Request struct {
	Method    Method
	MethodRaw Span
	Target    Span
	Minor     uint8    // HTTP/1.<Minor>: 0 or 1
	Body      BodyKind // BodyNone, BodyLength or BodyChunked (RFC 9112 §6.3)
	BodyLen   int64    // for BodyLength; always > 0 there
	Close     bool     // the client wants the connection closed after this exchange (RFC 9112 §9.3)
	Expect100 bool     // "Expect: 100-continue" in an HTTP/1.1 request
	Host      Span     // value of the single Host field
	HasHost   bool
	TE        Span // Transfer-Encoding value when exactly one such field line was sent
	Headers   [MaxHeaders]Field
	NHeaders  int
}

// Reset clears r for reuse. It zeroes NHeaders but leaves the Headers array alone, so it is cheap.
func (r *Request) Reset() {
	r.Method = MethodOther
	r.MethodRaw, r.Target, r.Host, r.TE = Span{}, Span{}, Span{}, Span{}
	r.Minor = 0
	r.Body, r.BodyLen = BodyNone, 0
	r.Close, r.Expect100, r.HasHost = false, false, false
	r.NHeaders = 0
}

// Fields returns the parsed fields, hop-by-hop ones included. It does not copy.
func (r *Request) Fields() []Field { return r.Headers[:r.NHeaders] }

// Lookup returns the value of the first field named name, compared case-insensitively, in b,
// the buffer r was parsed from. It walks the fields and does not allocate.
func (r *Request) Lookup(b []byte, name string) (Span, bool) {
	return lookup(b, r.Headers[:r.NHeaders], name)
}

// ParseRequest parses one request head at the start of b. It returns the length of the head
// (through the final CRLF CRLF, including any skipped leading empty lines), or ErrNeedMore
// when b does not yet hold a complete head, or a *Error naming the status to answer. Limits
// are enforced before the head is complete: a request line or head already over its limit
// fails at once. lim may be nil for DefaultLimits.
//
// It does not allocate and does not retain b. Cost is one pass over the head plus one over
// the fields the proxy acts on; an incomplete buffer over 2 KiB without CRLF CRLF costs a
// memchr and a request-line check, so re-parsing a trickled head after each read stays
// cheap. A failed parse leaves r reset and reusable.
func ParseRequest(b []byte, r *Request, lim *Limits) (int, error) {
	r.Reset()
	if lim == nil {
		lim = &DefaultLimits
	}
	maxHead := lim.headBytes()
	head := b
	if len(head) > maxHead {
		head = head[:maxHead]
	}
	if len(head) > quickScanMin && bytes.Index(head, crlfCRLF) < 0 {
		// Slow path guard: every complete head contains CRLF CRLF. Without it a big buffer
		// is only checked up to the end of its request line (and against the head limit),
		// so a client trickling a large head costs a memchr per read, not a full parse per
		// read. Bad field lines are then reported once the head ends or hits the limit.
		if lf := bytes.IndexByte(head, '\n'); lf >= 0 {
			head = head[:lf+1]
		}
	}
	n, err := parseRequest(head, r, lim)
	if err != nil {
		r.Reset()
		if err == ErrNeedMore && len(b) >= maxHead {
			err = ErrHeadTooLarge
		}
		return 0, err
	}
	return n, nil
}

func parseRequest(b []byte, r *Request, lim *Limits) (int, error) {
	i := 0
	for k := 0; ; k++ {
		if i >= len(b) {
			return 0, ErrNeedMore
		}
		if b[i] == '\n' {
			return 0, ErrBareLF
		}
		if b[i] != '\r' {
			break
		}
		if i+1 >= len(b) {
			return 0, ErrNeedMore
		}
		if b[i+1] != '\n' || k == maxLeadingEmpty {
			return 0, ErrBadRequestLine
		}
		i += 2
	}

	// Request line, RFC 9112 §3: method SP request-target SP HTTP-version CRLF, exactly
	// one SP between parts. Method and target are checked as they arrive, so garbage (a TLS
	// handshake, a binary protocol) fails before its first LF.
	line := i
	maxLine := lim.requestLine()
	for i < len(b) && class[b[i]]&cToken != 0 {
		i++
	}
	if i >= len(b) {
		return 0, lineNeedMore(b, line, maxLine)
	}
	if b[i] != ' ' {
		return 0, badLineByte(b[i], ErrBadMethod)
	}
	if i == line {
		return 0, ErrBadRequestLine
	}
	r.MethodRaw = span(line, i)
	r.Method = methodOf(b[line:i])
	i++
	ts := i
	for i < len(b) && class[b[i]]&cTarget != 0 {
		i++
	}
	if i >= len(b) {
		return 0, lineNeedMore(b, line, maxLine)
	}
	if b[i] != ' ' {
		return 0, badLineByte(b[i], ErrBadTarget)
	}
	if i == ts {
		return 0, ErrBadRequestLine
	}
	r.Target = span(ts, i)
	i++
	lf := bytes.IndexByte(b[i:], '\n')
	if lf < 0 {
		return 0, lineNeedMore(b, line, maxLine)
	}
	lf += i
	if lf == i || b[lf-1] != '\r' {
		return 0, ErrBareLF
	}
	if lf-1-line > maxLine {
		return 0, ErrURITooLong
	}
	if r.Method == MethodOther && string(b[line:lf-1]) == http2Preface {
		return 0, ErrHTTP2Preface
	}
	minor, err := requestVersion(b[i : lf-1])
	if err != nil {
		return 0, err
	}
	r.Minor = minor
	if err := checkTarget(r.Target.Bytes(b), r.Method); err != nil {
		return 0, err
	}

	end, nh, err := parseFields(b, lf+1, &r.Headers, lim.headers())
	if err != nil {
		return 0, err
	}
	r.NHeaders = nh
	var m meta
	if err := scanMeta(b, r.Headers[:nh], &m, minor == 0); err != nil {
		return 0, err
	}

	// RFC 9112 §3.2: exactly one Host in HTTP/1.1; at most one in any request.
	switch {
	case m.nHost > 1:
		return 0, ErrDuplicateHost
	case m.nHost == 1:
		if !validHost(m.host.Bytes(b)) {
			return 0, ErrBadHost
		}
		r.Host, r.HasHost = m.host, true
	case minor == 1:
		return 0, ErrMissingHost
	}

	// RFC 9112 §6.3 and §6.1: framing, strictest reading, since a disagreement with the
	// backend here is request smuggling.
	switch {
	case m.nTE > 0:
		if m.hasCL {
			return 0, ErrCLAndTE
		}
		if minor == 0 {
			return 0, ErrBadTransferEncoding
		}
		if m.unknown {
			return 0, ErrUnknownCoding
		}
		if !m.chunked {
			return 0, ErrBadTransferEncoding
		}
		r.Body = BodyChunked
		if m.nTE == 1 {
			r.TE = m.te
		}
	case m.hasCL && m.cl > 0:
		if lim.MaxBodyBytes > 0 && m.cl > lim.MaxBodyBytes {
			return 0, ErrBodyTooLarge
		}
		r.Body, r.BodyLen = BodyLength, m.cl
	}

	if minor == 0 {
		r.Close = m.closeTok || !m.keepAlive
	} else {
		r.Close = m.closeTok
		r.Expect100 = m.expect100
	}
	return end, nil
}

// lineNeedMore turns ErrNeedMore into ErrURITooLong once the incomplete request line that
// starts at b[line] is already longer than max.
func lineNeedMore(b []byte, line, max int) error {
	n := len(b) - line
	if n > 0 && b[len(b)-1] == '\r' {
		n--
	}
	if n > max {
		return ErrURITooLong
	}
	return ErrNeedMore
}

// badLineByte is the error for byte c ending a method or target where SP was expected.
func badLineByte(c byte, other error) error {
	switch c {
	case '\n':
		return ErrBareLF
	case '\r', '\t':
		return ErrBadRequestLine
	}
	return other
}

// requestVersion parses HTTP-version (RFC 9112 §2.3). A well-formed version other than
// 1.0 or 1.1 is 505 (RFC 9110 §15.6.6); anything else is 400.
func requestVersion(v []byte) (uint8, error) {
	if len(v) == 0 || bytes.IndexByte(v, ' ') >= 0 {
		return 0, ErrBadRequestLine
	}
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return 0, ErrBadVersion
	}
	if v[5] != '1' || v[7] > '1' {
		return 0, ErrVersion
	}
	return v[7] - '0', nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkTarget checks the request-target form against the method (RFC 9112 §3.2):
// origin-form "/...", absolute-form "scheme:...", authority-form for CONNECT only,
// asterisk-form for OPTIONS only.
func checkTarget(t []byte, m Method) error {
	switch {
	case m == MethodConnect:
		if !validHost(t) || bytes.IndexByte(t, ':') < 0 {
			return ErrBadTarget
		}
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
		if m != MethodOptions {
			return ErrBadTarget
		}
	default:
		if schemeLen(t) == 0 {
			return ErrBadTarget
		}
	}
	return nil
}

// schemeLen returns the length of the scheme of an absolute-form target including its ':'
// (RFC 3986 §3.1), or 0 when t does not start with one.
func schemeLen(t []byte) int {
	if len(t) == 0 || lower[t[0]] < 'a' || lower[t[0]] > 'z' {
		return 0
	}
	for i := 1; i < len(t); i++ {
		if t[i] == ':' {
			return i + 1
		}
		if class[t[i]]&cScheme == 0 {
			return 0
		}
	}
	return 0
}
