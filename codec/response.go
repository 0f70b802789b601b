package codec

import "bytes"

// Response is a parsed response head. Its Spans point into the buffer it was parsed from and
// are valid only while that buffer is. The zero value is ready to use; ParseResponse resets
// it, so one Response per upstream connection is reused.
type Response struct {
	Status  int
	Reason  Span // reason phrase as received, possibly empty
	Minor   uint8
	Body    BodyKind // from the status, the request method and the framing fields (RFC 9112 §6.3)
	BodyLen int64    // for BodyLength; always > 0 there
	// Close reports that the backend connection cannot be reused after this response:
	// "Connection: close", HTTP/1.0 without keep-alive, a close-delimited body, 101, or a
	// 2xx answer to CONNECT (the proxy does not tunnel).
	Close bool
	TE    Span // Transfer-Encoding value when exactly one such field line was sent
	// OtherCodings reports that Transfer-Encoding lists codings other than chunked
	// ("gzip, chunked", or "gzip" on a close-delimited body). The proxy decodes none of
	// them: they pass to an HTTP/1.1 client, and an HTTP/1.0 client, which cannot receive
	// Transfer-Encoding (RFC 9112 §6.1), must get a 502 instead of a body it cannot decode.
	OtherCodings bool
	Headers      [MaxHeaders]Field
	NHeaders     int
	clen         int64 // the Content-Length value, if the field was sent
}

// Reset clears r for reuse. It zeroes NHeaders but leaves the Headers array alone, so it is cheap.
func (r *Response) Reset() {
	r.Status, r.Reason, r.Minor = 0, Span{}, 0
	r.Body, r.BodyLen, r.Close = BodyNone, 0, false
	r.TE, r.OtherCodings, r.clen = Span{}, false, 0
	r.NHeaders = 0
}

// Fields returns the parsed fields, hop-by-hop ones included. It does not copy.
func (r *Response) Fields() []Field { return r.Headers[:r.NHeaders] }

// Lookup returns the value of the first field named name, compared case-insensitively, in b,
// the buffer r was parsed from. It walks the fields and does not allocate.
func (r *Response) Lookup(b []byte, name string) (Span, bool) {
	return lookup(b, r.Headers[:r.NHeaders], name)
}

// ParseResponse parses one response head at the start of b; m is the method of the request
// it answers (a response to HEAD has no body). It returns the length of the head, ErrNeedMore
// when b does not yet hold a complete head, or ErrBadResponse for anything malformed or over
// lim (the proxy answers 502). lim may be nil for DefaultLimits; MaxBodyBytes does not apply.
//
// It does not allocate and does not retain b. A failed parse leaves r reset and reusable.
func ParseResponse(b []byte, r *Response, m Method, lim *Limits) (int, error) {
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
		// As in ParseRequest: check an incomplete big head only up to its status line.
		if lf := bytes.IndexByte(head, '\n'); lf >= 0 {
			head = head[:lf+1]
		}
	}
	n, err := parseResponse(head, r, m, lim)
	if err != nil {
		r.Reset()
		if err != ErrNeedMore || len(b) >= maxHead {
			err = ErrBadResponse
		}
		return 0, err
	}
	return n, nil
}

func parseResponse(b []byte, r *Response, method Method, lim *Limits) (int, error) {
	// Fast path for garbage: every status line starts with "HTTP/1.", so fail on the
	// first byte that differs instead of waiting for a LF that may never come.
	const prefix = "HTTP/1."
	if k := min(len(b), len(prefix)); string(b[:k]) != prefix[:k] {
		return 0, ErrBadResponse
	}
	lf := bytes.IndexByte(b, '\n')
	if lf < 0 {
		return 0, ErrNeedMore
	}
	if lf == 0 || b[lf-1] != '\r' {
		return 0, ErrBadResponse
	}
	// RFC 9112 §4: HTTP-version SP 3DIGIT SP [ reason-phrase ]. A missing SP after an empty
	// reason is tolerated, as most clients do. HTTP/1.2 to 1.9 are read as 1.1 (RFC 9110
	// §6.2), as for requests.
	line := b[:lf-1]
	if len(line) < 12 || !isDigit(line[7]) || line[8] != ' ' ||
		!isDigit(line[9]) || !isDigit(line[10]) || !isDigit(line[11]) {
		return 0, ErrBadResponse
	}
	r.Minor = min(line[7]-'0', 1)
	r.Status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if r.Status < 100 || r.Status > 599 {
		// RFC 9110 §15: values outside 100..599 are invalid.
		return 0, ErrBadResponse
	}
	rs := 12
	if len(line) > 12 {
		if line[12] != ' ' {
			return 0, ErrBadResponse
		}
		rs = 13
		for _, c := range line[13:] {
			if class[c]&cValue == 0 {
				return 0, ErrBadResponse
			}
		}
	}
	r.Reason = span(rs, len(line))

	end, nh, err := parseFields(b, lf+1, &r.Headers, lim.headers())
	if err != nil {
		return 0, err
	}
	r.NHeaders = nh
	var m meta
	if err := scanMeta(b, r.Headers[:nh], &m, false); err != nil {
		return 0, err
	}
	if m.nTE > 0 && (m.hasCL || r.Minor == 0) {
		// RFC 9112 §6.1: CL with TE is a smuggling signature; TE in HTTP/1.0 is faulty framing.
		return 0, ErrBadResponse
	}
	if m.sawChunk && !m.chunked {
		// Chunked, then another coding, on a close-delimited body (RFC 9112 §6.3 rule 4) is
		// legal but cannot be forwarded in canonical form: re-chunking it for the client
		// would apply chunked twice (§6.1). No server sends it; refuse it.
		return 0, ErrBadResponse
	}
	if m.nTE == 1 {
		r.TE = m.te
	}
	r.OtherCodings, r.clen = m.other, m.cl

	// RFC 9112 §6.3, in order.
	tunnel := false
	switch {
	case method == MethodHead || r.Status < 200 || r.Status == 204 || r.Status == 304:
		r.Body = BodyNone
	case method == MethodConnect && r.Status < 300:
		r.Body, tunnel = BodyNone, true
	case m.nTE > 0:
		r.Body = BodyClose
		if m.chunked {
			r.Body = BodyChunked
		}
	case m.hasCL:
		if m.cl > 0 {
			r.Body, r.BodyLen = BodyLength, m.cl
		}
	default:
		r.Body = BodyClose
	}
	r.Close = m.closeTok || (r.Minor == 0 && !m.keepAlive) || r.Body == BodyClose ||
		r.Status == 101 || tunnel
	return end, nil
}
