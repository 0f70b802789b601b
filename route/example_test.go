package route_test

import (
	"fmt"

	"loopgate/route"
)

type noHeaders struct{}

func (noHeaders) Value(string) ([]byte, bool) { return nil, false }

func Example() {
	specs := []route.Spec{
		{Name: "default"},
		{Name: "api", PathPrefix: "/api/", Methods: []string{"GET", "HEAD"}},
		{Name: "api-v2", PathPrefix: "/api/v2/", Hosts: []string{"*.example.com"}},
	}
	t, err := route.Compile(specs)
	if err != nil {
		panic(err)
	}
	var host, path []byte // loop-owned scratch in the engine
	for _, r := range []struct{ method, host, target string }{
		{"GET", "Shop.Example.COM:8443", "/api//v2/./items"},
		{"GET", "other.example.org", "/api/v2/items"},
		{"POST", "other.example.org", "/api/v2/items"},
	} {
		host = route.NormalizeHost(host[:0], []byte(r.host))
		path, _ = route.NormalizePath(path[:0], []byte(r.target))
		i := t.Match(host, path, nil, []byte(r.method), noHeaders{})
		fmt.Printf("%s %s%s -> %s (prefix %d)\n", r.method, host, path, specs[i].Name, t.PrefixLen(i))
	}
	// Output:
	// GET shop.example.com/api/v2/items -> api-v2 (prefix 8)
	// GET other.example.org/api/v2/items -> api (prefix 5)
	// POST other.example.org/api/v2/items -> default (prefix 0)
}
