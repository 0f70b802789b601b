package compress

import "errors"

// Coding is a content coding (RFC 9110 §8.4.1).
type Coding uint8

const (
	Identity Coding = iota // no coding: the body passes unchanged
	Gzip                   // "gzip" (RFC 1952); "x-gzip" is read as gzip (RFC 9110 §8.4.1.3)
	Brotli                 // "br" (RFC 7932)
	Zstd                   // "zstd" (RFC 8878)
	numCodings
)

var codingNames = [numCodings]string{"identity", "gzip", "br", "zstd"}

// String returns the coding's name as it appears in Content-Encoding.
func (c Coding) String() string {
	if c < numCodings {
		return codingNames[c]
	}
	return "unknown"
}

// ErrUnknownCoding is returned by UnmarshalText for a name that is not a coding this package knows.
var ErrUnknownCoding = errors.New("compress: unknown coding")

// MarshalText returns the coding's name, so configs can spell codings as strings.
func (c Coding) MarshalText() ([]byte, error) {
	if c >= numCodings {
		return nil, ErrUnknownCoding
	}
	return []byte(codingNames[c]), nil
}

// UnmarshalText reads a coding's name ("gzip", "br", "zstd", "identity"), case-insensitively.
func (c *Coding) UnmarshalText(b []byte) error {
	v, ok := codingOf(b)
	if !ok || v == star {
		return ErrUnknownCoding
	}
	*c = v
	return nil
}

// star is the "*" of Accept-Encoding; it is never a Coding a caller sees.
const star = numCodings

// codingOf maps a coding token to its Coding, case-insensitively (RFC 9110 §8.4.1: coding
// names are case-insensitive). It does not allocate.
func codingOf(tok []byte) (Coding, bool) {
	switch {
	case equalFold(tok, "gzip"), equalFold(tok, "x-gzip"):
		return Gzip, true
	case equalFold(tok, "br"):
		return Brotli, true
	case equalFold(tok, "zstd"):
		return Zstd, true
	case equalFold(tok, "identity"):
		return Identity, true
	case len(tok) == 1 && tok[0] == '*':
		return star, true
	}
	return 0, false
}

// noQ marks a coding the field does not list.
const noQ = -1

// Negotiate picks the content coding of a response from the request's Accept-Encoding field
// values (RFC 9110 §12.5.3), one element of accept per field line, and the codings the server
// offers in its order of preference. It does not allocate.
//
// A listed coding gets its q-value (q=0 refuses it); "*" gives its q-value to every coding not
// listed; a coding listed twice keeps the lower q-value. Among offered codings with the highest
// q-value above 0 the earliest in offered wins. Identity wins instead when the field ranks it
// explicitly (by name, or by "*" when identity is not named) above that coding. Elements that do
// not parse (bad token, bad or out-of-range q-value) are ignored, as are unknown codings.
//
// Without any Accept-Encoding field the answer is Identity: RFC 9110 lets a server pick any
// coding then, but a client that sent none may not decode one. Identity is also the answer when
// the field refuses identity and every offered coding: a proxy has nothing better to send, and
// RFC 9110 §12.5.3 allows sending it anyway rather than 415.
func Negotiate(offered []Coding, accept ...[]byte) Coding {
	if len(accept) == 0 {
		return Identity
	}
	var q [numCodings + 1]int16
	for i := range q {
		q[i] = noQ
	}
	for _, v := range accept {
		for i := 0; i < len(v); {
			var elem []byte
			elem, i = nextElem(v, i)
			c, w, ok := parseAcceptElem(elem)
			if !ok {
				continue
			}
			if q[c] == noQ || w < q[c] {
				q[c] = w
			}
		}
	}
	best, bestQ := Identity, int16(0)
	for _, c := range offered {
		if c == Identity || c >= numCodings {
			continue
		}
		w := q[c]
		if w == noQ {
			w = q[star]
		}
		if w > bestQ {
			best, bestQ = c, w
		}
	}
	if best == Identity {
		return Identity
	}
	qi := q[Identity]
	if qi == noQ {
		qi = q[star] // noQ when "*" is absent too: identity is acceptable but unranked
	}
	if qi > bestQ {
		return Identity
	}
	return best
}

// parseAcceptElem parses one Accept-Encoding element: codings [ weight ], where
// weight = OWS ";" OWS "q=" qvalue. Other parameters are ignored. It returns the
// coding (or star) and the weight in thousandths.
func parseAcceptElem(e []byte) (Coding, int16, bool) {
	end := 0
	for end < len(e) && isTokenByte(e[end]) {
		end++
	}
	if end == 0 {
		return 0, 0, false
	}
	c, ok := codingOf(e[:end])
	if !ok {
		return 0, 0, false
	}
	w := int16(1000)
	rest := trimOWS(e[end:])
	for len(rest) > 0 {
		// parameter = parameter-name "=" parameter-value, after OWS ";" OWS (RFC 9110 §5.6.6).
		if rest[0] != ';' {
			return 0, 0, false // "gz ip", "gzip q=1": not a token followed by parameters
		}
		rest = trimOWS(rest[1:])
		n := 0
		for n < len(rest) && isTokenByte(rest[n]) {
			n++
		}
		if n == 0 || n == len(rest) || rest[n] != '=' {
			return 0, 0, false // "q = 1", "q", ";;"
		}
		name := rest[:n]
		rest = rest[n+1:]
		m := 0
		if len(rest) > 0 && rest[0] == '"' {
			m = skipQuoted(rest, 0)
		} else {
			for m < len(rest) && isTokenByte(rest[m]) {
				m++
			}
		}
		if m == 0 {
			return 0, 0, false
		}
		val := rest[:m]
		rest = trimOWS(rest[m:])
		if len(name) == 1 && (name[0] == 'q' || name[0] == 'Q') {
			v, ok := parseQ(val)
			if !ok {
				return 0, 0, false
			}
			w = v
		}
	}
	return c, w, true
}

// parseQ parses a qvalue (RFC 9110 §12.4.2): "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ].
func parseQ(b []byte) (int16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0, false
	}
	v := int16(b[0]-'0') * 1000
	if len(b) == 1 {
		return v, true
	}
	if b[1] != '.' {
		return 0, false
	}
	scale := int16(100)
	for _, d := range b[2:] {
		if d < '0' || d > '9' {
			return 0, false
		}
		v += int16(d-'0') * scale
		scale /= 10
	}
	if v > 1000 {
		return 0, false
	}
	return v, true
}
