package perf

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// A WebSocket client just big enough for an echo benchmark (RFC 6455): the opening
// handshake, masked binary frames out, unmasked frames in. perf may import only codec and
// the standard library (STYLE.md §1), hence our own.

// wsGUID is the key suffix of the handshake (RFC 6455 §1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsConn is one client connection after its handshake. It is used by one goroutine.
type wsConn struct {
	c     net.Conn
	br    *bufio.Reader
	frame []byte // the masked frame it sends every time
	buf   []byte // payload of the last frame read
}

// errWS is a frame or handshake that breaks the protocol.
var errWS = errors.New("perf: WebSocket protocol error")

// dialWS connects to addr and upgrades GET path to a WebSocket whose every message is
// payload, sent as one masked binary frame. The mask is drawn once: this client is not a
// browser, whose masks must be unpredictable to protect intermediaries from script-chosen
// bytes (RFC 6455 §10.3), and a fixed one saves the benchmark a masking pass per message.
func dialWS(addr, path string, payload []byte, timeout time.Duration) (*wsConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	c.SetDeadline(time.Now().Add(timeout))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 64<<10)
	sum := sha1.Sum([]byte(key + wsGUID))
	accept := base64.StdEncoding.EncodeToString(sum[:])
	status, err := br.ReadString('\n')
	switched, accepted := err == nil && strings.HasPrefix(status, "HTTP/1.1 101 "), false
	for err == nil {
		var line string
		if line, err = br.ReadString('\n'); err == nil && line == "\r\n" {
			break
		}
		if name, v, found := strings.Cut(line, ":"); found && strings.EqualFold(name, "Sec-WebSocket-Accept") {
			accepted = strings.TrimSpace(v) == accept
		}
	}
	if err != nil || !switched || !accepted {
		c.Close()
		return nil, fmt.Errorf("%w: handshake with %s%s failed (status %q, %v)", errWS, addr, path, strings.TrimSpace(status), err)
	}
	c.SetDeadline(time.Time{})
	return &wsConn{c: c, br: br, frame: maskedFrame(payload)}, nil
}

// maskedFrame builds a final binary frame of p, masked (RFC 6455 §5.2, §5.3).
func maskedFrame(p []byte) []byte {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	f := []byte{0x82}
	switch n := len(p); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, mask[:]...)
	for i, b := range p {
		f = append(f, b^mask[i&3])
	}
	return f
}

// echo sends the message and reads one data frame back, checking its length.
func (w *wsConn) echo(want int) error {
	if _, err := w.c.Write(w.frame); err != nil {
		return err
	}
	for {
		op, n, err := w.readFrame()
		if err != nil {
			return err
		}
		switch op {
		case 0x1, 0x2:
			if n != want {
				return fmt.Errorf("%w: echo of %d bytes came back with %d", errWS, want, n)
			}
			return nil
		case 0x8:
			return fmt.Errorf("%w: the server closed", errWS)
		}
		// Pings and pongs are skipped: the echo is what is measured.
	}
}

// readFrame reads one unfragmented, unmasked frame and returns its opcode and payload
// length; the payload is read into w.buf.
func (w *wsConn) readFrame() (op byte, n int, err error) {
	var h [2]byte
	if _, err = io.ReadFull(w.br, h[:]); err != nil {
		return 0, 0, err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		return 0, 0, fmt.Errorf("%w: fragmented or masked frame from the server", errWS)
	}
	size := uint64(h[1] & 0x7f)
	switch size {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(w.br, b[:])
		size = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(w.br, b[:])
		size = binary.BigEndian.Uint64(b[:])
	}
	if err != nil {
		return 0, 0, err
	}
	if size > 64<<20 {
		return 0, 0, fmt.Errorf("%w: frame of %d bytes", errWS, size)
	}
	if uint64(cap(w.buf)) < size {
		w.buf = make([]byte, size)
	}
	w.buf = w.buf[:size]
	if _, err = io.ReadFull(w.br, w.buf); err != nil {
		return 0, 0, err
	}
	return h[0] & 0x0f, int(size), nil
}

// close sends a close frame (1000) and closes the connection.
func (w *wsConn) close() {
	w.c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = w.c.Write([]byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}) // masked with zeros: the code is as is
	w.c.Close()
}
