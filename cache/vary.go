package cache

// The secondary key (RFC 9111 §4.1) of a stored response is the request's values of the
// fields its Vary lists, normalised so that requests the origin cannot tell apart select
// the same variant. For each listed field, in the order Vary lists them, the key holds:
//
//	0x00                  the field is absent (absent and empty differ, §4.1), but for
//	                      Accept-Encoding
//	'=' value             other fields: lines joined by ',', OWS around commas removed,
//	                      other OWS runs made one SP, case kept
//	'A' + mask            Accept-Encoding: the set of br, gzip, identity, zstd the client
//	                      accepts with q > 0, as a bit mask (so the order and q of the
//	                      list do not matter and unknown codings are ignored)
//
// and a '\n' after each field. The store compares a request against a stored key in a
// streaming pass (keyWriter in compare mode), so a lookup builds nothing.

const (
	aeBr = 1 << iota
	aeGzip
	aeIdentity
	aeZstd
	aeAll = aeBr | aeGzip | aeIdentity | aeZstd
)

// keyWriter either appends a secondary key to out or, with cmp set, checks that the bytes
// written so far are a prefix of want.
type keyWriter struct {
	out  []byte
	want []byte
	pos  int
	cmp  bool
	bad  bool
}

func (w *keyWriter) byte1(c byte) {
	if !w.cmp {
		w.out = append(w.out, c)
		return
	}
	if w.bad || w.pos >= len(w.want) || w.want[w.pos] != c {
		w.bad = true
		return
	}
	w.pos++
}

// matched reports, in compare mode, whether exactly want was written.
func (w *keyWriter) matched() bool { return !w.bad && w.pos == len(w.want) }

// writeKey writes the secondary key of req for the field names vary (lower case).
func writeKey(w *keyWriter, vary []string, req Fields) {
	for _, name := range vary {
		if w.bad {
			return
		}
		if name == "accept-encoding" {
			w.byte1('A')
			w.byte1('@' | acceptedCodings(req))
		} else if _, ok := req.Field(name, 0); !ok {
			w.byte1(0)
		} else {
			w.byte1('=')
			writeNormal(w, req, name)
		}
		w.byte1('\n')
	}
}

// writeNormal writes the field lines named name joined by ',' with their whitespace
// normalised.
func writeNormal(w *keyWriter, req Fields, name string) {
	for n := 0; ; n++ {
		v, ok := req.Field(name, n)
		if !ok {
			return
		}
		if n > 0 {
			w.byte1(',')
		}
		space, afterComma := false, true
		for _, c := range v {
			switch {
			case isOWS(c):
				space = true
			case c == ',':
				w.byte1(',')
				space, afterComma = false, true
			default:
				if space && !afterComma {
					w.byte1(' ')
				}
				w.byte1(c)
				space, afterComma = false, false
			}
		}
	}
}

// acceptedCodings returns the mask of codings among br, gzip, identity and zstd that the
// Accept-Encoding field lines of req accept (RFC 9110 §12.5.3): those listed with q > 0,
// plus, when "*" has q > 0, those not listed; identity is acceptable unless excluded by
// "identity;q=0" or by "*;q=0" without identity listed. Without the field the request is
// keyed as identity only: strictly any coding is then acceptable, but origins answer such
// requests uncompressed and clients that send none (curl, scripts) cannot decode one.
func acceptedCodings(req Fields) byte {
	var listed, accepted byte
	star, starQ := false, false
	present := false
	for n := 0; ; n++ {
		v, ok := req.Field("Accept-Encoding", n)
		if !ok {
			break
		}
		present = true
		for item, i := nextItem(v, 0); item != nil; item, i = nextItem(v, i) {
			coding, pos := item, qPositive(item)
			for k, c := range item {
				if c == ';' {
					coding = trimOWS(item[:k])
					break
				}
			}
			var bit byte
			switch {
			case eqFold(coding, "br"):
				bit = aeBr
			case eqFold(coding, "gzip"), eqFold(coding, "x-gzip"):
				bit = aeGzip
			case eqFold(coding, "identity"):
				bit = aeIdentity
			case eqFold(coding, "zstd"):
				bit = aeZstd
			case len(coding) == 1 && coding[0] == '*':
				star, starQ = true, pos
				continue
			default:
				continue
			}
			listed |= bit
			if pos {
				accepted |= bit
			}
		}
	}
	if !present {
		return aeIdentity
	}
	if starQ {
		accepted |= aeAll &^ listed
	}
	if listed&aeIdentity == 0 && !(star && !starQ) {
		accepted |= aeIdentity
	}
	return accepted
}

// qPositive reports whether a list element's weight (RFC 9110 §12.4.2) is above 0; no
// weight means 1, an invalid one counts as 0.
func qPositive(item []byte) bool {
	for k := 0; k < len(item); k++ {
		if item[k] != ';' {
			continue
		}
		p := trimOWS(item[k+1:])
		if len(p) < 2 || lower(p[0]) != 'q' || p[1] != '=' {
			continue
		}
		q := p[2:]
		for e, c := range q {
			if c == ';' || isOWS(c) {
				q = q[:e]
				break
			}
		}
		switch {
		case len(q) == 0 || len(q) > 5:
			return false
		case q[0] == '1':
			for _, c := range q[1:] {
				if c != '.' && c != '0' {
					return false
				}
			}
			return true
		case q[0] != '0':
			return false
		}
		if len(q) > 1 && q[1] != '.' {
			return false
		}
		nonzero := false
		for _, c := range q[min(2, len(q)):] {
			if c < '0' || c > '9' {
				return false
			}
			nonzero = nonzero || c != '0'
		}
		return nonzero
	}
	return true
}

// varyNames returns the lower-cased, de-duplicated field names the Vary lines of a stored
// response list. Cold path: it allocates.
func varyNames(resp Fields) []string {
	var names []string
	for n := 0; ; n++ {
		v, ok := resp.Field("Vary", n)
		if !ok {
			return names
		}
	next:
		for item, i := nextItem(v, 0); item != nil; item, i = nextItem(v, i) {
			b := make([]byte, len(item))
			for k, c := range item {
				b[k] = lower(c)
			}
			for _, have := range names {
				if have == string(b) {
					continue next
				}
			}
			names = append(names, string(b))
		}
	}
}
