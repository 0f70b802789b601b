package engine_test

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The proxy forwards requests in one canonical form, whatever latitude the
// client took: the backend never has to interpret a construct that some
// parsers read differently from others.

// echoed sends req to the echo backend behind px and returns what the
// backend received: the head and the body framing.
func echoed(t *testing.T, px, req string) (head, body string) {
	t.Helper()
	method, _, _ := strings.Cut(req, " ")
	r := dial(t, px).roundTrip(method, req)
	wantStatus(t, r, 200)
	off, err := strconv.Atoi(r.Header.Get("X-Body-Offset"))
	if err != nil || off > len(r.body) {
		t.Fatalf("echo backend answered %q", r.body)
	}
	return r.body[:off], r.body[off:]
}

func TestCanonicalAbsoluteFormE2E(t *testing.T) {
	be := startEchoBackend(t)
	_, px := startProxy(t, hostileConfig(be.addr()))
	head, _ := echoed(t, px, "GET http://evil.example/x HTTP/1.1\r\nHost: good.example\r\n\r\n")
	if line, _, _ := strings.Cut(head, "\r\n"); line != "GET /x HTTP/1.1" {
		t.Errorf("the backend got request line %q, want %q", line, "GET /x HTTP/1.1")
	}
	if hosts := values(fieldsOf(head), "Host"); len(hosts) != 1 || hosts[0] != "evil.example" {
		t.Errorf("the backend got Host %q, want exactly [evil.example] (RFC 9112 §3.2.2)", hosts)
	}
}

// Targets that are not origin-form, absolute-form or an asterisk, and bytes
// that are not allowed in a target: 400, nothing forwarded.
func TestCanonicalBadTargetE2E(t *testing.T) {
	rec := startRecorder(t)
	_, px := startProxy(t, hostileConfig(rec.addr()))
	for _, tc := range []struct{ name, target string }{
		{"scheme-like", "foo:bar"},
		{"fragment", "/a#frag"},
		{"byte-0x80", "/a\x80b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRefused(t, px, rec, "GET "+tc.target+" HTTP/1.1\r\nHost: a\r\n\r\n", 400)
		})
	}
}

