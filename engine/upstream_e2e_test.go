package engine_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
)

func TestBadGatewayE2E(t *testing.T) {
	f := func(t *testing.T, addr string) {
		t.Helper()
		px := startProxyTo(t, addr)
		for _, req := range []string{
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody",
		} {
			c := dial(t, px)
			method, _, _ := strings.Cut(req, " ")
			r := c.roundTrip(method, req)
			wantStatus(t, r, 502)
		}
	}
	t.Run("connection-refused", func(t *testing.T) {
		ln := listenLocal(t)
		addr := ln.Addr().String()
		ln.Close()
		f(t, addr)
	})
	t.Run("reset-before-answer", func(t *testing.T) {
		be := startRawBackend(t, func(c net.Conn) {
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			readRawRequest(bufio.NewReader(c))
			c.(*net.TCPConn).SetLinger(0)
		})
		f(t, be.addr())
	})
	t.Run("reset-on-accept", func(t *testing.T) {
		be := startRawBackend(t, func(c net.Conn) { c.(*net.TCPConn).SetLinger(0) })
		f(t, be.addr())
	})
	t.Run("close-before-answer", func(t *testing.T) {
		be := startRawBackend(t, func(c net.Conn) {
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			readRawRequest(bufio.NewReader(c))
		})
		f(t, be.addr())
	})
	t.Run("garbage", func(t *testing.T) {
		be := respondWith(t, func(rawRequest) string { return "garbage, not HTTP at all\r\n\r\n" })
		f(t, be.addr())
	})
	t.Run("bad-status-line", func(t *testing.T) {
		be := respondWith(t, func(rawRequest) string { return "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n" })
		f(t, be.addr())
	})
	t.Run("bad-content-length", func(t *testing.T) {
		be := respondWith(t, func(rawRequest) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"
		})
		f(t, be.addr())
	})
	t.Run("switching-protocols", func(t *testing.T) {
		be := respondWith(t, func(rawRequest) string { return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n" })
		f(t, be.addr())
	})
}

// A response that ends early (the backend closes inside the body) must not
// look complete to the client: the proxy cuts the client connection.
func TestTruncatedResponseE2E(t *testing.T) {
	be := startRawBackend(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		req, err := readRawRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		if strings.Contains(req.head, " /chunked ") {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n5\r\nab")
		} else {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it")
		}
		time.Sleep(50 * time.Millisecond) // then close, in the middle of the body
	})
	px := startProxyTo(t, be.addr())
	for _, path := range []string{"/cl", "/chunked"} {
		t.Run(path[1:], func(t *testing.T) {
			c := dial(t, px)
			c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
			r, err := c.readErr("GET", ioTimeout)
			if err == nil {
				t.Fatalf("a truncated response reached the client as complete: %d %q", r.StatusCode, r.body)
			}
			if r == nil && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("reading: %v", err)
			}
			c.expectClosed(ioTimeout)
		})
	}
}

