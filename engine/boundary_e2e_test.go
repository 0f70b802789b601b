package engine_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// boundaryResponses are the three ways a response body can be framed, each
// with a chunk extension and a trailer where it has chunks, small enough to
// be cut at every byte.
var boundaryResponses = []struct {
	name, raw, body string
	closeDelimited  bool
}{
	{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz", false},
	{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nabcde\r\n15\r\nfghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n", "abcdefghijklmnopqrstuvwxyz", false},
	{"close-delimited", "HTTP/1.1 200 OK\r\n\r\nabcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz", true},
}

// A backend that resets its connection after k bytes of its response, for
// every k: the client gets the whole response only when all of it was sent
// and its framing (not the connection's end) delimits it; otherwise a 502
// (nothing of the response was forwardable yet) or a response that ends short
// of its framing, and the connection closes (guarantee 3).
func TestBoundaryResetAtEveryByteE2E(t *testing.T) {
	for _, rc := range boundaryResponses {
		t.Run(rc.name, func(t *testing.T) {
			var k atomic.Int64
			be := startRawBackend(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				if readHead(c, br) == "" {
					return
				}
				io.WriteString(c, rc.raw[:k.Load()])
				time.Sleep(time.Millisecond) // let the bytes leave before the reset
				c.(*net.TCPConn).SetLinger(0)
			})
			cfg := poolOf(be.addr())
			cfg.EventLoops = 1
			cfg.Pools[0].Retries = -1
			_, px := startProxy(t, cfg)
			for i := 0; i <= len(rc.raw); i++ {
				k.Store(int64(i))
				c := dial(t, px)
				c.capture()
				c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
				complete := i == len(rc.raw) && !rc.closeDelimited
				if r, err := c.readErr("GET", ioTimeout); err == nil && (r.StatusCode == 502 || complete) {
					// Nothing was forwardable (a 502 may keep the connection), or
					// the response was whole before the reset.
					checkCut(t, fmt.Sprintf("reset after %d bytes", i), c.raw.String(), rc.body, complete)
					c.c.Close()
					continue
				}
				raw, err := readUntilClosed(c, ioTimeout)
				c.c.Close()
				if err != nil {
					t.Fatalf("reset after %d bytes: the connection was not closed: %v (read %q)", i, err, c.raw.String()+raw)
				}
				checkCut(t, fmt.Sprintf("reset after %d bytes", i), c.raw.String(), rc.body, complete)
			}
		})
	}
}

// checkCut checks what a client read up to the close: the whole response
// with body want when complete, otherwise a 502 or a response whose framing
// is not satisfied.
func checkCut(t *testing.T, what, raw, want string, complete bool) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("%s: no response head: %v (read %q)", what, err, raw)
	}
	body, err := io.ReadAll(resp.Body)
	switch {
	case complete && (err != nil || resp.StatusCode != 200 || string(body) != want):
		t.Fatalf("%s: want the whole response, got %d %q, err %v", what, resp.StatusCode, body, err)
	case !complete && resp.StatusCode == 502:
	case !complete && err == nil:
		t.Fatalf("%s: a cut response reached the client as complete: %d %q (read %q)", what, resp.StatusCode, body, raw)
	}
}

// A response written in two pieces split at every offset, and a chunked
// request body sent in two pieces split at every offset: the proxy's parsers
// join the pieces, each exchange is answered whole, and the backend gets
// exactly the body the client sent.
func TestBoundarySplitAtEveryOffsetE2E(t *testing.T) {
	const pause = 2 * time.Millisecond // the second piece arrives in a later read
	for _, rc := range boundaryResponses[:2] {
		t.Run("response-"+rc.name, func(t *testing.T) {
			var k atomic.Int64
			be := startRawBackend(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				for readHead(c, br) != "" {
					split := k.Load()
					io.WriteString(c, rc.raw[:split])
					time.Sleep(pause)
					io.WriteString(c, rc.raw[split:])
				}
			})
			cfg := poolOf(be.addr())
			cfg.EventLoops = 1
			_, px := startProxy(t, cfg)
			c := dial(t, px)
			for i := 1; i < len(rc.raw); i++ {
				k.Store(int64(i))
				r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
				if r.StatusCode != 200 || r.body != rc.body {
					t.Fatalf("split at %d: %d %q", i, r.StatusCode, r.body)
				}
			}
		})
	}
	t.Run("request-chunked", func(t *testing.T) {
		const body = "5;ext=\"a b\"\r\nhello\r\n0006\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
		be := startEchoBackend(t)
		cfg := poolOf(be.addr())
		cfg.EventLoops = 1
		_, px := startProxy(t, cfg)
		c := dial(t, px)
		head := "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		req := head + body
		for i := len(head); i < len(req); i++ {
			c.send(req[:i])
			time.Sleep(pause)
			c.send(req[i:])
			r := c.read("POST")
			wantStatus(t, r, 200)
			off := strings.Index(r.body, "\r\n\r\n") + 4
			if got, want := r.body[off:], "5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"; got != want {
				t.Fatalf("split at %d: backend got body %q, want %q", i, got, want)
			}
		}
	})
}
