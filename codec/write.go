package codec

import "strconv"

// Forward is the X-Forwarded-* part of the rewrite plan for one request.
type Forward struct {
	ClientIP []byte // appended to X-Forwarded-For
	Proto    []byte // X-Forwarded-Proto value to set, e.g. "http"
	// Extra holds complete field lines the proxy adds ("Name: value\r\n" each),
	// such as a generated X-Request-ID; they follow the forwarding fields.
	Extra []byte
}

// ResponseFraming is how the proxy frames the response it sends the client.
type ResponseFraming struct {
	Chunked   bool // send Transfer-Encoding ending in chunked (passed through, or re-chunked)
	Close     bool // send "Connection: close"
	KeepAlive bool // send "Connection: keep-alive" (an HTTP/1.0 client kept alive); Close wins
	// Extra holds complete field lines the proxy adds ("Name: value\r\n" each),
	// such as a stickiness Set-Cookie; they are appended after the backend's fields.
	Extra []byte
}

// AppendRequestHead appends to dst the head to send upstream for r, parsed from b, and
// returns the extended slice. It applies the rewrite plan while copying; r is not modified.
//
// The request line keeps method and target and speaks HTTP/1.1, the proxy's own version
// (RFC 9110 §6.2). Fields follow in their order, repeats kept, minus hop-by-hop ones
// (RFC 9110 §7.6.1: Connection and the fields it names, Keep-Alive, Proxy-Connection, TE,
// Transfer-Encoding, Upgrade, anything with Hop set) and minus X-Forwarded-For/-Proto/-Host.
// Then, in this order: "Host:" when the request had none (an HTTP/1.0 client; RFC 9112 §3.2
// requires one in 1.1: the authority of an absolute-form target, else empty);
// "Transfer-Encoding: <the original coding list>" for a chunked body, whose framing the
// caller forwards verbatim; "X-Forwarded-For: <existing values>, <ClientIP>";
// "X-Forwarded-Proto: <Proto>"; "X-Forwarded-Host: <Host>" when Host is not empty; CRLF.
// With fw == nil the X-Forwarded-* fields pass through untouched and none are added.
//
// It allocates only when dst lacks capacity; 2*head + len(ClientIP) + len(Proto) + 256 bytes
// always suffice.
func AppendRequestHead(dst, b []byte, r *Request, fw *Forward) []byte {
	dst = append(dst, r.MethodRaw.Bytes(b)...)
	dst = append(dst, ' ')
	dst = append(dst, r.Target.Bytes(b)...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	h := r.Headers[:r.NHeaders]
	for i := range h {
		f := &h[i]
		if f.Hop || fw != nil && f.kind >= kindXForwardedFor {
			continue
		}
		dst = appendField(dst, f.Name.Bytes(b), f.Value.Bytes(b))
	}
	if !r.HasHost {
		dst = append(dst, "Host: "...)
		dst = append(dst, targetAuthority(r.Target.Bytes(b))...)
		dst = append(dst, "\r\n"...)
	}
	if r.Body == BodyChunked {
		dst = append(dst, "Transfer-Encoding: "...)
		dst, _ = appendJoined(dst, b, h, kindTransferEncoding, false)
		dst = append(dst, "\r\n"...)
	}
	if fw != nil {
		start := len(dst)
		dst = append(dst, "X-Forwarded-For: "...)
		var some bool
		dst, some = appendJoined(dst, b, h, kindXForwardedFor, true)
		if len(fw.ClientIP) > 0 {
			if some {
				dst = append(dst, ", "...)
			}
			dst = append(dst, fw.ClientIP...)
			some = true
		}
		if some {
			dst = append(dst, "\r\n"...)
		} else {
			dst = dst[:start]
		}
		if len(fw.Proto) > 0 {
			dst = appendField(dst, []byte("X-Forwarded-Proto"), fw.Proto)
		}
		if r.Host.Len > 0 {
			dst = appendField(dst, []byte("X-Forwarded-Host"), r.Host.Bytes(b))
		}
		dst = append(dst, fw.Extra...)
	}
	return append(dst, "\r\n"...)
}

// AppendResponseHead appends to dst the head to send the client for r, parsed from b, and
// returns the extended slice. r is not modified.
//
// The status line is "HTTP/1.1 <status> <reason as received>". Fields follow in order minus
// hop-by-hop ones (as for AppendRequestHead, Transfer-Encoding included), and minus
// Content-Length when rf.Chunked (RFC 9112 §6.2). Then the framing of rf:
// "Transfer-Encoding:" with the backend's coding list, ", chunked" added when the body was not
// chunked already, or just "chunked" (a close-delimited body whose codings other than chunked
// must survive keeps them without rf.Chunked too); "Connection: close" or
// "Connection: keep-alive"; CRLF.
//
// It allocates only when dst lacks capacity.
func AppendResponseHead(dst, b []byte, r *Response, rf ResponseFraming) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendStatus(dst, r.Status)
	dst = append(dst, ' ')
	dst = append(dst, r.Reason.Bytes(b)...)
	dst = append(dst, "\r\n"...)
	h := r.Headers[:r.NHeaders]
	for i := range h {
		f := &h[i]
		if f.Hop || rf.Chunked && f.kind == kindContentLength {
			continue
		}
		dst = appendField(dst, f.Name.Bytes(b), f.Value.Bytes(b))
	}
	switch {
	case rf.Chunked:
		dst = append(dst, "Transfer-Encoding: "...)
		var some bool
		dst, some = appendJoined(dst, b, h, kindTransferEncoding, false)
		if r.Body != BodyChunked {
			if some {
				dst = append(dst, ", "...)
			}
			dst = append(dst, "chunked"...)
		}
		dst = append(dst, "\r\n"...)
	case r.Body == BodyClose:
		start := len(dst)
		dst = append(dst, "Transfer-Encoding: "...)
		var some bool
		dst, some = appendJoined(dst, b, h, kindTransferEncoding, false)
		if some {
			dst = append(dst, "\r\n"...)
		} else {
			dst = dst[:start]
		}
	}
	switch {
	case rf.Close:
		dst = append(dst, "Connection: close\r\n"...)
	case rf.KeepAlive:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = append(dst, rf.Extra...)
	return append(dst, "\r\n"...)
}

// AppendError appends a complete response the proxy answers by itself: the status line with
// the standard reason, "Content-Type: text/plain; charset=utf-8", Content-Length, then
// "Connection: close" when close is set and "Retry-After: <retryAfter>" when retryAfter > 0,
// and a one-line body such as "400 Bad Request\n". It allocates only when dst lacks capacity.
// status must be in 100..999.
func AppendError(dst []byte, status int, close bool, retryAfter int) []byte {
	return AppendErrorExtra(dst, status, close, retryAfter, nil)
}

// AppendErrorExtra is AppendError with extra complete field lines ("Name: value\r\n"
// each), such as X-Request-ID, placed after the framing fields.
func AppendErrorExtra(dst []byte, status int, close bool, retryAfter int, extra []byte) []byte {
	reason := StatusText(status)
	bodyLen := 4 // "NNN\n"
	if reason != "" {
		bodyLen += 1 + len(reason)
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendStatus(dst, status)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(bodyLen), 10)
	dst = append(dst, "\r\n"...)
	if close {
		dst = append(dst, "Connection: close\r\n"...)
	}
	if retryAfter > 0 {
		dst = append(dst, "Retry-After: "...)
		dst = strconv.AppendInt(dst, int64(retryAfter), 10)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, extra...)
	dst = append(dst, "\r\n"...)
	dst = appendStatus(dst, status)
	if reason != "" {
		dst = append(dst, ' ')
		dst = append(dst, reason...)
	}
	return append(dst, '\n')
}

// AppendChunkHeader appends the chunk-size line "<hex n>\r\n" that precedes n bytes of data
// when re-chunking a body; the caller appends the data and "\r\n", and LastChunk at the end.
// n must be positive: a zero-size chunk is LastChunk.
func AppendChunkHeader(dst []byte, n int) []byte {
	if n <= 0 {
		panic("BUG: chunk header for a non-positive size")
	}
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, "\r\n"...)
}

