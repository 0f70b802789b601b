//go:build linux

package gnet

// loopgate patch: tests for PauseRead/ResumeRead, half-close mode, NotifyDrain and
// accept backoff, over real sockets on 127.0.0.1. Each one is bounded by a few seconds.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
)

const flowWait = 5 * time.Second // upper bound of any single wait in these tests

// flowHandler is an EventHandler whose callbacks the tests fill in. They run on the
// event loop; the tests talk to them through channels, atomics and onLoop.
type flowHandler struct {
	BuiltinEventEngine
	eng    Engine
	addr   string
	booted chan struct{}
	opened chan Conn

	open    func(c Conn) Action
	traffic func(c Conn) Action
	closed  func(c Conn, err error)
	drain   func(c Conn) Action
}

func newFlowHandler() *flowHandler {
	return &flowHandler{booted: make(chan struct{}), opened: make(chan Conn, 64)}
}

func (h *flowHandler) OnBoot(e Engine) Action {
	h.eng = e
	fd, err := e.Dup()
	if err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			h.addr = "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
		}
		_ = unix.Close(fd)
	}
	close(h.booted)
	return None
}

func (h *flowHandler) OnOpen(c Conn) ([]byte, Action) {
	h.opened <- c
	if h.open != nil {
		return nil, h.open(c)
	}
	return nil, None
}

func (h *flowHandler) OnTraffic(c Conn) Action {
	if h.traffic != nil {
		return h.traffic(c)
	}
	return None
}

func (h *flowHandler) OnClose(c Conn, err error) Action {
	if h.closed != nil {
		h.closed(c, err)
	}
	return None
}

func (h *flowHandler) OnDrain(c Conn) Action {
	if h.drain != nil {
		return h.drain(c)
	}
	return None
}

// startFlow runs an engine with h on 127.0.0.1 and stops it when the test ends.
func startFlow(t *testing.T, h *flowHandler, opts ...Option) {
	t.Helper()
	saved := shutdownPollInterval
	shutdownPollInterval = 10 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- Run(h, "tcp://127.0.0.1:0", opts...) }()
	select {
	case <-h.booted:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(flowWait):
		t.Fatal("engine did not boot")
	}
	if h.addr == "" {
		t.Fatal("cannot find the engine's address")
	}
	t.Cleanup(func() {
		defer func() { shutdownPollInterval = saved }()
		ctx, cancel := context.WithTimeout(context.Background(), flowWait)
		defer cancel()
		if err := h.eng.Stop(ctx); err != nil && !errors.Is(err, errorx.ErrEngineInShutdown) {
			t.Errorf("Stop: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(flowWait):
			t.Error("engine did not stop")
		}
	})
}

// onLoop runs fn on c's event loop and waits for it.
func onLoop(t *testing.T, c Conn, fn func()) {
	t.Helper()
	done := make(chan struct{})
	err := c.EventLoop().Execute(context.Background(), RunnableFunc(func(context.Context) error {
		defer close(done)
		fn()
		return nil
	}))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	select {
	case <-done:
	case <-time.After(flowWait):
		t.Fatal("event loop did not run the task")
	}
}

// waitFor polls cond until it holds, failing the test after flowWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(flowWait); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func recvConn(t *testing.T, ch <-chan Conn) Conn {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(flowWait):
		t.Fatal("no connection opened")
		return nil
	}
}

// pattern returns n bytes that differ with seed and position, so reordering shows.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// dialSmall connects with small kernel buffers, so that little data fills them.
func dialSmall(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: flowWait, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		_ = rc.Control(func(fd uintptr) {
			if err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10); err == nil {
				err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 16<<10)
			}
		})
		return err
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// smallBuffers are server options that keep kernel socket buffers small.
var smallBuffers = []Option{WithSocketRecvBuffer(16 << 10), WithSocketSendBuffer(16 << 10)}

// writeAll writes b to c in the background; sent counts the bytes written so far and
// the returned channel reports the final error.
func writeAll(c net.Conn, b []byte, sent *atomic.Int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(3 * flowWait))
		for off := 0; off < len(b); {
			end := off + 16<<10
			if end > len(b) {
				end = len(b)
			}
			n, err := c.Write(b[off:end])
			sent.Add(int64(n))
			off += n
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// waitStalled waits until sent has not moved for 200ms: the kernel buffers are full.
func waitStalled(t *testing.T, sent *atomic.Int64) int64 {
	t.Helper()
	last, since := sent.Load(), time.Now()
	for deadline := time.Now().Add(flowWait); time.Since(since) < 200*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatal("the peer's writes never stalled")
		}
		time.Sleep(10 * time.Millisecond)
		if n := sent.Load(); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

func readExactly(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(flowWait))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %d bytes: %v", len(want), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes that differ from what was written", len(want))
	}
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func resetClose(t *testing.T, c *net.TCPConn) {
	t.Helper()
	if err := c.SetLinger(0); err != nil {
		t.Fatalf("SetLinger: %v", err)
	}
	_ = c.Close()
}

