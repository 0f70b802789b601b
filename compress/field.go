package compress

// Helpers for reading list-valued fields in place (RFC 9110 §5.6.1). None allocates.

// nextElem returns the element of the comma-separated list v that starts at i, trimmed of
// OWS, and the index just past its comma. Commas inside quoted strings do not split.
// Empty elements come back empty; callers skip them.
func nextElem(v []byte, i int) ([]byte, int) {
	s := i
	for i < len(v) && v[i] != ',' {
		if v[i] == '"' {
			i = skipQuoted(v, i)
			continue
		}
		i++
	}
	e := trimOWS(v[s:i])
	if i < len(v) {
		i++ // the comma
	}
	return e, i
}

// skipQuoted returns the index just past the quoted string that starts at v[i] == '"', or
// len(v) when it is not closed.
func skipQuoted(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(v)
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring ASCII case in b.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// hasPrefixFold is equalFold for a prefix of b.
func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// tokenBytes marks tchar (RFC 9110 §5.6.2).
var tokenBytes = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isTokenByte(c byte) bool { return tokenBytes[c] }