// StatusText returns the RFC 9110 reason phrase for code, or "" when there is none.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 101:
		return "Switching Protocols"
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 204:
		return "No Content"
	case 206:
		return "Partial Content"
	case 301:
		return "Moved Permanently"
	case 302:
		return "Found"
	case 304:
		return "Not Modified"
	case 307:
		return "Temporary Redirect"
	case 308:
		return "Permanent Redirect"
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 411:
		return "Length Required"
	case 413:
		return "Content Too Large"
	case 414:
		return "URI Too Long"
	case 417:
		return "Expectation Failed"
	case 421:
		return "Misdirected Request"
	case 426:
		return "Upgrade Required"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	}
	return ""
}

func appendStatus(dst []byte, s int) []byte {
	if s < 100 || s > 999 {
		panic("BUG: status code out of range")
	}
	return append(dst, byte('0'+s/100), byte('0'+s/10%10), byte('0'+s%10))
}

func appendField(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// appendJoined appends the non-empty values of the fields of kind k, joined by ", " (a list
// field's lines combine that way, RFC 9110 §5.3), skipping Hop fields if skipHop. It reports
// whether it appended anything.
func appendJoined(dst, b []byte, h []Field, k fieldKind, skipHop bool) ([]byte, bool) {
	some := false
	for i := range h {
		f := &h[i]
		if f.kind != k || f.Value.Len == 0 || skipHop && f.Hop {
			continue
		}
		if some {
			dst = append(dst, ", "...)
		}
		dst = append(dst, f.Value.Bytes(b)...)
		some = true
	}
	return dst, some
}

// targetAuthority returns the authority of an absolute-form target without userinfo
// (RFC 9112 §3.2.2), or nil when there is none or it is not a valid Host value.
func targetAuthority(t []byte) []byte {
	n := schemeLen(t)
	if n == 0 || len(t) < n+2 || t[n] != '/' || t[n+1] != '/' {
		return nil
	}
	a := t[n+2:]
	for i, c := range a {
		if c == '/' || c == '?' || c == '#' {
			a = a[:i]
			break
		}
	}
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == '@' {
			a = a[i+1:]
			break
		}
	}
	if !validHost(a) {
		return nil
	}
	return a
}
