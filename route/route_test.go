package route

import (
	"errors"
	"strings"
	"testing"
)

// fields is a Header over name/value pairs; it does not allocate.
type fields struct{ kv []field }

type field struct {
	name  string
	value []byte
}

func (f *fields) Value(name string) ([]byte, bool) {
	for i := range f.kv {
		if strings.EqualFold(f.kv[i].name, name) {
			return f.kv[i].value, true
		}
	}
	return nil, false
}

// hdr builds fields from "Name: value" lines.
func hdr(lines ...string) *fields {
	f := &fields{}
	for _, l := range lines {
		n, v, _ := strings.Cut(l, ":")
		f.kv = append(f.kv, field{n, []byte(strings.TrimSpace(v))})
	}
	return f
}

// req is a request as the engine sees it before normalisation.
type req struct {
	host, target, method string
	h                    *fields
}

// winner returns the Name of the route t picks for r, or "-" for none.
func winner(t *Table, specs []Spec, r req) string {
	path, query, _ := strings.Cut(r.target, "?")
	host := NormalizeHost(nil, []byte(r.host))
	p, _ := NormalizePath(nil, []byte(path))
	method := r.method
	if method == "" {
		method = "GET"
	}
	var h Header
	if r.h != nil {
		h = r.h
	}
	i := t.Match(host, p, []byte(query), []byte(method), h)
	if i < 0 {
		return "-"
	}
	return specs[i].Name
}

func mustCompile(t *testing.T, specs []Spec) *Table {
	t.Helper()
	tb, err := Compile(specs)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if tb.Len() != len(specs) {
		t.Fatalf("Len() = %d; want %d", tb.Len(), len(specs))
	}
	return tb
}

