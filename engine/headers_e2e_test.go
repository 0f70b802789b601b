package engine_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// received sends req through the proxy to an echo backend and returns the
// head and body framing the backend got.
func received(t *testing.T, c *client, req string) (head string, fs []field, body string) {
	t.Helper()
	method, _, _ := strings.Cut(req, " ")
	r := c.roundTrip(method, req)
	wantStatus(t, r, 200)
	off, err := strconv.Atoi(r.Header.Get("X-Body-Offset"))
	if err != nil || off > len(r.body) {
		t.Fatalf("echo backend answered %q", r.body)
	}
	return r.body[:off], fieldsOf(r.body[:off]), r.body[off:]
}

func TestHopByHopRequestE2E(t *testing.T) {
	be := startEchoBackend(t)
	c := dial(t, startProxyTo(t, be.addr()))

	absent := func(t *testing.T, fs []field, names ...string) {
		t.Helper()
		for _, n := range names {
			if v := values(fs, n); len(v) > 0 {
				t.Errorf("backend got %s: %q", n, v)
			}
		}
	}
	present := func(t *testing.T, fs []field, name string, want ...string) {
		t.Helper()
		if got := values(fs, name); !slices.Equal(got, want) {
			t.Errorf("backend got %s: %q, want %q", name, got, want)
		}
	}

	t.Run("connection-and-named-fields", func(t *testing.T) {
		_, fs, _ := received(t, c, "GET / HTTP/1.1\r\nHost: a\r\n"+
			"Connection: X-Secret, keep-alive\r\nConnection: x-other\r\n"+
			"X-Secret: 1\r\nX-Other: 2\r\nX-Kept: 3\r\n\r\n")
		absent(t, fs, "Connection", "X-Secret", "X-Other")
		present(t, fs, "X-Kept", "3")
	})
	t.Run("keep-alive", func(t *testing.T) {
		_, fs, _ := received(t, c, "GET / HTTP/1.1\r\nHost: a\r\nKeep-Alive: timeout=5, max=100\r\n\r\n")
		absent(t, fs, "Keep-Alive")
	})
	t.Run("proxy-connection", func(t *testing.T) {
		_, fs, _ := received(t, c, "GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: keep-alive\r\n\r\n")
		absent(t, fs, "Proxy-Connection")
	})
	t.Run("te", func(t *testing.T) {
		_, fs, _ := received(t, c, "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers, deflate;q=0.5\r\n\r\n")
		absent(t, fs, "TE")
	})
	t.Run("upgrade", func(t *testing.T) {
		// An upgrade request keeps exactly its upgrade (tunnel.go); other
		// fields Connection names still go.
		_, fs, _ := received(t, c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-Secret\r\nUpgrade: websocket\r\nX-Secret: 1\r\n\r\n")
		present(t, fs, "Upgrade", "websocket")
		present(t, fs, "Connection", "upgrade")
		absent(t, fs, "X-Secret")
		// Without "upgrade" in Connection, Upgrade is just a hop-by-hop field.
		_, fs, _ = received(t, c, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")
		absent(t, fs, "Upgrade", "Connection")
	})
	t.Run("transfer-encoding-re-emitted", func(t *testing.T) {
		_, fs, body := received(t, c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		present(t, fs, "Transfer-Encoding", "chunked")
		if body != "3\r\nabc\r\n0\r\n\r\n" {
			t.Errorf("body %q", body)
		}
	})
	t.Run("transfer-encoding-regenerated", func(t *testing.T) {
		// Only chunked is accepted, and it goes out as exactly that (issue 11).
		_, fs, _ := received(t, c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\nTransfer-Encoding: ,\r\n\r\n0\r\n\r\n")
		if te := strings.Join(values(fs, "Transfer-Encoding"), ", "); te != "chunked" {
			t.Errorf("backend got Transfer-Encoding %q, want chunked", te)
		}
	})
	t.Run("connection-cannot-drop-host-or-length", func(t *testing.T) {
		_, fs, body := received(t, c, "POST / HTTP/1.1\r\nHost: a\r\nConnection: host, content-length\r\nContent-Length: 2\r\n\r\nhi")
		present(t, fs, "Host", "a")
		present(t, fs, "Content-Length", "2")
		if body != "hi" {
			t.Errorf("body %q", body)
		}
	})
	t.Run("host-unchanged", func(t *testing.T) {
		head, fs, _ := received(t, c, "GET /p?q=1 HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n")
		present(t, fs, "Host", "Example.COM:8080")
		if !strings.HasPrefix(head, "GET /p?q=1 HTTP/1.1\r\n") {
			t.Errorf("request line %q", head)
		}
	})
	t.Run("x-forwarded", func(t *testing.T) {
		_, fs, _ := received(t, c, "GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
		present(t, fs, "X-Forwarded-For", "127.0.0.1")
		present(t, fs, "X-Forwarded-Proto", "http")
		present(t, fs, "X-Forwarded-Host", "shop.example")
	})
	t.Run("x-forwarded-for-appended", func(t *testing.T) {
		_, fs, _ := received(t, c, "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\n"+
			"X-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n\r\n")
		xff := strings.Join(values(fs, "X-Forwarded-For"), ", ")
		if xff != "10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1" {
			t.Errorf("X-Forwarded-For %q", xff)
		}
		present(t, fs, "X-Forwarded-Proto", "http")
		present(t, fs, "X-Forwarded-Host", "a")
	})
	t.Run("order-and-repeats", func(t *testing.T) {
		_, fs, _ := received(t, c, "GET / HTTP/1.1\r\nX-A: 1\r\nHost: a\r\nx-b: 2\r\nX-A: 3\r\nSet-Thing: p=1\r\nX-A: 4\r\nx-b: 5\r\n\r\n")
		var got []string
		for _, f := range fs {
			if !strings.HasPrefix(strings.ToLower(f.name), "x-forwarded-") {
				got = append(got, f.name+"="+f.value)
			}
		}
		want := []string{"X-A=1", "Host=a", "x-b=2", "X-A=3", "Set-Thing=p=1", "X-A=4", "x-b=5"}
		if !slices.Equal(got, want) {
			t.Errorf("backend got fields %q, want %q", got, want)
		}
	})
}

func TestHopByHopResponseE2E(t *testing.T) {
	be := respondWith(t, func(rawRequest) string {
		return "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=1\r\n" +
			"Proxy-Connection: close\r\nUpgrade: h2c\r\nSet-Cookie: a=1\r\nX-Kept: k\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok"
	})
	c := dial(t, startProxyTo(t, be.addr()))
	c.capture()
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if r.body != "ok" {
		t.Fatalf("body %q", r.body)
	}
	raw := c.raw.String()
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	fs := fieldsOf(head + "\r\n")
	for _, n := range []string{"Connection", "X-Internal", "Keep-Alive", "Proxy-Connection", "Upgrade"} {
		if v := values(fs, n); len(v) > 0 {
			t.Errorf("client got %s: %q", n, v)
		}
	}
	if got := values(fs, "Set-Cookie"); !slices.Equal(got, []string{"a=1", "b=2"}) {
		t.Errorf("Set-Cookie %q", got)
	}
	if got := values(fs, "X-Kept"); !slices.Equal(got, []string{"k"}) {
		t.Errorf("X-Kept %q", got)
	}
}
