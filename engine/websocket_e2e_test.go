package engine_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"loopgate/stats"
)

// WebSocket tunnels end to end, with a real client and server library on
// both sides (gorilla/websocket) and loopgate between them.

// startWSBackend serves, under the name it reports in X-Backend:
//
//	/ws            echo of every message, streamed; pings answered, closes echoed
//	/server-close  reads one message, then closes with 4001 "bye"
//	/kill          reads one message, then resets the TCP connection
//	anything else  a plain HTTP answer naming the backend
func startWSBackend(t *testing.T, name string) string {
	t.Helper()
	return startBackend(t, wsHandler(name))
}

// wsHandler is startWSBackend's handler.
func wsHandler(name string) http.Handler {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		if !websocket.IsWebSocketUpgrade(r) {
			fmt.Fprintf(w, "plain %s", name)
			return
		}
		c, err := up.Upgrade(w, r, http.Header{"X-Backend": {name}})
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(64 << 20)
		switch r.URL.Path {
		case "/server-close":
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(ioTimeout))
			c.SetReadDeadline(time.Now().Add(ioTimeout))
			for { // until the client's close comes back
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		case "/kill":
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
			resetClose(c.UnderlyingConn())
		default:
			for {
				typ, rd, err := c.NextReader()
				if err != nil {
					return
				}
				wr, err := c.NextWriter(typ)
				if err != nil {
					return
				}
				if _, err := io.Copy(wr, rd); err != nil || wr.Close() != nil {
					return
				}
			}
		}
	})
}

// countConn counts the bytes a client wrote and read on its connection.
type countConn struct {
	net.Conn
	in, out atomic.Int64
}

func (c *countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(int64(n))
	return n, err
}

// wsDial opens a WebSocket to path through the proxy at px, on a counted
// connection.
func wsDial(t *testing.T, px, path string) (*websocket.Conn, *http.Response, *countConn) {
	t.Helper()
	var cc *countConn
	d := websocket.Dialer{
		HandshakeTimeout: ioTimeout,
		NetDial: func(network, addr string) (net.Conn, error) {
			c, err := net.DialTimeout(network, addr, ioTimeout)
			if err != nil {
				return nil, err
			}
			cc = &countConn{Conn: c}
			return cc, nil
		},
	}
	c, resp, err := d.Dial("ws://"+px+path, nil)
	if err != nil {
		t.Fatalf("dial ws://%s%s: %v (response %v)", px, path, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c, resp, cc
}

func wsEcho(t *testing.T, c *websocket.Conn, typ int, msg []byte) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if err := c.WriteMessage(typ, msg); err != nil {
		t.Fatalf("write %d bytes: %v", len(msg), err)
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	gt, got, err := c.ReadMessage()
	if err != nil || gt != typ || !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes (type %d): got %d bytes (type %d), %v", len(msg), typ, len(got), gt, err)
	}
}

// readEOF reads c's raw connection until it ends, within d, and reports how.
func readEOF(c net.Conn, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err
}

// TestWebSocketEcho: small, empty and 16 MiB messages, text and binary,
// come back whole; a ping gets its pong; the client's close is echoed and
// the tunnel closes. The tunnel is counted exactly: one access log line
// with status 101 and every byte each way, and the tunnel metrics.
func TestWebSocketEcho(t *testing.T) {
	out := &syncBuffer{}
	alog, err := stats.OpenAccessLog(stats.AccessLogOptions{Stdout: out, Log: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	st := stats.New(stats.Options{})
	cfg := poolOf(startWSBackend(t, "b1"))
	cfg.AccessLog, cfg.Stats = alog, st
	srv, px := startProxy(t, cfg)

	c, resp, cnt := wsDial(t, px, "/ws?x=1")
	if resp.StatusCode != 101 || resp.Header.Get("X-Backend") != "b1" ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		t.Fatalf("handshake answer: %d %v", resp.StatusCode, resp.Header)
	}
	headOut, headIn := cnt.out.Load(), cnt.in.Load()
	if n := srv.Tunnels(); n != 1 {
		t.Fatalf("Tunnels() = %d while one is open; want 1", n)
	}

	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(rand.Uint32())
	}
	wsEcho(t, c, websocket.TextMessage, []byte("hello"))
	wsEcho(t, c, websocket.BinaryMessage, []byte{0, 1, 2, 0xff})
	wsEcho(t, c, websocket.TextMessage, []byte{})
	wsEcho(t, c, websocket.BinaryMessage, big)

	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	wsEcho(t, c, websocket.TextMessage, []byte("after ping")) // the pong arrives first
	select {
	case s := <-pong:
		if s != "are you there" {
			t.Fatalf("pong %q", s)
		}
	default:
		t.Fatal("no pong")
	}

	// Client close: echoed by the backend, which then closes; so does the proxy.
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("after the client's close: %v; want the close echoed (1000)", err)
	}
	if err := readEOF(cnt, ioTimeout); err != nil {
		t.Fatalf("the tunnel did not end with a FIN: %v", err)
	}
	c.Close() // as clients do once the closing handshake is over (RFC 6455 §7.1.1)
	waitFor(t, func() bool { return srv.Tunnels() == 0 && st.TunnelsClosed(stats.TunnelUpgrade) == 1 })

	wantUp, wantDown := cnt.out.Load()-headOut, cnt.in.Load()-headIn
	if up, down := st.TunnelBytes(); int64(up) != wantUp || int64(down) != wantDown {
		t.Errorf("tunnel bytes: up %d down %d; want %d %d (what the client sent and read after the handshake)", up, down, wantUp, wantDown)
	}
	type line struct {
		Status   int     `json:"status"`
		BytesIn  int64   `json:"bytes_in"`
		BytesOut int64   `json:"bytes_out"`
		Duration float64 `json:"duration_ms"`
		Target   string  `json:"target"`
		Upstream string  `json:"upstream"`
	}
	var lines []line
	waitFor(t, func() bool {
		lines = lines[:0]
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("access log line %q: %v", sc.Text(), err)
			}
			lines = append(lines, l)
		}
		return len(lines) > 0
	})
	l := lines[0]
	if len(lines) != 1 || l.Status != 101 || l.Target != "/ws?x=1" || l.BytesIn != cnt.out.Load() || l.BytesOut != cnt.in.Load() || l.Upstream == "" {
		t.Fatalf("access log: %+v; want one line, 101, bytes in %d and out %d", lines, cnt.out.Load(), cnt.in.Load())
	}
}