// CONNECT is not proxied: 405 with Allow, nothing forwarded.
func TestCanonicalConnectE2E(t *testing.T) {
	rec := startRecorder(t)
	_, px := startProxy(t, hostileConfig(rec.addr()))
	c := dial(t, px)
	c.c.Write([]byte("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
	r, err := c.readErr("CONNECT", ownAnswer)
	if err != nil {
		t.Fatalf("no answer from the proxy within %v: %v (the backend got %q)", ownAnswer, err, func() string { _, got := rec.seen(); return got }())
	}
	if r.StatusCode != 405 || !strings.Contains(r.Header.Get("Allow"), "POST") {
		t.Errorf("got %d with Allow %q, want 405 with an Allow field (RFC 9110 §15.5.6)", r.StatusCode, r.Header.Get("Allow"))
	}
	time.Sleep(50 * time.Millisecond)
	if n, got := rec.seen(); n > 0 || got != "" {
		t.Fatalf("the backend got %d connection(s) and %q", n, got)
	}
}

// A higher minor version is HTTP/1.1 to us (RFC 9110 §2.5).
func TestCanonicalMinorVersionE2E(t *testing.T) {
	be := startEchoBackend(t)
	_, px := startProxy(t, hostileConfig(be.addr()))
	head, _ := echoed(t, px, "GET / HTTP/1.2\r\nHost: a\r\n\r\n")
	if line, _, _ := strings.Cut(head, "\r\n"); line != "GET / HTTP/1.1" {
		t.Fatalf("the backend got request line %q, want %q", line, "GET / HTTP/1.1")
	}
}

// Request framing the proxy refuses before anything is forwarded.
func TestCanonicalRejectE2E(t *testing.T) {
	rec := startRecorder(t)
	_, px := startProxy(t, hostileConfig(rec.addr()))
	const post = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct{ name, req string }{
		{"te-chunked-identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
		{"chunk-size-over-2^40", post + "10000000001\r\nx\r\n0\r\n\r\n"},
		{"chunk-size-17-digits", post + "00000000000000001\r\nx\r\n0\r\n\r\n"},
		{"chunk-size-17-digits-overflow", post + "10000000000000000\r\nx\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRefused(t, px, rec, tc.req, 400)
		})
	}
}

// sizeLine is a canonical chunk size line: hex digits without leading
// zeros, no extension, no whitespace.
var sizeLine = regexp.MustCompile(`^(0|[1-9a-fA-F][0-9a-fA-F]*)$`)

// parseCanonicalChunked decodes a chunked body, failing on any size line
// that is not canonical. It returns the payload.
func parseCanonicalChunked(body string) (string, error) {
	var payload strings.Builder
	for {
		line, rest, ok := strings.Cut(body, "\r\n")
		if !ok {
			return "", fmt.Errorf("no size line in %q", body)
		}
		if !sizeLine.MatchString(line) {
			return "", fmt.Errorf("size line %q is not canonical", line)
		}
		n, err := strconv.ParseInt(line, 16, 64)
		if err != nil {
			return "", err
		}
		if n == 0 {
			if !strings.HasSuffix(rest, "\r\n") {
				return "", fmt.Errorf("trailer section %q does not end with CRLF", rest)
			}
			return payload.String(), nil
		}
		if int64(len(rest)) < n+2 || rest[n:n+2] != "\r\n" {
			return "", errors.New("chunk data does not match its size")
		}
		payload.WriteString(rest[:n])
		body = rest[n+2:]
	}
}

// Chunked bodies reach the backend re-framed, and a Content-Length with
// leading zeros as its plain value.
func TestCanonicalBodyFramingE2E(t *testing.T) {
	be := startLaxBackend(t, true)
	_, px := startProxy(t, hostileConfig(be.addr()))
	t.Run("chunked", func(t *testing.T) {
		for _, v := range framingVariants() {
			if !strings.Contains(strings.ToLower(v.field), "chunked") {
				continue
			}
			t.Run(v.name, func(t *testing.T) {
				c := dial(t, px)
				c.send("POST /v HTTP/1.1\r\nHost: a\r\n" + v.field + "\r\n" + v.wire)
				r := c.read("POST")
				if r.StatusCode == 400 && strings.HasPrefix(r.body, "400") {
					t.Skipf("refused by the proxy")
				}
				wantStatus(t, r, 200)
				off, _ := strconv.Atoi(r.Header.Get("X-Body-Offset"))
				head, body := r.body[:off], r.body[off:]
				if te := values(fieldsOf(head), "Transfer-Encoding"); len(te) != 1 || te[0] != "chunked" {
					t.Errorf("the backend got Transfer-Encoding %q, want exactly [chunked]", te)
				}
				if cl := values(fieldsOf(head), "Content-Length"); len(cl) != 0 {
					t.Errorf("the backend got Content-Length %q with a chunked body", cl)
				}
				payload, err := parseCanonicalChunked(body)
				if err != nil {
					t.Fatalf("body framing %q: %v", body, err)
				}
				if payload != v.payload {
					t.Fatalf("payload %q, want %q", payload, v.payload)
				}
			})
		}
	})
	t.Run("content-length-leading-zeros", func(t *testing.T) {
		head, body := echoed(t, px, "POST /v HTTP/1.1\r\nHost: a\r\nContent-Length: 0010\r\n\r\n0123456789")
		if cl := values(fieldsOf(head), "Content-Length"); len(cl) != 1 || cl[0] != "10" {
			t.Errorf("the backend got Content-Length %q, want [10]", cl)
		}
		if body != "0123456789" {
			t.Errorf("the backend got body %q", body)
		}
	})
}

// An HTTP/1.0 client never receives Transfer-Encoding, whatever coding the
// backend applied (RFC 9112 §6.1).
func TestCanonicalHTTP10NoTransferEncodingE2E(t *testing.T) {
	be := respondWith(t, func(req rawRequest) string {
		switch requestPath(req.head) {
		case "/chunked":
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n"
		case "/gzip-chunked":
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\n\x1f\x8b\x08\x00\r\n0\r\n\r\n"
		default: // gzip, delimited by the close
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n\x1f\x8b\x08\x00"
		}
	})
	_, px := startProxy(t, hostileConfig(be.addr()))
	for _, path := range []string{"/chunked", "/gzip-chunked", "/gzip-close"} {
		t.Run(path[1:], func(t *testing.T) {
			c := dial(t, px)
			c.send("GET " + path + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			raw, err := readUntilClosed(c, ioTimeout)
			if err != nil && raw == "" {
				t.Fatalf("no answer: %v", err)
			}
			head, body, _ := strings.Cut(raw, "\r\n\r\n")
			if strings.Contains(strings.ToLower(head), "transfer-encoding") {
				t.Fatalf("an HTTP/1.0 client got Transfer-Encoding: %q", head)
			}
			if path == "/chunked" && strings.HasPrefix(head, "HTTP/1.1 200 ") && body != "wikipedia" {
				t.Fatalf("body %q, want the de-chunked %q", body, "wikipedia")
			}
		})
	}
}

// A client over max_connections reads the whole 503: the proxy does not
// reset the connection before the answer can be read, even though the
// client's request is unread.
func TestCanonicalMaxConnectionsAnswerE2E(t *testing.T) {
	be := respondWith(t, func(rawRequest) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" })
	cfg := hostileConfig(be.addr())
	cfg.MaxConnections = 2
	_, px := startProxy(t, cfg)
	for range 2 {
		wantStatus(t, dial(t, px).roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	}
	req := "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + strings.Repeat("p", 4000) + "\r\n\r\n"
	for i := range 20 {
		c := dial(t, px)
		c.c.Write([]byte(req))
		r, err := c.readErr("GET", ioTimeout)
		if err != nil {
			t.Fatalf("refused connection %d: %v", i, err)
		}
		wantStatus(t, r, 503)
		c.c.Close()
	}
}
