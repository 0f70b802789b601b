package engine

import (
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"loopgate/codec"
	"loopgate/stats"
)

// Tunnels (docs/WEBSOCKET.md). A request that asks to change protocols
// (RFC 9110 §7.8: Connection: upgrade and Upgrade, no body) goes to its
// backend with both fields; a 101 in answer turns the client connection and
// that upstream connection into a tunnel, and a CONNECT to an allowed port
// (RFC 9110 §9.3.6) does the same with a connection to its target. From then
// on bytes are copied both ways as they arrive, with the engine's flow
// control in each direction (flow.go): a receiver above the high watermark
// pauses its sender until it drains to the low one.
//
// A peer's FIN is passed on as ours once everything it sent before is out
// (half-close, RFC 9112 §9.6); when both have ended, both connections close.
// A peer that resets, the tunnel_idle timeout and the end of shutdown_grace
// end the tunnel: the other side gets what was queued for it, then a FIN,
// and is closed when it closes too or after a short linger. The upstream
// connection is never pooled again.

// tunnelDir is one direction of a tunnel.
type tunnelDir struct {
	bytes  int64 // payload forwarded
	paused bool  // the sender is paused until the receiver drains to the low watermark
	eof    bool  // the sender's FIN was read and everything before it forwarded
	shut   bool  // that FIN went on to the receiver, after its queued bytes
}

// tunnel is the state of one tunnel. It is owned by the loop of its client
// connection, and is the gnet context of the backend side.
type tunnel struct {
	timer // tunnel_idle, body_progress once half-closed; a CONNECT's dial; after the end, flush and linger
	l     *loop
	cc    *clientConn
	u     *upConn   // an upgrade's upstream connection (its picker, gauges); nil for CONNECT
	b     gnet.Conn // the backend side; nil while a CONNECT target is dialed, and once closed
	bt    *tlsConn  // the backend side's TLS (an upgrade on a TLS pool); nil: plain
	kind  stats.TunnelKind
	up    tunnelDir // client to backend
	down  tunnelDir // backend to client
	ttfb  time.Duration

	opened  bool // bytes may flow; counted in the loop's tunnels
	over    bool // ended and recorded; the backend side may still be flushing
	bShut   bool // over: our FIN has gone to the backend
	lastOut int  // over: the backend's queue when it last made progress
	idx     int  // index in l.tunnels while opened and not over

	connectTime time.Duration // CONNECT: the dial, written by the dialer before Enroll
}

func newTunnel(l *loop, cc *clientConn, kind stats.TunnelKind) *tunnel {
	t := &tunnel{l: l, cc: cc, kind: kind}
	t.owner = t
	cc.tun, cc.state = t, clientTunnel
	cc.timer.stop()
	return t
}

// switchProtocols relays a 101 to the client of an upgrade request, the
// head b[:n] parsed into r, and makes a tunnel of u and its client.
func (u *upConn) switchProtocols(b []byte, r *codec.Response, n int) {
	cc, l := u.cc, u.l
	v, ok := r.Lookup(b, "Upgrade")
	_, framed := r.Lookup(b, "Content-Length")
	if !ok || v.Len == 0 || framed {
		// RFC 9110 §15.2.2: a 101 names the protocol it switches to;
		// §8.6: no 1xx carries Content-Length.
		l.s.log.Debug("invalid 101 response", "backend", u.addr())
		u.outcome(true, "invalid response", 0)
		u.abort(502)
		return
	}
	t := newTunnel(l, cc, stats.TunnelUpgrade)
	t.u, t.b, t.bt, t.ttfb = u, u.c, u.tls, time.Since(u.start)
	cc.log.status, cc.log.ttfb = 101, t.ttfb
	u.outcome(false, "", 101)
	l.extra = append(l.extra[:0], cc.setCookie...)
	if name := l.s.reqIDName; len(name) > 0 {
		if _, has := fieldValue(b, r.Headers[:r.NHeaders], name); !has {
			l.extra = cc.appendIDField(l.extra)
		}
	}
	l.extra = append(l.extra, cc.respExtra...)
	l.extra = append(append(append(l.extra, "Connection: upgrade\r\nUpgrade: "...), v.Bytes(b)...), "\r\n"...)
	l.scratch = codec.AppendResponseHead(l.scratch[:0], b, r, codec.ResponseFraming{Extra: l.extra, Drop: cc.rt.respDrop})
	u.consume(n)
	// From here the tunnel owns both connections; u is kept only for its
	// picker and gauges, released when the tunnel ends.
	cc.up, u.cc = nil, nil
	u.state = upTunnel
	u.timer.stop()
	u.c.SetContext(t)
	t.open(l.scratch)
}

