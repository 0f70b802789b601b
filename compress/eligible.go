package compress

// Head gathers what Eligible needs from a request and its response head. Fill Method, Status
// and ContentLength from the parsed heads, then pass the other fields through RequestField and
// ResponseField. The zero value is ready to use; Reset reuses it. A Head keeps slices of the
// field values it was given, so it is valid only while the buffer holding the head is.
type Head struct {
	Method        []byte // request method
	Status        int    // response status code
	ContentLength int64  // response Content-Length, or -1 when unknown (chunked, close-delimited)

	contentType []byte // response Content-Type value
	encoded     bool   // Content-Encoding other than identity
	noTransform bool   // Cache-Control: no-transform in the request or response
	ranged      bool   // Content-Range: a part of a representation
}

// Reset empties h for another exchange.
func (h *Head) Reset() { *h = Head{ContentLength: -1} }

// RequestField notes one request field. Only Cache-Control matters: a client's no-transform
// asks intermediaries to leave the content alone (RFC 9111 §5.2.1.6). It does not allocate.
func (h *Head) RequestField(name, value []byte) {
	if equalFold(name, "cache-control") && hasDirective(value, "no-transform") {
		h.noTransform = true
	}
}

// ResponseField notes one response field: Content-Type, Content-Encoding, Content-Range and
// Cache-Control; it ignores the rest. It does not allocate.
func (h *Head) ResponseField(name, value []byte) {
	switch {
	case equalFold(name, "content-type"):
		h.contentType = value
	case equalFold(name, "content-encoding"):
		for i := 0; i < len(value); {
			var e []byte
			e, i = nextElem(value, i)
			if len(e) > 0 && !equalFold(e, "identity") {
				h.encoded = true
			}
		}
	case equalFold(name, "content-range"):
		h.ranged = true
	case equalFold(name, "cache-control"):
		if hasDirective(value, "no-transform") {
			h.noTransform = true // RFC 9111 §5.2.2.6
		}
	}
}

// Eligible reports whether the response described by h may be compressed: its media type is
// in p's list, it is not already encoded, it has a body (not a HEAD answer, 1xx, 204 or 304),
// it is not a 206 or Content-Range part (ranges address the unencoded representation), it is
// not below MinSize when its length is known, and neither side sent Cache-Control:
// no-transform. It does not allocate.
//
// Eligible says nothing about the client: Negotiate decides whether it accepts a coding. A
// response that is eligible must carry Vary: Accept-Encoding even when it goes out unencoded
// (see AppendVary), so that caches keep the variants apart.
func (p *Pool) Eligible(h *Head) bool {
	switch {
	case h.Status < 200, h.Status == 204, h.Status == 206, h.Status == 304:
		return false
	case equalFold(h.Method, "head"):
		return false
	case h.encoded, h.noTransform, h.ranged:
		return false
	case h.ContentLength >= 0 && h.ContentLength < int64(p.o.MinSize):
		return false
	}
	return p.typeListed(h.contentType)
}

// typeListed matches the media type of a Content-Type value (parameters dropped) against the
// list: "type/subtype" exactly or "type/*", ignoring case (RFC 9110 §8.3.1).
func (p *Pool) typeListed(ct []byte) bool {
	for i, c := range ct {
		if c == ';' {
			ct = ct[:i]
			break
		}
	}
	ct = trimOWS(ct)
	slash := -1
	for i, c := range ct {
		if c == '/' {
			slash = i
			break
		}
	}
	if slash <= 0 || slash == len(ct)-1 {
		return false // no type, or not type/subtype
	}
	for _, t := range p.types {
		if len(t) == slash+2 && t[slash+1] == '*' && t[slash] == '/' && hasPrefixFold(ct, t[:slash]) {
			return true // "text/*"
		}
		if equalFold(ct, t) {
			return true
		}
	}
	return false
}

// hasDirective reports whether the Cache-Control value v holds the directive name (lower
// case), ignoring case and any argument; a name inside another directive's quoted argument
// does not count.
func hasDirective(v []byte, name string) bool {
	for i := 0; i < len(v); {
		var e []byte
		e, i = nextElem(v, i)
		n := 0
		for n < len(e) && e[n] != '=' {
			n++
		}
		if equalFold(trimOWS(e[:n]), name) {
			return true
		}
	}
	return false
}
