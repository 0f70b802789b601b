package cache

import (
	"strings"
	"testing"
	"time"
)

// entryOf builds an entry with body as test responses do.
func entryOf(req RawFields, resp RawFields, body string) *Entry {
	e := NewEntry(resp, req, t0, nil)
	if e == nil {
		panic("entryOf: bad head " + string(resp))
	}
	if !e.AppendBody([]byte(body)) {
		panic("entryOf: body too large")
	}
	return e
}

// at returns the monotonic reading d after t0.Received.
func at(d time.Duration) int64 { return t0.Received + int64(d) }

func TestEntryHead(t *testing.T) {
	resp := respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=60", "Connection: keep-alive, X-Hop",
		"X-Hop: 1", "Keep-Alive: timeout=5", "Transfer-Encoding: chunked", "Age: 5", "Content-Length: 3",
		"Set-Cookie: s=1", "ETag: W/\"v1\"", "Content-Type: text/plain", "Proxy-Authenticate: Basic")
	e := entryOf(reqOf(), resp, "abc")
	want := "HTTP/1.1 200 OK\r\nDate: " + dateStr + "\r\nCache-Control: max-age=60\r\nETag: W/\"v1\"\r\nContent-Type: text/plain\r\n"
	if string(e.Head) != want {
		t.Fatalf("§3.1 stored head:\n%q\nwant\n%q", e.Head, want)
	}
	if string(e.ETag) != `W/"v1"` || e.InitialAge != 5*time.Second || e.Lifetime != time.Minute {
		t.Fatalf("ETag %q, InitialAge %v, Lifetime %v", e.ETag, e.InitialAge, e.Lifetime)
	}
	wantNM := "HTTP/1.1 304 Not Modified\r\nDate: " + dateStr + "\r\nCache-Control: max-age=60\r\nETag: W/\"v1\"\r\n"
	if string(e.NotModified) != wantNM {
		t.Fatalf("RFC 9110 §15.4.5 304 head:\n%q\nwant\n%q", e.NotModified, wantNM)
	}
	hit := AppendHit(nil, e, at(10*time.Second))
	if !strings.HasSuffix(string(hit), "Age: 15\r\nContent-Length: 3\r\n") {
		t.Fatalf("AppendHit: %q", hit)
	}

	// RFC 9110 §6.6.1: a Date is added when the origin sent none; HTTP/1.0 becomes 1.1.
	e = entryOf(reqOf(), RawFields("HTTP/1.0 404 Not Found\r\nCache-Control: max-age=1\r\n\r\n"), "")
	if string(e.Head) != "HTTP/1.1 404 Not Found\r\nCache-Control: max-age=1\r\nDate: "+dateStr+"\r\n" {
		t.Fatalf("Date added: %q", e.Head)
	}
	if NewEntry(RawFields("garbage\r\n\r\n"), reqOf(), t0, nil) != nil {
		t.Fatal("NewEntry accepted a head without status line")
	}
	e = entryOf(reqOf(), respOf("204 No Content", "Cache-Control: max-age=1"), "")
	if strings.Contains(string(AppendHit(nil, e, at(0))), "Content-Length") {
		t.Fatal("RFC 9110 §8.6: Content-Length on a 204")
	}
}

func TestAppendBodyLimit(t *testing.T) {
	c := &Config{MaxObject: 130, MaxBytes: 1 << 20}
	e := NewEntry(respOf("200 OK", "Cache-Control: max-age=1"), reqOf(), t0, c)
	if !e.AppendBody(make([]byte, 40)) || e.AppendBody(make([]byte, 40)) {
		t.Fatalf("AppendBody over MaxObject accepted (head %d bytes)", len(e.Head))
	}
}

