package cache

import (
	"testing"
	"time"
)

// TestStorable is the RFC 9111 §3 rule table: one case per rule, with the fields that
// trigger it and the section it comes from.
func TestStorable(t *testing.T) {
	f := func(rule, method string, status int, req, resp []string, c *Config, want Reason) {
		t.Helper()
		ok, why := Storable(method, status, reqOf(req...), respOf("200 OK", resp...), c)
		if why != want || ok != (want == ReasonNone) {
			t.Fatalf("%s: Storable = %v, %v; want %v", rule, ok, why, want)
		}
	}
	fresh := []string{"Date: " + dateStr, "Cache-Control: max-age=60"}
	with := func(extra ...string) []string { return append(append([]string{}, fresh...), extra...) }
	none := []string(nil)

	f("§3 GET with max-age is stored", "GET", 200, none, fresh, nil, ReasonNone)
	f("§3 POST is not stored", "POST", 200, none, fresh, nil, ReasonMethod)
	f("§3/§4.3.5 HEAD responses are not stored", "HEAD", 200, none, fresh, nil, ReasonMethod)
	f("§3 206 not stored (no range support)", "GET", 206, none, fresh, nil, ReasonStatus)
	f("§3 304 not stored (Refresh handles it)", "GET", 304, none, fresh, nil, ReasonStatus)
	f("§3 1xx not stored", "GET", 103, none, fresh, nil, ReasonStatus)
	f("§3 status not understood", "GET", 299, none, fresh, nil, ReasonStatus)
	f("§3 302 without explicit freshness", "GET", 302, none, []string{"Date: " + dateStr, "ETag: \"a\""}, nil, ReasonStatus)
	f("§3 302 with max-age", "GET", 302, none, fresh, nil, ReasonNone)
	f("§3 404 cacheable by default, with max-age", "GET", 404, none, fresh, nil, ReasonNone)
	f("§3 public makes a non-default status storable", "GET", 403, none,
		[]string{"Date: " + dateStr, "Cache-Control: public", "ETag: \"a\""}, &Config{Heuristic: true}, ReasonNoFreshness)
	f("§5.2.1.5 request no-store", "GET", 200, []string{"Cache-Control: no-store"}, fresh, nil, ReasonNoStore)
	f("§5.2.2.5 response no-store", "GET", 200, none, with("Cache-Control: no-store"), nil, ReasonNoStore)
	f("§5.2.2.5 no-store beats public", "GET", 200, none, with("Cache-Control: public, no-store"), nil, ReasonNoStore)
	f("§5.2.2.7 private", "GET", 200, none, with("Cache-Control: private"), nil, ReasonPrivate)
	f("§5.2.2.7 private with field names", "GET", 200, none, with(`Cache-Control: private="X-User"`), nil, ReasonPrivate)
	f("§3.5 Authorization", "GET", 200, []string{"Authorization: Basic eA=="}, fresh, nil, ReasonAuthorization)
	f("§3.5 Authorization + s-maxage", "GET", 200, []string{"Authorization: Basic eA=="},
		[]string{"Date: " + dateStr, "Cache-Control: s-maxage=60"}, nil, ReasonNone)
	f("§3.5 Authorization + public", "GET", 200, []string{"Authorization: Basic eA=="}, with("Cache-Control: public"), nil, ReasonNone)
	f("§3.5 Authorization + must-revalidate", "GET", 200, []string{"Authorization: Basic eA=="},
		with("Cache-Control: must-revalidate"), nil, ReasonNone)
	f("policy: Cookie request", "GET", 200, []string{"Cookie: a=1"}, fresh, nil, ReasonCookie)
	f("policy: Cookie request, public response", "GET", 200, []string{"Cookie: a=1"}, with("Cache-Control: public"), nil, ReasonNone)
	f("policy: Cookie request, CacheCookieRequests", "GET", 200, []string{"Cookie: a=1"}, fresh,
		&Config{CacheCookieRequests: true}, ReasonNone)
	f("policy: Set-Cookie response", "GET", 200, none, with("Set-Cookie: s=1"), nil, ReasonSetCookie)
	f("policy: Set-Cookie response, StoreSetCookie", "GET", 200, none, with("Set-Cookie: s=1"),
		&Config{StoreSetCookie: true}, ReasonNone)
	f("§4.1 Vary: *", "GET", 200, none, with("Vary: Accept, *"), nil, ReasonVaryStar)
	f("§4.1 Vary on a second line", "GET", 200, none, with("Vary: Accept", "Vary: *"), nil, ReasonVaryStar)
	f("policy: Content-Length above MaxObject", "GET", 200, none, with("Content-Length: 2000"),
		&Config{MaxObject: 1000, MaxBytes: 1 << 20}, ReasonTooLarge)
	f("§4.2 no explicit freshness, heuristic off", "GET", 200, none,
		[]string{"Date: " + dateStr, "Last-Modified: Sat, 06 Nov 1993 08:49:37 GMT"}, nil, ReasonNoFreshness)
	f("§4.2.2 heuristic freshness from Last-Modified", "GET", 200, none,
		[]string{"Date: " + dateStr, "Last-Modified: Sat, 06 Nov 1993 08:49:37 GMT"}, &Config{Heuristic: true}, ReasonNone)
	f("§4.2.2 no heuristic for 302", "GET", 302, none,
		[]string{"Date: " + dateStr, "Last-Modified: Sat, 06 Nov 1993 08:49:37 GMT"}, &Config{Heuristic: true}, ReasonStatus)
	f("§5.2.2.4 no-cache with a validator is stored (always revalidated)", "GET", 200, none,
		[]string{"Cache-Control: no-cache", "ETag: \"v1\""}, nil, ReasonNone)
	f("§5.2.2.4 no-cache without a validator", "GET", 200, none, []string{"Cache-Control: no-cache"}, nil, ReasonNoFreshness)
	f("§4.2.1 max-age=0 with a validator", "GET", 200, none,
		[]string{"Cache-Control: max-age=0, must-revalidate", "Last-Modified: " + dateStr}, nil, ReasonNone)
	f("§5.3 invalid Expires means expired", "GET", 200, none, []string{"Date: " + dateStr, "Expires: 0"}, nil, ReasonNoFreshness)
	f("§5.3 future Expires", "GET", 200, none,
		[]string{"Date: " + dateStr, "Expires: Sun, 06 Nov 1994 09:49:37 GMT"}, nil, ReasonNone)
}

