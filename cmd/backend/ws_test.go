package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWSEcho: /ws echoes text and binary messages as they came, answers a
// ping with a pong and echoes a close with its code, with logging on too
// (the request recorder must not hide the connection from the upgrader).
func TestWSEcho(t *testing.T) {
	for _, logged := range []bool{false, true} {
		b := newBackend("b1", 1)
		if logged {
			b.Log = slog.New(slog.DiscardHandler)
		}
		url := "ws" + strings.TrimPrefix(start(t, b), "http") + "/ws"
		c, resp, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		if got := resp.Header.Get("X-Backend"); got != "b1" {
			t.Errorf("X-Backend = %q; want b1", got)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 256<<10)
		for _, m := range []struct {
			typ  int
			data []byte
		}{{websocket.TextMessage, []byte("hello")}, {websocket.BinaryMessage, big}, {websocket.TextMessage, []byte{}}} {
			if err := c.WriteMessage(m.typ, m.data); err != nil {
				t.Fatalf("write: %v", err)
			}
			typ, got, err := c.ReadMessage()
			if err != nil || typ != m.typ || !bytes.Equal(got, m.data) {
				t.Fatalf("echo: type %d (%d bytes), %v; want type %d, %d bytes", typ, len(got), err, m.typ, len(m.data))
			}
		}
		pong := make(chan string, 1)
		c.SetPongHandler(func(s string) error { pong <- s; return nil })
		if err := c.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(time.Second)); err != nil {
			t.Fatalf("ping: %v", err)
		}
		if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye")); err != nil {
			t.Fatalf("close: %v", err)
		}
		_, _, err = c.ReadMessage() // runs the pong handler, then gets the echoed close
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4001 {
			t.Fatalf("after close: %v; want the close echoed with code 4001", err)
		}
		select {
		case s := <-pong:
			if s != "p1" {
				t.Errorf("pong %q; want p1", s)
			}
		default:
			t.Error("no pong before the close")
		}
		c.Close()
	}
}

// TestWSWithoutUpgrade: a plain GET /ws is answered 400, not echoed.
func TestWSWithoutUpgrade(t *testing.T) {
	resp, err := http.Get(start(t, newBackend("b1", 1)) + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d; want 400", resp.StatusCode)
	}
}
