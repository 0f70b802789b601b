package codec

// Span locates bytes inside the buffer that was parsed. It is valid only while that buffer
// is, and only for that buffer.
type Span struct{ Off, Len uint32 }

// Bytes returns the bytes of s inside b, the buffer s was parsed from. It does not copy.
func (s Span) Bytes(b []byte) []byte { return b[s.Off : s.Off+s.Len] }

func span(start, end int) Span { return Span{Off: uint32(start), Len: uint32(end - start)} }

// Method is a request method. Methods are case-sensitive (RFC 9110 §9.1): "get" is
// MethodOther, whose name is kept in Request.MethodRaw.
type Method uint8

const (
	MethodOther Method = iota
	MethodGet
	MethodHead
	MethodPost
	MethodPut
	MethodDelete
	MethodConnect
	MethodOptions
	MethodTrace
	MethodPatch
)

// Idempotent reports whether m is idempotent per RFC 9110 §9.2.2 (GET, HEAD, OPTIONS, TRACE,
// PUT, DELETE), i.e. whether a request may be retried on another backend after a failure.
func (m Method) Idempotent() bool {
	switch m {
	case MethodGet, MethodHead, MethodOptions, MethodTrace, MethodPut, MethodDelete:
		return true
	}
	return false
}

// methodOf maps a method token to its Method. It does not allocate.
func methodOf(tok []byte) Method {
	switch len(tok) {
	case 3:
		switch string(tok) {
		case "GET":
			return MethodGet
		case "PUT":
			return MethodPut
		}
	case 4:
		switch string(tok) {
		case "HEAD":
			return MethodHead
		case "POST":
			return MethodPost
		}
	case 5:
		switch string(tok) {
		case "PATCH":
			return MethodPatch
		case "TRACE":
			return MethodTrace
		}
	case 6:
		if string(tok) == "DELETE" {
			return MethodDelete
		}
	case 7:
		switch string(tok) {
		case "OPTIONS":
			return MethodOptions
		case "CONNECT":
			return MethodConnect
		}
	}
	return MethodOther
}

// BodyKind says how the body that follows a head is framed (RFC 9112 §6.3).
type BodyKind uint8

const (
	BodyNone    BodyKind = iota // no body (also Content-Length: 0)
	BodyLength                  // exactly BodyLen > 0 bytes
	BodyChunked                 // chunked framing; track it with Chunked
	BodyClose                   // responses only: the body runs until the backend closes
)

// MaxHeaders is the size of the field arrays in Request and Response; Limits.MaxHeaders is
// clamped to it.
const MaxHeaders = 128

// Field is one field line of a head. Name and Value point into the parsed buffer; Value is
// trimmed of surrounding whitespace.
type Field struct {
	Name, Value Span
	// Hop marks a hop-by-hop field (RFC 9110 §7.6.1): the connection-specific fields,
	// every field named by Connection, and repeated Content-Length lines. The head
	// writers drop it.
	Hop  bool
	kind fieldKind
}

// fieldKind identifies the fields the proxy acts on, so nothing rescans names after the parse.
type fieldKind uint8

const (
	kindOther fieldKind = iota
	kindHost
	kindContentLength
	kindTransferEncoding
	kindConnection
	kindKeepAlive
	kindProxyConnection
	kindTE
	kindUpgrade
	kindExpect
	kindXForwardedFor
	kindXForwardedProto
	kindXForwardedHost
)

// kindOf classifies a field name case-insensitively; the switch on length keeps the common
// miss to one comparison.
func kindOf(name []byte) fieldKind {
	switch len(name) {
	case 2:
		if eqFold(name, "te") {
			return kindTE
		}
	case 4:
		if eqFold(name, "host") {
			return kindHost
		}
	case 6:
		if eqFold(name, "expect") {
			return kindExpect
		}
	case 7:
		if eqFold(name, "upgrade") {
			return kindUpgrade
		}
	case 10:
		if eqFold(name, "connection") {
			return kindConnection
		}
		if eqFold(name, "keep-alive") {
			return kindKeepAlive
		}
	case 14:
		if eqFold(name, "content-length") {
			return kindContentLength
		}
	case 15:
		if eqFold(name, "x-forwarded-for") {
			return kindXForwardedFor
		}
	case 16:
		if eqFold(name, "proxy-connection") {
			return kindProxyConnection
		}
		if eqFold(name, "x-forwarded-host") {
			return kindXForwardedHost
		}
	case 17:
		if eqFold(name, "transfer-encoding") {
			return kindTransferEncoding
		}
		if eqFold(name, "x-forwarded-proto") {
			return kindXForwardedProto
		}
	}
	return kindOther
}

// lookup returns the value of the first field named name (case-insensitive); hop-by-hop
// fields are found too.
func lookup(b []byte, h []Field, name string) (Span, bool) {
	for i := range h {
		if n := h[i].Name; int(n.Len) == len(name) && eqFoldFold(n.Bytes(b), name) {
			return h[i].Value, true
		}
	}
	return Span{}, false
}