func TestMatchOrder(t *testing.T) {
	f := func(what string, specs []Spec, r req, want string) {
		t.Helper()
		if got := winner(mustCompile(t, specs), specs, r); got != want {
			t.Fatalf("%s: %s %s%s: got route %q; want %q", what, r.method, r.host, r.target, got, want)
		}
	}
	any := req{host: "a.example.com", target: "/api/x"}

	f("exact path beats any prefix",
		[]Spec{{Name: "prefix", PathPrefix: "/api/"}, {Name: "exact", Path: "/api/x"}}, any, "exact")
	f("longer prefix beats shorter",
		[]Spec{{Name: "short", PathPrefix: "/api/"}, {Name: "long", PathPrefix: "/api/v1/"}},
		req{target: "/api/v1/x"}, "long")
	f("prefix is a byte prefix: /api/ does not take /api",
		[]Spec{{Name: "api", PathPrefix: "/api/"}, {Name: "root", PathPrefix: "/"}}, req{target: "/api"}, "root")
	f("prefix is a byte prefix: /api takes /apix",
		[]Spec{{Name: "api", PathPrefix: "/api"}, {Name: "root", PathPrefix: "/"}}, req{target: "/apix"}, "api")
	f("prefix / beats no path",
		[]Spec{{Name: "none"}, {Name: "slash", PathPrefix: "/"}}, any, "slash")
	f("no path takes what no prefix matches (OPTIONS *)",
		[]Spec{{Name: "none"}, {Name: "slash", PathPrefix: "/"}}, req{target: "*", method: "OPTIONS"}, "none")
	f("regex after prefix, whatever the file order",
		[]Spec{{Name: "re", PathRegex: "^/api/"}, {Name: "api", PathPrefix: "/api/"}}, any, "api")
	f("regex after no path, whatever the file order",
		[]Spec{{Name: "re", PathRegex: "^/api/"}, {Name: "none", Hosts: []string{"a.example.com"}}}, any, "none")
	f("regex when no exact or prefix route matches",
		[]Spec{{Name: "api", PathPrefix: "/api/"}, {Name: "re", PathRegex: `^/r/\d+$`}}, req{target: "/r/12"}, "re")
	f("regexes in file order",
		[]Spec{{Name: "re1", PathRegex: `^/r/`}, {Name: "re2", PathRegex: `^/r/\d+$`}}, req{target: "/r/12"}, "re1")
	f("regex checks hosts",
		[]Spec{{Name: "re1", PathRegex: `^/r/`, Hosts: []string{"b.example"}}, {Name: "re2", PathRegex: `^/r/`}},
		req{host: "a.example", target: "/r/1"}, "re2")
	f("regex checks conditions",
		[]Spec{{Name: "re1", PathRegex: `^/r/`, Methods: []string{"POST"}}, {Name: "re2", PathRegex: `^/r/`}},
		req{target: "/r/1"}, "re2")
	f("regex sees the normalised path",
		[]Spec{{Name: "re", PathRegex: `^/a/c$`}}, req{target: "/a/./b/../%63"}, "re")

	f("path rank beats host rank",
		[]Spec{{Name: "host", PathPrefix: "/", Hosts: []string{"a.example.com"}}, {Name: "path", PathPrefix: "/api/"}}, any, "path")
	f("exact host beats wildcard",
		[]Spec{{Name: "wild", PathPrefix: "/", Hosts: []string{"*.example.com"}}, {Name: "exact", PathPrefix: "/", Hosts: []string{"a.example.com"}}}, any, "exact")
	f("longer wildcard beats shorter",
		[]Spec{{Name: "short", Hosts: []string{"*.example.com"}}, {Name: "long", Hosts: []string{"*.b.example.com"}}},
		req{host: "a.b.example.com", target: "/"}, "long")
	f("wildcard beats any host",
		[]Spec{{Name: "any"}, {Name: "wild", Hosts: []string{"*.example.com"}}}, any, "wild")
	f("host rank beats conditions",
		[]Spec{{Name: "conds", Methods: []string{"GET"}, Query: []Cond{{Name: "q", Any: true}}}, {Name: "host", Hosts: []string{"a.example.com"}}},
		req{host: "a.example.com", target: "/?q=1"}, "host")
	f("a route's best host counts",
		[]Spec{{Name: "wild", Hosts: []string{"*.example.com"}}, {Name: "both", Hosts: []string{"*.com", "a.example.com"}}}, any, "both")

	f("more conditions beat fewer",
		[]Spec{{Name: "none"}, {Name: "get", Methods: []string{"GET"}}}, any, "get")
	f("more conditions beat fewer, counting each header and query",
		[]Spec{{Name: "one", Methods: []string{"GET", "HEAD", "POST"}}, {Name: "two", Headers: []Cond{{Name: "X-A", Any: true}}, Query: []Cond{{Name: "q", Any: true}}}},
		req{target: "/?q", h: hdr("x-a: 1")}, "two")
	f("same count: earlier in the file",
		[]Spec{{Name: "first", Headers: []Cond{{Name: "X-A", Any: true}}}, {Name: "second", Query: []Cond{{Name: "q", Any: true}}}},
		req{target: "/?q", h: hdr("X-A: 1")}, "first")

	f("failed method falls back to a shorter prefix",
		[]Spec{{Name: "root", PathPrefix: "/"}, {Name: "api", PathPrefix: "/api/", Methods: []string{"GET"}}},
		req{target: "/api/x", method: "POST"}, "root")
	f("failed host falls back to a shorter prefix",
		[]Spec{{Name: "root", PathPrefix: "/"}, {Name: "api", PathPrefix: "/api/", Hosts: []string{"b.example.com"}}}, any, "root")
	f("failed condition falls back to fewer conditions",
		[]Spec{{Name: "plain", PathPrefix: "/"}, {Name: "canary", PathPrefix: "/", Headers: []Cond{{Name: "X-Canary", Value: "1"}}}},
		req{target: "/", h: hdr("X-Canary: 0")}, "plain")
	f("failed exact host falls back to wildcard",
		[]Spec{{Name: "wild", Hosts: []string{"*.example.com"}}, {Name: "exact", Hosts: []string{"a.example.com"}, Methods: []string{"PUT"}}}, any, "wild")
	f("nothing matches",
		[]Spec{{Name: "api", PathPrefix: "/api/", Hosts: []string{"b.example.com"}}}, any, "-")
}