// TestLookupRequestDirectives covers the request directives at hit time (§5.2.1, §5.4,
// §4.2.4) against an entry fresh for 60s.
func TestLookupRequestDirectives(t *testing.T) {
	f := func(rule string, respCC string, req []string, after time.Duration, want State) {
		t.Helper()
		s := New(Config{})
		s.Insert([]byte("a.example/x"), entryOf(reqOf(), respOf("200 OK", "Date: "+dateStr, "ETag: \"1\"", "Cache-Control: "+respCC), "b"))
		e, st := s.Lookup([]byte("a.example/x"), reqOf(req...), at(after))
		if st != want || (e == nil) != (st == Miss || st == GatewayTimeout) {
			t.Fatalf("%s: Lookup after %v = %v (entry %v); want %v", rule, after, st, e != nil, want)
		}
	}
	f("§4.2 fresh", "max-age=60", nil, 59*time.Second, Fresh)
	f("§4.2 stale", "max-age=60", nil, 61*time.Second, Stale)
	f("§5.2.1.1 request max-age", "max-age=60", []string{"Cache-Control: max-age=10"}, 20*time.Second, Stale)
	f("§5.2.1.1 request max-age met", "max-age=60", []string{"Cache-Control: max-age=30"}, 20*time.Second, Fresh)
	f("§5.2.1.1 request max-age=0", "max-age=60", []string{"Cache-Control: max-age=0"}, time.Second, Stale)
	f("§5.2.1.3 min-fresh not met", "max-age=60", []string{"Cache-Control: min-fresh=30"}, 40*time.Second, Stale)
	f("§5.2.1.3 min-fresh met", "max-age=60", []string{"Cache-Control: min-fresh=30"}, 20*time.Second, Fresh)
	f("§5.2.1.2 max-stale within", "max-age=60", []string{"Cache-Control: max-stale=30"}, 80*time.Second, Fresh)
	f("§5.2.1.2 max-stale beyond", "max-age=60", []string{"Cache-Control: max-stale=30"}, 100*time.Second, Stale)
	f("§5.2.1.2 max-stale any", "max-age=60", []string{"Cache-Control: max-stale"}, time.Hour, Fresh)
	f("§5.2.2.2 must-revalidate forbids max-stale", "max-age=60, must-revalidate", []string{"Cache-Control: max-stale"}, 80*time.Second, Stale)
	f("§5.2.2.8 proxy-revalidate forbids max-stale", "max-age=60, proxy-revalidate", []string{"Cache-Control: max-stale"}, 80*time.Second, Stale)
	f("§5.2.2.10 s-maxage forbids max-stale", "s-maxage=60", []string{"Cache-Control: max-stale"}, 80*time.Second, Stale)
	f("§5.2.1.4 request no-cache", "max-age=60", []string{"Cache-Control: no-cache"}, time.Second, Stale)
	f("§5.4 Pragma: no-cache without Cache-Control", "max-age=60", []string{"Pragma: no-cache"}, time.Second, Stale)
	f("§5.4 Pragma ignored with Cache-Control", "max-age=60", []string{"Pragma: no-cache", "Cache-Control: max-age=30"}, time.Second, Fresh)
	f("§5.2.2.4 response no-cache", "no-cache", nil, 0, Stale)
	f("§5.2.1.7 only-if-cached, fresh", "max-age=60", []string{"Cache-Control: only-if-cached"}, time.Second, Fresh)
	f("§5.2.1.7 only-if-cached, stale: 504", "max-age=60", []string{"Cache-Control: only-if-cached"}, time.Hour, GatewayTimeout)
	f("§5.2.1.7 only-if-cached, stale but max-stale", "max-age=60", []string{"Cache-Control: only-if-cached, max-stale"}, time.Hour, Fresh)

	s := New(Config{})
	if _, st := s.Lookup([]byte("nothing"), reqOf("Cache-Control: only-if-cached"), 0); st != GatewayTimeout {
		t.Fatalf("§5.2.1.7 only-if-cached on a miss: %v", st)
	}
}

