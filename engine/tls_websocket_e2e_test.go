package engine_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestTLSWebSocket: wss through a TLS listener, gorilla/websocket on both
// ends: the tunnel reads the client's decrypted bytes and writes through
// the record layer, both ways, with messages far larger than one record
// and than the decrypted-input buffer, and the close handshake ends it.
func TestTLSWebSocket(t *testing.T) {
	c := newTestCert(t, "ecdsa")
	_, px := startTLSProxy(t, poolOf(startWSBackend(t, "ws")), c)
	d := websocket.Dialer{TLSClientConfig: c.clientTLS(), HandshakeTimeout: ioTimeout}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	conn, resp, err := d.DialContext(ctx, "wss://"+px+"/ws", nil)
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer conn.Close()
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(rand.IntN(256))
	}
	for _, msg := range [][]byte{[]byte("hello"), {}, big, []byte("after the big one")} {
		conn.UnderlyingConn().SetDeadline(time.Now().Add(4 * ioTimeout))
		if err := conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		_, got, err := conn.ReadMessage()
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d bytes: got %d bytes, %v", len(msg), len(got), err)
		}
	}
	if err := conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done")); err != nil {
		t.Fatal(err)
	}
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("after the close: %v; want the close echoed", err)
	}
}