func TestBypass(t *testing.T) {
	f := func(rule, method string, req []string, c Config, want Reason) {
		t.Helper()
		if got := Bypass(method, reqOf(req...), &c); got != want {
			t.Fatalf("%s: Bypass = %v; want %v", rule, got, want)
		}
	}
	f("GET", "GET", nil, Config{}, ReasonNone)
	f("HEAD is served from GET entries", "HEAD", nil, Config{}, ReasonNone)
	f("POST", "POST", nil, Config{}, ReasonMethod)
	f("Cookie", "GET", []string{"Cookie: a=1"}, Config{}, ReasonCookie)
	f("Cookie allowed", "GET", []string{"Cookie: a=1"}, Config{CacheCookieRequests: true}, ReasonNone)
	f("§5.2.1.5 request no-store", "GET", []string{"Cache-Control: no-store"}, Config{}, ReasonNoStore)
}

func TestFreshness(t *testing.T) {
	f := func(rule string, status int, resp []string, c *Config, want time.Duration) {
		t.Helper()
		h := respOf("200 OK", resp...)
		cc := ParseCacheControl(h)
		if got := Freshness(status, h, &cc, wall0, c); got != want {
			t.Fatalf("%s: Freshness = %v; want %v", rule, got, want)
		}
	}
	d := "Date: " + dateStr
	f("§4.2.1 s-maxage wins over max-age", 200, []string{d, "Cache-Control: max-age=10, s-maxage=20"}, nil, 20*time.Second)
	f("§4.2.1 max-age wins over Expires", 200, []string{d, "Cache-Control: max-age=10", "Expires: Sun, 06 Nov 1994 09:49:37 GMT"}, nil, 10*time.Second)
	f("§4.2.1 Expires minus Date", 200, []string{d, "Expires: Sun, 06 Nov 1994 09:49:37 GMT"}, nil, time.Hour)
	f("§4.2.1 Expires without Date uses receipt time", 200, []string{"Expires: Sun, 06 Nov 1994 08:50:37 GMT"}, nil, time.Minute)
	f("§4.2.1 Expires in the past", 200, []string{d, "Expires: Sun, 06 Nov 1994 07:49:37 GMT"}, nil, 0)
	f("§4.2.1 two different Expires", 200, []string{d, "Expires: Sun, 06 Nov 1994 09:49:37 GMT", "Expires: Sun, 06 Nov 1994 10:49:37 GMT"}, nil, 0)
	f("§5.3 Expires: 0", 200, []string{d, "Expires: 0"}, nil, 0)
	f("§5.3 rfc850 Expires accepted", 200, []string{d, "Expires: Sunday, 06-Nov-94 09:49:37 GMT"}, nil, time.Hour)
	f("§5.3 asctime Expires accepted", 200, []string{d, "Expires: Sun Nov  6 09:49:37 1994"}, nil, time.Hour)
	f("§5.2.2.4 no-cache: lifetime 0", 200, []string{d, "Cache-Control: no-cache, max-age=60"}, nil, 0)
	lm := "Last-Modified: Sun, 06 Nov 1994 06:09:37 GMT" // 160 minutes before Date
	f("§4.2.2 heuristic off", 200, []string{d, lm}, nil, 0)
	f("§4.2.2 heuristic 10%", 200, []string{d, lm}, &Config{Heuristic: true}, 16*time.Minute)
	f("§4.2.2 heuristic capped", 200, []string{d, lm}, &Config{Heuristic: true, HeuristicMax: time.Minute}, time.Minute)
	f("§4.2.2 heuristic only for default-cacheable statuses", 302, []string{d, lm}, &Config{Heuristic: true}, 0)
}