// appendUpgrade appends the Connection and Upgrade fields that forward the
// upgrade request's protocols v, minus h2c, and reports whether any is
// left. h2c is never forwarded (issue 12): loopgate speaks HTTP/1.1 to
// backends, and an h2c upgrade it relayed would be a connection it cannot
// read. The protocols are otherwise passed as the client listed them.
func appendUpgrade(dst, v []byte) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, "Connection: upgrade\r\nUpgrade: "...)
	mark := len(dst)
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && v[j] != ',' {
			j++
		}
		p := trimOWS(v[i:j])
		i = j + 1
		if len(p) == 0 || len(p) == 3 && (p[0]|0x20) == 'h' && p[1] == '2' && (p[2]|0x20) == 'c' {
			continue
		}
		if len(dst) > mark {
			dst = append(dst, ", "...)
		}
		dst = append(dst, p...)
	}
	if len(dst) == mark {
		return dst[:start], false
	}
	return append(dst, "\r\n"...), true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// connectEstablished answers a CONNECT whose target is connected: a 2xx
// without Content-Length or Transfer-Encoding (RFC 9110 §9.3.6).
var connectEstablished = []byte("HTTP/1.1 200 Connection established\r\n\r\n")

// connect handles a CONNECT request, the head b[:n] parsed into r (parsed
// only when connect_ports is set): its target must be host:port with a port
// in connect_ports. It is dialed off the loop, names resolved there too,
// with upstream_connect as the timeout. Bytes the client sends after the
// head wait for the tunnel.
func (cc *clientConn) connect(b []byte, r *codec.Request, n int) {
	l := cc.l
	target := string(r.Target.Bytes(b)) // CONNECT is rare; the dialer needs its own copy
	cc.consume(n)
	host, port, err := net.SplitHostPort(target)
	p, perr := strconv.Atoi(port)
	switch {
	case r.Body != codec.BodyNone:
		// RFC 9110 §9.3.6: CONNECT content has no defined meaning; whether
		// it is a body or tunnel data cannot be told, so it is refused.
		cc.log.reason = stats.ReasonParse
		cc.answer(400, true)
		return
	case err != nil || host == "" || perr != nil || !slices.Contains(l.cfg.ConnectPorts, p):
		// Not a relay to arbitrary services: only the ports listed.
		l.s.log.Debug("CONNECT refused", "client", string(cc.ip), "target", target)
		cc.log.reason = stats.ReasonDenied
		cc.answer(403, true)
		return
	}
	t := newTunnel(l, cc, stats.TunnelConnect)
	l.arm(&t.timer, timerUpConnect)
	if cc.inboundBuffered() > 0 {
		pause(cc.c)
	}
	l.dialEnroll(target, t, &t.connectTime, t.dialFailed, nil) // names resolve in its goroutine
}

// onOpen runs when a CONNECT target's connection joins the loop.
func (t *tunnel) onOpen(c gnet.Conn) {
	if t.over {
		_ = c.Close() // the client left, or the connect timer ran out
		return
	}
	t.b = c
	t.timer.stop()
	cc := t.cc
	cc.log.status, cc.log.connect = 200, t.connectTime
	t.ttfb = t.connectTime
	t.open(connectEstablished)
}

// dialFailed answers a CONNECT whose target could not be reached, or not
// within upstream_connect: 502.
func (t *tunnel) dialFailed(err error) {
	if t.over || t.b != nil {
		return
	}
	t.over = true
	t.timer.stop()
	cc := t.cc
	cc.tun = nil
	cc.state = clientWaiting
	t.l.s.log.Debug("cannot connect to CONNECT target", "client", string(cc.ip), "err", err)
	cc.log.reason = stats.ReasonConnect
	cc.answer(502, true) // as for a backend (upstream_connect): refused, unreachable or timed out alike
}

