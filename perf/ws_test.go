package perf

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWSClient: the benchmark's client completes the handshake with a real
// server library, and its frames (7-bit, 16-bit and 64-bit lengths, masked)
// come back whole; the server sees exactly the payload.
func TestWSClient(t *testing.T) {
	got := make(chan []byte, 8)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			got <- msg
			if c.WriteMessage(typ, msg) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	for _, n := range []int{0, 125, 126, 65535, 70000} {
		payload := bytes.Repeat([]byte{'x', 0, 0xff}, n/3+1)[:n]
		c, err := dialWS(addr, "/ws", payload, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.c.SetDeadline(time.Now().Add(5 * time.Second))
		for range 3 {
			if err := c.echo(n); err != nil {
				t.Fatalf("echo of %d bytes: %v", n, err)
			}
			if m := <-got; !bytes.Equal(m, payload) || !bytes.Equal(c.buf, payload) {
				t.Fatalf("%d bytes: server got %d, client read back %d, not the payload", n, len(m), len(c.buf))
			}
		}
		c.close()
	}
}

// TestWSClientRefusesBadHandshakes: a server that does not switch, or
// answers with the wrong Sec-WebSocket-Accept, is an error.
func TestWSClientRefusesBadHandshakes(t *testing.T) {
	for _, answer := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm90IGl0\r\n\r\n",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 4096)
			var req strings.Builder
			for !strings.Contains(req.String(), "\r\n\r\n") {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				req.Write(buf[:n])
			}
			io.WriteString(c, answer)
		}()
		_, err = dialWS(ln.Addr().String(), "/ws", []byte("x"), 2*time.Second)
		ln.Close()
		if !errors.Is(err, errWS) {
			t.Fatalf("answer %q: err %v; want errWS", answer, err)
		}
	}
}
