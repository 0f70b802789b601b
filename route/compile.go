package route

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Compile errors wrap one of these; test them with errors.Is.
var (
	ErrPath         = errors.New("route: bad path")          // path, path_prefix: not starting with '/', or not normalised
	ErrPathConflict = errors.New("route: conflicting paths") // more than one of path, path_prefix, path_regex
	ErrRegex        = errors.New("route: bad path_regex")    // also wraps the regexp error
	ErrHost         = errors.New("route: bad host")          // empty, with a port, bad wildcard, listed twice
	ErrMethod       = errors.New("route: bad method")        // not a token, not upper case, listed twice
	ErrCond         = errors.New("route: bad condition")     // empty name, Any with a Value, bad header name or value, listed twice
)

// ErrUnreachable is wrapped when Compile refuses a route that another route always
// takes first, so that a configuration never holds a route that looks alive and is not:
//   - with the same path and host key (the same exact path, prefix or none; the
//     same exact host, wildcard suffix or any host), route E shadows a later route
//     L when every request meeting L's conditions meets E's, condition by
//     condition (identical conditions being the plain case; "X-A: 1" meets
//     "X-A present", methods [GET] meet [GET, HEAD]); L is refused when every host
//     key it lists is shadowed;
//   - a path_regex route is refused when an earlier path_regex route with the
//     same expression, or any route without path condition (or with path_prefix
//     "/", unless the expression matches "*"), covers its hosts and has
//     conditions its own imply.
var ErrUnreachable = errors.New("route: route never matched")

// tchar marks RFC 9110 §5.6.2 token characters.
var tchar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

// Compile checks specs and builds the Table that Match uses; route i of the Table
// is specs[i]. It runs on the control plane (cold path) and allocates.
//
// Errors name the route by its index in specs (from 0, as Match returns it) and
// its Name, and the key at fault:
// "route 3 (api): path_regex: ...". Besides malformed values, Compile refuses
// what could never match as written: a path or path_prefix that NormalizePath would
// change (a request path never looks like that), a header value with surrounding
// whitespace, and a route that another route always takes first (ErrUnreachable).
func Compile(specs []Spec) (*Table, error) {
	t, err := build(specs)
	if err != nil {
		return nil, err
	}
	if l, e := t.unreachable(specs); l >= 0 {
		return nil, errf(ErrUnreachable, "%s is never matched: %s takes the same requests first",
			where(l, specs[l].Name), where(e, specs[e].Name))
	}
	return t, nil
}

// build is Compile without the reachability check.
func build(specs []Spec) (*Table, error) {
	t := &Table{
		rules:  make([]rule, len(specs)),
		exact:  map[string]*node{},
		prefix: map[string]*node{},
	}
	for i := range specs {
		if err := compileRule(&t.rules[i], &specs[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", where(i, specs[i].Name), err)
		}
	}
	var lens []int
	for i := range specs {
		s, r := &specs[i], &t.rules[i]
		var n *node
		switch {
		case r.re != nil:
			t.regex = append(t.regex, int32(i))
			continue
		case s.Path != "":
			n = t.exact[s.Path]
			if n == nil {
				n = &node{}
				t.exact[s.Path] = n
			}
		case s.PathPrefix != "":
			n = t.prefix[s.PathPrefix]
			if n == nil {
				n = &node{}
				t.prefix[s.PathPrefix] = n
				lens = append(lens, len(s.PathPrefix))
			}
		default:
			if t.all == nil {
				t.all = &node{}
			}
			n = t.all
		}
		n.add(int32(i), r.hosts)
	}
	slices.Sort(lens)
	lens = slices.Compact(lens)
	slices.Reverse(lens)
	for _, n := range lens {
		t.lens = append(t.lens, prefixLen{n: n})
	}
	for p := range t.prefix {
		k := slices.Index(lens, len(p))
		c := p[len(p)-1]
		t.lens[k].last[c>>6] |= 1 << (c & 63)
	}

	for _, n := range t.nodes() {
		n.each(func(l []int32) {
			// Most conditions first; SortStableFunc keeps file order among equals.
			slices.SortStableFunc(l, func(a, b int32) int { return t.rules[b].conds - t.rules[a].conds })
		})
	}
	return t, nil
}

func (t *Table) nodes() []*node {
	nodes := make([]*node, 0, len(t.exact)+len(t.prefix)+1)
	for _, n := range t.exact {
		nodes = append(nodes, n)
	}
	for _, n := range t.prefix {
		nodes = append(nodes, n)
	}
	if t.all != nil {
		nodes = append(nodes, t.all)
	}
	return nodes
}

// compileError reads as its message and unwraps to its kind (an Err* sentinel)
// and to the message's own cause, if any.
type compileError struct {
	kind error
	err  error
}

func (e *compileError) Error() string   { return e.err.Error() }
func (e *compileError) Unwrap() []error { return []error{e.kind, e.err} }

func errf(kind error, format string, a ...any) error {
	return &compileError{kind, fmt.Errorf(format, a...)}
}

func where(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("route %d", i)
	}
	return fmt.Sprintf("route %d (%s)", i, name)
}