// A paused connection with a large outbound buffer is not read while write interest
// still flushes its output; the peer's writes stall because the kernel buffers fill.
func TestPauseReadPendingOutput(t *testing.T) {
	const outLen, inLen = 4 << 20, 1 << 20
	resp := pattern(outLen, 1)
	var traffic atomic.Int32
	h := newFlowHandler()
	h.open = func(c Conn) Action {
		if n, err := c.Write(resp); n != outLen || err != nil {
			t.Errorf("Write: %d, %v", n, err)
		}
		return None
	}
	h.traffic = func(c Conn) Action {
		if traffic.Add(1) == 1 {
			if err := c.PauseRead(); err != nil {
				t.Errorf("PauseRead: %v", err)
			}
		}
		return None // the bytes stay in the inbound buffer
	}
	startFlow(t, h, smallBuffers...)
	cl := dialSmall(t, h.addr)
	sc := recvConn(t, h.opened)

	var sent atomic.Int64
	writeDone := writeAll(cl, pattern(inLen, 2), &sent)
	waitFor(t, "the first OnTraffic", func() bool { return traffic.Load() > 0 })
	if n := waitStalled(t, &sent); n >= inLen {
		t.Fatalf("the peer wrote all %d bytes to a paused connection", n)
	}
	onLoop(t, sc, func() {
		if n := sc.InboundBuffered(); n == 0 || n > MaxStreamBufferCap {
			t.Errorf("InboundBuffered = %d; want one read buffer at most", n)
		}
		if n := sc.OutboundBuffered(); n < outLen/2 {
			t.Errorf("OutboundBuffered = %d; want most of %d pending", n, outLen)
		}
		if !sc.ReadPaused() {
			t.Error("ReadPaused = false")
		}
		if got := sc.(*conn).interest; got != interestWrite {
			t.Errorf("poller interest = %b; want write only", got)
		}
	})

	readExactly(t, cl, resp) // write interest drains the output while reading stays paused
	waitFor(t, "the outbound buffer to drain", func() bool {
		var n int
		onLoop(t, sc, func() { n = sc.OutboundBuffered() })
		return n == 0
	})
	onLoop(t, sc, func() {
		if got := sc.(*conn).interest; got != 0 {
			t.Errorf("poller interest = %b; want none", got)
		}
	})
	if n := traffic.Load(); n != 1 {
		t.Fatalf("OnTraffic ran %d times; want 1 (no reads while paused)", n)
	}
	_ = cl.Close()
	<-writeDone
}

// Bytes sent while reading is paused are all delivered after ResumeRead, after the
// bytes already in the inbound buffer, in order. In edge-triggered mode, pausing
// inside OnTraffic also stops gnet's read loop.
func TestResumeReadDelivers(t *testing.T) {
	for _, et := range []bool{false, true} {
		t.Run(fmt.Sprintf("et=%v", et), func(t *testing.T) { testResumeReadDelivers(t, et) })
	}
}

