package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/panjf2000/gnet/v2"

	"loopgate/codec"
	"loopgate/stats"
	"loopgate/upstream"
)

type upState uint8

const (
	upDialing   upState = iota // dial in flight in a goroutine
	upAwaitHead                // request sent or being sent; waiting for the response head
	upBody                     // streaming the response body to the client
	upIdle                     // pooled, waiting for the next request
	upClosed
)

// upConn is the state of one upstream connection. It is owned by the loop of
// the client it serves, and stays on that loop while pooled.
type upConn struct {
	timer
	l       *loop
	lp      *loopPool
	c       gnet.Conn     // nil while dialing or detached
	set     *upstream.Set // the Set backend indexes into
	backend int
	state   upState
	cc      *clientConn     // the client of the current exchange; nil when idle
	reused  bool            // served an earlier request
	picker  upstream.Picker // chose it for this exchange and awaits its Done; nil otherwise
	start   time.Time       // when the request was sent, for the picker's RTT

	respClose bool // the backend closes after this response
	body      codec.BodyKind
	remaining int64
	chunk     codec.Chunked
	dechunk   bool // an HTTP/1.0 client gets the payload without chunked framing
	rechunk   bool // a close-delimited body goes to an HTTP/1.1 client chunked
	gotBytes  bool // response bytes arrived for the current request
	broken    bool // framing was violated: never pool it
	headOut   bool // the client's response head waits in l.scratch for the first body bytes

	held     []byte // input saved across a detach
	heldOff  int
	detached detach
	lastOut  int // client bytes queued at the last drain check, to see progress

	bs          *stats.BackendStats // the backend's handles (stable per address)
	connectTime time.Duration       // how long the dial took; taken by the first exchange
	live        bool                // counted in the loop's upstream connection gauge
}

func newUpConn(l *loop, lp *loopPool, i int) *upConn {
	u := &upConn{l: l, lp: lp, set: lp.set, backend: i, bs: lp.st.stats[i], live: true}
	u.owner = u
	u.detached.fd = -1
	l.upConns.Add(1)
	return u
}

// onOpen runs when a dialed (or re-attached) connection joins the loop.
func (u *upConn) onOpen(c gnet.Conn) {
	u.c = c
	if u.detached.reattaching {
		u.detached.reattaching = false
		u.l.arm(&u.timer, timerUpBody)
		u.pump()
		return
	}
	cc := u.cc
	if cc == nil || cc.closed {
		u.cc = nil
		u.toIdle() // the client left while we dialed; keep the connection
		return
	}
	cc.send(u, cc.head)
	if !cc.closed {
		cc.serve() // the body may already be waiting
	}
}

// dialFailed runs on the loop when the dial or the enrollment failed.
func (u *upConn) dialFailed(err error) {
	u.state = upClosed
	u.release()
	cc := u.cc
	u.cc = nil
	u.l.s.log.Debug("cannot connect to backend", "backend", u.addr(), "err", err)
	u.outcome(true, "connect failed", 0)
	if cc != nil && cc.up == u {
		cc.up = nil
		u.done(false)
		// Nothing of the request was sent: it may go to another backend.
		cc.log.bs, cc.log.reason = u.bs, stats.ReasonConnect
		cc.retryAfter(u.backend, cc.head, 502, false)
	}
}

// outcome counts a failure of the backend against passive ejection, or a
// success that resets the count. At the threshold the ejection itself runs
// off the loop. why is a constant, so counting does not allocate.
func (u *upConn) outcome(failed bool, why string, status int) {
	lp := u.lp
	if !lp.p.passive || u.set != lp.set {
		return
	}
	f := &lp.fails[u.backend]
	if !failed {
		*f = 0
		return
	}
	*f++
	if n := int(*f); n >= lp.p.ej.cfg.ConsecutiveFailures {
		*f = 0
		set, i := u.set, u.backend
		go lp.p.ej.eject(set, i, failureReason(n, why, status))
	}
}

func failureReason(n int, why string, status int) string {
	if status > 0 {
		return fmt.Sprintf("%d consecutive failures: %s %d", n, why, status)
	}
	return fmt.Sprintf("%d consecutive failures: %s", n, why)
}

// done reports the outcome of the exchange to the picker that chose this
// backend: exactly once per Pick, whatever ends the exchange, and to that
// picker even if the loop has rebuilt its pool since (the Picker contract
// load-aware algorithms count on).
func (u *upConn) done(ok bool) {
	p := u.picker
	if p == nil {
		return
	}
	u.picker = nil
	u.bs.InFlight.Add(-1)
	var rtt time.Duration
	if ok {
		rtt = time.Since(u.start)
	}
	p.Done(u.backend, rtt, ok)
}

