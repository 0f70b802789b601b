package cache

// Evaluate answers the conditional fields of a request from a stored entry (RFC 9111
// §4.3.2, RFC 9110 §13.2.2) and reports whether the engine should send e.NotModified (a
// 304) instead of the full response. If-None-Match takes precedence: "*" or any listed
// entity-tag weakly equal to e's ETag matches; when the field is present, If-Modified-Since
// is ignored. Otherwise If-Modified-Since matches when e's Last-Modified (else its Date,
// §4.3.2) is not later than the given date; an invalid date is ignored. Preconditions apply
// only to 2xx entries (RFC 9110 §13.2.1). The request method is GET or HEAD, the only ones
// served from the cache. It does not allocate.
func Evaluate(req Fields, e *Entry) (notModified bool) {
	if e.Status < 200 || e.Status > 299 {
		return false
	}
	if _, ok := first(req, "If-None-Match"); ok {
		for n := 0; ; n++ {
			v, ok := req.Field("If-None-Match", n)
			if !ok {
				return false
			}
			for item, i := nextItem(v, 0); item != nil; item, i = nextItem(v, i) {
				if len(item) == 1 && item[0] == '*' {
					return true
				}
				if e.ETag != nil && weakEqual(item, e.ETag) {
					return true
				}
			}
		}
	}
	v, ok := first(req, "If-Modified-Since")
	if !ok {
		return false
	}
	ims, ok := ParseHTTPDate(v)
	if !ok {
		return false
	}
	lm := e.date
	if e.LastModified != nil {
		lm = e.lastMod
	}
	return lm <= ims
}

// weakEqual compares two entity-tags by the weak comparison of RFC 9110 §8.8.3.2: equal
// opaque-tags, whether either is weak ("W/").
func weakEqual(a, b []byte) bool {
	return string(opaque(a)) == string(opaque(b))
}

func opaque(t []byte) []byte {
	if len(t) >= 2 && t[0] == 'W' && t[1] == '/' {
		return t[2:]
	}
	return t
}
