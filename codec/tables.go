package codec

import "loopgate/internal/ascii"

// Byte classes, one [256] table so a scan costs one load per byte.
const (
	cToken  = 1 << iota // tchar (RFC 9110 §5.6.2)
	cValue              // field-value octet other than CR/LF: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5)
	cTarget             // request-target octet: VCHAR but "#" (see below)
	cHost               // Host value octet: reg-name, IP-literal and port characters (RFC 3986 §3.2.2)
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		isAlnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if isAlnum {
			t[c] |= cToken | cHost
		}
		if c == '\t' || 0x20 <= c && c != 0x7f {
			t[c] |= cValue
		}
		// RFC 9112 §3.2: the request-target is a URI reference without fragment, so "#"
		// never belongs in it, and URIs are ASCII (RFC 3986 §2): raw octets over 0x7e,
		// like CTLs and SP, are something each backend would read its own way.
		if 0x20 < c && c < 0x7f && c != '#' {
			t[c] |= cTarget
		}
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] |= cToken
	}
	for _, c := range []byte("-._~!$&'()*+,;=:[]%") {
		t[c] |= cHost
	}
	return t
}()

// Case folding and hex digits (package ascii), copied in so that a lookup
// is one load from this package's data.
var (
	lower = ascii.Lower
	unhex = ascii.Unhex
)

// eqFold reports whether b equals lit ignoring ASCII case; lit must be lower case.
func eqFold(b []byte, lit string) bool {
	if len(b) != len(lit) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower[b[i]] != lit[i] {
			return false
		}
	}
	return true
}

// eqFoldFold reports whether b equals s ignoring ASCII case; both may be in any case.
func eqFoldFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower[b[i]] != lower[s[i]] {
			return false
		}
	}
	return true
}

// eqFoldBytes reports whether a equals b ignoring ASCII case.
func eqFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower[a[i]] != lower[b[i]] {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// ValidFieldName reports whether s is a field name: one or more tchar
// (RFC 9110 §5.1, §5.6.2).
func ValidFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if class[s[i]]&cToken == 0 {
			return false
		}
	}
	return true
}