// picked records that p chose this connection's backend for an exchange:
// the exchange is in flight until done.
func (u *upConn) picked(p upstream.Picker) {
	u.picker = p
	u.bs.InFlight.Add(1)
}

// release takes a closed connection out of the loop's gauge, once.
func (u *upConn) release() {
	if u.live {
		u.live = false
		u.l.upConns.Add(-1)
	}
}

func (u *upConn) onTraffic() gnet.Action {
	if u.state == upIdle || u.state == upClosed || u.cc == nil {
		// Bytes nobody asked for: the backend broke framing. Never reuse it.
		u.closeNow()
		return gnet.Close
	}
	return u.pump()
}

// input and consume mirror the client's: saved bytes first, then gnet's.
func (u *upConn) input() []byte {
	if u.heldOff < len(u.held) {
		return u.held[u.heldOff:]
	}
	if u.c == nil {
		return nil
	}
	b, _ := u.c.Peek(-1)
	return b
}

func (u *upConn) consume(n int) {
	if u.heldOff < len(u.held) {
		if u.heldOff += n; u.heldOff == len(u.held) {
			u.held, u.heldOff = u.held[:0], 0
		}
		return
	}
	u.c.Discard(n)
}

// pump moves the response forward as far as the input and the client allow.
func (u *upConn) pump() gnet.Action {
	for {
		cc := u.cc
		if cc == nil || cc.closed || u.state == upClosed {
			return gnet.None
		}
		if cc.c == nil {
			// The client is detached (its upload was paused): bring it back
			// first; the response waits in our buffer meanwhile.
			cc.reattach()
			return gnet.None
		}
		switch u.state {
		case upAwaitHead:
			if !u.readHead() {
				return gnet.None
			}
		case upBody:
			return u.forwardBody()
		default:
			return gnet.None
		}
	}
}

// readHead parses the response head, relays 1xx, and writes the rewritten
// final head to the client. It reports whether the state machine moved on.
func (u *upConn) readHead() bool {
	b := u.input()
	if len(b) == 0 {
		return false
	}
	u.gotBytes = true
	cc := u.cc
	n, err := codec.ParseResponse(b, &u.l.resp, cc.method, &u.l.cfg.Limits)
	if err == codec.ErrNeedMore {
		return false
	}
	if err != nil {
		u.l.s.log.Debug("invalid response", "backend", u.addr(), "err", err)
		u.outcome(true, "invalid response", 0)
		u.abort(502)
		return false
	}
	r := &u.l.resp
	u.respClose = r.Close
	l := u.l
	if r.Status < 200 {
		if r.Status == 101 {
			// The proxy never forwards Upgrade, so a switch is a protocol error.
			u.abort(502)
			return false
		}
		// RFC 9110 §15.2: relay 1xx to HTTP/1.1 clients; HTTP/1.0 cannot take them.
		if cc.minor == 1 {
			l.scratch = codec.AppendResponseHead(l.scratch[:0], b, r, codec.ResponseFraming{})
			u.consume(n)
			cc.log.bytesOut += int64(len(l.scratch))
			cc.c.Write(l.scratch)
			cc.respStarted = false // a 1xx is not the answer
		} else {
			u.consume(n)
		}
		return true
	}

	cc.log.status, cc.log.ttfb = r.Status, time.Since(u.start)
	u.outcome(u.lp.p.passive && u.lp.p.ej.failing(r.Status), "status", r.Status)
	if len(cc.retry) > 0 && slices.Contains(u.lp.p.retryOn, r.Status) && cc.mayRetry(cc.retry, true) {
		// retry_on_status: the client never sees this answer; an idempotent
		// bodiless request goes to another backend. The connection cannot be
		// reused with the body unread.
		cc.up, u.cc = nil, nil
		u.done(false)
		u.closeNow()
		cc.retryLater(u.backend, true)
		return false
	}

	// Framing towards the client (RFC 9112 §6): HTTP/1.1 clients keep the
	// connection, with a close-delimited body re-chunked; HTTP/1.0 clients
	// get chunked bodies de-chunked and close-delimited.
	u.body, u.remaining = r.Body, r.BodyLen
	u.chunk.Reset()
	u.dechunk, u.rechunk = false, false
	var rf codec.ResponseFraming
	closeAfter := cc.closeAfter || !cc.reqDone || l.s.draining.Load()
	switch {
	case r.Body == codec.BodyChunked && cc.minor == 0:
		u.dechunk, closeAfter = true, true
	case r.Body == codec.BodyChunked:
		rf.Chunked = true
	case r.Body == codec.BodyClose && cc.minor == 1:
		u.rechunk, rf.Chunked = true, true
	case r.Body == codec.BodyClose:
		closeAfter = true
	}
	cc.closeAfter = closeAfter
	rf.Close = closeAfter
	rf.KeepAlive = !closeAfter && cc.minor == 0
	rf.Extra = cc.setCookie
	if name := l.s.reqIDName; len(name) > 0 {
		if _, ok := fieldValue(b, r.Headers[:r.NHeaders], name); !ok {
			l.extra = cc.appendIDField(append(l.extra[:0], cc.setCookie...))
			rf.Extra = l.extra
		}
	}
	l.scratch = codec.AppendResponseHead(l.scratch[:0], b, r, rf)
	u.consume(n)
	if r.Body == codec.BodyNone || r.Body == codec.BodyLength && r.BodyLen == 0 {
		if cc.write(l.scratch) {
			u.finish()
		}
		return false
	}
	// The head leaves with the first body bytes, in one writev.
	u.headOut = true
	u.state = upBody
	l.arm(&u.timer, timerUpBody)
	return true
}