// TestWebSocketServerClose: the backend closes with a code; the client gets
// it, answers, and the connection ends with a FIN once the backend has
// closed.
func TestWebSocketServerClose(t *testing.T) {
	srv, px := startProxy(t, poolOf(startWSBackend(t, "b1")))
	c, _, cnt := wsDial(t, px, "/server-close")
	if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, _, err := c.ReadMessage() // the default close handler answers the close
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "bye" {
		t.Fatalf("got %v; want close 4001 bye", err)
	}
	if err := readEOF(cnt, ioTimeout); err != nil {
		t.Fatalf("after the close handshake: %v; want a FIN", err)
	}
	c.Close()
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
}

// TestWebSocketBackendKilled: a backend that resets the tunnel's connection
// ends it for the client at once.
func TestWebSocketBackendKilled(t *testing.T) {
	srv, px := startProxy(t, poolOf(startWSBackend(t, "b1")))
	c, _, _ := wsDial(t, px, "/kill")
	if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, _, err := c.ReadMessage()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read after the backend reset: %v; want the connection closed", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the client learnt of the reset after %v", d)
	}
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
	// The proxy still serves.
	c2, _, _ := wsDial(t, px, "/ws")
	wsEcho(t, c2, websocket.TextMessage, []byte("still here"))
}

// TestWebSocketConcurrent: 1,000 tunnels open at once, each echoing, all
// counted, then all closed by their clients.
func TestWebSocketConcurrent(t *testing.T) {
	const n = 1000
	srv, px := startProxy(t, poolOf(startWSBackend(t, "b1")))
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64) // dials in flight, so the listen backlog is not the test
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			c, _, err := d.Dial("ws://"+px+"/ws", nil)
			<-sem
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			msg := []byte(fmt.Sprintf("tunnel %d", i))
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				errs <- err
				return
			}
			if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
				errs <- fmt.Errorf("tunnel %d echoed %q, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := srv.Tunnels(); got != n {
		t.Fatalf("Tunnels() = %d; want %d", got, n)
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
}

