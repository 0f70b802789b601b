package engine

import (
	"context"
	"net"
	"os"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Flow control. gnet reads every readable socket into an unbounded buffer and
// cannot pause reading, so the engine pauses a fast sender by taking its
// socket away from gnet: it keeps a dup of the descriptor and lets gnet close
// its own. The kernel then applies TCP back-pressure to the sender. When the
// slow peer has drained below the low watermark (checked on the fast tick),
// the socket is enrolled into the same loop again and reading resumes where it
// stopped. docs/ARCHITECTURE.md has the whole picture.

// detach is the flow-control state of one connection.
type detach struct {
	fd          int  // our dup of the socket while detached, else -1
	closing     bool // gnet is closing its conn because we detached it
	reattaching bool // enrolled again; waiting for OnOpen
}

func (d *detach) release() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
}

// take dups the socket of c so that gnet's close leaves it open. The caller
// then returns gnet.Close from c's callback (a synchronous close, so no more
// bytes are read after the ones the caller saved).
func (d *detach) take(c gnet.Conn) bool {
	fd, err := c.Dup()
	if err != nil {
		return false
	}
	d.fd, d.closing = fd, true
	return true
}

// enroll hands the detached socket back to loop l with owner as its context.
func (d *detach) enroll(l *loop, owner any) error {
	f := os.NewFile(uintptr(d.fd), "")
	d.fd = -1
	nc, err := net.FileConn(f) // dups; f's descriptor is ours to close
	f.Close()
	if err != nil {
		return err
	}
	if _, err = l.el.Enroll(gnet.NewContext(context.Background(), owner), nc); err != nil {
		nc.Close()
		return err
	}
	d.reattaching = true
	return nil
}

// pause stops forwarding the request body while the upstream's outbound
// buffer is above the high watermark; drained resumes it.
func (cc *clientConn) pause() { cc.l.wait(cc) }

// resume continues a paused upload.
func (cc *clientConn) resume() {
	if cc.c == nil {
		cc.reattach()
		return
	}
	cc.serve()
}

// limitInput bounds what gnet buffers for a client whose input the engine is
// not consuming. A paused upload is detached as soon as input waits (its
// upstream is already above the high watermark); a dial in flight or pipelined
// requests behind a slow response past the high watermark. If the socket cannot
// be detached (a response is still queued to it), past four times the high
// watermark the client is cut off: it sends without reading.
func (cc *clientConn) limitInput() gnet.Action {
	if cc.closed || cc.c == nil || cc.state == clientClosing {
		return gnet.None
	}
	in := cc.c.InboundBuffered()
	hw := cc.l.cfg.Flow.HighWatermark
	paused := cc.state == clientReadBody && cc.l.isWaiting(cc)
	if in == 0 || in <= hw && !paused {
		return gnet.None
	}
	if cc.c.OutboundBuffered() == 0 && cc.heldOff == len(cc.held) {
		b, _ := cc.c.Peek(-1)
		cc.held = append(cc.held[:0], b...)
		cc.heldOff = 0
		cc.c.Discard(-1)
		if cc.detached.take(cc.c) {
			if cc.state == clientReadBody {
				cc.l.wait(cc)
			}
			return gnet.Close
		}
	}
	if in > 4*hw {
		cc.l.s.log.Debug("client sends without reading; closing", "client", string(cc.ip))
		cc.closeNow()
	}
	return gnet.None
}

// reattach enrolls a detached client again, once it should be read.
func (cc *clientConn) reattach() {
	if cc.closed || cc.c != nil || cc.detached.reattaching || cc.detached.closing {
		return
	}
	if cc.detached.fd < 0 {
		return
	}
	if err := cc.detached.enroll(cc.l, cc); err != nil {
		cc.l.s.log.Debug("cannot re-attach client", "client", string(cc.ip), "err", err)
		cc.onClose(err)
	}
}

// onReattach runs in OnOpen when a detached client is back on the loop.
func (cc *clientConn) onReattach(c gnet.Conn) {
	cc.c = c
	cc.detached.reattaching = false
	if cc.closed {
		c.Close()
		return
	}
	if u := cc.up; u != nil && (u.state == upAwaitHead || u.state == upBody) {
		u.pump() // a response may have been waiting for the client
	}
	cc.serve()
}

// pause detaches the upstream while the client's outbound buffer is above the
// high watermark. Everything read so far has been forwarded or saved.
func (u *upConn) pause() gnet.Action {
	if b := u.input(); len(b) > 0 && u.heldOff == len(u.held) {
		u.held = append(u.held[:0], b...)
		u.heldOff = 0
		u.c.Discard(-1)
	}
	if !u.detached.take(u.c) {
		return gnet.None
	}
	u.lastOut = u.cc.c.OutboundBuffered()
	u.l.wait(u)
	return gnet.Close
}

// drained is the waiter check of a paused upstream: it re-attaches once the
// client has drained below the low watermark.
func (u *upConn) drained() bool {
	cc := u.cc
	if cc == nil || cc.closed || u.state == upClosed {
		u.detached.release()
		return true
	}
	if u.detached.closing || cc.c == nil {
		return false
	}
	out := cc.c.OutboundBuffered()
	if out < u.lastOut {
		u.timer.touch(now()) // the client is reading: that is progress
	}
	u.lastOut = out
	if out >= u.l.cfg.Flow.LowWatermark {
		return false
	}
	if u.heldOff < len(u.held) {
		u.pump() // saved bytes go first; pump may pause again
		if u.state == upClosed || u.cc == nil {
			return true
		}
		if cc.c != nil && cc.c.OutboundBuffered() >= u.l.cfg.Flow.LowWatermark {
			return false
		}
	}
	if err := u.detached.enroll(u.l, u); err != nil {
		u.l.s.log.Debug("cannot re-attach upstream", "backend", u.addr(), "err", err)
		u.abort(502)
	}
	return true
}

func (l *loop) isWaiting(w waiter) bool {
	for _, x := range l.waiters {
		if x == w {
			return true
		}
	}
	return false
}