func testResumeReadDelivers(t *testing.T, et bool) {
	const size = 2 << 20
	data := pattern(size, 3)
	var (
		traffic atomic.Int32
		got     []byte // on the loop
		all     = make(chan struct{})
	)
	consume := func(c Conn) {
		b, _ := c.Next(-1)
		got = append(got, b...)
		if len(got) == size {
			close(all)
		}
	}
	h := newFlowHandler()
	h.traffic = func(c Conn) Action {
		if traffic.Add(1) == 1 {
			if err := c.PauseRead(); err != nil {
				t.Errorf("PauseRead: %v", err)
			}
			return None
		}
		consume(c)
		return None
	}
	startFlow(t, h, append(smallBuffers, WithEdgeTriggeredIO(et))...)
	cl := dialSmall(t, h.addr)
	sc := recvConn(t, h.opened)

	var sent atomic.Int64
	writeDone := writeAll(cl, data, &sent)
	waitFor(t, "the first OnTraffic", func() bool { return traffic.Load() > 0 })
	if n := waitStalled(t, &sent); n >= size {
		t.Fatalf("the peer wrote all %d bytes to a paused connection", n)
	}
	onLoop(t, sc, func() {
		if n, in := traffic.Load(), sc.InboundBuffered(); n != 1 || in > MaxStreamBufferCap {
			t.Errorf("paused in the first OnTraffic, then %d calls and %d bytes read; want 1, one buffer", n, in)
		}
		if err := sc.ResumeRead(); err != nil {
			t.Errorf("ResumeRead: %v", err)
		}
		if err := sc.ResumeRead(); err != nil { // idempotent
			t.Errorf("ResumeRead again: %v", err)
		}
		if sc.ReadPaused() {
			t.Error("ReadPaused after ResumeRead")
		}
		if n := traffic.Load(); n != 1 {
			t.Errorf("ResumeRead called OnTraffic (%d calls)", n)
		}
		consume(sc) // ResumeRead leaves what is buffered to the caller
	})
	select {
	case <-all:
	case <-time.After(flowWait):
		t.Fatalf("received %d of %d bytes after ResumeRead", sent.Load(), size)
	}
	if err := <-writeDone; err != nil {
		t.Fatalf("peer write: %v", err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatal("bytes received after ResumeRead are not the bytes sent, in order")
	}
}

// While paused, gnet's own write interest comes and goes as output is queued and
// drained; the connection is never read and the loop does not spin.
func TestPauseReadWritableToggling(t *testing.T) {
	var traffic atomic.Int32
	h := newFlowHandler()
	h.traffic = func(c Conn) Action {
		if traffic.Add(1) == 1 {
			if err := c.PauseRead(); err != nil {
				t.Errorf("PauseRead: %v", err)
			}
			if err := c.PauseRead(); err != nil { // idempotent
				t.Errorf("PauseRead again: %v", err)
			}
		}
		return None
	}
	startFlow(t, h, smallBuffers...)
	cl := dialSmall(t, h.addr)
	sc := recvConn(t, h.opened)

	// Input keeps waiting in the kernel the whole time: a level-triggered EPOLLIN
	// would fire on every poll if read interest were left on.
	var sent atomic.Int64
	writeDone := writeAll(cl, pattern(256<<10, 4), &sent)
	waitFor(t, "the first OnTraffic", func() bool { return traffic.Load() > 0 })

	for i := 0; i < 4; i++ {
		out := pattern(512<<10, byte(10+i))
		onLoop(t, sc, func() {
			if n, err := sc.Write(out); n != len(out) || err != nil {
				t.Errorf("Write: %d, %v", n, err)
			}
			if got := sc.(*conn).interest; sc.OutboundBuffered() == 0 || got != interestWrite {
				t.Errorf("round %d: %d bytes pending, interest %b; want pending, write only",
					i, sc.OutboundBuffered(), got)
			}
		})
		readExactly(t, cl, out)
		waitFor(t, "the outbound buffer to drain", func() bool {
			var n int
			onLoop(t, sc, func() { n = sc.OutboundBuffered() })
			return n == 0
		})
		onLoop(t, sc, func() {
			if got := sc.(*conn).interest; got != 0 {
				t.Errorf("round %d: poller interest %b after draining; want none", i, got)
			}
		})
	}

	cpu := cpuTime()
	time.Sleep(300 * time.Millisecond) // paused, input waiting, nothing to write
	if used := cpuTime() - cpu; used > 100*time.Millisecond {
		t.Errorf("the process used %v of CPU in 300ms while the connection was paused", used)
	}
	if n := traffic.Load(); n != 1 {
		t.Fatalf("OnTraffic ran %d times while paused; want 1", n)
	}
	onLoop(t, sc, func() {
		if err := sc.ResumeRead(); err != nil {
			t.Errorf("ResumeRead: %v", err)
		}
	})
	if err := <-writeDone; err != nil {
		t.Fatalf("peer write after ResumeRead: %v", err)
	}
}

// A connection paused by another connection's callback is not read even though its
// EPOLLIN is already in the same batch of events.
func TestPauseReadInBatch(t *testing.T) {
	var (
		a       Conn // the server side of the first connection, set on the loop
		aReads  atomic.Int32
		bReads  atomic.Int32
		started = make(chan struct{})
	)
	h := newFlowHandler()
	h.open = func(c Conn) Action {
		if a == nil {
			a = c
		}
		return None
	}
	h.traffic = func(c Conn) Action {
		if c == a {
			aReads.Add(1)
			return None
		}
		bReads.Add(1)
		if err := a.PauseRead(); err != nil {
			t.Errorf("PauseRead from another connection's callback: %v", err)
		}
		return None
	}
	startFlow(t, h, WithNumEventLoop(1))
	ca := dialSmall(t, h.addr)
	sa := recvConn(t, h.opened)
	cb := dialSmall(t, h.addr)
	recvConn(t, h.opened)

	// Hold the loop while both become readable, b first: the next epoll_wait returns
	// b's event and then a's.
	err := sa.EventLoop().Execute(context.Background(), RunnableFunc(func(context.Context) error {
		close(started)
		time.Sleep(100 * time.Millisecond)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := cb.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's OnTraffic", func() bool { return bReads.Load() > 0 })
	onLoop(t, sa, func() {
		if n := aReads.Load(); n != 0 || sa.InboundBuffered() != 0 {
			t.Errorf("a was read %d times (%d bytes) after b's callback paused it", n, sa.InboundBuffered())
		}
		if err := sa.ResumeRead(); err != nil {
			t.Errorf("ResumeRead: %v", err)
		}
	})
	waitFor(t, "a's OnTraffic after ResumeRead", func() bool { return aReads.Load() > 0 })
}

// A reset on a paused connection (no read interest, so only EPOLLERR/EPOLLHUP) closes
// it with an error that is not io.EOF.
func TestPauseReadReset(t *testing.T) {
	closed := make(chan error, 1)
	h := newFlowHandler()
	h.traffic = func(c Conn) Action {
		_ = c.PauseRead()
		return None
	}
	h.closed = func(_ Conn, err error) { closed <- err }
	startFlow(t, h)
	cl := dialSmall(t, h.addr)
	sc := recvConn(t, h.opened)
	if _, err := cl.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pause", func() bool {
		var p bool
		onLoop(t, sc, func() { p = sc.ReadPaused() })
		return p
	})
	resetClose(t, cl)
	select {
	case err := <-closed:
		if err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("OnClose err = %v; want a reset, not nil or io.EOF", err)
		}
		if !errors.Is(err, unix.ECONNRESET) {
			t.Logf("OnClose err = %v (not ECONNRESET)", err)
		}
	case <-time.After(flowWait):
		t.Fatal("a paused connection was not closed on reset")
	}
}

// In half-close mode the peer's FIN leads to one OnTraffic with ReadEOF; the
// connection stays open until the handler has written its response and closes it.
func TestHalfCloseReadEOF(t *testing.T) {
	for _, pending := range []bool{false, true} {
		t.Run(fmt.Sprintf("pending=%v", pending), func(t *testing.T) {
			req := pattern(100<<10, 5)
			resp := pattern(4<<20, 6)
			var (
				got      []byte // on the loop
				eofCalls int    // on the loop
				closed   = make(chan error, 1)
			)
			h := newFlowHandler()
			h.traffic = func(c Conn) Action {
				if c.ReadEOF() {
					eofCalls++
					if !c.ReadPaused() {
						t.Error("ReadPaused = false after ReadEOF")
					}
					if err := c.ResumeRead(); err != nil || !c.ReadPaused() {
						t.Errorf("ResumeRead after ReadEOF: %v, paused %v; want nil, still paused",
							err, c.ReadPaused())
					}
					if n := c.InboundBuffered(); n != 0 {
						t.Errorf("OnTraffic with ReadEOF brought %d new bytes", n)
					}
					if pending {
						if got := c.(*conn).interest; c.OutboundBuffered() == 0 || got != interestWrite {
							t.Errorf("at EOF: %d bytes pending, interest %b; want pending, write only",
								c.OutboundBuffered(), got)
						}
					} else if n, err := c.Write(resp); n != len(resp) || err != nil {
						t.Errorf("Write after ReadEOF: %d, %v", n, err)
					}
					if c.OutboundBuffered() == 0 {
						return Close
					}
					c.NotifyDrain(0)
					return None
				}
				b, _ := c.Next(-1)
				if pending && len(got) == 0 {
					if n, err := c.Write(resp); n != len(resp) || err != nil {
						t.Errorf("Write: %d, %v", n, err)
					}
				}
				got = append(got, b...)
				return None
			}
			h.drain = func(Conn) Action { return Close }
			h.closed = func(_ Conn, err error) { closed <- err }
			startFlow(t, h, append(smallBuffers, WithHalfClose(true))...)
			cl := dialSmall(t, h.addr)

			if _, err := cl.Write(req); err != nil {
				t.Fatal(err)
			}
			if err := cl.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			// Read slowly, so that the output stays pending for a while.
			_ = cl.SetReadDeadline(time.Now().Add(flowWait))
			var in bytes.Buffer
			buf := make([]byte, 32<<10)
			for {
				n, err := cl.Read(buf)
				in.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("read after %d bytes: %v", in.Len(), err)
				}
				time.Sleep(time.Millisecond)
			}
			if !bytes.Equal(in.Bytes(), resp) {
				t.Fatalf("peer read %d bytes that differ from the %d-byte response", in.Len(), len(resp))
			}
			select {
			case err := <-closed:
				if err != nil {
					t.Fatalf("OnClose err = %v; want nil (the handler closed it)", err)
				}
			case <-time.After(flowWait):
				t.Fatal("no OnClose")
			}
			if eofCalls != 1 || !bytes.Equal(got, req) {
				t.Fatalf("%d OnTraffic calls with ReadEOF, %d of %d request bytes; want 1, all",
					eofCalls, len(got), len(req))
			}
		})
	}
}

