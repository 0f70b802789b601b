//go:build !race

package route

import "testing"

func TestAllocs(t *testing.T) {
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Fatalf("%s: %.1f allocs per run; want 0", name, n)
		}
	}
	specs := benchSpecs(1000)
	specs = append(specs,
		Spec{Name: "conds", PathPrefix: "/svc500/", Hosts: []string{"*.example.com"}, Methods: []string{"GET"},
			Headers: []Cond{{Name: "X-Env", Value: "prod"}}, Query: []Cond{{Name: "v", Value: "a b"}, {Name: "w", Any: true}}},
		Spec{Name: "exact", Path: "/svc500/x", Hosts: []string{"svc500.example.com"}, Headers: []Cond{{Name: "X-None", Any: true}}},
	)
	tb := mustCompile(t, specs)
	host := []byte("a.svc500.example.com")
	path := []byte("/svc500/x")
	query := []byte("a=1&v=a%20b&w")
	method := []byte("GET")
	h := hdr("X-Env: prod", "Accept: */*")
	want := len(specs) - 2
	f("Match with conditions", func() {
		if i := tb.Match(host, path, query, method, h); i != want {
			panic(i)
		}
	})
	otherHost, otherPath := []byte("nowhere.example.org"), []byte("/nothing/here")
	f("Match miss", func() {
		if i := tb.Match(otherHost, otherPath, nil, method, h); i != -1 {
			panic(i)
		}
	})

	rawHost := []byte("A.SVC500.Example.COM.:8443")
	rawPath := []byte("//svc500/./a/../%78%2f%2e%2E/")
	dst := make([]byte, 0, 64)
	f("NormalizeHost", func() { dst = NormalizeHost(dst[:0], rawHost) })
	f("NormalizePath", func() { dst, _ = NormalizePath(dst[:0], rawPath) })
}