// emit writes p to the client, preceded by the response head while that is
// pending, in one system call.
func (u *upConn) emit(p []byte) bool {
	cc, l := u.cc, u.l
	if !u.headOut {
		return cc.write(p)
	}
	u.headOut = false
	if len(p) == 0 {
		return cc.write(l.scratch)
	}
	l.iov[0], l.iov[1] = l.scratch, p
	ok := cc.writev(l.iov[:2])
	l.iov = [3][]byte{}
	return ok
}

// forwardBody relays the response body that has arrived, then pauses the
// upstream when the client is not keeping up.
func (u *upConn) forwardBody() gnet.Action {
	b := u.input()
	cc := u.cc
	n, done := 0, false
	switch u.body {
	case codec.BodyLength:
		n = int(min(int64(len(b)), u.remaining))
		u.remaining -= int64(n)
		done = u.remaining == 0
		if n > 0 && !u.emit(b[:n]) {
			return gnet.None
		}
	case codec.BodyChunked:
		lim := &u.l.cfg.Limits
		for n < len(b) && !u.chunk.Done() {
			k, data, err := u.chunk.Next(b[n:], lim)
			if err == codec.ErrNeedMore {
				break
			}
			if err != nil {
				u.l.s.log.Debug("invalid chunked response", "backend", u.addr(), "err", err)
				u.abort(502)
				return gnet.None
			}
			if u.dechunk && data && !u.emit(b[n:n+k]) {
				return gnet.None
			}
			n += k
		}
		done = u.chunk.Done()
		if !u.dechunk && n > 0 && !u.emit(b[:n]) {
			return gnet.None
		}
	case codec.BodyClose:
		n = len(b)
		if n > 0 {
			if u.rechunk {
				l := u.l
				hdr := l.scratch[:0]
				if u.headOut {
					hdr, u.headOut = l.scratch, false
				}
				l.scratch = codec.AppendChunkHeader(hdr, n)
				l.iov = [3][]byte{l.scratch, b, crlf}
				ok := cc.writev(l.iov[:])
				l.iov = [3][]byte{}
				if !ok {
					return gnet.None
				}
			} else if !u.emit(b) {
				return gnet.None
			}
		}
	}
	if u.headOut && !u.emit(nil) {
		return gnet.None
	}
	if n > 0 {
		u.consume(n)
		u.timer.touch(now())
	}
	if done {
		if len(u.input()) > 0 {
			u.broken = true // bytes past the end of the response
		}
		u.finish()
		return gnet.None
	}
	if cc.c != nil && cc.c.OutboundBuffered() > u.l.cfg.Flow.HighWatermark {
		return u.pause()
	}
	return gnet.None
}

var crlf = []byte("\r\n")

// finish completes the exchange: the connection goes back to the pool when
// both messages ended cleanly, and the client moves on.
func (u *upConn) finish() {
	cc := u.cc
	u.cc = nil
	u.timer.stop()
	cc.log.upTime = time.Since(u.start)
	u.done(true)
	if !u.broken && !u.respClose && cc.reqDone && u.c != nil && u.heldOff == len(u.held) {
		u.toIdle()
	} else {
		u.closeNow()
	}
	cc.exchangeDone()
}

// onEOF ends a close-delimited body: the backend closing is its end.
func (u *upConn) onEOF() {
	cc := u.cc
	u.cc = nil
	cc.log.upTime = time.Since(u.start)
	u.done(true)
	if u.headOut {
		u.emit(nil) // an empty close-delimited body
	}
	if u.rechunk {
		cc.write(lastChunk)
	}
	cc.exchangeDone()
}

var lastChunk = []byte("0\r\n\r\n")