// A backend that sends more than its Content-Length: the client gets exactly
// Content-Length bytes, and the surplus (here shaped as a response) never
// reaches another client, because that upstream connection is not reused.
func TestOverlongResponseE2E(t *testing.T) {
	var conns atomic.Int64
	smuggled := "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
	f := func(t *testing.T, gap time.Duration) {
		conns.Store(0)
		be := startRawBackend(t, func(c net.Conn) {
			first := conns.Add(1) == 1
			br := bufio.NewReader(c)
			for {
				c.SetReadDeadline(time.Now().Add(ioTimeout))
				if _, err := readRawRequest(br); err != nil {
					return
				}
				if !first {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nclean")
					continue
				}
				first = false
				if gap == 0 {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"+smuggled)
					continue
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
				time.Sleep(gap)
				io.WriteString(c, smuggled)
			}
		})
		px := startProxyTo(t, be.addr())
		a := dial(t, px)
		a.capture()
		r := a.roundTrip("GET", "GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
		if r.body != "hello" {
			t.Fatalf("first client got %q", r.body)
		}
		time.Sleep(gap + 100*time.Millisecond)
		for i := range 3 {
			b := dial(t, px)
			r = b.roundTrip("GET", "GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
			if r.body != "clean" {
				t.Fatalf("client %d got %q: the surplus of another response", i+2, r.body)
			}
		}
		// And the first client's connection carries nothing but its answer.
		r = a.roundTrip("GET", "GET /a2 HTTP/1.1\r\nHost: a\r\n\r\n")
		if r.body != "clean" {
			t.Fatalf("first client's second answer %q", r.body)
		}
		if strings.Contains(a.raw.String(), "smuggled") {
			t.Fatalf("the surplus reached the first client: %q", a.raw.String())
		}
	}
	t.Run("same-write", func(t *testing.T) { f(t, 0) })
	t.Run("surplus-later", func(t *testing.T) { f(t, 50*time.Millisecond) })
}

func TestNoBackendAvailableE2E(t *testing.T) {
	rec := startRecorder(t)
	cfg := poolOf(rec.addr())
	cfg.Pools[0].Backends[0].Weight = intPtr(0)
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	for range 2 {
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		wantStatus(t, r, 503)
		if r.Header.Get("Retry-After") == "" {
			t.Fatalf("503 without Retry-After: %v", r.Header)
		}
		if r.Close {
			break
		}
	}
	if n, got := rec.seen(); n != 0 || got != "" {
		t.Fatalf("the weight-0 backend got %d connection(s) and %q", n, got)
	}
}

// A weight-0 backend next to a live one takes nothing.
func TestWeightZeroSkippedE2E(t *testing.T) {
	rec := startRecorder(t)
	be := respondWith(t, func(rawRequest) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" })
	cfg := poolOf(rec.addr(), be.addr())
	cfg.Pools[0].Backends[0].Weight = intPtr(0)
	_, px := startProxy(t, cfg)
	c := dial(t, px)
	for range 10 {
		if r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.body != "ok" {
			t.Fatalf("got %d %q", r.StatusCode, r.body)
		}
	}
	if n, _ := rec.seen(); n != 0 {
		t.Fatalf("the weight-0 backend got %d connection(s)", n)
	}
}

// A backend that closes a keep-alive connection while it sits in the
// proxy's pool costs the next request nothing: a GET is replayed on a new
// connection, a POST is not sent on the dead one in the first place.
func TestBackendClosedPooledConnE2E(t *testing.T) {
	be := startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		req, err := readRawRequest(br)
		if err != nil {
			return
		}
		line, _, _ := strings.Cut(req.head, "\r\n")
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(line))+"\r\n\r\n"+line)
		time.Sleep(50 * time.Millisecond) // then close: a backend's short idle timeout
	})
	px := startProxyTo(t, be.addr())
	c := dial(t, px)
	for i, req := range []string{
		"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
		"PUT /4 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
		"DELETE /5 HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		method, _, _ := strings.Cut(req, " ")
		r := c.roundTrip(method, req)
		line, _, _ := strings.Cut(req, "\r\n")
		if r.StatusCode != 200 || r.body != line {
			t.Fatalf("request %d (%s) after the backend closed the pooled connection: %d %q", i+1, line, r.StatusCode, r.body)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// A pooled upstream connection is closed after upstream_idle.
func TestUpstreamIdleTimeoutE2E(t *testing.T) {
	closed := make(chan time.Time, 1)
	be := startRawBackend(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := readRawRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if _, err := br.ReadByte(); err == io.EOF {
			closed <- time.Now()
		}
	})
	cfg := poolOf(be.addr())
	cfg.Timeouts = engine.Timeouts{UpstreamIdle: 300 * time.Millisecond}
	_, px := startProxy(t, cfg)
	letClockTick()
	c := dial(t, px)
	c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	start := time.Now()
	select {
	case at := <-closed:
		if el := at.Sub(start); el < 250*time.Millisecond || el > 2*time.Second {
			t.Fatalf("pooled connection closed after %v, want about 300ms", el)
		}
	case <-time.After(ioTimeout):
		t.Fatal("the pooled connection was not closed after upstream_idle")
	}
}

// A backend that is down answers 502, and serves again once it is back.
func TestBackendDownThenUpE2E(t *testing.T) {
	ln := listenLocal(t)
	addr := ln.Addr().String()
	ln.Close()
	px := startProxyTo(t, addr)
	c := dial(t, px)
	wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 502)

	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "back") })}
	go srv.Serve(ln2)
	t.Cleanup(func() { srv.Close() })
	var r *response
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		c := dial(t, px)
		if r = c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); r.StatusCode == 200 {
			break
		}
	}
	if r.StatusCode != 200 || r.body != "back" {
		t.Fatalf("after the backend came back: %d %q", r.StatusCode, r.body)
	}
}

// Over max_connections a client gets 503 and is closed; the others are served.
func TestMaxConnectionsE2E(t *testing.T) {
	be := respondWith(t, func(rawRequest) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" })
	cfg := poolOf(be.addr())
	cfg.MaxConnections = 2
	_, px := startProxy(t, cfg)
	a, b := dial(t, px), dial(t, px)
	wantStatus(t, a.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	wantStatus(t, b.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
	c := dial(t, px)
	c.c.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	r, err := c.readErr("GET", ioTimeout)
	if err != nil {
		t.Fatalf("third connection: %v", err)
	}
	wantStatus(t, r, 503)
	if !r.Close {
		t.Errorf("503 without Connection: close")
	}
	c.expectClosed(ioTimeout)
	a.c.Close()
	time.Sleep(100 * time.Millisecond)
	d := dial(t, px)
	wantStatus(t, d.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200)
}
