package cache

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseCacheControl(t *testing.T) {
	f := func(name string, lines []string, check func(cc CacheControl) bool) {
		t.Helper()
		var hl []string
		for _, l := range lines {
			hl = append(hl, "Cache-Control: "+l)
		}
		cc := ParseCacheControl(respOf("200 OK", hl...))
		if !check(cc) {
			t.Fatalf("%s: ParseCacheControl(%q) = %+v", name, lines, cc)
		}
	}
	f("none", nil, func(cc CacheControl) bool { return cc == noDirectives })
	f("§5.2 names are case-insensitive", []string{"Max-Age=60, NO-STORE"},
		func(cc CacheControl) bool { return cc.MaxAge == 60 && cc.NoStore })
	f("§5.2 quoted-string argument", []string{`max-age="60"`}, func(cc CacheControl) bool { return cc.MaxAge == 60 })
	f("§4.2.1 repeated max-age keeps the smallest", []string{"max-age=60", "max-age=30"},
		func(cc CacheControl) bool { return cc.MaxAge == 30 })
	f("§4.2.1 invalid max-age is stale", []string{"max-age=abc"}, func(cc CacheControl) bool { return cc.MaxAge == 0 })
	f("§4.2.1 max-age without argument is stale", []string{"max-age"}, func(cc CacheControl) bool { return cc.MaxAge == 0 })
	f("§4.2.1 negative s-maxage is stale", []string{"s-maxage=-5"}, func(cc CacheControl) bool { return cc.SMaxAge == 0 })
	f("§1.2.2 delta-seconds saturate", []string{"max-age=99999999999999999999"},
		func(cc CacheControl) bool { return cc.MaxAge == MaxDelta })
	f("§5.2.1.2 max-stale without argument", []string{"max-stale"}, func(cc CacheControl) bool { return cc.MaxStale == MaxDelta })
	f("§5.2.1.2 max-stale=10", []string{"max-stale=10"}, func(cc CacheControl) bool { return cc.MaxStale == 10 })
	f("§5.2.1.3 invalid min-fresh asks for more than any", []string{"min-fresh=x"},
		func(cc CacheControl) bool { return cc.MinFresh == MaxDelta })
	f("§5.2.1.3 repeated min-fresh keeps the largest", []string{"min-fresh=5, min-fresh=50"},
		func(cc CacheControl) bool { return cc.MinFresh == 50 })
	f("§5.2.2.4 no-cache with field names is no-cache", []string{`no-cache="Set-Cookie, X-Foo", max-age=5`},
		func(cc CacheControl) bool { return cc.NoCache && cc.MaxAge == 5 })
	f("§5.2.2.7 private with field names is private", []string{`private="X-A"`}, func(cc CacheControl) bool { return cc.Private })
	f("§5.2.3 unknown directives ignored", []string{`foo="bar,baz", public, ext`},
		func(cc CacheControl) bool { return cc.Public && cc.MaxAge == Absent })
	f("RFC 5861 windows", []string{"stale-while-revalidate=30, stale-if-error=600"},
		func(cc CacheControl) bool { return cc.StaleWhileRevalidate == 30 && cc.StaleIfError == 600 })
	f("all flags", []string{"must-revalidate,proxy-revalidate,only-if-cached,immutable,no-transform"},
		func(cc CacheControl) bool {
			return cc.MustRevalidate && cc.ProxyRevalidate && cc.OnlyIfCached && cc.Immutable && cc.NoTransform
		})
	f("empty elements", []string{" , ,max-age=1,,"}, func(cc CacheControl) bool { return cc.MaxAge == 1 })
}

// TestCacheControlProperty: random Cache-Control values never panic, and a response that
// says no-store anywhere in them is never storable.
func TestCacheControlProperty(t *testing.T) {
	atoms := []string{"max-age", "s-maxage", "no-store", "NO-STORE", "no-cache", "public", "private",
		"must-revalidate", "max-stale", "min-fresh", "=", "\"", "\\", ",", ";", " ", "\t", "60", "-1",
		"99999999999999999999999", "\"a,b\"", "x", "\xff", "\x00", "immutable"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b []byte
		for range r.IntN(12) {
			b = append(b, atoms[r.IntN(len(atoms))]...)
		}
		v := string(b)
		resp := respOf("200 OK", "Date: "+dateStr, "Cache-Control: "+v, "ETag: \"1\"")
		cc := ParseCacheControl(resp)
		ok, _ := Storable("GET", 200, reqOf(), resp, nil)
		if cc.NoStore && ok {
			t.Fatalf("no-store response storable: %q", v)
		}
		// With no-store as a separate, well-formed element, it must always be seen.
		resp = respOf("200 OK", "Date: "+dateStr, "Cache-Control: "+v, "Cache-Control: no-store, max-age=60")
		if ok, why := Storable("GET", 200, reqOf(), resp, nil); ok || why != ReasonNoStore {
			t.Fatalf("Cache-Control %q + no-store: storable=%v %v", v, ok, why)
		}
		_ = Freshness(200, resp, &cc, wall0, nil)
	}
}

func FuzzParseCacheControl(f *testing.F) {
	f.Add(`max-age=60, no-cache="a,b"`)
	f.Add(`s-maxage="5`)
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return // cannot occur in a parsed field value; it would end the test head's line
		}
		resp := respOf("200 OK", "Cache-Control: "+v, "Cache-Control: no-store")
		cc := ParseCacheControl(resp)
		if !cc.NoStore {
			t.Fatalf("%q: no-store on its own line not seen", v)
		}
		if cc.MaxAge < Absent || cc.MaxAge > MaxDelta {
			t.Fatalf("%q: max-age %d out of range", v, cc.MaxAge)
		}
	})
}
