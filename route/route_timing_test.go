package route

import (
	"fmt"
	"testing"
)

var sink int

// benchSpecs returns n routes: host svcN.example.com and prefix /svcN/, every third
// one GET/HEAD only and every fifth with a header condition, so requests walk lists.
func benchSpecs(n int) []Spec {
	specs := make([]Spec, 0, n)
	for i := 0; i < n; i++ {
		s := Spec{
			Name:       fmt.Sprint("svc", i),
			Hosts:      []string{fmt.Sprintf("svc%d.example.com", i)},
			PathPrefix: fmt.Sprintf("/svc%d/", i),
		}
		if i%3 == 0 {
			s.Methods = []string{"GET", "HEAD"}
		}
		if i%5 == 0 {
			s.Headers = []Cond{{Name: "X-Tenant", Value: fmt.Sprint(i)}}
		}
		specs = append(specs, s)
	}
	return specs
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		tb, err := Compile(benchSpecs(n))
		if err != nil {
			b.Fatal(err)
		}
		mid := n / 2
		reqs := []struct {
			name              string
			host, path, query string
			want              int
		}{
			{"hit", fmt.Sprintf("svc%d.example.com", mid), fmt.Sprintf("/svc%d/users/42", mid), "page=2", mid},
			{"miss", "nowhere.example.org", "/nothing/here/at/all", "", -1},
		}
		h := hdr("Accept: */*", fmt.Sprint("X-Tenant: ", mid))
		for _, r := range reqs {
			b.Run(fmt.Sprintf("routes=%d/%s", n, r.name), func(b *testing.B) {
				host, path, query, method := []byte(r.host), []byte(r.path), []byte(r.query), []byte("GET")
				if i := tb.Match(host, path, query, method, h); i != r.want {
					b.Fatalf("Match = %d; want %d", i, r.want)
				}
				b.ReportAllocs()
				for b.Loop() {
					sink += tb.Match(host, path, query, method, h)
				}
			})
		}
	}
}

func BenchmarkNormalizePath(b *testing.B) {
	for _, tc := range []struct{ name, path string }{
		{"clean", "/api/v1/users/42/orders"},
		{"dirty", "//api/./v1/%75sers/../users/42/%2e%2e/42/orders%2f"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			in := []byte(tc.path)
			dst := make([]byte, 0, len(in)+1)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				dst, _ = NormalizePath(dst[:0], in)
				sink += len(dst)
			}
		})
	}
}

func BenchmarkNormalizeHost(b *testing.B) {
	in := []byte("API.Svc500.Example.COM.:8443")
	dst := make([]byte, 0, len(in))
	b.ReportAllocs()
	for b.Loop() {
		dst = NormalizeHost(dst[:0], in)
		sink += len(dst)
	}
}
