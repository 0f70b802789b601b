package main

import (
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// maxWSMessage bounds a message /ws echoes. Messages are streamed through,
// not held, so it bounds nothing in memory; it stops a peer from keeping one
// message open for ever.
const maxWSMessage = 1 << 30

// wsUpgrader accepts any Origin: /ws is a demo echo whose callers (the
// browser test's page, a page served by loopgate in `make run`) come from
// other origins, and it exposes nothing a cross-site page could misuse.
var wsUpgrader = websocket.Upgrader{
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// ws answers /ws: a WebSocket echo (RFC 6455). Each text or binary message
// comes back as it arrived, streamed frame by frame; pings are answered with
// pongs and a close is echoed with its code (gorilla's default handlers).
// Without an upgrade it answers 400, and the connection stays HTTP.
func (b *Backend) ws(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Backend", b.Name)
	start := time.Now()
	c, err := wsUpgrader.Upgrade(w, r, http.Header{"X-Backend": {b.Name}})
	if err != nil {
		return // Upgrade answered the error
	}
	defer c.Close()
	c.SetReadLimit(maxWSMessage)
	var msgs, bytes int64
	for {
		typ, rd, err := c.NextReader()
		if err != nil {
			break // a close (echoed by the default handler), or the connection ended
		}
		wr, err := c.NextWriter(typ)
		if err != nil {
			break
		}
		n, err := io.Copy(wr, rd)
		if err != nil || wr.Close() != nil {
			break
		}
		msgs, bytes = msgs+1, bytes+n
	}
	if b.Log != nil {
		b.Log.Info("websocket closed", "remote", r.RemoteAddr, "messages", msgs, "bytes", bytes, "took", time.Since(start))
	}
}
