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
	Target    Span     // the request-target as received (RFC 9112 §3.2)
	Minor     uint8    // HTTP/1.<Minor>: 0 or 1; 1.2 to 1.9 are read as 1 (RFC 9110 §6.2)
	Body      BodyKind // BodyNone, BodyLength or BodyChunked (RFC 9112 §6.3)
	BodyLen   int64    // for BodyLength; always > 0 there
	Close     bool     // the client wants the connection closed after this exchange (RFC 9112 §9.3)
	Expect100 bool     // "Expect: 100-continue" in an HTTP/1.1 request
	Host      Span     // value of the single Host field
	HasHost   bool
	// Authority is the authority of an absolute-form target ("GET http://a.example/x"),
	// never empty then; its Len is 0 for every other form. It is the host the request is
	// for and replaces Host upstream (RFC 9112 §3.2.2); see EffectiveHost.
	Authority Span
	TE        Span // Transfer-Encoding value when exactly one such field line was sent
	// Upgrade is the Upgrade field's value when the request asks to change protocols
	// (RFC 9110 §7.8): HTTP/1.1, "upgrade" listed in Connection, exactly one non-empty
	// Upgrade field line. Its Len is 0 otherwise, and for HTTP/1.0, whose Upgrade a
	// server must ignore. Both fields stay hop-by-hop (Hop set): a caller that forwards
	// the upgrade writes them itself.
	Upgrade  Span
	Headers  [MaxHeaders]Field
	NHeaders int
}

// Reset clears r for reuse. It zeroes NHeaders but leaves the Headers array alone, so it is cheap.
func (r *Request) Reset() {
	r.Method = MethodOther
	r.MethodRaw, r.Target, r.Host, r.TE, r.Authority, r.Upgrade = Span{}, Span{}, Span{}, Span{}, Span{}, Span{}
	r.Minor = 0
	r.Body, r.BodyLen = BodyNone, 0
	r.Close, r.Expect100, r.HasHost = false, false, false
	r.NHeaders = 0
}

// EffectiveHost returns the host the request is for, inside b, the buffer r was parsed from:
// the authority of an absolute-form target, whatever Host says (RFC 9112 §3.2.2: a proxy
// ignores the received Host then), else the Host value, else nil (an HTTP/1.0 request without
// Host). It is what AppendRequestHead sends as Host and X-Forwarded-Host, so routing and
// logging should use it rather than Host. It does not copy or allocate.
func (r *Request) EffectiveHost(b []byte) []byte {
	switch {
	case r.Authority.Len > 0:
		return r.Authority.Bytes(b)
	case r.HasHost:
		return r.Host.Bytes(b)
	}
	return nil
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
	as, ae, err := checkTarget(r.Target.Bytes(b), r.Method)
	if err != nil {
		return 0, err
	}
	if ae > as {
		r.Authority = span(ts+as, ts+ae)
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
		if !m.chunked {
			// §6.3 rule 4: chunked not final means the length cannot be determined; 400
			// whatever the other codings are ("chunked, identity", "gzip").
			return 0, ErrBadTransferEncoding
		}
		if m.other {
			// §6.1: a coding the server does not understand is 501. loopgate decodes
			// none but chunked, and forwards only "Transfer-Encoding: chunked".
			return 0, ErrUnknownCoding
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
		if m.upgradeOn && m.nUpgrade == 1 && m.upgrade.Len > 0 {
			r.Upgrade = m.upgrade
		}
	}
	if r.Method == MethodConnect && !lim.AllowConnect {
		// Last, so that a malformed CONNECT still gets its 400. Nothing of a CONNECT is
		// forwarded unless the caller tunnels it (AllowConnect).
		return 0, ErrConnect
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

// requestVersion parses HTTP-version (RFC 9112 §2.3). HTTP/1.2 to HTTP/1.9 are read as
// HTTP/1.1: RFC 9110 §6.2 has a recipient process a higher minor version of a major version
// it implements as the highest minor version it supports. Any other well-formed version is
// 505 (RFC 9110 §15.6.6); anything else is 400.
func requestVersion(v []byte) (uint8, error) {
	if len(v) == 0 || bytes.IndexByte(v, ' ') >= 0 {
		return 0, ErrBadRequestLine
	}
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return 0, ErrBadVersion
	}
	if v[5] != '1' {
		return 0, ErrVersion
	}
	return min(v[7]-'0', 1), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkTarget checks the request-target form against the method (RFC 9112 §3.2): origin-form
// "/...", absolute-form "http://authority..." or "https://...", authority-form for CONNECT
// only, asterisk-form for OPTIONS only. For absolute-form it returns the authority as
// t[as:ae]. The octets were checked by the request-line scan: no CTL, SP, "#" or byte over
// 0x7e (see cTarget).
func checkTarget(t []byte, m Method) (as, ae int, err error) {
	switch {
	case m == MethodConnect:
		// RFC 9112 §3.2.3: host and port, nothing else.
		if !validHost(t) || bytes.IndexByte(t, ':') < 0 {
			return 0, 0, ErrBadTarget
		}
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
		if m != MethodOptions {
			return 0, 0, ErrBadTarget
		}
	default:
		return absoluteAuthority(t)
	}
	return 0, 0, nil
}

// absoluteAuthority returns the authority of the absolute-form target t as t[as:ae]
// (RFC 9112 §3.2.2). Only "http" and "https" (in any case: RFC 3986 §3.1) with a non-empty
// authority are accepted: those are the only schemes a proxy for an HTTP origin can serve,
// and anything else ("foo:bar", "http:/x", "mailto:a@b") would be forwarded as a target the
// backend reads in its own way. Userinfo is refused (RFC 9110 §4.2.4: senders must not
// generate it in http(s) URIs and a recipient should treat it as an error; it is a classic
// way to disguise the real host), and so is an empty host (RFC 9110 §4.2.1: a recipient
// must reject it).
func absoluteAuthority(t []byte) (as, ae int, err error) {
	switch {
	case len(t) >= 7 && eqFold(t[:7], "http://"):
		as = 7
	case len(t) >= 8 && eqFold(t[:8], "https://"):
		as = 8
	default:
		return 0, 0, ErrBadTarget
	}
	ae = as
	for ae < len(t) && t[ae] != '/' && t[ae] != '?' {
		ae++
	}
	a := t[as:ae]
	// validHost has no "@", so userinfo fails here too.
	if len(a) == 0 || a[0] == ':' || !validHost(a) {
		return 0, 0, ErrBadTarget
	}
	return as, ae, nil
}
