//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package gnet

// loopgate patch: read flow control (PauseRead/ResumeRead), half-close mode, drain
// notification and accept backoff. Why: loopgate's third_party/README.md.

import (
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/queue"
)

// Events the poller is asked to report for a connection (conn.interest).
const (
	interestRead uint8 = 1 << iota
	interestWrite
)

// defaultAcceptBackoff is Options.AcceptBackoff when unset.
const defaultAcceptBackoff = 100 * time.Millisecond

// setInterest is the one place that changes a connection's poller interest after it
// is registered: read unless reading is paused or over, write while output is pending
// (always in ET mode, as upstream) and no write has failed. Both gnet's own
// read <-> read-write toggling and PauseRead/ResumeRead go through it, so they compose;
// a paused connection with nothing to write has no interest at all, so level-triggered
// epoll does not wake the loop for it again and again.
func (el *eventloop) setInterest(c *conn) error {
	isET := el.engine.opts.EdgeTriggeredIO
	var want uint8
	if !c.readPaused && !c.readEOF {
		want |= interestRead
	}
	if c.writeErr == nil && (isET || !c.outboundBuffer.IsEmpty()) {
		want |= interestWrite
	}
	if want == c.interest {
		return nil
	}
	var err error
	switch want {
	case interestRead | interestWrite:
		err = el.poller.ModReadWrite(&c.pollAttachment, isET)
	case interestRead:
		err = el.poller.ModRead(&c.pollAttachment, isET)
	case interestWrite:
		err = el.poller.ModWrite(&c.pollAttachment, isET)
	default:
		err = el.poller.ModNone(&c.pollAttachment, isET)
	}
	if err == nil {
		c.interest = want
	}
	return err
}

func (el *eventloop) setReadPaused(c *conn, paused bool) error {
	if c.isDatagram {
		return errorx.ErrUnsupportedOp
	}
	if !c.opened {
		return net.ErrClosed // its descriptor may already belong to another connection
	}
	if c.readPaused == paused {
		return nil
	}
	c.readPaused = paused
	if err := el.setInterest(c); err != nil {
		c.readPaused = !paused
		return err
	}
	return nil
}

// readEOF handles the peer's FIN in half-close mode: reading is over for good, the
// handler learns it from ReadEOF in one more OnTraffic call with no new bytes, and the
// connection stays open for writing until the handler closes it.
func (el *eventloop) readEOF(c *conn) error {
	c.readEOF = true
	if c.writeErr != nil { // both directions are over: nothing more can happen
		return el.close(c, c.writeErr)
	}
	if err := el.setInterest(c); err != nil {
		return el.close(c, err)
	}
	c.buffer = c.buffer[:0]
	return el.handleAction(c, el.eventHandler.OnTraffic(c))
}

// failWrite handles a failed write in half-close mode: the pending output is dropped,
// write interest removed and err kept for WriteErr and later writes, while reading
// goes on so that what the peer sent before a reset is still delivered. The read side
// ending (EOF or a read error) closes the connection.
func (el *eventloop) failWrite(c *conn, err error) error {
	c.writeErr = err
	c.outboundBuffer.Release()
	if perr := el.setInterest(c); perr != nil {
		return el.close(c, err)
	}
	return nil
}

// abortErr is the close error for a connection that the poller reports as broken
// (EPOLLERR/EPOLLHUP) while it has no read interest, i.e. a reset: the socket's
// pending error, else an earlier write error, else io.ErrUnexpectedEOF. Never io.EOF,
// which stands for the peer's FIN.
func (c *conn) abortErr() error {
	if n, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && n != 0 {
		return os.NewSyscallError("read", unix.Errno(n))
	}
	if c.writeErr != nil {
		return c.writeErr
	}
	return io.ErrUnexpectedEOF
}

// drained calls OnDrain if NotifyDrain asked for it and the outbound buffer is now
// small enough. It runs at the end of the EPOLLOUT path (eventloop.write), after
// gnet's own interest update; what the handler writes goes through the normal path.
func (el *eventloop) drained(c *conn) error {
	if c.drainAt < 0 || c.outboundBuffer.Buffered() > c.drainAt {
		return nil
	}
	c.drainAt = -1
	if el.engine.drainHandler == nil {
		return nil
	}
	return el.handleAction(c, el.engine.drainHandler.OnDrain(c))
}

// backoffAccept stops accepting on the listener fd for Options.AcceptBackoff after
// accept failed with err (EMFILE and the like), instead of stopping the engine:
// existing connections are served meanwhile, and a timer restores read interest on
// the listener from this loop.
func (el *eventloop) backoffAccept(fd int, err error, edgeTriggered bool) error {
	eng := el.engine
	d := eng.opts.AcceptBackoff
	if d <= 0 {
		d = defaultAcceptBackoff
	}
	err = os.NewSyscallError("accept", err)
	if hook := eng.opts.AcceptErrorHook; hook != nil {
		hook(err)
	} else {
		el.getLogger().Warnf("Accept() failed due to error: %v, retrying in %v", err, d)
	}
	ln := el.listeners[fd]
	if perr := el.poller.ModNone(ln.pollAttachment, edgeTriggered); perr != nil {
		el.getLogger().Errorf("Accept() failed due to error: %v, cannot back off: %v", err, perr)
		return errorx.ErrAcceptSocket
	}
	resume := func(any) error {
		if el.listeners[ln.fd] != ln {
			return nil // closed meanwhile
		}
		// ENOENT means the descriptor now names another file (a listener replaced by
		// dup3, which removed it from epoll): there is nothing to restore then.
		if perr := el.poller.ModRead(ln.pollAttachment, edgeTriggered); perr != nil {
			el.getLogger().Debugf("cannot resume accepting on fd=%d: %v", ln.fd, perr)
		}
		return nil
	}
	// A goroutine of the engine's group: the engine waits for it before closing the
	// pollers, so the Trigger never hits a closed poller.
	eng.concurrency.Go(func() error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			_ = el.poller.Trigger(queue.HighPriority, resume, nil)
		case <-eng.concurrency.ctx.Done():
		}
		return nil
	})
	return nil
}

// isAcceptBackoffErr reports whether an accept error means a lack of descriptors or
// memory, which calls for a pause rather than stopping the engine.
func isAcceptBackoffErr(err error) bool {
	return err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM
}

func (c *conn) PauseRead() error  { return c.loop.setReadPaused(c, true) }
func (c *conn) ResumeRead() error { return c.loop.setReadPaused(c, false) }
func (c *conn) ReadPaused() bool  { return c.readPaused || c.readEOF }
func (c *conn) ReadEOF() bool     { return c.readEOF }
func (c *conn) WriteErr() error   { return c.writeErr }

func (c *conn) NotifyDrain(n int) {
	if n < 0 || c.outboundBuffer.Buffered() <= n {
		c.drainAt = -1
		return
	}
	c.drainAt = n
}
