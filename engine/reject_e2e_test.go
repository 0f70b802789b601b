package engine_test

import (
	"bufio"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"loopgate/codec"
)

// Every malformed request is answered by the proxy with Connection: close,
// the connection is closed, and not one byte reaches the backend.
func TestRejectE2E(t *testing.T) {
	rec := startRecorder(t)
	cfg := poolOf(rec.addr())
	cfg.Limits = codec.Limits{MaxBodyBytes: 1 << 20}
	_, px := startProxy(t, cfg)

	const host = "Host: a\r\n"
	manyFields := strings.Repeat("X-Field: v\r\n", 101)
	hugeField := "X-Huge: " + strings.Repeat("h", 70<<10) + "\r\n"

	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"cl-and-te", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"te-and-cl", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
		{"two-different-cl", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"cl-list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 6\r\n\r\nhello!", 400},
		{"cl-negative", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
		{"cl-plus", "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\nhello", 400},
		{"cl-hex", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\nhello", 400},
		{"cl-letters", "POST / HTTP/1.1\r\n" + host + "Content-Length: abc\r\n\r\n", 400},
		{"cl-empty", "POST / HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n", 400},
		{"cl-overflow", "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
		{"te-not-last-chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400},
		{"te-gzip-only", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", 400},
		{"te-chunked-twice", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
		{"te-in-http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"te-unknown", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", 501},
		{"te-identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", 400}, // chunked not final: RFC 9112 §6.3
		{"te-gzip-chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"te-chunked-identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, identity\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\n" + host + "X-A: one\r\n two\r\n\r\n", 400},
		{"obs-fold-tab", "GET / HTTP/1.1\r\n" + host + "X-A: one\r\n\ttwo\r\n\r\n", 400},
		{"space-before-colon", "GET / HTTP/1.1\r\n" + host + "X-A : 1\r\n\r\n", 400},
		{"space-before-colon-host", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
		{"bad-name-char", "GET / HTTP/1.1\r\n" + host + "X@A: 1\r\n\r\n", 400},
		{"space-in-name", "GET / HTTP/1.1\r\n" + host + "X A: 1\r\n\r\n", 400},
		{"empty-name", "GET / HTTP/1.1\r\n" + host + ": 1\r\n\r\n", 400},
		{"no-colon", "GET / HTTP/1.1\r\n" + host + "X-A\r\n\r\n", 400},
		{"nul-in-value", "GET / HTTP/1.1\r\n" + host + "X-A: a\x00b\r\n\r\n", 400},
		{"cr-in-value", "GET / HTTP/1.1\r\n" + host + "X-A: a\rb\r\n\r\n", 400},
		{"bare-lf-request-line", "GET / HTTP/1.1\n" + host + "\r\n", 400},
		{"bare-lf-field", "GET / HTTP/1.1\r\nHost: a\nX-A: 1\r\n\r\n", 400},
		{"bare-lf-end", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
		{"all-bare-lf", "GET / HTTP/1.1\nHost: a\n\n", 400},
		{"garbage-line", "HELLO\r\n\r\n", 400},
		{"garbage-binary", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
		{"garbage-two-spaces", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"no-version", "GET /\r\n" + host + "\r\n", 400},
		{"bad-version", "GET / HTTQ/1.1\r\n" + host + "\r\n", 400},
		{"bad-method-token", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"bad-method-utf8", "GÉT / HTTP/1.1\r\n" + host + "\r\n", 400},
		{"missing-host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"duplicate-host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
		{"duplicate-host-different", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"http2-preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
		{"http-2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
		{"http-3.0", "GET / HTTP/3.0\r\n" + host + "\r\n", 505},
		{"http-0.9-style", "GET /\r\n\r\n", 400},
		{"uri-too-long", "GET /" + strings.Repeat("u", 9000) + " HTTP/1.1\r\n" + host + "\r\n", 414},
		{"too-many-fields", "GET / HTTP/1.1\r\n" + host + manyFields + "\r\n", 431},
		{"fields-too-large", "GET / HTTP/1.1\r\n" + host + hugeField + "\r\n", 431},
		{"cl-over-max-body", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1048577\r\n\r\n", 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n, got := checkRejected(t, px, rec, tc.req, tc.status); n > 0 || got != "" {
				t.Fatalf("the backend got %d connection(s) and %q", n, got)
			}
		})
	}
}

// checkRejected sends req on a new connection and checks the answer: the
// status, Connection: close, then the connection closed by the proxy. It
// returns the connections the backend accepted meanwhile and the bytes it got.
func checkRejected(t *testing.T, px string, rec *recorder, req string, status int) (int64, string) {
	t.Helper()
	n0, got0 := rec.seen()
	c := dial(t, px)
	c.c.Write([]byte(req)) // the proxy may answer before it has read it all
	r, err := c.readErr("GET", ioTimeout)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	if r.StatusCode != status {
		t.Errorf("status %d, want %d", r.StatusCode, status)
	}
	if !r.Close { // net/http removes "Connection: close" and sets Close
		t.Errorf("no Connection: close in %v", r.Header)
	}
	if want := strconv.Itoa(status); !strings.HasPrefix(r.body, want) {
		t.Errorf("body %q does not name the status", r.body)
	}
	if err := c.closedWithin(ioTimeout); err != nil {
		t.Error(err)
	}
	time.Sleep(20 * time.Millisecond) // let stray bytes arrive
	n, got := rec.seen()
	return n - n0, got[len(got0):]
}

// A chunked body with broken framing in the same packet as its head: 400,
// Connection: close, closed, and nothing forwarded (DESIGN §4), so the
// backend never sees a request that the proxy then abandons.
func TestRejectBadChunkE2E(t *testing.T) {
	rec := startRecorder(t)
	_, px := startProxy(t, poolOf(rec.addr()))
	const post = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct{ name, body string }{
		{"size-negative", "-1\r\nx\r\n0\r\n\r\n"},
		{"size-0x", "0x1\r\nx\r\n0\r\n\r\n"},
		{"size-overflow", "fffffffffffffffff1\r\nx\r\n0\r\n\r\n"},
		{"size-empty", "\r\nx\r\n0\r\n\r\n"},
		{"size-not-hex", "g\r\nx\r\n0\r\n\r\n"},
		{"data-longer-than-size", "1\r\nxy\r\n0\r\n\r\n"},
		{"bare-lf-after-size", "1\nx\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, got := checkRejected(t, px, rec, post+tc.body, 400)
			if _, body, _ := strings.Cut(got, "\r\n\r\n"); body != "" {
				t.Errorf("body bytes reached the backend: %q", body)
			}
			if n > 0 || got != "" {
				t.Fatalf("the backend got %d connection(s) and %q", n, got)
			}
		})
	}
}

// A request rejected after a good one on the same connection: the good one is
// answered, then the rejection closes the connection, and only the good
// request reached the backend.
func TestRejectAfterGoodRequestE2E(t *testing.T) {
	be := startEchoBackend(t)
	c := dial(t, startProxyTo(t, be.addr()))
	c.send("GET /good HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
	r := c.read("GET")
	if !strings.HasPrefix(r.body, "GET /good ") {
		t.Fatalf("first response %q", r.body)
	}
	r = c.read("GET")
	wantStatus(t, r, 400)
	c.expectClosed(ioTimeout)
}

// A framing error further into a streamed chunked body: the client gets 400
// and is closed, and the backend, which already has the head and the good
// chunks, sees its connection closed before the request is complete.
func TestRejectBadChunkLaterE2E(t *testing.T) {
	got := make(chan string, 1)
	be := startRawBackend(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		req, err := readRawRequest(bufio.NewReader(c))
		if err == nil {
			got <- "complete: " + req.body
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			got <- "still open"
			return
		}
		got <- ""
	})
	c := dial(t, startProxyTo(t, be.addr()))
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
	time.Sleep(100 * time.Millisecond)
	c.send("zz\r\nxx\r\n0\r\n\r\n")
	r := c.read("POST")
	wantStatus(t, r, 400)
	if !r.Close {
		t.Errorf("400 without Connection: close")
	}
	c.expectClosed(ioTimeout)
	if s := <-got; s != "" {
		t.Fatalf("backend: %s", s)
	}
}
