package route

import (
	"bytes"

	"loopgate/internal/ascii"
)

// Case folding and hex digits (package ascii), copied in so that a lookup
// is one load from this package's data.
var (
	lower = ascii.Lower
	unhex = ascii.Unhex
)

// unreserved marks RFC 3986 §2.3 unreserved characters: ALPHA DIGIT - . _ ~
var unreserved = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	for _, c := range []byte("-._~") {
		t[c] = true
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

// NormalizeHost appends to dst the host for matching: the port removed (also for
// "[::1]:8080", which gives "[::1]"), one trailing dot removed, ASCII lower case.
// An unbracketed host is cut at its first ':'. It does not allocate when dst has
// room for len(host) more bytes; dst must not overlap host.
func NormalizeHost(dst, host []byte) []byte {
	h := host
	if len(h) > 0 && h[0] == '[' {
		if i := bytes.IndexByte(h, ']'); i >= 0 {
			h = h[:i+1]
		}
	} else if i := bytes.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	for _, c := range h {
		dst = append(dst, lower[c])
	}
	return dst
}

// NormalizePath appends to dst the path for matching and reports whether it differs
// from path. In one pass it
//   - decodes percent-encoded unreserved characters (RFC 3986 §2.3, §6.2.2.2) and
//     upper-cases the hex of every other %XX, which stays encoded ("%2f" gives "%2F",
//     so an encoded slash never separates segments); a '%' not followed by two hex
//     digits is kept as it is, and so are the escapes of hex digits in the two bytes
//     after it ("%4%31" stays, it must not become "%41"): normal forms stay normal;
//   - merges runs of '/' into one, as nginx's merge_slashes, before
//   - removing dot-segments (RFC 3986 §5.2.4): "/.." at the root stays at "/". The
//     test is made after decoding, so "%2e%2e" is a dot-segment too, as it would be
//     for any backend that decodes before resolving.
//
// path is the path of an origin-form target, without the query. "*" (OPTIONS *) is
// returned unchanged; a path not starting with '/' is read as if it did. It does not
// allocate when dst has room for len(path)+1 more bytes; dst must not overlap path.
func NormalizePath(dst, path []byte) ([]byte, bool) {
	if len(path) == 1 && path[0] == '*' {
		return append(dst, '*'), false
	}
	base := len(dst)
	dst = append(dst, '/')
	stray := 0 // index in dst of the segment's last '%' that starts no escape
	i := 0
	for {
		for i < len(path) && path[i] == '/' {
			i++
		}
		if i == len(path) {
			break
		}
		// dst ends with '/': append the decoded segment after it.
		seg := len(dst)
		stray = -3
		for i < len(path) && path[i] != '/' {
			c := path[i]
			if c == '%' && i+2 < len(path) && unhex[path[i+1]] != 0xff && unhex[path[i+2]] != 0xff {
				v := unhex[path[i+1]]<<4 | unhex[path[i+2]]
				// A hex digit decoded right after a stray '%' would make a new escape
				// ("%4%31" is not "%41"): keep it encoded, so normal forms stay normal.
				if unreserved[v] && (unhex[v] == 0xff || len(dst) > stray+2) {
					dst = append(dst, v)
				} else {
					dst = append(dst, '%', upperHex[v>>4], upperHex[v&15])
				}
				i += 3
				continue
			}
			if c == '%' {
				stray = len(dst)
			}
			dst = append(dst, c)
			i++
		}
		switch s := dst[seg:]; {
		case len(s) == 1 && s[0] == '.':
			dst = dst[:seg]
		case len(s) == 2 && s[0] == '.' && s[1] == '.':
			dst = dst[:seg]
			if seg-1 > base { // drop the previous segment, keep its leading '/'
				dst = dst[:base+bytes.LastIndexByte(dst[base:seg-1], '/')+1]
			}
		default:
			if i < len(path) {
				dst = append(dst, '/')
			}
		}
	}
	return dst, !bytes.Equal(dst[base:], path)
}