type closeReport struct {
	err     error
	readEOF bool
	got     []byte
	werr    error // WriteErr at OnClose
	n       int   // Write at OnClose
	nerr    error
}

// reportingHandler collects what each connection received and reports its OnClose;
// "ping" in the input is answered with "pong".
func reportingHandler(t *testing.T) (*flowHandler, <-chan closeReport) {
	reports := make(chan closeReport, 8)
	h := newFlowHandler()
	h.open = func(c Conn) Action {
		c.SetContext(new(closeReport))
		return None
	}
	h.traffic = func(c Conn) Action {
		r := c.Context().(*closeReport)
		if c.ReadEOF() {
			r.readEOF = true
		}
		b, _ := c.Next(-1)
		r.got = append(r.got, b...)
		if bytes.HasSuffix(r.got, []byte("ping")) {
			if _, err := c.Write([]byte("pong")); err != nil {
				t.Errorf("Write pong: %v", err)
			}
		}
		return None
	}
	h.closed = func(c Conn, err error) {
		r := c.Context().(*closeReport)
		r.err, r.werr = err, c.WriteErr()
		r.n, r.nerr = c.Write([]byte("x"))
		reports <- *r
	}
	return h, reports
}

func recvReport(t *testing.T, reports <-chan closeReport) closeReport {
	t.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(flowWait):
		t.Fatal("no OnClose")
		return closeReport{}
	}
}

