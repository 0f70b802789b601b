package route

import (
	"bytes"
	"regexp"
)

// Cond is a header or query-parameter condition: the field is present with any
// value (Any), or present and equal to Value. Any with a non-empty Value is refused
// by Compile; Value "" without Any means "present with an empty value". As
// Header.Value gives a header's first value, the first query parameter of the
// name decides ("v=1&v=2" does not meet v=2); parameters are split on '&' only,
// and "v" alone is present with the value "".
type Cond struct {
	Name  string // header names: case-insensitive; query names: exact, after percent-decoding
	Value string // compared exactly (header values: after trimming OWS; query values: after percent-decoding)
	Any   bool   // true: present with any value
}

// Spec is one configured route's match part.
type Spec struct {
	Name       string
	Hosts      []string // "a.example" exact, "*.example.com" wildcard (one or more labels before .example.com, not example.com itself); case-insensitive; empty = any host
	Path       string   // exact path (mutually exclusive with PathPrefix and PathRegex)
	PathPrefix string   // byte prefix, as nginx's prefix location ("/api/" matches "/api/x", not "/api")
	PathRegex  string   // Go regexp (RE2) on the normalised path; unanchored unless it says ^...$
	Methods    []string // upper-case tokens, compared case-sensitively; empty = any
	Headers    []Cond   // all must hold
	Query      []Cond   // all must hold
}

// Header looks up request header fields for conditions. The caller implements it
// with a pointer to a loop-owned struct, so calls do not allocate.
type Header interface {
	// Value returns the first value of the field named name (case-insensitive), OWS-trimmed.
	Value(name string) ([]byte, bool)
}

// Table is a compiled set of routes. It is immutable after Compile, so any number
// of event loops may call Match on it at once without locks.
type Table struct {
	rules  []rule           // indexed like the specs
	exact  map[string]*node // by Path
	prefix map[string]*node // by PathPrefix
	lens   []prefixLen      // distinct len(PathPrefix), longest first
	all    *node            // routes without a path condition; nil if none
	regex  []int32          // PathRegex routes, in file order
}

// prefixLen is one distinct prefix length and the set of the prefixes' last bytes,
// so a path whose byte there is not in the set costs no map probe.
type prefixLen struct {
	n    int
	last [4]uint64
}

// node holds the routes of one path key, by host rank. Each list is sorted by
// condition count, most first, then by file order.
type node struct {
	exact map[string][]int32 // by normalised host
	wild  map[string][]int32 // by the suffix after "*."
	any   []int32
}

// rule is the compiled match part of one Spec.
type rule struct {
	hosts     []string // normalised; wildcards keep their "*."
	methods   []string
	headers   []Cond
	query     []Cond
	conds     int // rank: methods (as one), headers and query conditions
	prefixLen int
	re        *regexp.Regexp
}

// Len returns the number of routes in t.
func (t *Table) Len() int { return len(t.rules) }

// PrefixLen returns how many leading bytes of the path route i matched as its
// prefix, len(PathPrefix), for the caller's prefix rewriting; 0 for exact, regex
// and no path.
func (t *Table) PrefixLen(i int) int { return t.rules[i].prefixLen }

// Match returns the index in the specs of the winning route, or -1, following the
// order in the package comment. host must be normalised (NormalizeHost), path too
// (NormalizePath); query is the raw query after '?', without it (may be empty);
// method is the raw method token; h may be nil when no route has header conditions.
//
// Match may run on several loops at once. It does not allocate, except inside
// regexp for path_regex routes (RE2 keeps no promise there). Whatever the number
// of routes, it costs one map probe for the exact path, at most one per distinct
// prefix length (none where no prefix of that length ends with the path's byte
// there), and per path hit one host probe plus one per dot in host; only
// path_regex routes are scanned, in file order, after everything else failed.
func (t *Table) Match(host, path, query, method []byte, h Header) int {
	if n := t.exact[string(path)]; n != nil {
		if r := t.matchNode(n, host, query, method, h); r >= 0 {
			return r
		}
	}
	for k := range t.lens {
		l := &t.lens[k]
		if l.n > len(path) {
			continue
		}
		if c := path[l.n-1]; l.last[c>>6]&(1<<(c&63)) == 0 {
			continue
		}
		if n := t.prefix[string(path[:l.n])]; n != nil {
			if r := t.matchNode(n, host, query, method, h); r >= 0 {
				return r
			}
		}
	}
	if t.all != nil {
		if r := t.matchNode(t.all, host, query, method, h); r >= 0 {
			return r
		}
	}
	for _, i := range t.regex {
		r := &t.rules[i]
		if matchHosts(r.hosts, host) && r.holds(query, method, h) && r.re.Match(path) {
			return int(i)
		}
	}
	return -1
}

