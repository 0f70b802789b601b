//go:build !race

package cache

import (
	"testing"
	"time"
)

func TestAllocs(t *testing.T) {
	s := New(Config{})
	resp := respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=600", `ETag: "v1"`, "Vary: Accept-Encoding")
	stored := reqOf("Accept-Encoding: gzip, deflate, br")
	s.Insert([]byte("a.example/x"), entryOf(stored, resp, "body"))
	raw := reqOf("User-Agent: test", "Accept: */*", "Accept-Encoding: br;q=1, gzip", `If-None-Match: "v0", W/"v1"`,
		"Cache-Control: max-age=100, min-fresh=1")
	key := []byte("a.example/x")
	var respF Fields = resp
	buf := make([]byte, 0, 4096)
	for _, tc := range []struct {
		name string
		req  Fields
	}{{"raw", raw}, {"spans", newSpanFields(raw)}} {
		req := tc.req
		f := func(what string, fn func()) {
			t.Helper()
			if n := testing.AllocsPerRun(1000, fn); n != 0 {
				t.Fatalf("%s/%s: %v allocs/op; want 0", tc.name, what, n)
			}
		}
		var e *Entry
		f("Lookup hit with Vary: Accept-Encoding", func() {
			var st State
			e, st = s.Lookup(key, req, at(time.Second))
			if st != Fresh {
				t.Fatalf("Lookup: %v", st)
			}
		})
		f("Lookup miss", func() { s.Lookup([]byte("a.example/none"), req, 0) })
		f("Evaluate", func() {
			if !Evaluate(req, e) {
				t.Fatal("Evaluate: no match")
			}
		})
		f("ParseCacheControl", func() { ParseCacheControl(req) })
		f("Bypass", func() { Bypass("GET", req, s.Config()) })
		f("AppendHit", func() { buf = AppendHit(buf[:0], e, at(time.Second)) })
		f("Storable", func() { Storable("GET", 200, req, respF, s.Config()) })
	}
}