func (n *node) add(i int32, hosts []string) {
	if len(hosts) == 0 {
		n.any = append(n.any, i)
		return
	}
	for _, h := range hosts {
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if n.wild == nil {
				n.wild = map[string][]int32{}
			}
			n.wild[suffix] = append(n.wild[suffix], i)
		} else {
			if n.exact == nil {
				n.exact = map[string][]int32{}
			}
			n.exact[h] = append(n.exact[h], i)
		}
	}
}

// each calls f with every candidate list of n.
func (n *node) each(f func([]int32)) {
	for _, l := range n.exact {
		f(l)
	}
	for _, l := range n.wild {
		f(l)
	}
	if len(n.any) > 0 {
		f(n.any)
	}
}

func compileRule(r *rule, s *Spec) error {
	set := 0
	var keys []string
	for _, k := range []struct {
		key, v string
	}{{"path", s.Path}, {"path_prefix", s.PathPrefix}, {"path_regex", s.PathRegex}} {
		if k.v != "" {
			set++
			keys = append(keys, k.key)
		}
	}
	if set > 1 {
		return errf(ErrPathConflict, "%s: only one of path, path_prefix and path_regex may be set", strings.Join(keys, ", "))
	}
	switch {
	case s.Path != "":
		if err := checkPath(s.Path, false); err != nil {
			return fmt.Errorf("path: %w", err)
		}
	case s.PathPrefix != "":
		if err := checkPath(s.PathPrefix, true); err != nil {
			return fmt.Errorf("path_prefix: %w", err)
		}
		r.prefixLen = len(s.PathPrefix)
	case s.PathRegex != "":
		re, err := regexp.Compile(s.PathRegex)
		if err != nil {
			return errf(ErrRegex, "path_regex: %w", err)
		}
		r.re = re
	}
	for _, h := range s.Hosts {
		n, err := compileHost(h)
		if err != nil {
			return fmt.Errorf("hosts: %w", err)
		}
		if slices.Contains(r.hosts, n) {
			return errf(ErrHost, "hosts: %q is listed twice", h)
		}
		r.hosts = append(r.hosts, n)
	}
	for _, m := range s.Methods {
		if m == "" || strings.IndexFunc(m, func(c rune) bool { return c >= 0x80 || !tchar[c] }) >= 0 {
			return errf(ErrMethod, "methods: %q is not a token", m)
		}
		if strings.ToUpper(m) != m {
			// RFC 9110 §9.1: methods are case-sensitive, so "get" would never see a GET.
			return errf(ErrMethod, "methods: %q is not upper case (methods are case-sensitive)", m)
		}
		if slices.Contains(r.methods, m) {
			return errf(ErrMethod, "methods: %q is listed twice", m)
		}
		r.methods = append(r.methods, m)
	}
	for _, c := range s.Headers {
		if err := checkCond(c, r.headers, true); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		r.headers = append(r.headers, c)
	}
	for _, c := range s.Query {
		if err := checkCond(c, r.query, false); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		r.query = append(r.query, c)
	}
	r.conds = len(r.headers) + len(r.query)
	if len(r.methods) > 0 {
		r.conds++
	}
	return nil
}

// checkPath refuses a path that no normalised request path could match: one not
// starting with '/' or one NormalizePath would change. A prefix is checked as the
// start of a longer path, so "/.well" and "/api/." are fine prefixes.
func checkPath(p string, prefix bool) error {
	if p[0] != '/' {
		return errf(ErrPath, "%q does not start with /", p)
	}
	in := p
	if prefix {
		in += "x"
	}
	n, changed := NormalizePath(nil, []byte(in))
	if changed {
		want := string(n)
		if prefix {
			want = strings.TrimSuffix(want, "x")
		}
		return errf(ErrPath, "%q is not normalised (requests are matched after NormalizePath); write %q", p, want)
	}
	return nil
}