// open counts the tunnel, sends the client its answer (the 101, or 200 to
// a CONNECT) and starts copying: what each side sent before the switch
// (pipelined after the request, or after the 101) is forwarded first. The
// count comes first so that a client holding the answer sees the tunnel in
// Tunnels and the metrics.
func (t *tunnel) open(answer []byte) {
	l := t.l
	t.opened = true
	t.idx = len(l.tunnels)
	l.tunnels = append(l.tunnels, t)
	l.tunnelsOpen.Add(1)
	if !t.cc.write(answer) {
		return // the client is gone: shut ended the tunnel
	}
	l.arm(&t.timer, timerTunnel)
	resume(t.client())
	resume(t.b)
	t.pump(t.client(), t.backend(), &t.up)
	if !t.over {
		t.pump(t.backend(), t.client(), &t.down)
	}
}

// fromClient is the client's OnTraffic while it is tunnelled.
func (t *tunnel) fromClient() {
	if !t.opened {
		// A CONNECT being dialed: what the client sends waits.
		if t.cc.inboundBuffered() > 0 {
			pause(t.cc.c)
		}
		return
	}
	t.pump(t.client(), t.backend(), &t.up)
}

// onTraffic is the backend side's OnTraffic.
func (t *tunnel) onTraffic() gnet.Action {
	if t.over {
		t.lingering()
		return gnet.None
	}
	t.pump(t.backend(), t.client(), &t.down)
	return gnet.None
}

// pump forwards what src has sent to dst, then pauses src if dst is above
// the high watermark, or passes src's FIN on once dst has taken everything
// before it.
func (t *tunnel) pump(src, dst tunnelConn, d *tunnelDir) {
	if t.over || d.eof {
		return
	}
	high := t.l.cfg.Flow.HighWatermark
	// One pass for a gnet connection (Peek has all it read); a TLS client's
	// plaintext comes a bounded buffer at a time, so go on while it has more.
	for {
		b, _ := src.Peek(-1)
		if len(b) == 0 || t.over {
			break
		}
		if dst.OutboundBuffered() > high {
			t.pause(src, dst, d)
			return
		}
		if _, err := dst.Write(b); err == nil { // what gnet cannot send now it queues
			d.bytes += int64(len(b))
			t.timer.touch(now())
		} // else the receiver failed: its read side ends, and so does the tunnel (onClose)
		src.Discard(len(b))
	}
	if t.over {
		return
	}
	if src.ReadEOF() {
		d.eof = true
		t.shutWhenFlushed(dst, d)
		return
	}
	if dst.OutboundBuffered() > high {
		t.pause(src, dst, d)
	}
}

// pause stops reading src until dst drains to the low watermark. dst is
// above the high one, so the OnDrain asked for will come.
func (t *tunnel) pause(src, dst tunnelConn, d *tunnelDir) {
	pause(src)
	d.paused = true
	dst.NotifyDrain(t.l.cfg.Flow.LowWatermark)
}

// drained is OnDrain of dst, the receiver of direction d: its sender reads
// on, or its FIN goes on once dst's queue is empty.
func (t *tunnel) drained(src, dst tunnelConn, d *tunnelDir) {
	if d.paused {
		d.paused = false
		resume(src)
		t.pump(src, dst, d)
	}
	if d.eof && !d.shut && !t.over {
		t.shutWhenFlushed(dst, d)
	}
}

// shutWhenFlushed sends dst a FIN once its queue is empty.
func (t *tunnel) shutWhenFlushed(dst tunnelConn, d *tunnelDir) {
	if dst.OutboundBuffered() > 0 {
		dst.NotifyDrain(0)
		return
	}
	d.shut = true
	if e, ok := dst.(tlsEnd); ok {
		e.t.closeNotify() // the TLS peer's end of data, then the FIN
	}
	_ = unix.Shutdown(dst.Fd(), unix.SHUT_WR)
	if t.up.shut && t.down.shut {
		// Both peers ended and have everything: a clean close of both.
		t.finish(stats.ReasonNone)
		t.closeBackend()
		t.cc.closeNow()
		return
	}
	// Half-closed: the other way may still carry bytes, but a peer that
	// neither sends nor closes gets body_progress, not tunnel_idle
	// (HAProxy's client-fin and server-fin), so a client that never closes
	// after the backend's FIN does not hold both sockets for an hour.
	t.l.arm(&t.timer, timerUpBody)
}