func (t *Table) matchNode(n *node, host, query, method []byte, h Header) int {
	if n.exact != nil {
		if r := t.first(n.exact[string(host)], query, method, h); r >= 0 {
			return r
		}
	}
	if n.wild != nil {
		// Longest suffix first: the suffix after the first dot, then the second...
		// A dot at 0 would leave no label for the '*'.
		for i := 1; i < len(host); i++ {
			if host[i] != '.' {
				continue
			}
			if l, ok := n.wild[string(host[i+1:])]; ok {
				if r := t.first(l, query, method, h); r >= 0 {
					return r
				}
			}
		}
	}
	return t.first(n.any, query, method, h)
}

func (t *Table) first(l []int32, query, method []byte, h Header) int {
	for _, i := range l {
		if t.rules[i].holds(query, method, h) {
			return int(i)
		}
	}
	return -1
}

// holds reports whether the method, header and query conditions of r hold.
func (r *rule) holds(query, method []byte, h Header) bool {
	if len(r.methods) > 0 {
		ok := false
		for _, m := range r.methods {
			if string(method) == m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for k := range r.headers {
		c := &r.headers[k]
		if h == nil {
			return false
		}
		v, ok := h.Value(c.Name)
		if !ok || !c.Any && string(v) != c.Value {
			return false
		}
	}
	for k := range r.query {
		if !queryHolds(query, &r.query[k]) {
			return false
		}
	}
	return true
}

// matchHosts reports whether the normalised host matches one of hosts (any host
// when there are none).
func matchHosts(hosts []string, host []byte) bool {
	if len(hosts) == 0 {
		return true
	}
	for _, p := range hosts {
		if matchHost(p, host) {
			return true
		}
	}
	return false
}

// matchHost reports whether host matches the pattern p: equal, or for "*.suffix"
// one or more labels followed by ".suffix".
func matchHost(p string, host []byte) bool {
	if len(p) > 2 && p[0] == '*' && p[1] == '.' {
		s := p[1:] // ".suffix"
		return len(host) > len(s) && string(host[len(host)-len(s):]) == s
	}
	return string(host) == p
}

// queryHolds reports whether c holds in the raw query q. Parameters are separated
// by '&' only; the first one whose percent-decoded name is c.Name decides: c holds
// if c.Any or its percent-decoded value is c.Value ("a" alone has the value "").
// '+' is not decoded as a space: query strings are not form bodies (RFC 3986 §3.4).
func queryHolds(q []byte, c *Cond) bool {
	for len(q) > 0 {
		p := q
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			p, q = q[:i], q[i+1:]
		} else {
			q = nil
		}
		name, val := p, p[len(p):]
		if i := bytes.IndexByte(p, '='); i >= 0 {
			name, val = p[:i], p[i+1:]
		}
		if len(p) == 0 || !eqDecoded(name, c.Name) {
			continue
		}
		return c.Any || eqDecoded(val, c.Value)
	}
	return false
}

// eqDecoded reports whether raw, percent-decoded, equals s. A '%' not followed by
// two hex digits stands for itself.
func eqDecoded(raw []byte, s string) bool {
	j := 0
	for i := 0; i < len(raw); j++ {
		c := raw[i]
		if c == '%' && i+2 < len(raw) && unhex[raw[i+1]] != 0xff && unhex[raw[i+2]] != 0xff {
			c = unhex[raw[i+1]]<<4 | unhex[raw[i+2]]
			i += 3
		} else {
			i++
		}
		if j >= len(s) || s[j] != c {
			return false
		}
	}
	return j == len(s)
}