// In half-close mode a reset closes with a non-EOF error and no ReadEOF, and what the
// peer sent just before the reset is delivered first.
func TestHalfCloseResetVsFIN(t *testing.T) {
	h, reports := reportingHandler(t)
	startFlow(t, h, WithHalfClose(true))

	t.Run("after-response", func(t *testing.T) {
		cl := dialSmall(t, h.addr)
		recvConn(t, h.opened)
		if _, err := cl.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		readExactly(t, cl, []byte("pong"))
		resetClose(t, cl)
		r := recvReport(t, reports)
		if r.err == nil || errors.Is(r.err, io.EOF) || r.readEOF {
			t.Fatalf("OnClose err = %v, ReadEOF %v; want a reset error, no ReadEOF", r.err, r.readEOF)
		}
		if !errors.Is(r.err, unix.ECONNRESET) {
			t.Errorf("OnClose err = %v; want ECONNRESET", r.err)
		}
		if string(r.got) != "ping" {
			t.Errorf("received %q; want ping", r.got)
		}
	})

	t.Run("burst", func(t *testing.T) {
		cl := dialSmall(t, h.addr)
		recvConn(t, h.opened)
		burst := pattern(8<<10, 7) // fits the peer's window: sent at once, before the RST
		if _, err := cl.Write(burst); err != nil {
			t.Fatal(err)
		}
		resetClose(t, cl)
		r := recvReport(t, reports)
		if r.err == nil || errors.Is(r.err, io.EOF) || r.readEOF {
			t.Fatalf("OnClose err = %v, ReadEOF %v; want a reset error, no ReadEOF", r.err, r.readEOF)
		}
		if !bytes.Equal(r.got, burst) {
			t.Fatalf("received %d of the %d bytes sent just before the reset", len(r.got), len(burst))
		}
	})

	t.Run("fin", func(t *testing.T) {
		cl := dialSmall(t, h.addr)
		sc := recvConn(t, h.opened)
		if _, err := cl.Write([]byte("bye")); err != nil {
			t.Fatal(err)
		}
		_ = cl.CloseWrite()
		waitFor(t, "ReadEOF", func() bool {
			var eof bool
			onLoop(t, sc, func() { eof = sc.ReadEOF() })
			return eof
		})
		select {
		case r := <-reports:
			t.Fatalf("a FIN closed the connection in half-close mode: %v", r.err)
		default:
		}
		onLoop(t, sc, func() { _ = sc.EventLoop().Close(sc) })
		if r := recvReport(t, reports); r.err != nil || string(r.got) != "bye" {
			t.Fatalf("OnClose err = %v, received %q; want nil, bye", r.err, r.got)
		}
	})
}