// clientDrained is the client's OnDrain while it is tunnelled.
func (t *tunnel) clientDrained() {
	if t.opened && !t.over {
		t.drained(t.backend(), t.client(), &t.down)
	}
}

// onDrain is the backend side's OnDrain.
func (t *tunnel) onDrain() {
	switch {
	case t.over:
		t.backendFlushed()
	case t.opened:
		t.drained(t.client(), t.backend(), &t.up)
	}
}

// clientGone runs when the client connection closed (a reset: its FIN
// arrives as ReadEOF) or was closed: the backend gets what was queued for
// it, then a FIN.
func (t *tunnel) clientGone() {
	if t.over {
		return
	}
	reason := stats.ReasonNone
	if !t.opened {
		reason = stats.ReasonClientGone // while a CONNECT was dialed
	}
	t.finish(reason)
	t.retireBackend()
}

// onClose runs when gnet closed the backend side: the backend reset it, or
// the engine closed it. The client gets what was queued for it, then a FIN.
func (t *tunnel) onClose() {
	t.b = nil
	if t.over {
		t.timer.stop()
		return
	}
	t.l.s.log.Debug("tunnel backend closed", "client", string(t.cc.ip))
	t.finish(stats.ReasonNone)
	t.cc.closeGracefully()
}

func (t *tunnel) onTimeout(k timerKind) {
	switch k {
	case timerUpConnect:
		t.dialFailed(errConnectTimeout)
	case timerTunnel, timerUpBody:
		t.l.s.log.Debug("tunnel idle timeout", "client", string(t.cc.ip), "half_closed", k == timerUpBody)
		t.end(stats.ReasonTimeout)
	case timerUpSend: // the ended tunnel's backend side flushing
		if t.b != nil && progressed(t.b.OutboundBuffered(), &t.lastOut) {
			t.l.arm(&t.timer, timerUpSend)
			return
		}
		t.closeBackend()
	default: // timerLinger
		t.closeBackend()
	}
}

// end closes both sides the normal way: each gets what was queued for it,
// then a FIN, and is closed when it closes too or after lingering.
func (t *tunnel) end(reason stats.Reason) {
	if t.over {
		return
	}
	t.finish(reason)
	t.retireBackend()
	t.cc.closeGracefully()
}

// finish ends the tunnel's accounting, once: the exchange that opened it
// is recorded (one access log line, bytes both ways, its whole life), the
// upstream connection's exchange is reported to its picker, and the loop
// stops counting it.
func (t *tunnel) finish(reason stats.Reason) {
	t.over = true
	t.timer.stop()
	cc := t.cc
	cc.tun = nil
	if t.opened {
		x := &cc.log
		x.tunnel, x.tunnelIn, x.tunnelOut = t.kind, t.up.bytes, t.down.bytes
		x.bytesIn += t.up.bytes
		x.bytesOut += t.down.bytes
	}
	if reason != stats.ReasonNone {
		cc.log.reason = reason
	}
	cc.record()
	if t.opened {
		// After the record: a scrape that sees the tunnel gone sees it counted.
		l := t.l
		last := l.tunnels[len(l.tunnels)-1]
		l.tunnels[t.idx], last.idx = last, t.idx
		l.tunnels[len(l.tunnels)-1] = nil
		l.tunnels = l.tunnels[:len(l.tunnels)-1]
		l.tunnelsOpen.Add(-1)
	}
	if u := t.u; u != nil {
		t.u = nil
		u.report(true, t.ttfb) // the backend's latency is its 101's, not the tunnel's life
		u.release()
		u.state, u.c = upClosed, nil
	}
}

// retireBackend flushes what is queued for the backend side of an ended
// tunnel, bounded by body_progress, then sends its FIN and lingers.
func (t *tunnel) retireBackend() {
	b := t.b
	if b == nil {
		return
	}
	b.Discard(-1) // what the backend still sends has nowhere to go
	resume(b)     // its FIN must be seen
	if b.OutboundBuffered() == 0 {
		t.backendFlushed()
		return
	}
	t.lastOut = b.OutboundBuffered()
	b.NotifyDrain(0)
	t.l.arm(&t.timer, timerUpSend)
}

