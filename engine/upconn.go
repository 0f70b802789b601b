package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"loopgate/codec"
	"loopgate/compress"
	"loopgate/stats"
	"loopgate/upstream"
)

type upState uint8

const (
	upDialing   upState = iota // dial in flight in a goroutine
	upAwaitHead                // request sent or being sent; waiting for the response head
	upBody                     // streaming the response body to the client
	upIdle                     // pooled, waiting for the next request
	upTunnel                   // carrying a tunnel (tunnel.go), which owns the connection
	upClosed
)

// upConn is the state of one upstream connection. It is owned by the loop of
// the client it serves, and stays on that loop while pooled.
type upConn struct {
	timer
	l       *loop
	lp      *loopPool
	wire                  // c is nil while dialing; tls is a TLS pool's connection, nil: plain
	dialTLS *tlsConn      // written by the dialer, taken by onOpen
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
	reframe   bool // the payload goes out in chunks of our own (emitChunk): encoded or copied into the cache
	gotBytes  bool // response bytes arrived for the current request
	broken    bool // framing was violated: never pool it
	headOut   bool // the client's response head waits in l.scratch for the first body bytes
	paused    bool // reading stopped while the client drains the response (flow.go)
	lastOut   int  // bytes queued to the slower peer when the exchange last made progress (flow.go)
	interim   int  // 1xx responses relayed for the current request

	enc *compress.Encoder // the response body's encoder; nil: sent as it came (compress.go)

	bs          *stats.BackendStats // the backend's handles (stable per address)
	connectTime time.Duration       // how long the dial took; taken by the first exchange
	live        bool                // counted in the loop's upstream connection gauge
}

func newUpConn(l *loop, lp *loopPool, i int) *upConn {
	u := &upConn{l: l, lp: lp, set: lp.set, backend: i, bs: lp.st.stats[i], live: true}
	u.owner = u
	l.upConns.Add(1)
	return u
}