// In half-close mode a failed write does not close the connection: Write returns the
// error from then on, WriteErr reports it, and reading goes on until the read side
// ends, which closes it with the write error.
func TestHalfCloseWriteErr(t *testing.T) {
	t.Run("shutdown", func(t *testing.T) {
		h, reports := reportingHandler(t)
		failed := make(chan error, 1)
		h.open = func(c Conn) Action {
			c.SetContext(new(closeReport))
			// Make the next write fail with EPIPE; the peer can still send.
			if err := unix.Shutdown(c.Fd(), unix.SHUT_WR); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			return None
		}
		traffic := h.traffic
		h.traffic = func(c Conn) Action {
			if c.WriteErr() == nil {
				n, err := c.Write([]byte("x"))
				if n != 0 || err == nil || !errors.Is(err, unix.EPIPE) || c.WriteErr() != err {
					t.Errorf("Write = %d, %v (WriteErr %v); want 0, EPIPE twice", n, err, c.WriteErr())
				}
				if n, err2 := c.Writev([][]byte{[]byte("y")}); n != 0 || err2 != err {
					t.Errorf("Writev after the failure = %d, %v; want 0, %v", n, err2, err)
				}
				failed <- err
			}
			return traffic(c)
		}
		startFlow(t, h, WithHalfClose(true))
		cl := dialSmall(t, h.addr)
		if _, err := cl.Write([]byte("a")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-failed:
		case <-time.After(flowWait):
			t.Fatal("no failed write")
		}
		more := pattern(64<<10, 8)
		if _, err := cl.Write(more); err != nil { // still delivered
			t.Fatal(err)
		}
		select {
		case r := <-reports:
			t.Fatalf("closed after a failed write, before the read side ended: %v", r.err)
		case <-time.After(50 * time.Millisecond):
		}
		_ = cl.CloseWrite()
		r := recvReport(t, reports)
		if !errors.Is(r.err, unix.EPIPE) || r.err != r.werr {
			t.Fatalf("OnClose err = %v, WriteErr %v; want the write error (EPIPE)", r.err, r.werr)
		}
		if want := append([]byte("a"), more...); !bytes.Equal(r.got, want) {
			t.Fatalf("received %d of %d bytes", len(r.got), len(want))
		}
	})

	t.Run("reset", func(t *testing.T) {
		h, reports := reportingHandler(t)
		firstTraffic := make(chan struct{})
		traffic := h.traffic
		h.traffic = func(c Conn) Action {
			if len(c.Context().(*closeReport).got) == 0 {
				if _, err := c.Write(pattern(4<<20, 9)); err != nil {
					t.Errorf("Write: %v", err)
				}
				close(firstTraffic)
			}
			return traffic(c)
		}
		startFlow(t, h, append(smallBuffers, WithHalfClose(true))...)
		cl := dialSmall(t, h.addr)
		if _, err := cl.Write([]byte("req")); err != nil {
			t.Fatal(err)
		}
		<-firstTraffic
		readExactly(t, cl, pattern(4<<20, 9)[:64<<10]) // the response flows, most still pending
		if _, err := cl.Write([]byte("tail")); err != nil {
			t.Fatal(err)
		}
		resetClose(t, cl)
		r := recvReport(t, reports)
		if r.err == nil || errors.Is(r.err, io.EOF) {
			t.Fatalf("OnClose err = %v; want a reset error", r.err)
		}
		if r.werr == nil || r.n != 0 || r.nerr != r.werr {
			t.Fatalf("at OnClose: WriteErr %v, Write = %d, %v; want an error, 0, the same error", r.werr, r.n, r.nerr)
		}
		if string(r.got) != "reqtail" {
			t.Fatalf("received %q; want reqtail", r.got)
		}
	})
}

