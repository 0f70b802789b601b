package route

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// rand is a small seeded PRNG (splitmix64), so failures replay.
type rand struct{ s uint64 }

func newRand(seed uint64) *rand { return &rand{seed} }

func (r *rand) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *rand) intn(n int) int { return int(r.next() % uint64(n)) }

func (r *rand) pick(s []string) string { return s[r.intn(len(s))] }

// The universes are small so that routes collide and rank against each other.
var (
	gLabels  = []string{"x", "y", "z"}
	gSegs    = []string{"a", "b", "c"}
	gMethods = []string{"GET", "POST", "PUT"}
	gHeaders = []string{"X-A", "X-B"}
	gQuery   = []string{"q", "r", "a b"}
	gValues  = []string{"1", "2", "", "+", "a/b"}
	gRegexps = []string{"^/a", "b$", `^/[ab]/c`, "^/$", `^\*$`, "/c/"}
)

func genHost(r *rand) string {
	var l []string
	for k := 1 + r.intn(3); k > 0; k-- {
		l = append(l, r.pick(gLabels))
	}
	return strings.Join(l, ".")
}

func genPath(r *rand) string {
	p := ""
	for k := r.intn(4); k > 0; k-- {
		p += "/" + r.pick(gSegs)
	}
	if p == "" || r.intn(3) == 0 {
		p += "/"
	}
	return p
}

func genSpec(r *rand, i int) Spec {
	s := Spec{Name: fmt.Sprint("r", i)}
	switch r.intn(8) {
	case 0, 1:
		s.Path = genPath(r)
	case 2, 3, 4:
		s.PathPrefix = genPath(r)
		if r.intn(3) == 0 { // a prefix ending inside a segment
			s.PathPrefix += r.pick(gSegs)
		}
	case 5:
		s.PathRegex = r.pick(gRegexps)
	}
	seen := map[string]bool{}
	for k := r.intn(3); k > 0; k-- {
		h := genHost(r)
		if r.intn(3) == 0 {
			h = "*." + h
		}
		if !seen[h] {
			seen[h] = true
			s.Hosts = append(s.Hosts, h)
		}
	}
	if r.intn(3) == 0 {
		for _, m := range gMethods {
			if r.intn(2) == 0 {
				s.Methods = append(s.Methods, m)
			}
		}
	}
	for _, n := range gHeaders {
		if r.intn(4) == 0 {
			s.Headers = append(s.Headers, Cond{Name: n, Value: r.pick(gValues[:3]), Any: r.intn(3) == 0})
			if s.Headers[len(s.Headers)-1].Any {
				s.Headers[len(s.Headers)-1].Value = ""
			}
		}
	}
	for _, n := range gQuery {
		if r.intn(5) == 0 {
			c := Cond{Name: n, Value: r.pick(gValues)}
			if r.intn(3) == 0 {
				c = Cond{Name: n, Any: true}
			}
			s.Query = append(s.Query, c)
		}
	}
	return s
}

// genReq returns a raw request; hosts and paths are normalised by the caller.
func genReq(r *rand) (host, path, query, method string, h *fields) {
	host = genHost(r)
	switch r.intn(6) {
	case 0:
		host = strings.ToUpper(host)
	case 1:
		host += ":8080"
	case 2:
		host += "."
	}
	path = genPath(r)
	switch r.intn(8) {
	case 0:
		path = "*"
	case 1:
		path = "/" + path + "/./" + r.pick(gSegs) + "/.."
	case 2:
		path = strings.ReplaceAll(path, "a", "%61")
	}
	var q []string
	for k := r.intn(4); k > 0; k-- {
		n := r.pick([]string{"q", "r", "a%20b", "%71", "s", "Q"})
		switch r.intn(5) {
		case 0:
			q = append(q, n)
		case 1:
			q = append(q, "")
		default:
			q = append(q, n+"="+r.pick([]string{"1", "2", "", "+", "%2B", "a%2Fb", "a/b", "%31"}))
		}
	}
	query = strings.Join(q, "&")
	method = r.pick([]string{"GET", "POST", "PUT", "DELETE", "get"})
	h = &fields{}
	for _, n := range gHeaders {
		if r.intn(2) == 0 {
			name := n
			if r.intn(2) == 0 {
				name = strings.ToLower(n)
			}
			h.kv = append(h.kv, field{name, []byte(r.pick([]string{"1", "2", ""}))})
		}
	}
	return host, path, query, method, h
}