// onOpen runs when a dialed connection joins the loop (for a TLS pool,
// its handshake done).
func (u *upConn) onOpen(c gnet.Conn) {
	u.c = c
	if u.state != upDialing {
		_ = c.Close() // the loop gave up on this dial (timerUpConnect)
		return
	}
	u.timer.stop()
	if t := u.dialTLS; t != nil {
		u.dialTLS = nil
		u.attachTLS(t)
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
	if u.state != upDialing {
		return // the connect timer ran out first
	}
	u.state = upClosed
	u.timer.stop()
	u.release()
	cc := u.cc
	u.cc = nil
	// The kernel refusing us a descriptor is a local shortage: not the
	// backend's fault, and no other backend would fare better.
	local := errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
	var hsErr *handshakeError
	switch {
	case errors.As(err, &hsErr):
		// Most often a configuration matter (a certificate that does not
		// verify): said at warn level, as nginx does, once per tlsWarnEvery.
		level := slog.LevelDebug
		if u.lp.p.warnTLS(time.Now()) {
			level = slog.LevelWarn
		}
		u.l.s.log.Log(context.Background(), level, "TLS handshake with backend failed", "backend", u.addr(), "err", hsErr.err)
		u.lp.p.stats.TLSFailed.Inc()
		u.outcome(true, "TLS handshake failed", 0)
	case !local:
		u.l.s.log.Debug("cannot connect to backend", "backend", u.addr(), "err", err)
		u.outcome(true, "connect failed", 0)
	default:
		u.l.s.log.Debug("cannot connect to backend", "backend", u.addr(), "err", err)
	}
	if cc == nil || cc.up != u {
		return
	}
	cc.up = nil
	u.done(false)
	if local {
		cc.log.reason = stats.ReasonLimit
		cc.fail(503)
		return
	}
	// Nothing of the request was sent: it may go to another backend.
	cc.log.bs, cc.log.reason = u.bs, stats.ReasonConnect
	cc.retryAfter(u.backend, cc.head, 502, false)
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
	if u.picker == nil {
		return
	}
	var rtt time.Duration
	if ok {
		rtt = time.Since(u.start)
	}
	u.report(ok, rtt)
}

// report is done with the round-trip time given: a tunnel reports its
// 101's, not its whole life.
func (u *upConn) report(ok bool, rtt time.Duration) {
	p := u.picker
	if p == nil {
		return
	}
	u.picker = nil
	u.bs.InFlight.Add(-1)
	p.Done(u.backend, rtt, ok)
}

// picked records that p chose this connection's backend for an exchange:
// the exchange is in flight until done.
// reserved: the slot was taken already (reserve), so it is not counted again.
func (u *upConn) picked(p upstream.Picker, reserved bool) {
	u.picker = p
	if !reserved {
		u.bs.InFlight.Add(1)
	}
}

// release takes a closed connection out of the loop's gauge, once.
func (u *upConn) release() {
	if u.live {
		u.live = false
		u.l.upConns.Add(-1)
	}
}

func (u *upConn) onTraffic() gnet.Action {
	if u.state == upIdle && u.tls != nil && u.idleRecords() {
		return gnet.None
	}
	if u.state == upIdle || u.state == upClosed || u.cc == nil {
		// Bytes (or an end) nobody asked for: the backend broke framing or
		// closed an idle connection. Never reuse it; nothing of it is read.
		u.closeNow()
		return gnet.Close
	}
	u.pump()
	return gnet.None
}

// cleanEOF reports whether the end of input is the backend's clean end of
// its stream: a FIN, or over TLS a close_notify (RFC 9112 §9.8: without
// it a close-delimited body may have been cut).
func (u *upConn) cleanEOF() bool { return u.tls == nil || u.tls.peerNotified }

// pump moves the response forward as far as the input and the client allow,
// then handles the backend's end of output once everything before it is
// consumed.
func (u *upConn) pump() {
	u.advance()
	if t := u.tls; t != nil && u.state != upClosed {
		t.dropInIfDrained() // no caller holds input now: an idle connection keeps no buffer
	}
	if u.cc == nil || u.state == upClosed || !u.readEOF() {
		return
	}
	if u.state == upBody && u.paused {
		return // bytes before the end wait for the client; onDrain pumps again
	}
	u.lost(u.state, u.cleanEOF())
}

func (u *upConn) advance() {
	for {
		cc := u.cc
		if cc == nil || cc.closed || u.state == upClosed {
			return
		}
		switch u.state {
		case upAwaitHead:
			if !u.readHead() {
				return
			}
		case upBody:
			// One pass takes all of a plain connection's input; a TLS
			// one's comes a bounded buffer at a time, so go on while
			// the body moves.
			if !u.forwardBody() || u.tls == nil {
				return
			}
		default:
			return
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
			if !cc.upgrade {
				// A switch nobody asked for (RFC 9110 §15.2.2): the request
				// went without Upgrade, so it is a protocol error.
				u.outcome(true, "invalid response", 0)
				u.abort(502)
				return false
			}
			u.switchProtocols(b, r, n)
			return false
		}
		if u.interim++; u.interim > l.cfg.Limits.MaxInterim {
			u.l.s.log.Debug("too many interim responses", "backend", u.addr())
			u.outcome(true, "invalid response", 0)
			u.abort(502)
			return false
		}
		// RFC 9110 §15.2: relay 1xx to HTTP/1.1 clients; HTTP/1.0 cannot take them.
		if cc.minor == 1 {
			l.scratch = codec.AppendResponseHead(l.scratch[:0], b, r, codec.ResponseFraming{})
			u.consume(n)
			cc.log.bytesOut += int64(len(l.scratch))
			if err := cc.writeOut(l.scratch); err != nil {
				cc.closeNow()
				return false
			}
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
	if cc.cache.stale != nil && u.cacheRevalidate(b, r, n) {
		return false
	}

	// Framing towards the client (RFC 9112 §6): HTTP/1.1 clients keep the
	// connection, with a close-delimited body re-chunked; HTTP/1.0 clients
	// get chunked bodies de-chunked and close-delimited.
	if cc.minor == 0 && r.OtherCodings && r.Body != codec.BodyNone {
		// RFC 9112 §6.1: no Transfer-Encoding for an HTTP/1.0 client, and
		// loopgate decodes no coding but chunked.
		u.l.s.log.Debug("transfer-coded response for an HTTP/1.0 client", "backend", u.addr())
		u.abort(502)
		return false
	}
	u.body, u.remaining = r.Body, r.BodyLen
	u.chunk.Reset()
	u.dechunk, u.rechunk, u.reframe = false, false, false
	var rf codec.ResponseFraming
	var zextra []byte
	var zdrop []string
	zok := false
	if cc.zon && r.Body != codec.BodyNone && !(r.Body == codec.BodyLength && r.BodyLen == 0) {
		zextra, zdrop, zok = u.startCompression(b, r)
	}
	closeAfter := cc.closeAfter || !cc.reqDone || l.s.draining.Load()
	switch {
	case u.enc != nil:
		// Encoded: the payload goes to the encoder, whose output goes
		// out chunked (HTTP/1.1 clients only: negotiate).
		rf.Chunked, u.reframe = true, true
		u.dechunk = r.Body == codec.BodyChunked
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
	rf.HTTP10 = cc.minor == 0
	rf.Extra, rf.Drop = cc.setCookie, cc.rt.respDrop
	if zok {
		l.drop = append(append(l.drop[:0], cc.rt.respDrop...), zdrop...)
		rf.Drop = l.drop
	}
	addID := false
	if name := l.s.reqIDName; len(name) > 0 {
		_, has := fieldValue(b, r.Headers[:r.NHeaders], name)
		addID = !has
	}
	if cc.cache.status == cacheMiss {
		l.s.st.CacheResult(stats.CacheMiss)
	}
	if cc.cache.store {
		// The head as stored: what the client gets but its own fields
		// (request ID, sticky cookie) and the framing.
		l.cextra = append(append(l.cextra[:0], cc.respExtra...), zextra...)
		l.chead = codec.AppendResponseHead(l.chead[:0], b, r, codec.ResponseFraming{Drop: rf.Drop, Extra: l.cextra})
		u.cacheStart(r, l.chead)
		if cc.cache.entry != nil && r.Body == codec.BodyChunked && u.enc == nil && cc.minor == 1 {
			u.dechunk, u.reframe = true, true // the payload is copied, then chunked again
		}
	}
	if addID || len(cc.respExtra) > 0 || zok || cc.cache.status != cacheNone {
		l.extra = append(l.extra[:0], cc.setCookie...)
		if addID {
			l.extra = cc.appendIDField(l.extra)
		}
		l.extra = append(l.extra, cc.respExtra...)
		l.extra = append(l.extra, zextra...)
		l.extra = cc.appendCacheField(l.extra, cc.cache.status)
		rf.Extra = l.extra
	}
	l.scratch = codec.AppendResponseHead(l.scratch[:0], b, r, rf)
	u.consume(n)
	if r.Body == codec.BodyNone || r.Body == codec.BodyLength && r.BodyLen == 0 {
		if cc.write(l.scratch) {
			cc.cacheDone()
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

// relay sends body payload p on: through the encoder when the response is
// encoded, as it is otherwise; last says p ends the body.
func (u *upConn) relay(p []byte, last bool) bool {
	if u.enc != nil {
		return u.encode(p)
	}
	u.cc.cacheAppend(p)
	if last && !u.reframe {
		// Stored before the client has the last byte, so that a purge it
		// sends once it has the response finds the entry.
		u.cc.cacheDone()
	}
	if u.reframe {
		return u.emitChunk(p)
	}
	return u.emit(p)
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
func (u *upConn) forwardBody() (progressed bool) {
	b := u.input()
	cc := u.cc
	n, done := 0, false
	switch u.body {
	case codec.BodyLength:
		n = int(min(int64(len(b)), u.remaining))
		u.remaining -= int64(n)
		done = u.remaining == 0
		if n > 0 && !u.relay(b[:n], done) {
			return false
		}
	case codec.BodyChunked:
		k, out, err := u.l.walkChunks(b, &u.chunk, u.dechunk, 0)
		if err != nil {
			u.l.s.log.Debug("invalid chunked response", "backend", u.addr(), "err", err)
			u.abort(502)
			return false
		}
		n, done = k, u.chunk.Done()
		if len(out) > 0 && !u.relay(out, false) {
			return false
		}
	case codec.BodyClose:
		n = len(b)
		if n > 0 {
			if u.enc != nil {
				if !u.encode(b) {
					return false
				}
			} else if u.rechunk {
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
					return false
				}
				cc.cacheAppend(b)
			} else if !u.relay(b, false) {
				return false
			}
		}
	}
	if u.reframe && (done || n > 0) && !u.endReframed(done) {
		return false
	}
	if u.headOut && !u.emit(nil) {
		return false
	}
	if n > 0 {
		u.consume(n)
		u.timer.touch(now())
	}
	if done {
		cc.cacheDone()
		u.finish()
		return false
	}
	if cc.c.OutboundBuffered() > u.l.cfg.Flow.HighWatermark {
		u.pauseResponse(cc)
		return false
	}
	return n > 0
}

var crlf = []byte("\r\n")

// finish completes the exchange: the connection goes back to the pool only
// if both messages ended cleanly and exactly (guarantee 1: the response ended
// at the end of everything read from it, gnet's buffer included, the request
// was written whole, and the backend neither closed nor failed), and the
// client moves on.
func (u *upConn) finish() {
	cc := u.cc
	u.cc = nil
	u.timer.stop()
	cc.log.upTime = time.Since(u.start)
	u.done(true)
	u.handBack(cc.reqDone)
	cc.exchangeDone()
}

// handBack pools the connection after its exchange ended, or closes it
// unless both messages ended cleanly and exactly (see finish).
func (u *upConn) handBack(reqDone bool) {
	c := u.c
	if !u.broken && !u.respClose && reqDone && c != nil && u.inboundBuffered() == 0 &&
		c.OutboundBuffered() == 0 && !u.readEOF() && c.WriteErr() == nil {
		u.toIdle()
	} else {
		u.closeNow()
	}
}

// onEOF ends a close-delimited body: the backend closing cleanly (its FIN,
// not a reset) is its end. lost calls it, having closed u.
func (u *upConn) onEOF() {
	cc := u.cc
	if u.headOut {
		u.emit(nil) // an empty close-delimited body
	}
	if u.rechunk {
		cc.write(lastChunk)
	}
	u.cc = nil
	cc.log.upTime = time.Since(u.start)
	u.done(true)
	if cc.closed {
		return
	}
	cc.cacheDone()
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
	if lp == nil || lp.p != u.lp.p && !sameTLS(lp.p, u.lp.p) {
		u.closeNow() // a reload removed the pool, or changed its TLS
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
	if u.paused {
		u.paused = false
		_ = u.c.ResumeRead() // an idle connection must see stray bytes and its end
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

var errConnectTimeout = errors.New("connect timeout")

func (u *upConn) addr() string { return u.set.Backends[u.backend].Addr }

// closeNow closes the connection; it is never pooled again.
func (u *upConn) closeNow() {
	if u.state == upIdle {
		u.leaveIdle(false)
		if u.tls != nil && u.c != nil {
			u.tls.closeNotify() // nothing was cut: say so before the FIN
		}
	}
	if u.tls != nil {
		u.tls.forgetIn()
	}
	u.state = upClosed
	u.release()
	u.dropEncoder()
	u.timer.stop()
	if u.c != nil {
		_ = u.c.Close()
	}
}

func (u *upConn) onTimeout(k timerKind) {
	switch k {
	case timerUpResponse:
		u.l.s.log.Debug("upstream response timeout", "backend", u.addr())
		u.outcome(true, "response timeout", 0)
		u.abort(504)
	case timerUpBody:
		if cc := u.cc; u.paused && cc != nil && !cc.closed && progressed(cc.c.OutboundBuffered(), &u.lastOut) {
			u.l.arm(&u.timer, timerUpBody) // a slow client, but reading
			return
		}
		u.l.s.log.Debug("upstream body timeout", "backend", u.addr())
		u.abort(504)
	case timerUpSend:
		if progressed(u.c.OutboundBuffered(), &u.lastOut) {
			u.l.arm(&u.timer, timerUpSend) // a slow backend, but reading
			return
		}
		// The backend stopped reading the request body: the stall is its
		// own, not the client's (whose body timer stopped when the upload paused).
		u.l.s.log.Debug("upstream stopped reading the request body", "backend", u.addr())
		u.outcome(true, "stopped reading", 0)
		u.abort(504)
	case timerUpConnect:
		u.dialFailed(errConnectTimeout)
	default: // timerUpIdle
		u.closeNow()
	}
}

// onClose runs when gnet closed the connection: the backend reset it, or
// the engine closed it. (Its clean end, a FIN, arrives as ReadEOF in pump.)
func (u *upConn) onClose(error) {
	prev := u.state
	u.c = nil // gnet has closed it: closeNow only does the bookkeeping
	u.closeNow()
	if cc := u.cc; cc != nil && cc.up == u {
		u.lost(prev, false)
	}
}

// lost ends the exchange on u when the backend's side ended before the
// response did: cleanly (eof, its FIN) or not (a reset, a failed read).
func (u *upConn) lost(prev upState, eof bool) {
	cc := u.cc
	if prev == upBody && u.body == codec.BodyClose && eof && u.reframe {
		u.endReframed(true) // the backend's FIN ends the body: so does the stream
	}
	u.closeNow()
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
	case prev == upBody && u.body == codec.BodyClose && eof:
		u.onEOF()
	case prev == upAwaitHead:
		u.l.s.log.Debug("backend closed before responding", "backend", u.addr())
		u.outcome(true, "closed before responding", 0)
		u.abort(502)
	default:
		u.l.s.log.Debug("backend connection ended mid-response", "backend", u.addr(), "eof", eof, "state", prev)
		// Guarantee 3: a response cut by a reset, or by an end before its
		// framing said, is never framed as complete; abort cuts the client.
		u.abort(502)
	}
}