// NotifyDrain fires once when the outbound buffer shrinks to the threshold, not when
// it is already there, and not after NotifyDrain(-1). OnDrain may write again.
func TestNotifyDrain(t *testing.T) {
	var (
		drains  atomic.Int32
		atDrain atomic.Int64
		again   []byte // written by OnDrain when set, on the loop
	)
	h := newFlowHandler()
	h.drain = func(c Conn) Action {
		drains.Add(1)
		atDrain.Store(int64(c.OutboundBuffered()))
		if again != nil {
			if _, err := c.Write(again); err != nil {
				t.Errorf("Write in OnDrain: %v", err)
			}
			again = nil
			c.NotifyDrain(0)
		}
		return None
	}
	startFlow(t, h, smallBuffers...)
	cl := dialSmall(t, h.addr)
	sc := recvConn(t, h.opened)

	round := func(name string, seed byte, arm func(c Conn), extra []byte, wantDrains int32) {
		t.Helper()
		out := pattern(2<<20, seed)
		onLoop(t, sc, func() {
			if n, err := sc.Write(out); n != len(out) || err != nil {
				t.Errorf("Write: %d, %v", n, err)
			}
			arm(sc)
		})
		readExactly(t, cl, out)
		if extra != nil {
			readExactly(t, cl, extra)
		}
		waitFor(t, "the outbound buffer to drain", func() bool {
			var n int
			onLoop(t, sc, func() { n = sc.OutboundBuffered() })
			return n == 0
		})
		if n := drains.Load(); n != wantDrains {
			t.Fatalf("%s: OnDrain ran %d times in all; want %d", name, n, wantDrains)
		}
	}
	const low = 256 << 10
	round("already below", 20, func(c Conn) { c.NotifyDrain(c.OutboundBuffered()) }, nil, 0)
	round("cancelled", 21, func(c Conn) { c.NotifyDrain(low); c.NotifyDrain(-1) }, nil, 0)
	round("armed", 22, func(c Conn) { c.NotifyDrain(low) }, nil, 1)
	if n := atDrain.Load(); n > low {
		t.Fatalf("OnDrain saw %d bytes pending; want at most %d", n, low)
	}
	round("one-shot", 23, func(Conn) {}, nil, 1)

	// OnDrain writes more and asks again: the write goes through the normal path,
	// re-arms write interest, and the second OnDrain comes once that is flushed too.
	more := pattern(1<<20, 24)
	onLoop(t, sc, func() { again = more })
	round("re-armed from OnDrain", 25, func(c Conn) { c.NotifyDrain(low) }, more, 3)
	if n := atDrain.Load(); n != 0 {
		t.Fatalf("second OnDrain saw %d bytes pending; want 0", n)
	}
}

// fdSlotsBelow returns the lowest RLIMIT_NOFILE under which exactly free descriptors
// can still be opened.
func fdSlotsBelow(t *testing.T, free int) uint64 {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list descriptors: %v", err)
	}
	used := make(map[int]bool, len(ents))
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			used[fd] = true
		}
	}
	// ReadDir's own descriptor is listed but closed again: it is a free slot too.
	for fd := 0; ; fd++ {
		if !used[fd] || isClosed(fd) {
			if free--; free == 0 {
				return uint64(fd + 1)
			}
		}
	}
}

func isClosed(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == unix.EBADF
}

// EMFILE from accept does not stop the engine: the listener backs off, the hook hears
// of it, existing connections are served, and accepting resumes once descriptors are
// free again. Both the main reactor (edge-triggered) and the reuse-port loops.
func TestAcceptBackoffEMFILE(t *testing.T) {
	for _, reusePort := range []bool{false, true} {
		t.Run(fmt.Sprintf("reuseport=%v", reusePort), func(t *testing.T) {
			testAcceptBackoff(t, reusePort)
		})
	}
}