// refMatch is the matching order written as a linear scan over a ranking key:
// (path class, -prefix length, host class, -wildcard suffix length, -conditions,
// file order), smallest wins. It shares nothing with Compile or Match but the
// Header and the normalisers, which have their own tests.
func refMatch(specs []Spec, host, path, query, method string, h Header) int {
	best, bestKey := -1, []int(nil)
	for i, s := range specs {
		var key []int
		switch {
		case s.Path != "":
			if path != s.Path {
				continue
			}
			key = []int{0, 0}
		case s.PathPrefix != "":
			if !strings.HasPrefix(path, s.PathPrefix) {
				continue
			}
			key = []int{1, -len(s.PathPrefix)}
		case s.PathRegex != "":
			if !regexp.MustCompile(s.PathRegex).MatchString(path) {
				continue
			}
			key = []int{2, 0}
		default:
			key = []int{1, 0}
		}
		hostClass, suffix := refHost(s.Hosts, host)
		if hostClass < 0 || !refConds(s, query, method, h) {
			continue
		}
		conds := len(s.Headers) + len(s.Query)
		if len(s.Methods) > 0 {
			conds++
		}
		if key[0] == 2 { // regexes: file order only
			key = append(key, 0, 0, 0, i)
		} else {
			key = append(key, hostClass, -suffix, -conds, i)
		}
		if best < 0 || less(key, bestKey) {
			best, bestKey = i, key
		}
	}
	return best
}

func less(a, b []int) bool {
	for k := range a {
		if a[k] != b[k] {
			return a[k] < b[k]
		}
	}
	return false
}

// refHost returns 0 for an exact host match, 1 and the suffix length for the best
// wildcard, 2 for no hosts, -1 for no match.
func refHost(hosts []string, host string) (int, int) {
	if len(hosts) == 0 {
		return 2, 0
	}
	class, suffix := -1, 0
	for _, p := range hosts {
		p = strings.TrimSuffix(strings.ToLower(p), ".")
		if p == host {
			return 0, 0
		}
		if s, ok := strings.CutPrefix(p, "*"); ok && strings.HasSuffix(host, s) && len(host) > len(s) && len(s)-1 > suffix {
			class, suffix = 1, len(s)-1
		}
	}
	return class, suffix
}

func refConds(s Spec, query, method string, h Header) bool {
	if len(s.Methods) > 0 && !contains(s.Methods, method) {
		return false
	}
	for _, c := range s.Headers {
		if h == nil {
			return false
		}
		v, ok := h.Value(c.Name)
		if !ok || !c.Any && string(v) != c.Value {
			return false
		}
	}
	for _, c := range s.Query {
		found := false
		for _, p := range strings.Split(query, "&") {
			if p == "" {
				continue
			}
			n, v, _ := strings.Cut(p, "=")
			if refUnescape(n) == c.Name {
				found = c.Any || refUnescape(v) == c.Value
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func refUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestMatchReference compares Match with refMatch on 10,000 random requests over
// 200 random tables. Routes that Compile refuses as unreachable are left out of
// the table, after checking that refMatch never picks them either.
func TestMatchReference(t *testing.T) {
	r := newRand(42)
	cases, refused, matched, regexes := 0, 0, 0, 0
	for table := 0; table < 200; table++ {
		var specs []Spec
		for k, n := 0, 5+r.intn(25); k < n; k++ {
			s := genSpec(r, k)
			try := append(specs[:len(specs):len(specs)], s)
			tb, err := build(try)
			if err != nil {
				t.Fatalf("Compile(%+v): %v", try, err)
			}
			if l, e := tb.unreachable(try); l >= 0 {
				refused++
				for q := 0; q < 200; q++ {
					host, path, query, method, h := genReq(r)
					nh := string(NormalizeHost(nil, []byte(host)))
					np, _ := NormalizePath(nil, []byte(path))
					if got := refMatch(try, nh, string(np), query, method, h); got == l {
						t.Fatalf("route %d is refused as shadowed by route %d, yet refMatch picks it for %s %s%s?%s %v; routes:\n%s",
							l, e, method, host, path, query, h.kv, dump(try))
					}
				}
				continue // leave s out: the table stays reachable
			}
			specs = try
		}
		tb := mustCompile(t, specs)
		for q := 0; q < 50; q++ {
			host, path, query, method, h := genReq(r)
			nh := NormalizeHost(nil, []byte(host))
			np, _ := NormalizePath(nil, []byte(path))
			got := tb.Match(nh, np, []byte(query), []byte(method), h)
			want := refMatch(specs, string(nh), string(np), query, method, h)
			if got != want {
				t.Fatalf("%s %s%s?%s %v: Match = %d, refMatch = %d, routes:\n%s", method, host, path, query, h.kv, got, want, dump(specs))
			}
			cases++
			if got >= 0 {
				matched++
				if specs[got].PathRegex != "" {
					regexes++
				}
			}
		}
	}
	t.Logf("%d cases (%d matched, %d by path_regex), %d routes refused as unreachable", cases, matched, regexes, refused)
}

func dump(specs []Spec) string {
	var b strings.Builder
	for i, s := range specs {
		fmt.Fprintf(&b, "%d: %+v\n", i, s)
	}
	return b.String()
}
