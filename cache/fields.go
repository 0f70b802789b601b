package cache

// Fields gives the cache decisions access to a message's header fields. The engine
// implements it over its parsed head (codec Spans), so no decision builds a map.
type Fields interface {
	// Field returns the value of the i-th field line (from 0) named name, compared
	// case-insensitively, with leading and trailing OWS removed; ok is false when the
	// message has i or fewer such lines. It must not allocate or retain name.
	//
	// One indexed method instead of a callback iterator: a closure passed through an
	// interface method escapes, so Each(name, fn) would allocate on every hit.
	Field(name string, i int) (v []byte, ok bool)
}

// RawFields is a message head in wire form: a start line, then field lines, each ending
// in CRLF (a bare LF is accepted), optionally followed by the empty line. It implements
// Fields by scanning the head on every call, without allocating. NewEntry and Refresh
// read response heads this way; it also suits tests and cold paths. The engine's own
// Fields over parsed Spans is faster.
type RawFields []byte

// Field implements Fields.
func (h RawFields) Field(name string, i int) ([]byte, bool) {
	n := 0
	for p := skipLine(h, 0); p < len(h); {
		fname, v, next := fieldAt(h, p)
		if fname == nil {
			break
		}
		if eqFold(fname, name) {
			if n == i {
				return v, true
			}
			n++
		}
		p = next
	}
	return nil, false
}

// skipLine returns the offset after the line starting at p.
func skipLine(h []byte, p int) int {
	for p < len(h) && h[p] != '\n' {
		p++
	}
	return p + 1
}

// fieldAt parses the field line at p: its name, its OWS-trimmed value and the offset of the
// next line. fname is nil at the empty line ending the head or at a line without a colon.
func fieldAt(h []byte, p int) (fname, v []byte, next int) {
	end := p
	for end < len(h) && h[end] != '\n' {
		end++
	}
	next = end + 1
	if end > p && h[end-1] == '\r' {
		end--
	}
	line := h[p:end]
	c := 0
	for c < len(line) && line[c] != ':' {
		c++
	}
	if len(line) == 0 || c == len(line) {
		return nil, nil, next
	}
	return line[:c], trimOWS(line[c+1:]), next
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// eqFold reports whether b equals s, ASCII case-insensitively.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// first returns the first field line named name.
func first(f Fields, name string) ([]byte, bool) { return f.Field(name, 0) }

// has reports whether f has a field line named name.
func has(f Fields, name string) bool {
	_, ok := f.Field(name, 0)
	return ok
}

// nextItem returns the list element (RFC 9110 §5.6.1) of v starting at or after i, trimmed
// of OWS, and where to continue. Commas inside quoted strings do not split; empty elements
// are skipped. item is nil when the list is done.
func nextItem(v []byte, i int) (item []byte, next int) {
	for i < len(v) {
		for i < len(v) && (v[i] == ',' || isOWS(v[i])) {
			i++
		}
		s := i
		for quoted := false; i < len(v); i++ {
			c := v[i]
			if quoted {
				if c == '\\' {
					i++
				} else if c == '"' {
					quoted = false
				}
				continue
			}
			if c == '"' {
				quoted = true
			} else if c == ',' {
				break
			}
		}
		if e := min(i, len(v)); e > s {
			if it := trimOWS(v[s:e]); len(it) > 0 {
				return it, i
			}
		}
	}
	return nil, len(v)
}
