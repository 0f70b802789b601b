package codec

import "strconv"

// Forward is the X-Forwarded-* part of the rewrite plan for one request.
type Forward struct {
	ClientIP []byte // appended to X-Forwarded-For
	Proto    []byte // X-Forwarded-Proto value to set, e.g. "http"
	// Extra holds complete field lines the proxy adds ("Name: value\r\n" each),
	// such as a generated X-Request-ID; they follow the forwarding fields.
	Extra []byte
	// Target, when not nil, is the request-target sent instead of the
	// received one (a route's path rewrite); it must be origin-form.
	Target []byte
	// Drop names fields (case-insensitive) that are not copied: a header
	// rule's remove or set. Fields the framing or the forwarding depends on
	// (Host, Content-Length, Transfer-Encoding, hop-by-hop, X-Forwarded-*)
	// are never taken from Drop.
	Drop []string
}

// ResponseFraming is how the proxy frames the response it sends the client.
type ResponseFraming struct {
	Chunked   bool // send Transfer-Encoding ending in chunked (the body is re-framed, or re-chunked)
	Close     bool // send "Connection: close"
	KeepAlive bool // send "Connection: keep-alive" (an HTTP/1.0 client kept alive); Close wins
	// HTTP10 says the client speaks HTTP/1.0: no Transfer-Encoding is sent at all, since an
	// HTTP/1.0 recipient cannot know it (RFC 9112 §6.1: a server must not send it to a
	// client that is not HTTP/1.1 or later). The caller de-chunks a chunked body and must
	// refuse (502) one with Response.OtherCodings, which it cannot decode. Chunked must be
	// false with it.
	HTTP10 bool
	// Extra holds complete field lines the proxy adds ("Name: value\r\n" each),
	// such as a stickiness Set-Cookie; they are appended after the backend's fields.
	Extra []byte
	// Drop names fields (case-insensitive) of the backend's that are not
	// copied (a header rule's remove or set); never Content-Length or a
	// hop-by-hop field, which the framing decides.
	Drop []string
}

// AppendRequestHead appends to dst the head to send upstream for r, parsed from b, and
// returns the extended slice. It applies the rewrite plan while copying; r is not modified.
// Everything that decides how the backend frames or routes the request is regenerated in
// canonical form rather than copied, so that the backend reads exactly what ParseRequest
// read (RFC 9112 §11.2), however lenient its own parser:
//
//   - The request line keeps the method and speaks HTTP/1.1, the proxy's own version
//     (RFC 9110 §6.2). An absolute-form target goes out in origin-form: its path and query,
//     "/" for an empty path, and "*" for OPTIONS with neither (RFC 9112 §3.2.2, §3.2.4).
//     Other targets are copied.
//   - Host carries EffectiveHost: for an absolute-form target its authority replaces the
//     client's Host value (RFC 9112 §3.2.2: a proxy must generate Host from the target).
//   - Content-Length is written once, in canonical decimal ("0010" and "5, 5" leave as
//     "10" and "5"), where the first received line was; repeats are dropped.
//   - A chunked body is announced by exactly "Transfer-Encoding: chunked", the only coding
//     ParseRequest accepts; the caller re-frames the body with Chunked.
//
// Fields follow in their order, repeats kept, minus hop-by-hop ones (RFC 9110 §7.6.1:
// Connection and the fields it names, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding,
// Upgrade, anything with Hop set) and minus X-Forwarded-For/-Proto/-Host. Then, in this
// order: "Host:" when the request had none (an HTTP/1.0 client; RFC 9112 §3.2 requires one
// in 1.1: the authority of an absolute-form target, else empty);
// "Transfer-Encoding: chunked" for a chunked body; "X-Forwarded-For: <existing values>,
// <ClientIP>"; "X-Forwarded-Proto: <Proto>"; "X-Forwarded-Host: <EffectiveHost>" when that is
// not empty; fw.Extra; CRLF. With fw == nil the X-Forwarded-* fields pass through untouched
// and none are added.
//
// It allocates only when dst lacks capacity; 2*head + len(ClientIP) + len(Proto) +
// len(Extra) + 256 bytes always suffice.
func AppendRequestHead(dst, b []byte, r *Request, fw *Forward) []byte {
	dst = append(dst, r.MethodRaw.Bytes(b)...)
	dst = append(dst, ' ')
	if fw != nil && fw.Target != nil {
		dst = append(dst, fw.Target...)
	} else {
		dst = appendTarget(dst, b, r)
	}
	dst = append(dst, " HTTP/1.1\r\n"...)
	host := r.EffectiveHost(b)
	h := r.Headers[:r.NHeaders]
	for i := range h {
		f := &h[i]
		switch {
		case f.Hop:
		case f.kind == kindHost:
			dst = appendField(dst, f.Name.Bytes(b), host)
		case f.kind == kindContentLength:
			dst = appendContentLength(dst, r.BodyLen)
		case f.kind >= kindXForwardedFor && fw != nil:
		case fw != nil && len(fw.Drop) > 0 && dropped(f.Name.Bytes(b), fw.Drop):
		default:
			dst = appendField(dst, f.Name.Bytes(b), f.Value.Bytes(b))
		}
	}
	if !r.HasHost {
		dst = appendField(dst, []byte("Host"), host)
	}
	if r.Body == BodyChunked {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
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
		if len(host) > 0 {
			dst = appendField(dst, []byte("X-Forwarded-Host"), host)
		}
		dst = append(dst, fw.Extra...)
	}
	return append(dst, "\r\n"...)
}