func TestInitialAge(t *testing.T) {
	f := func(rule string, resp []string, tm Times, want time.Duration) {
		t.Helper()
		if got := InitialAge(respOf("200 OK", resp...), tm); got != want {
			t.Fatalf("%s: InitialAge = %v; want %v", rule, got, want)
		}
	}
	d := "Date: " + dateStr
	f("§4.2.3 no Age, Date now", []string{d}, t0, 0)
	f("§4.2.3 apparent age", []string{d}, Times{Wall: wall0 + 30}, 30*time.Second)
	f("§4.2.3 clock behind Date: apparent age 0", []string{d}, Times{Wall: wall0 - 30}, 0)
	f("§4.2.3 Age plus response delay", []string{d, "Age: 10"},
		Times{Sent: 0, Received: int64(2 * time.Second), Wall: wall0}, 12*time.Second)
	f("§4.2.3 larger of apparent and corrected", []string{d, "Age: 10"}, Times{Wall: wall0 + 60}, 60*time.Second)
	f("§5.1 repeated Age keeps the largest", []string{d, "Age: 10", "Age: 20"}, t0, 20*time.Second)
	f("§5.1 invalid Age: stale on arrival", []string{d, "Age: soon"}, t0, MaxDelta*time.Second)
}

func TestHTTPDate(t *testing.T) {
	f := func(in string, want int64, wantOK bool) {
		t.Helper()
		got, ok := ParseHTTPDate([]byte(in))
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("ParseHTTPDate(%q) = %d, %v; want %d, %v", in, got, ok, want, wantOK)
		}
	}
	f(dateStr, wall0, true)
	f("Thu, 01 Jan 1970 00:00:00 GMT", 0, true)
	f("Tue, 29 Feb 2000 12:00:00 GMT", 951825600, true)
	f("Sunday, 06-Nov-94 08:49:37 GMT", wall0, true)
	f("Sun Nov  6 08:49:37 1994", wall0, true)
	f("Sun, 06 Nov 1994 08:49:37 UTC", 0, false)
	f("Sun, 06 Foo 1994 08:49:37 GMT", 0, false)
	f("0", 0, false)
	if b := appendHTTPDate(nil, wall0); string(b) != dateStr {
		t.Fatalf("appendHTTPDate = %q", b)
	}
}