func testAcceptBackoff(t *testing.T, reusePort bool) {
	var (
		hookErrs atomic.Int32
		hookErr  atomic.Value
		mu       sync.Mutex
		open     []Conn
		opens    atomic.Int32
	)
	h := newFlowHandler()
	h.opened = make(chan Conn, 1024)
	h.open = func(c Conn) Action {
		opens.Add(1)
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		return None
	}
	h.traffic = func(c Conn) Action { // echo
		b, _ := c.Next(-1)
		_, _ = c.Write(b)
		return None
	}
	startFlow(t, h, WithNumEventLoop(1), WithReusePort(reusePort),
		WithAcceptBackoff(20*time.Millisecond),
		WithAcceptErrorHook(func(err error) {
			hookErrs.Add(1)
			hookErr.Store(err)
		}))

	canary, err := net.DialTimeout("tcp", h.addr, flowWait)
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	echo := func() {
		t.Helper()
		if _, err := canary.Write([]byte("ping")); err != nil {
			t.Fatalf("canary write: %v", err)
		}
		readExactly(t, canary, []byte("ping"))
	}
	echo()
	waitFor(t, "the canary's OnOpen", func() bool { return opens.Load() == 1 })
	mu.Lock()
	open = open[:0]
	mu.Unlock()

	// The clients' sockets exist before the limit is lowered; connecting needs no
	// new descriptor, accepting them does.
	const clients, slots = 12, 3
	var fds []int
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	for i := 0; i < clients; i++ {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
	}
	var saved unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
		t.Fatal(err)
	}
	lowered := saved
	lowered.Cur = fdSlotsBelow(t, slots)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	defer func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &saved); err != nil {
			t.Errorf("cannot restore RLIMIT_NOFILE: %v", err)
		}
	}()
	port, _ := strconv.Atoi(h.addr[strings.LastIndexByte(h.addr, ':')+1:])
	for _, fd := range fds {
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatalf("connect: %v", err)
		}
	}

	waitFor(t, "the accept error hook", func() bool { return hookErrs.Load() > 0 })
	if err, _ := hookErr.Load().(error); !errors.Is(err, unix.EMFILE) {
		t.Fatalf("hook got %v; want EMFILE", err)
	}
	echo() // the engine still runs and serves existing connections
	if n := opens.Load() - 1; n > slots {
		t.Fatalf("%d connections opened with %d descriptors free", n, slots)
	}

	// Closing accepted connections frees descriptors; after the backoff the rest
	// are accepted, with the limit still low.
	for deadline := time.Now().Add(flowWait); opens.Load()-1 < clients; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections accepted", opens.Load()-1, clients)
		}
		mu.Lock()
		batch := open
		open = nil
		mu.Unlock()
		for _, c := range batch {
			onLoop(t, c, func() { _ = c.EventLoop().Close(c) })
		}
		time.Sleep(5 * time.Millisecond)
	}
	echo()
	if hookErrs.Load() < 2 {
		t.Logf("hook called %d times", hookErrs.Load())
	}
}

// A listener replaced by dup3 while it backs off (the engine's handoff does this)
// gets ENOENT when the backoff ends; the engine keeps running and stops cleanly.
func TestAcceptBackoffListenerReplaced(t *testing.T) {
	h := newFlowHandler()
	h.traffic = func(c Conn) Action {
		b, _ := c.Next(-1)
		_, _ = c.Write(b)
		return None
	}
	startFlow(t, h, WithNumEventLoop(1), WithReusePort(true),
		WithAcceptBackoff(50*time.Millisecond), WithAcceptErrorHook(func(error) {}))
	canary, err := net.DialTimeout("tcp", h.addr, flowWait)
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	sc := recvConn(t, h.opened)

	var lnFD int
	onLoop(t, sc, func() {
		el := sc.(*conn).loop
		for fd := range el.listeners {
			lnFD = fd
		}
		if err := el.backoffAccept(lnFD, unix.EMFILE, false); err != nil {
			t.Errorf("backoffAccept: %v", err)
		}
	})
	inert, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(inert)
	if err := unix.Bind(inert, &unix.SockaddrUnix{}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(inert, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(inert, lnFD, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // past the backoff: interest restore gets ENOENT
	if _, err := canary.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	readExactly(t, canary, []byte("ping"))
}

// Stopping the engine while a listener backs off does not wait for the backoff.
func TestAcceptBackoffShutdown(t *testing.T) {
	h := newFlowHandler()
	startFlow(t, h, WithNumEventLoop(1), WithReusePort(true),
		WithAcceptBackoff(time.Minute), WithAcceptErrorHook(func(error) {}))
	canary, err := net.DialTimeout("tcp", h.addr, flowWait)
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	sc := recvConn(t, h.opened)
	onLoop(t, sc, func() {
		el := sc.(*conn).loop
		for fd := range el.listeners {
			if err := el.backoffAccept(fd, unix.EMFILE, false); err != nil {
				t.Errorf("backoffAccept: %v", err)
			}
		}
	})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), flowWait)
	defer cancel()
	if err := h.eng.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Stop took %v with a backoff pending", d)
	}
}