// compileHost checks a Hosts entry and returns it normalised.
func compileHost(h string) (string, error) {
	rest, wild := strings.CutPrefix(h, "*.")
	if rest == "" || strings.Contains(rest, "*") {
		return "", errf(ErrHost, "%q: want a name or *.suffix (a wildcard only as the whole first label)", h)
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f || c == '/' {
			return "", errf(ErrHost, "%q has the byte %q", h, c)
		}
	}
	if rest[0] == '.' || wild && rest[0] == '[' {
		return "", errf(ErrHost, "%q: want a name or *.suffix (a wildcard only as the whole first label)", h)
	}
	n := string(NormalizeHost(nil, []byte(rest)))
	if n == "" || n != strings.ToLower(strings.TrimSuffix(rest, ".")) {
		return "", errf(ErrHost, "%q: want a host without port", h)
	}
	if wild {
		return "*." + n, nil
	}
	return n, nil
}

func checkCond(c Cond, prev []Cond, header bool) error {
	switch {
	case c.Name == "":
		return errf(ErrCond, "empty name")
	case c.Any && c.Value != "":
		return errf(ErrCond, "%q: any and value %q both set", c.Name, c.Value)
	}
	for _, p := range prev {
		if p.Name == c.Name || header && strings.EqualFold(p.Name, c.Name) {
			return errf(ErrCond, "%q is listed twice", c.Name)
		}
	}
	if !header {
		return nil
	}
	if strings.IndexFunc(c.Name, func(r rune) bool { return r >= 0x80 || !tchar[r] }) >= 0 {
		return errf(ErrCond, "%q is not a header name", c.Name)
	}
	if v := c.Value; v != "" && (isOWS(v[0]) || isOWS(v[len(v)-1])) {
		// Header values are compared after trimming OWS (RFC 9110 §5.5).
		return errf(ErrCond, "%q: value %q has surrounding whitespace and would never match", c.Name, v)
	}
	if strings.ContainsAny(c.Value, "\r\n\x00") {
		return errf(ErrCond, "%q: value %q has CR, LF or NUL", c.Name, c.Value)
	}
	return nil
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// unreachable returns the first route (in file order) that another route always
// takes first, as the ErrUnreachable comment says, and that other route; -1, -1
// if there is none.
func (t *Table) unreachable(specs []Spec) (int, int) {
	entries := make([]int, len(t.rules))
	shadowed := make([]int, len(t.rules))
	by := make([]int, len(t.rules))
	for i := range by {
		by[i] = -1
	}
	shadow := func(l, e int) {
		shadowed[l]++
		if by[l] < 0 || e < by[l] {
			by[l] = e
		}
	}
	for _, n := range t.nodes() {
		n.each(func(l []int32) {
			for p, li := range l {
				entries[li]++
				L := &t.rules[li]
				// implies(L, E) needs a condition of L for each of E, field by field, so
				// E, ranked before L, has as many: the first rule of ErrUnreachable.
				for _, ei := range l[:p] {
					if implies(L, &t.rules[ei]) {
						shadow(int(li), int(ei))
						break
					}
				}
			}
		})
	}
	for k, li := range t.regex {
		L := &t.rules[li]
		entries[li] = 1
		for _, ei := range t.regex[:k] {
			E := &t.rules[ei]
			if E.re.String() == L.re.String() && hostsCover(E.hosts, L.hosts) && implies(L, E) {
				shadow(int(li), int(ei))
				break
			}
		}
		if shadowed[li] > 0 {
			continue
		}
		for ei := range specs {
			s, E := &specs[ei], &t.rules[ei]
			catchAll := s.Path == "" && s.PathRegex == "" && (s.PathPrefix == "" || s.PathPrefix == "/" && !L.re.MatchString("*"))
			if catchAll && hostsCover(E.hosts, L.hosts) && implies(L, E) {
				shadow(int(li), ei)
				break
			}
		}
	}
	for i := range t.rules {
		if entries[i] > 0 && shadowed[i] == entries[i] {
			return i, by[i]
		}
	}
	return -1, -1
}

// implies reports whether every request meeting L's conditions meets E's.
func implies(L, E *rule) bool {
	if len(E.methods) > 0 {
		if len(L.methods) == 0 {
			return false
		}
		for _, m := range L.methods {
			if !slices.Contains(E.methods, m) {
				return false
			}
		}
	}
	return condsImply(L.headers, E.headers, true) && condsImply(L.query, E.query, false)
}

func condsImply(L, E []Cond, fold bool) bool {
	for _, e := range E {
		ok := false
		for _, l := range L {
			if l.Name == e.Name || fold && strings.EqualFold(l.Name, e.Name) {
				ok = e.Any || !l.Any && l.Value == e.Value
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// hostsCover reports whether every host that L's patterns match is matched by E's.
func hostsCover(E, L []string) bool {
	if len(E) == 0 {
		return true
	}
	if len(L) == 0 {
		return false
	}
	for _, l := range L {
		ok := false
		for _, e := range E {
			if e == l || strings.HasPrefix(e, "*.") && matchHost(e, []byte(strings.TrimPrefix(l, "*."))) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
