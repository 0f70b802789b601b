package engine

import (
	"net/netip"
	"testing"

	"loopgate/codec"
	"loopgate/upstream"
)

func parseReq(t testing.TB, raw string) ([]byte, *codec.Request) {
	t.Helper()
	b := []byte(raw)
	r := new(codec.Request)
	if _, err := codec.ParseRequest(b, r, nil); err != nil {
		t.Fatalf("ParseRequest(%q): %v", raw, err)
	}
	return b, r
}

func TestRequestKey(t *testing.T) {
	cc := &clientConn{ipKey: upstream.HashKey([]byte("192.0.2.1"))}
	f := func(spec, raw, want string, wantOK bool) {
		t.Helper()
		k, err := parseKeySpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		b, r := parseReq(t, raw)
		got, ok := cc.requestKey(&k, b, r)
		if ok != wantOK || ok && got != upstream.HashKey([]byte(want)) {
			t.Fatalf("%s on %q: key %x ok=%v; want hash(%q) ok=%v", spec, raw, got, ok, want, wantOK)
		}
	}
	f("ip", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "192.0.2.1", true)
	f("uri", "GET /a/b?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", "/a/b?x=1", true)
	f("path", "GET /a/b?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", "/a/b", true)
	f("path", "GET /a/b HTTP/1.1\r\nHost: a\r\n\r\n", "/a/b", true)
	f("header:X-User", "GET / HTTP/1.1\r\nHost: a\r\nx-user: alice\r\n\r\n", "alice", true)
	f("header:X-User", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "", false)
	f("cookie:sid", "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1; sid=xyz; b=2\r\n\r\n", "xyz", true)
	f("cookie:sid", "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCookie: sid=q\r\n\r\n", "q", true)
	f("cookie:sid", "GET / HTTP/1.1\r\nHost: a\r\nCookie: xsid=1; sidx=2\r\n\r\n", "", false)
	f("query:u", "GET /p?a=1&u=bob&c HTTP/1.1\r\nHost: a\r\n\r\n", "bob", true)
	f("query:c", "GET /p?a=1&u=bob&c HTTP/1.1\r\nHost: a\r\n\r\n", "", true)
	f("query:u", "GET /p?uu=1 HTTP/1.1\r\nHost: a\r\n\r\n", "", false)
	f("query:u", "GET /p HTTP/1.1\r\nHost: a\r\n\r\n", "", false)
}

func TestParseKeySpec(t *testing.T) {
	for _, bad := range []string{"", "host", "header:", "cookie", "query:", "nope:x"} {
		if _, err := parseKeySpec(bad); err == nil {
			t.Errorf("parseKeySpec(%q) succeeded", bad)
		}
	}
}

func TestClientIPKeyTrustedProxies(t *testing.T) {
	g := &generation{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}}
	l := &loop{s: &Server{}, gen: g}
	f := func(trusted bool, xff []string, want string) {
		t.Helper()
		cc := &clientConn{l: l, ln: plainTestListener, trusted: trusted, ipKey: upstream.HashKey([]byte("10.1.1.1"))}
		raw := "GET / HTTP/1.1\r\nHost: a\r\n"
		for _, v := range xff {
			raw += "X-Forwarded-For: " + v + "\r\n"
		}
		b, r := parseReq(t, raw+"\r\n")
		if got := cc.clientIPKey(b, r); got != upstream.HashKey([]byte(want)) {
			t.Fatalf("trusted=%v xff=%q: key is not hash(%q)", trusted, xff, want)
		}
	}
	f(false, []string{"203.0.113.9"}, "10.1.1.1")                          // an untrusted peer's XFF is ignored
	f(true, nil, "10.1.1.1")                                               // no XFF: the peer
	f(true, []string{"203.0.113.9"}, "203.0.113.9")                        // one hop
	f(true, []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9")          // the nearest untrusted wins
	f(true, []string{"203.0.113.9, 10.2.2.2, 192.168.1.7"}, "203.0.113.9") // skip trusted hops
	f(true, []string{"203.0.113.9", "10.2.2.2"}, "203.0.113.9")            // across repeated fields
	f(true, []string{"10.9.9.9, 10.2.2.2"}, "10.9.9.9")                    // all trusted: the leftmost
	f(true, []string{"unknown"}, "unknown")                                // not an address: taken as is
}