// backendFlushed sends the FIN of an ended tunnel's backend side, then
// lingers until the backend closes too.
func (t *tunnel) backendFlushed() {
	b := t.b
	if b == nil || t.bShut {
		return
	}
	t.bShut = true
	if t.bt != nil {
		t.bt.closeNotify()
	}
	_ = unix.Shutdown(b.Fd(), unix.SHUT_WR)
	if b.ReadEOF() {
		t.closeBackend()
		return
	}
	t.l.arm(&t.timer, timerLinger)
}

// lingering discards what an ended tunnel's backend still sends, and
// closes it at its FIN once ours is out.
func (t *tunnel) lingering() {
	b := t.b
	if b == nil {
		return
	}
	b.Discard(-1)
	if b.ReadEOF() && t.bShut {
		t.closeBackend()
	}
}

func (t *tunnel) closeBackend() {
	t.timer.stop()
	if b := t.b; b != nil {
		t.b = nil
		_ = b.Close()
	}
}

// endTunnels ends every tunnel of the loop: the grace period of a shutdown
// or an upgrade is over.
func (l *loop) endTunnels() {
	for len(l.tunnels) > 0 {
		l.tunnels[len(l.tunnels)-1].end(stats.ReasonNone)
	}
}

// pause and resume change a connection's read interest only when it must
// change.
func pause(c tunnelConn) {
	if !c.ReadPaused() {
		_ = c.PauseRead()
	}
}

func resume(c tunnelConn) {
	if c.ReadPaused() && !c.ReadEOF() {
		_ = c.ResumeRead()
	}
}

// tunnelConn is one side of a tunnel as pump sees it: a gnet connection
// (the backend, a plain client), or a TLS client's plaintext (tlsEnd).
type tunnelConn interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
	Write(p []byte) (int, error)
	ReadEOF() bool
	OutboundBuffered() int
	NotifyDrain(n int)
	PauseRead() error
	ResumeRead() error
	ReadPaused() bool
	Fd() int
}

// client is the tunnel's client side.
func (t *tunnel) client() tunnelConn {
	if t.cc.tls != nil {
		return tlsEnd{t.cc.tls}
	}
	return t.cc.c
}

// backend is the tunnel's backend side.
func (t *tunnel) backend() tunnelConn {
	if t.bt != nil {
		return tlsEnd{t.bt}
	}
	return t.b
}

// tlsEnd is a TLS connection as one side of a tunnel: it reads the
// decrypted input and writes through the record layer (tlsconn.go); flow
// control and the FIN act on the socket. Only its Peek(-1) is meaningful,
// as pump uses it.
type tlsEnd struct{ t *tlsConn }

func (e tlsEnd) Peek(int) ([]byte, error) { return e.t.input(), nil }

func (e tlsEnd) Discard(n int) (int, error) {
	e.t.consume(n)
	e.t.dropInIfDrained() // pump holds nothing of it past Discard
	return n, nil
}

func (e tlsEnd) Write(p []byte) (int, error) {
	if err := e.t.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (e tlsEnd) ReadEOF() bool         { return e.t.readEOF() }
func (e tlsEnd) OutboundBuffered() int { return e.t.tr.c.OutboundBuffered() }
func (e tlsEnd) NotifyDrain(n int)     { e.t.tr.c.NotifyDrain(n) }
func (e tlsEnd) PauseRead() error      { return e.t.tr.c.PauseRead() }
func (e tlsEnd) ResumeRead() error     { return e.t.tr.c.ResumeRead() }
func (e tlsEnd) ReadPaused() bool      { return e.t.tr.c.ReadPaused() }
func (e tlsEnd) Fd() int               { return e.t.tr.c.Fd() }

// Tunnels is the number of tunnels open now (WebSocket and other upgrades, CONNECT).
func (s *Server) Tunnels() (n int64) {
	s.forEachLoop(func(l *loop) { n += l.tunnelsOpen.Load() })
	return n
}

// tunnelCloseWait bounds how long a shutdown waits, once its grace is over
// and every tunnel has sent its FINs, for the peers to close their ends, so
// that the connections end with FINs both ways rather than be cut.
const tunnelCloseWait = time.Second

// closeTunnels ends the tunnels still open when a shutdown's grace is over.
func (s *Server) closeTunnels() {
	if s.Tunnels() == 0 {
		return
	}
	s.forEachLoop(func(l *loop) { l.execute(l.endTunnels) })
	for end := time.Now().Add(tunnelCloseWait); s.clients.Load() > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
}