// appendTarget appends the request-target to send upstream: origin-form for an
// absolute-form target (RFC 9112 §3.2.2, §3.2.4), else the target as received.
func appendTarget(dst, b []byte, r *Request) []byte {
	if r.Authority.Len == 0 {
		return append(dst, r.Target.Bytes(b)...)
	}
	p := b[r.Authority.Off+r.Authority.Len : r.Target.Off+r.Target.Len] // path-abempty [ "?" query ]
	switch {
	case len(p) == 0 && r.Method == MethodOptions:
		return append(dst, '*')
	case len(p) == 0 || p[0] == '?':
		dst = append(dst, '/')
	}
	return append(dst, p...)
}

// AppendResponseHead appends to dst the head to send the client for r, parsed from b, and
// returns the extended slice. r is not modified.
//
// The status line is "HTTP/1.1 <status> <reason as received>". Fields follow in order minus
// hop-by-hop ones (as for AppendRequestHead, Transfer-Encoding included); Content-Length is
// written once in canonical decimal where the first received line was (RFC 9110 §8.6), or
// not at all when rf.Chunked (RFC 9112 §6.2). Then the framing of rf: with rf.HTTP10 no
// Transfer-Encoding at all; with rf.Chunked "Transfer-Encoding:" with the backend's codings
// other than chunked, lower case, in order, and "chunked" last; for a close-delimited body
// with codings other than chunked, the codings alone, which must survive (RFC 9112 §6.3
// rule 4); "Connection: close" or "Connection: keep-alive"; rf.Extra; CRLF. The caller
// re-frames a chunked body with Chunked.
//
// It allocates only when dst lacks capacity. rf.HTTP10 with rf.Chunked panics: that
// framing cannot be sent.
func AppendResponseHead(dst, b []byte, r *Response, rf ResponseFraming) []byte {
	if rf.HTTP10 && rf.Chunked {
		panic("BUG: chunked framing for an HTTP/1.0 client")
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = appendStatus(dst, r.Status)
	dst = append(dst, ' ')
	dst = append(dst, r.Reason.Bytes(b)...)
	dst = append(dst, "\r\n"...)
	h := r.Headers[:r.NHeaders]
	for i := range h {
		f := &h[i]
		if f.Hop {
			continue
		}
		if f.kind == kindContentLength {
			if !rf.Chunked {
				dst = appendContentLength(dst, r.clen)
			}
			continue
		}
		if len(rf.Drop) > 0 && dropped(f.Name.Bytes(b), rf.Drop) {
			continue
		}
		dst = appendField(dst, f.Name.Bytes(b), f.Value.Bytes(b))
	}
	switch {
	case rf.HTTP10:
	case rf.Chunked:
		dst = append(dst, "Transfer-Encoding: "...)
		var some bool
		if dst, some = appendCodings(dst, b, h); some {
			dst = append(dst, ", "...)
		}
		dst = append(dst, "chunked\r\n"...)
	case r.Body == BodyClose && r.OtherCodings:
		dst = append(dst, "Transfer-Encoding: "...)
		dst, _ = appendCodings(dst, b, h)
		dst = append(dst, "\r\n"...)
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

// dropped reports whether name is one of drop, case-insensitively.
func dropped(name []byte, drop []string) bool {
	for _, d := range drop {
		if eqFoldFold(name, d) {
			return true
		}
	}
	return false
}

func appendField(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// appendContentLength appends "Content-Length: <n>" in canonical decimal (RFC 9110 §8.6).
func appendContentLength(dst []byte, n int64) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, "\r\n"...)
}

// appendCodings appends the transfer codings of the Transfer-Encoding fields of h other than
// chunked, in order, in lower case (coding names are case-insensitive, RFC 9112 §7), joined
// by ", ", without the empty list elements a recipient must ignore (RFC 9110 §5.6.1.2). It
// reports whether it appended anything.
func appendCodings(dst, b []byte, h []Field) ([]byte, bool) {
	some := false
	for i := range h {
		f := &h[i]
		if f.kind != kindTransferEncoding {
			continue
		}
		v := f.Value.Bytes(b)
		for j := 0; ; {
			s, e, next := nextElem(v, j)
			if s == e {
				break
			}
			j = next
			if eqFold(v[s:e], "chunked") {
				continue
			}
			if some {
				dst = append(dst, ", "...)
			}
			for _, c := range v[s:e] {
				dst = append(dst, lower[c])
			}
			some = true
		}
	}
	return dst, some
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