// abort ends an exchange that failed on the upstream side: 502/504 if the
// client has seen nothing yet, otherwise the client connection is cut so a
// truncated response can never pass for a complete one.
func (u *upConn) abort(status int) {
	cc := u.cc
	u.cc = nil
	u.closeNow()
	if cc != nil && cc.up == u {
		cc.up = nil
		u.done(false)
		cc.log.reason = stats.ReasonReset
		if status == 504 {
			cc.log.reason = stats.ReasonTimeout
		}
		cc.fail(status)
	}
}

// toIdle pools the connection for the next request to its backend.
func (u *upConn) toIdle() {
	if u.l.s.draining.Load() {
		u.closeNow()
		return
	}
	lp := u.l.current(u.lp)
	if lp == nil {
		u.closeNow() // a reload removed the pool
		return
	}
	// After a reload the pool has a new loopPool: the connection joins its
	// idle list, and must be removed from that one when it closes.
	u.lp = lp
	if u.set != lp.set {
		// The pool was rebuilt while this exchange ran: the connection stays
		// if its backend is still in the new Set.
		j := slices.IndexFunc(lp.set.Backends, func(b upstream.Backend) bool { return b.Addr == u.addr() })
		if j < 0 {
			u.closeNow()
			return
		}
		u.set, u.backend = lp.set, j
	}
	u.state = upIdle
	u.l.idleConns.Add(1)
	u.reused = true
	u.l.arm(&u.timer, timerUpIdle)
	if old, evicted := lp.idle[u.backend].Push(u, lp.p.maxIdle); evicted {
		old.closeNow()
	}
}

// leaveIdle takes an idle connection out of the pool: out of its idle list
// unless the caller has popped it already (a popped connection may sit in
// no list its index still names), out of the idle state, so that closeNow
// does not look for it again, and out of the loop's idle gauge.
func (u *upConn) leaveIdle(popped bool) {
	if !popped {
		u.lp.idle[u.backend].Remove(u)
	}
	u.state = upAwaitHead
	u.l.idleConns.Add(-1)
}

// alive reports whether a pooled connection can take a request that may not
// be replayed.
func (u *upConn) alive() bool { return u.c != nil && peekAlive(u.c.Fd()) }

func (u *upConn) addr() string { return u.set.Backends[u.backend].Addr }

// closeNow closes the connection; it is never pooled again.
func (u *upConn) closeNow() {
	if u.state == upIdle {
		u.leaveIdle(false)
	}
	u.state = upClosed
	u.release()
	u.timer.stop()
	u.l.unwait(u)
	u.detached.release()
	if u.c != nil {
		u.c.Close()
	}
}

func (u *upConn) onTimeout(k timerKind) {
	switch k {
	case timerUpResponse:
		u.l.s.log.Debug("upstream response timeout", "backend", u.addr())
		u.outcome(true, "response timeout", 0)
		u.abort(504)
	case timerUpBody:
		u.l.s.log.Debug("upstream body timeout", "backend", u.addr())
		u.abort(504)
	default: // timerUpIdle
		u.closeNow()
	}
}

// onClose runs when gnet closed the connection: the backend closed it, a
// write failed, or the engine closed or detached it.
func (u *upConn) onClose(error) {
	if u.detached.closing {
		u.detached.closing = false
		u.c = nil
		return
	}
	prev := u.state
	u.c = nil
	if prev == upIdle {
		u.leaveIdle(false)
	}
	u.state = upClosed
	u.release()
	u.timer.stop()
	u.l.unwait(u)
	u.detached.release()
	cc := u.cc
	if cc == nil || cc.up != u {
		return
	}
	switch {
	case prev == upAwaitHead && !u.gotBytes && u.reused && len(cc.retry) > 0:
		// A pooled connection the backend had already closed: the request
		// is idempotent and bodiless, so it goes out again on another one
		// (not counted as a retry: the backend did nothing wrong).
		cc.up, u.cc = nil, nil
		u.done(false)
		cc.redispatch(-1, cc.retry)
	case prev == upAwaitHead && !u.gotBytes && len(cc.retry) > 0:
		// The backend failed before answering an idempotent, bodiless
		// request: try another one.
		u.outcome(true, "closed before responding", 0)
		cc.up, u.cc = nil, nil
		u.done(false)
		u.l.s.log.Debug("backend closed before responding; retrying", "backend", u.addr())
		cc.retryAfter(u.backend, cc.retry, 502, true)
	case prev == upBody && u.body == codec.BodyClose:
		u.onEOF()
	case prev == upAwaitHead:
		u.l.s.log.Debug("backend closed before responding", "backend", u.addr())
		u.outcome(true, "closed before responding", 0)
		u.abort(502)
	default:
		u.abort(502)
	}
}