// TestWebSocketLeastConnections: an open tunnel counts as a connection of
// its backend for least_connections: plain requests go to the other one.
func TestWebSocketLeastConnections(t *testing.T) {
	cfg := poolOf(startWSBackend(t, "b1"), startWSBackend(t, "b2"))
	cfg.Pools[0].Algorithm = "least_connections"
	_, px := startProxy(t, cfg)
	_, resp, _ := wsDial(t, px, "/ws")
	busy := resp.Header.Get("X-Backend")
	c := dial(t, px)
	for range 6 {
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		wantStatus(t, r, 200)
		if got := r.Header.Get("X-Backend"); got == busy {
			t.Fatalf("a request went to %s, which holds the tunnel", got)
		}
	}
}

// TestWebSocketMaxConnections: a tunnel's client counts against
// max_connections for as long as the tunnel is open.
func TestWebSocketMaxConnections(t *testing.T) {
	cfg := poolOf(startWSBackend(t, "b1"))
	cfg.MaxConnections = 1
	srv, px := startProxy(t, cfg)
	ws, _, _ := wsDial(t, px, "/ws")
	wantStatus(t, dial(t, px).roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 503)
	ws.Close()
	waitFor(t, func() bool { return srv.Tunnels() == 0 })
	waitFor(t, func() bool {
		r, err := dial(t, px).readAfter("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		return err == nil && r.StatusCode == 200
	})
}

// readAfter sends req and reads its response, returning the error rather
// than failing the test.
func (c *client) readAfter(req string) (*response, error) {
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.c, req); err != nil {
		return nil, err
	}
	return c.readErr("GET", ioTimeout)
}

// TestWebSocketSlowReader: 64 MiB of messages into a WebSocket whose far
// end does not read for a while, each way, with the libraries on both
// ends: the proxy's memory stays bounded, and every message arrives whole
// and in order once the reader reads.
func TestWebSocketSlowReader(t *testing.T) {
	const msgs, size = 64, 1 << 20
	// message fills b with message i: one buffer per writer, so that the
	// test's own garbage does not pass for the proxy's memory.
	message := func(b []byte, i int) []byte {
		if cap(b) < size {
			b = make([]byte, size)
		}
		b = b[:size]
		for k := range b {
			b[k] = byte(i + k*7)
		}
		return b
	}
	for _, toBackend := range []bool{true, false} {
		name := "backend reads late"
		if !toBackend {
			name = "client reads late"
		}
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			result := make(chan error, 1)
			up := websocket.Upgrader{}
			backend := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer c.Close()
				c.SetReadLimit(2 * size)
				if toBackend {
					waitClosed(release)
					result <- readMessages(c, msgs, message)
					return
				}
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				buf := make([]byte, size)
				for i := range msgs {
					if err := c.WriteMessage(websocket.BinaryMessage, message(buf, i)); err != nil {
						result <- err
						return
					}
				}
				result <- nil
				c.ReadMessage() // until the client closes
			}))
			srv, px := startProxy(t, poolOf(backend))
			c, _, _ := wsDial(t, px, "/ws")
			c.SetReadLimit(2 * size)
			stop := watchMem()
			sent := make(chan error, 1)
			if toBackend {
				go func() {
					c.SetWriteDeadline(time.Now().Add(30 * time.Second))
					buf := make([]byte, size)
					for i := range msgs {
						if err := c.WriteMessage(websocket.BinaryMessage, message(buf, i)); err != nil {
							sent <- err
							return
						}
					}
					sent <- nil
				}()
			}
			time.Sleep(1500 * time.Millisecond) // every buffer on the way fills
			base, peak := stop()
			checkTunnelGrowth(t, base, peak)
			close(release)
			wait := func(who string, ch chan error) {
				t.Helper()
				select {
				case err := <-ch:
					if err != nil {
						t.Fatalf("%s: %v", who, err)
					}
				case <-time.After(30 * time.Second):
					t.Fatalf("%s did not finish within 30s", who)
				}
			}
			if toBackend {
				wait("client", sent)
			} else if err := readMessages(c, msgs, message); err != nil {
				t.Fatalf("client: %v", err)
			}
			wait("backend", result)
			c.Close()
			waitFor(t, func() bool { return srv.Tunnels() == 0 })
		})
	}
}

// readMessages reads n messages from c and checks each against want(b, i).
func readMessages(c *websocket.Conn, n int, want func(b []byte, i int) []byte) error {
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var buf []byte
	for i := range n {
		_, got, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if buf = want(buf[:cap(buf)], i); !bytes.Equal(got, buf) {
			return fmt.Errorf("message %d: %d bytes, not what was sent", i, len(got))
		}
	}
	return nil
}