func TestStaleWindows(t *testing.T) {
	e := entryOf(reqOf(), respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=10, stale-while-revalidate=20, stale-if-error=100"), "")
	if e.Staleness(at(5*time.Second)) != 0 || e.Staleness(at(15*time.Second)) != 5*time.Second {
		t.Fatal("Staleness")
	}
	if !e.ServeWhileRevalidating(at(25*time.Second)) || e.ServeWhileRevalidating(at(35*time.Second)) {
		t.Fatal("RFC 5861 §3 stale-while-revalidate window")
	}
	if !e.ServeOnError(at(100*time.Second)) || e.ServeOnError(at(120*time.Second)) {
		t.Fatal("RFC 5861 §4 stale-if-error window")
	}
	e = entryOf(reqOf(), respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=10, must-revalidate, stale-if-error=100"), "")
	if e.ServeOnError(at(20 * time.Second)) {
		t.Fatal("§5.2.2.2 must-revalidate: stale served on error")
	}
}

// TestEvaluate covers conditional requests answered from the cache (§4.3.2, RFC 9110 §13).
func TestEvaluate(t *testing.T) {
	lm := "Sun, 06 Nov 1994 08:00:00 GMT"
	e := entryOf(reqOf(), respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=60", `ETag: "v1"`, "Last-Modified: "+lm), "x")
	noLM := entryOf(reqOf(), respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=60"), "x")
	notFound := entryOf(reqOf(), respOf("404 Not Found", "Date: "+dateStr, "Cache-Control: max-age=60", `ETag: "v1"`), "x")
	f := func(rule string, e *Entry, req []string, want bool) {
		t.Helper()
		if got := Evaluate(reqOf(req...), e); got != want {
			t.Fatalf("%s: Evaluate = %v; want %v", rule, got, want)
		}
	}
	f("no conditions", e, nil, false)
	f("RFC 9110 §13.1.2 If-None-Match match", e, []string{`If-None-Match: "v1"`}, true)
	f("RFC 9110 §13.1.2 weak comparison", e, []string{`If-None-Match: W/"v1"`}, true)
	f("RFC 9110 §13.1.2 list", e, []string{`If-None-Match: "a", "v1"`}, true)
	f("RFC 9110 §13.1.2 list on two lines", e, []string{`If-None-Match: "a"`, `If-None-Match: "v1"`}, true)
	f("RFC 9110 §13.1.2 star", e, []string{`If-None-Match: *`}, true)
	f("RFC 9110 §13.1.2 star without ETag", noLM, []string{`If-None-Match: *`}, true)
	f("RFC 9110 §13.1.2 mismatch", e, []string{`If-None-Match: "v2"`}, false)
	f("RFC 9110 §13.2.2 If-None-Match wins over If-Modified-Since", e,
		[]string{`If-None-Match: "v2"`, "If-Modified-Since: " + dateStr}, false)
	f("RFC 9110 §13.1.3 If-Modified-Since after Last-Modified", e, []string{"If-Modified-Since: " + dateStr}, true)
	f("RFC 9110 §13.1.3 If-Modified-Since equal", e, []string{"If-Modified-Since: " + lm}, true)
	f("RFC 9110 §13.1.3 If-Modified-Since before", e, []string{"If-Modified-Since: Sun, 06 Nov 1994 07:00:00 GMT"}, false)
	f("RFC 9110 §13.1.3 invalid date ignored", e, []string{"If-Modified-Since: yesterday"}, false)
	f("§4.3.2 no Last-Modified: Date is used", noLM, []string{"If-Modified-Since: " + dateStr}, true)
	f("RFC 9110 §13.2.1 non-2xx ignores preconditions", notFound, []string{`If-None-Match: "v1"`}, false)
}

// TestRefresh covers freshening a stored response with a 304 (§4.3.4, §3.2).
func TestRefresh(t *testing.T) {
	e := entryOf(reqOf("Accept-Encoding: gzip"), respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=10",
		`ETag: "v1"`, "Last-Modified: Sun, 06 Nov 1994 08:00:00 GMT", "X-Old: 1", "Vary: Accept-Encoding"), "body")
	later := Times{Sent: at(time.Hour), Received: at(time.Hour), Wall: wall0 + 3600}
	r := Refresh(e, respOf("304 Not Modified", "Date: Sun, 06 Nov 1994 09:49:37 GMT", "Cache-Control: max-age=600",
		`ETag: "v1"`, "Content-Length: 99", "Connection: close", "X-New: 2"), later, nil)
	if r == nil {
		t.Fatal("§4.3.4 matching strong ETag did not select the entry")
	}
	if r.Lifetime != 10*time.Minute || r.Staleness(at(time.Hour+time.Minute)) != 0 || &r.Body[0] != &e.Body[0] {
		t.Fatalf("refreshed: lifetime %v, body shared %v", r.Lifetime, &r.Body[0] == &e.Body[0])
	}
	h := string(r.Head)
	for _, want := range []string{"X-Old: 1\r\n", "X-New: 2\r\n", "Cache-Control: max-age=600\r\n", "Date: Sun, 06 Nov 1994 09:49:37 GMT\r\n"} {
		if !strings.Contains(h, want) {
			t.Fatalf("§3.2 refreshed head lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "max-age=10") || strings.Contains(h, "Content-Length") || strings.Contains(h, "Connection") {
		t.Fatalf("§3.2 refreshed head kept a replaced or excluded field:\n%s", h)
	}
	if !sameVariant(r, e) {
		t.Fatal("refresh lost the Vary key")
	}
	if Refresh(e, respOf("304 Not Modified", `ETag: "v2"`), later, nil) != nil {
		t.Fatal("§4.3.4 different ETag selected the entry")
	}
	if Refresh(e, respOf("304 Not Modified", `ETag: W/"v1"`), later, nil) == nil {
		t.Fatal("§4.3.4 weak ETag of the same tag (answering If-None-Match) not accepted")
	}
	// A compressed variant's tag was weakened: the origin's strong 304
	// selects it and must not make the stored tag strong again.
	gz := entryOf(reqOf("Accept-Encoding: gzip"), respOf("200 OK", "Date: "+dateStr, "Cache-Control: max-age=10",
		`ETag: W/"v1"`, "Content-Encoding: gzip"), "gz")
	if r := Refresh(gz, respOf("304 Not Modified", `ETag: "v1"`, "Cache-Control: max-age=20"), later, nil); r == nil ||
		string(r.ETag) != `W/"v1"` || !strings.Contains(string(r.Head), "ETag: W/\"v1\"\r\n") || strings.Contains(string(r.Head), `ETag: "v1"`) ||
		!strings.Contains(string(r.Head), "max-age=20") {
		t.Fatalf("§4.3.4 refreshing a weakened tag: %v", r)
	}
	if Refresh(e, respOf("304 Not Modified", "Last-Modified: Sun, 06 Nov 1994 07:00:00 GMT"), later, nil) != nil {
		t.Fatal("§4.3.4 different Last-Modified selected the entry")
	}
	got := string(AppendValidators(nil, e))
	if got != "If-None-Match: \"v1\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:00:00 GMT\r\n" {
		t.Fatalf("§4.3.1 validators: %q", got)
	}
}

// TestVary covers secondary keys (§4.1).
func TestVary(t *testing.T) {
	f := func(rule, vary string, stored, req []string, want bool) {
		t.Helper()
		s := New(Config{})
		s.Insert([]byte("k"), entryOf(reqOf(stored...), respOf("200 OK", "Cache-Control: max-age=60", "Vary: "+vary), "b"))
		_, st := s.Lookup([]byte("k"), reqOf(req...), at(0))
		if (st == Fresh) != want {
			t.Fatalf("%s: Vary %q stored %q, request %q: %v", rule, vary, stored, req, st)
		}
	}
	ae := "Accept-Encoding"
	f("§4.1 same value", ae, []string{"Accept-Encoding: gzip"}, []string{"Accept-Encoding: gzip"}, true)
	f("AE: unknown codings and order ignored", ae, []string{"Accept-Encoding: gzip, deflate, br"}, []string{"Accept-Encoding: br;q=1, gzip"}, true)
	f("AE: q=0 excludes", ae, []string{"Accept-Encoding: gzip, br"}, []string{"Accept-Encoding: gzip, br;q=0"}, false)
	f("AE: q=0.000 excludes", ae, []string{"Accept-Encoding: gzip"}, []string{"Accept-Encoding: gzip, br;q=0.000"}, true)
	f("AE: case and x-gzip", ae, []string{"Accept-Encoding: GZIP"}, []string{"Accept-Encoding: x-gzip"}, true)
	f("AE: lines combined", ae, []string{"Accept-Encoding: gzip, zstd"}, []string{"Accept-Encoding: zstd", "Accept-Encoding: gzip"}, true)
	f("AE: different sets", ae, []string{"Accept-Encoding: gzip"}, []string{"Accept-Encoding: br"}, false)
	f("AE: star", ae, []string{"Accept-Encoding: *"}, []string{"Accept-Encoding: br, gzip, zstd"}, true)
	f("AE: absent is identity", ae, nil, []string{"Accept-Encoding: identity"}, true)
	f("AE: absent differs from gzip", ae, nil, []string{"Accept-Encoding: gzip"}, false)
	f("AE: identity;q=0", ae, []string{"Accept-Encoding: gzip"}, []string{"Accept-Encoding: gzip, identity;q=0"}, false)
	f("§4.1 whitespace normalised", "Accept-Language", []string{"Accept-Language: en-US,  en;q=0.9"},
		[]string{"Accept-Language: en-US ,en;q=0.9"}, true)
	f("§4.1 values differ", "Accept-Language", []string{"Accept-Language: en"}, []string{"Accept-Language: fr"}, false)
	f("§4.1 absent vs empty differ", "X-A", nil, []string{"X-A: "}, false)
	f("§4.1 absent on both sides match", "X-A", nil, nil, true)
	f("§4.1 field names case-insensitive", "accept-language, X-B", []string{"Accept-Language: en", "x-b: 1"},
		[]string{"ACCEPT-LANGUAGE: en", "X-B: 1"}, true)
	f("§4.1 second listed field differs", "Accept-Language, X-B", []string{"Accept-Language: en", "X-B: 1"},
		[]string{"Accept-Language: en", "X-B: 2"}, false)
}

func TestVariants(t *testing.T) {
	s := New(Config{MaxVariants: 2})
	resp := respOf("200 OK", "Cache-Control: max-age=60", "Vary: Accept-Encoding")
	for _, ae := range []string{"gzip", "br", "zstd"} {
		s.Insert([]byte("k"), entryOf(reqOf("Accept-Encoding: "+ae), resp, ae))
	}
	look := func(ae string) string {
		e, st := s.Lookup([]byte("k"), reqOf("Accept-Encoding: "+ae), at(0))
		if st != Fresh {
			return ""
		}
		return string(e.Body)
	}
	if look("gzip") != "" || look("br") != "br" || look("zstd") != "zstd" {
		t.Fatalf("MaxVariants=2: gzip %q br %q zstd %q", look("gzip"), look("br"), look("zstd"))
	}
	s.Insert([]byte("k"), entryOf(reqOf("Accept-Encoding: br"), resp, "br2"))
	if look("br") != "br2" || look("zstd") != "zstd" || s.Stats().Entries != 2 {
		t.Fatalf("replacing a variant: br %q zstd %q entries %d", look("br"), look("zstd"), s.Stats().Entries)
	}
	if n := s.Purge([]byte("k")); n != 2 || look("br") != "" || s.Stats().Bytes != 0 {
		t.Fatalf("Purge = %d, then %+v", n, s.Stats())
	}
}
