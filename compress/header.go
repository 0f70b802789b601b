package compress

// WeakenETag appends to dst the entity tag to send with an encoded response: a strong tag
// "x" becomes W/"x", a weak one is kept as it is (RFC 9110 §8.8.3: a strong validator names
// exact bytes, which the encoding changed). A value that is no entity tag is appended
// unchanged. It allocates only to grow dst.
//
// Weak tags still serve If-None-Match, which compares weakly (RFC 9110 §13.1.2), but the
// backend must then accept W/"x" for its "x"; If-Match and If-Range compare strongly and will
// no longer match.
func WeakenETag(dst, etag []byte) []byte {
	etag = trimOWS(etag)
	if len(etag) < 2 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		return append(dst, etag...) // weak already ("W/..."), or not an entity tag
	}
	dst = append(dst, 'W', '/')
	return append(dst, etag...)
}

// AppendVary appends to dst the Vary value to send with a response that Eligible accepted:
// vary itself when it already names Accept-Encoding or is "*", else vary with
// ", Accept-Encoding" added ("Accept-Encoding" alone when vary is empty). Join several Vary
// field lines with ", " before calling it, or send the result as the only Vary field. It
// allocates only to grow dst.
func AppendVary(dst, vary []byte) []byte {
	vary = trimOWS(vary)
	for i := 0; i < len(vary); {
		var e []byte
		e, i = nextElem(vary, i)
		if equalFold(e, "accept-encoding") || (len(e) == 1 && e[0] == '*') {
			return append(dst, vary...)
		}
	}
	if len(vary) > 0 {
		dst = append(dst, vary...)
		dst = append(dst, ", "...)
	}
	return append(dst, "Accept-Encoding"...)
}