func TestMatchHosts(t *testing.T) {
	f := func(pattern, host string, want bool) {
		t.Helper()
		specs := []Spec{{Name: "r", Hosts: []string{pattern}}}
		got := winner(mustCompile(t, specs), specs, req{host: host, target: "/"}) == "r"
		if got != want {
			t.Fatalf("host %q against %q: got %v; want %v", host, pattern, got, want)
		}
	}
	f("*.example.com", "a.example.com", true)
	f("*.example.com", "a.b.example.com", true)
	f("*.example.com", "example.com", false)
	f("*.example.com", "aexample.com", false)
	f("*.example.com", ".example.com", false)
	f("*.example.com", "a.example.org", false)
	f("*.example.com", "A.Example.COM:8080", true)
	f("*.Example.COM", "a.example.com", true)
	f("A.Example.COM", "a.example.com", true)
	f("a.example.com", "A.EXAMPLE.COM.", true)
	f("a.example.com.", "a.example.com", true)
	f("a.example.com", "a.example.com:8443", true)
	f("a.example.com", "b.a.example.com", false)
	f("a.example.com", "", false)
	f("[::1]", "[::1]:8080", true)
	f("[::1]", "[::1]", true)
	f("[2001:DB8::1]", "[2001:db8::1]:443", true)
	f("[2001:db8::1]", "[2001:db8::2]", false)
	f("127.0.0.1", "127.0.0.1:80", true)
}

func TestMatchConditions(t *testing.T) {
	f := func(c Spec, r req, want bool) {
		t.Helper()
		c.Name = "r"
		specs := []Spec{c}
		if got := winner(mustCompile(t, specs), specs, r) == "r"; got != want {
			t.Fatalf("%+v against %+v: got %v; want %v", c, r, got, want)
		}
	}
	q := func(name, value string, any bool) Spec {
		return Spec{Query: []Cond{{Name: name, Value: value, Any: any}}}
	}
	f(q("v", "2", false), req{target: "/?v=2"}, true)
	f(q("v", "2", false), req{target: "/?a=1&v=2&b"}, true)
	f(q("v", "2", false), req{target: "/?v=1&v=2"}, false) // the first occurrence decides
	f(q("v", "2", false), req{target: "/?v=2&v=1"}, true)
	f(q("v", "2", false), req{target: "/?v=22"}, false)
	f(q("v", "2", false), req{target: "/?vv=2"}, false)
	f(q("v", "2", false), req{target: "/"}, false)
	f(q("v", "", false), req{target: "/?v"}, true)
	f(q("v", "", false), req{target: "/?v="}, true)
	f(q("v", "", false), req{target: "/?v=1"}, false)
	f(q("v", "", true), req{target: "/?v=1"}, true)
	f(q("v", "", true), req{target: "/?&&v&"}, true)
	f(q("v", "", true), req{target: "/?w=v"}, false)
	f(q("a b", "c/d", false), req{target: "/?a%20b=c%2Fd"}, true)
	f(q("a b", "c/d", false), req{target: "/?a%20b=c%2fd"}, true)
	f(q("a", " ", false), req{target: "/?a=+"}, false) // '+' is not a space
	f(q("a", "+", false), req{target: "/?a=+"}, true)
	f(q("a", "%zz", false), req{target: "/?a=%zz"}, true) // a bad escape stands for itself
	f(q("a", "%", false), req{target: "/?a=%"}, true)
	f(q("a", "=", false), req{target: "/?a=="}, true)
	f(q("A", "1", false), req{target: "/?a=1"}, false) // query names are case-sensitive

	h := func(name, value string, any bool) Spec {
		return Spec{Headers: []Cond{{Name: name, Value: value, Any: any}}}
	}
	f(h("X-Env", "prod", false), req{target: "/", h: hdr("x-env: prod")}, true)
	f(h("X-Env", "prod", false), req{target: "/", h: hdr("X-Env: Prod")}, false)
	f(h("X-Env", "prod", false), req{target: "/", h: hdr("X-Other: prod")}, false)
	f(h("X-Env", "prod", false), req{target: "/"}, false) // nil Header
	f(h("X-Env", "", true), req{target: "/", h: hdr("X-Env:")}, true)
	f(h("X-Env", "", false), req{target: "/", h: hdr("X-Env:")}, true)
	f(h("X-Env", "", false), req{target: "/", h: hdr("X-Env: 1")}, false)

	m := Spec{Methods: []string{"GET", "HEAD"}}
	f(m, req{target: "/", method: "GET"}, true)
	f(m, req{target: "/", method: "HEAD"}, true)
	f(m, req{target: "/", method: "POST"}, false)
	f(m, req{target: "/", method: "get"}, false) // RFC 9110 §9.1: case-sensitive
	f(m, req{target: "/", method: "GETX"}, false)

	all := Spec{Methods: []string{"POST"}, Headers: []Cond{{Name: "X-A", Value: "1"}}, Query: []Cond{{Name: "q", Any: true}}}
	f(all, req{target: "/?q", method: "POST", h: hdr("X-A: 1")}, true)
	f(all, req{target: "/?q", method: "PUT", h: hdr("X-A: 1")}, false)
	f(all, req{target: "/?q", method: "POST", h: hdr("X-A: 2")}, false)
	f(all, req{target: "/?r", method: "POST", h: hdr("X-A: 1")}, false)
}

