package engine

import (
	"github.com/panjf2000/gnet/v2"
)

// Flow control (docs/ARCHITECTURE.md). gnet here carries loopgate's patch
// (third_party/gnet) that lets a connection stop reading: PauseRead takes
// read interest off the poller, so the kernel's receive buffer fills and TCP
// stops the sender, and bytes gnet has already read stay in its input buffer
// until the engine consumes them. NotifyDrain asks for one OnDrain call when
// a connection's queued output has shrunk below a mark.
//
// The rule, in both directions: after writing to a receiver, if its queued
// output is above the high watermark, pause the sender and ask for OnDrain
// at the low watermark; OnDrain resumes the sender and consumes what it had
// already read. A connection whose input waits unconsumed for another reason
// (pipelined requests behind a response, a body while the upstream is being
// dialed) is paused while it waits, so per connection the engine holds at
// most one read buffer of input and the high watermark (plus one read) of
// output in each direction.

// pauseUpload stops reading the client while its upload waits for the
// upstream to drain. The stall is now the backend's: the client's body timer
// stops and the upstream's send timer runs instead.
func (cc *clientConn) pauseUpload(u *upConn) {
	cc.pauseRead()
	u.c.NotifyDrain(cc.l.cfg.Flow.LowWatermark)
	cc.timer.stop()
	if u.state == upAwaitHead && u.list != &cc.l.timers[timerUpSend] {
		u.lastOut = u.c.OutboundBuffered()
		cc.l.arm(&u.timer, timerUpSend)
	}
}

// resumeUpload is OnDrain of the upstream of a paused upload.
func (cc *clientConn) resumeUpload(u *upConn) {
	if u.state == upAwaitHead && u.list == &cc.l.timers[timerUpSend] {
		u.timer.stop()
	}
	if cc.state == clientReadBody {
		cc.l.arm(&cc.timer, timerClientBody)
	}
	cc.resumeRead()
	cc.serve()
}

// pauseRead and resumeRead change the client's read interest only when it
// must change, so that the request path makes no extra system call.
func (cc *clientConn) pauseRead() {
	if !cc.c.ReadPaused() {
		_ = cc.c.PauseRead()
	}
}

func (cc *clientConn) resumeRead() {
	if cc.c.ReadPaused() && !cc.c.ReadEOF() {
		_ = cc.c.ResumeRead()
	}
}

// bound pauses a client whose input waits while the engine does not consume
// it, and resumes one that may be read again. It runs after every pass of
// serve.
func (cc *clientConn) bound() {
	if cc.closed {
		return
	}
	switch cc.state {
	case clientReadHead:
		cc.resumeRead()
	case clientReadBody:
		// Paused only while the upstream is above the high watermark
		// (pauseUpload, until OnDrain of the upstream).
		if u := cc.up; u == nil || u.c == nil || u.c.OutboundBuffered() <= cc.l.cfg.Flow.HighWatermark {
			cc.resumeRead()
		}
	case clientClosing:
		cc.resumeRead() // lingering: read and discard until the client closes
	case clientTunnel:
		// The tunnel pauses and resumes both sides itself (tunnel.go).
	default:
		// dialing, waiting for the response, backing off: the input is the
		// next request or an early body; it waits in gnet's buffer.
		if cc.inboundBuffered() > 0 {
			cc.pauseRead()
		}
	}
}

// pauseResponse stops reading the upstream while the client drains the
// response; OnDrain of the client resumes it.
func (u *upConn) pauseResponse(cc *clientConn) {
	if !u.paused {
		_ = u.c.PauseRead()
	}
	u.paused = true
	u.lastOut = cc.c.OutboundBuffered()
	cc.c.NotifyDrain(u.l.cfg.Flow.LowWatermark)
}

// progressed is asked when a flow-control timer runs out: OnDrain comes only
// at the low watermark, so a slow but steady reader is seen here, by its
// queue having shrunk since the last look. It then records the new length
// and the timer starts over.
func progressed(queued int, last *int) bool {
	if queued < *last {
		*last = queued
		return true
	}
	return false
}

// OnDrain runs when a connection's queued output has fallen below the mark
// the engine asked for: whatever waited for it goes on.
func (s *Server) OnDrain(c gnet.Conn) gnet.Action {
	switch x := c.Context().(type) {
	case *clientConn:
		x.onDrain()
	case *upConn:
		x.onDrain()
	case *tunnel:
		x.onDrain()
	}
	return gnet.None
}

// onDrain of a client: a closing client half-closes once flushed; a response
// paused for it reads on.
func (cc *clientConn) onDrain() {
	if cc.closed {
		return
	}
	if cc.state == clientClosing {
		cc.flushed()
		return
	}
	if cc.state == clientTunnel {
		cc.tun.clientDrained()
		return
	}
	u := cc.up
	if u == nil || u.c == nil || u.state != upBody || !u.paused {
		return
	}
	u.timer.touch(now()) // the client is reading: that is progress
	u.paused = false
	_ = u.c.ResumeRead()
	u.pump()
}

// onDrain of an upstream: the upload paused for it reads on.
func (u *upConn) onDrain() {
	cc := u.cc
	if cc == nil || cc.closed || cc.up != u {
		return
	}
	cc.resumeUpload(u)
}