func TestPrefixLen(t *testing.T) {
	specs := []Spec{{Name: "p", PathPrefix: "/api/"}, {Name: "e", Path: "/x"}, {Name: "r", PathRegex: "^/y"}, {Name: "n", Hosts: []string{"n.example"}}}
	tb := mustCompile(t, specs)
	for i, want := range []int{5, 0, 0, 0} {
		if got := tb.PrefixLen(i); got != want {
			t.Fatalf("PrefixLen(%d) = %d; want %d", i, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	f := func(specs []Spec, want error) {
		t.Helper()
		_, err := Compile(specs)
		if !errors.Is(err, want) {
			t.Fatalf("Compile(%+v): got %v; want %v", specs, err, want)
		}
	}
	ok := Spec{Name: "ok", PathPrefix: "/"}
	f([]Spec{ok, {PathRegex: "(("}}, ErrRegex)
	f([]Spec{{Path: "/a", PathPrefix: "/b"}}, ErrPathConflict)
	f([]Spec{{Path: "/a", PathRegex: "^/b"}}, ErrPathConflict)
	f([]Spec{{PathPrefix: "/a", PathRegex: "^/b"}}, ErrPathConflict)
	f([]Spec{{Path: "a"}}, ErrPath)
	f([]Spec{{PathPrefix: "api/"}}, ErrPath)
	f([]Spec{{Path: "/a//b"}}, ErrPath)
	f([]Spec{{Path: "/a/./b"}}, ErrPath)
	f([]Spec{{Path: "/%61"}}, ErrPath)
	f([]Spec{{Path: "/a%2fb"}}, ErrPath)
	f([]Spec{{PathPrefix: "/a/../"}}, ErrPath)
	f([]Spec{{PathPrefix: "//"}}, ErrPath)
	for _, h := range []string{"a.*.com", "*", "*.", "**.com", "*a.com", "a*.com", "*.*.com", "", "a.com:80", "a com", "a/b", ".", "*..com", "*.[::1]"} {
		f([]Spec{{Hosts: []string{h}}}, ErrHost)
	}
	f([]Spec{{Hosts: []string{"a.com", "A.com"}}}, ErrHost)
	f([]Spec{{Methods: []string{"get"}}}, ErrMethod)
	f([]Spec{{Methods: []string{""}}}, ErrMethod)
	f([]Spec{{Methods: []string{"GE T"}}}, ErrMethod)
	f([]Spec{{Methods: []string{"GET", "GET"}}}, ErrMethod)
	f([]Spec{{Headers: []Cond{{Value: "x"}}}}, ErrCond)
	f([]Spec{{Query: []Cond{{Any: true}}}}, ErrCond)
	f([]Spec{{Headers: []Cond{{Name: "X", Value: "1", Any: true}}}}, ErrCond)
	f([]Spec{{Headers: []Cond{{Name: "X A", Value: "1"}}}}, ErrCond)
	f([]Spec{{Headers: []Cond{{Name: "X", Value: " 1"}}}}, ErrCond)
	f([]Spec{{Headers: []Cond{{Name: "X", Value: "1"}, {Name: "x", Any: true}}}}, ErrCond)
	f([]Spec{{Query: []Cond{{Name: "q", Value: "1"}, {Name: "q", Value: "2"}}}}, ErrCond)

	// Unreachable: another route always takes the requests first.
	f([]Spec{{Name: "a", PathPrefix: "/api/"}, ok, {Name: "b", PathPrefix: "/api/"}}, ErrUnreachable)
	f([]Spec{{Name: "a", Path: "/x", Hosts: []string{"a.com"}, Methods: []string{"GET"}},
		{Name: "b", Path: "/x", Hosts: []string{"A.com."}, Methods: []string{"GET"}}}, ErrUnreachable)
	f([]Spec{{Name: "a", Headers: []Cond{{Name: "X", Any: true}}}, {Name: "b", Headers: []Cond{{Name: "x", Value: "1"}}}}, ErrUnreachable)
	f([]Spec{{Name: "a", Methods: []string{"GET", "HEAD"}}, {Name: "b", Methods: []string{"HEAD"}}}, ErrUnreachable)
	f([]Spec{{Name: "a", Hosts: []string{"a.com"}}, {Name: "b", Hosts: []string{"b.com"}},
		{Name: "c", Hosts: []string{"a.com", "b.com"}}}, ErrUnreachable)
	f([]Spec{{Name: "a", PathRegex: "^/x"}, {Name: "b", PathRegex: "^/x", Hosts: []string{"a.com"}}}, ErrUnreachable)
	f([]Spec{ok, {Name: "re", PathRegex: "^/x"}}, ErrUnreachable)
	f([]Spec{{Name: "re", PathRegex: "^/x", Hosts: []string{"a.b.com"}}, {Name: "all", Hosts: []string{"*.com"}}}, ErrUnreachable)

	// Reachable: each of these takes some requests.
	f([]Spec{{Name: "a", PathPrefix: "/api/"}, {Name: "b", Path: "/api/"}}, nil)
	f([]Spec{{Name: "a", Hosts: []string{"a.com"}}, {Name: "c", Hosts: []string{"a.com", "b.com"}}}, nil)
	f([]Spec{{Name: "a", Headers: []Cond{{Name: "X", Value: "1"}}}, {Name: "b", Headers: []Cond{{Name: "X", Any: true}}}}, nil)
	f([]Spec{{Name: "a", Methods: []string{"HEAD"}}, {Name: "b", Methods: []string{"GET", "HEAD"}}}, nil)
	f([]Spec{{Name: "a"}, {Name: "b", Methods: []string{"GET"}}}, nil)
	f([]Spec{{Name: "a", Methods: []string{"GET"}}, {Name: "b"}}, nil)
	f([]Spec{ok, {Name: "re", PathRegex: `^\*$`}}, nil) // "*" is no prefix route's
	f([]Spec{{Name: "a", PathPrefix: "/", Methods: []string{"GET"}}, {Name: "re", PathRegex: "^/x"}}, nil)
	f([]Spec{{Name: "a", Hosts: []string{"a.com"}}, {Name: "re", PathRegex: "^/x"}}, nil)
	f([]Spec{{Name: "re1", PathRegex: "^/x"}, {Name: "re2", PathRegex: "^/x/"}}, nil)
	f([]Spec{{PathPrefix: "/.well"}, {PathPrefix: "/api/."}, {Path: "/%2F"}, {Path: "/%zz"}}, nil)
	f(nil, nil)
}

// TestCompileErrorNamesRoute checks the one message whose wording is specified:
// it names the refused route and the one that takes its requests.
func TestCompileErrorNamesRoute(t *testing.T) {
	_, err := Compile([]Spec{{Name: "ok", PathPrefix: "/"}, {Name: "y", Path: "/a"}, {Name: "x", Path: "/a"}})
	if err == nil || !strings.HasPrefix(err.Error(), "route 2 (x) is never matched: route 1 (y) takes the same requests first") {
		t.Fatalf("got %v", err)
	}
	_, err = Compile([]Spec{{Name: "ok", PathPrefix: "/"}, {Name: "api", PathRegex: "(("}})
	if !errors.Is(err, ErrRegex) {
		t.Fatalf("got %v; want ErrRegex", err)
	}
	t.Logf("error: %v", err)
}

// TestMatchConcurrent has loops share one Table, as the engine's loops do; run with -race.
func TestMatchConcurrent(t *testing.T) {
	specs := append(benchSpecs(100), Spec{Name: "re", PathRegex: `^/re/\d+$`})
	tb := mustCompile(t, specs)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			h := hdr("X-Tenant: 10")
			for k := 0; k < 1000; k++ {
				if i := tb.Match([]byte("svc10.example.com"), []byte("/svc10/x"), nil, []byte("GET"), h); i != 10 {
					t.Errorf("Match = %d; want 10", i)
				}
				if i := tb.Match([]byte("a"), []byte("/re/1"), nil, []byte("GET"), h); i != 100 {
					t.Errorf("Match = %d; want 100", i)
				}
			}
			done <- true
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
