package engine

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"loopgate/codec"
	"loopgate/stats"
	"loopgate/upstream"
)

// lingerTimeout bounds how long a closing client may take to read its last
// response and close its end; input meanwhile is discarded (nginx's
// lingering close), so the client reads our answer instead of a reset.
const lingerTimeout = 5 * time.Second

type clientState uint8

const (
	clientReadHead clientState = iota // waiting for a complete request head
	clientDialing                     // head parsed and held while the upstream connection is dialed
	clientReadBody                    // forwarding a fixed-length or chunked body upstream
	clientWaiting                     // request forwarded; the response is in progress
	clientClosing                     // last response written; flushing, then closing
	clientBackoff                     // waiting out a retry's backoff before the next attempt
)

// clientConn is the state of one client connection. It is owned by its loop.
type clientConn struct {
	timer
	l       *loop
	c       gnet.Conn // nil while detached for flow control
	state   clientState
	ip      []byte // for X-Forwarded-For, formatted once at accept
	ipKey   uint64 // hash of ip, for ip_hash and hash_key = "ip"
	trusted bool   // the peer is in trusted_proxies: its X-Forwarded-For is believed

	up *upConn // the upstream serving the current exchange

	// The current exchange, copied out of the parsed head (the loop's
	// scratch Request, whose spans point into input that is discarded as
	// the body streams).
	method      codec.Method
	minor       uint8
	body        codec.BodyKind
	remaining   int64         // BodyLength: bytes still to forward
	chunk       codec.Chunked // BodyChunked: framing state
	reqDone     bool          // the whole request has been written upstream
	closeAfter  bool          // close the connection after this exchange
	respStarted bool          // bytes of the response have been written to the client

	key       uint64 // the request's hash key, or upstream.NoKey; kept for a replay
	setCookie []byte // Set-Cookie line for the response when the sticky cookie must be (re)set

	head     []byte // rewritten head, held while dialing
	attempts int    // retries made for this request
	// A retry waiting out its backoff: when, avoiding which backend, and
	// whether the request had been sent (its kept head is then cc.retry).
	retryAt    int64
	retryAvoid int
	retrySent  bool
	arrived    int64  // when the request's head was parsed, for the retry deadline
	retry      []byte // rewritten head of a request that may be replayed on a fresh connection

	held     []byte // input saved across a detach, consumed before new input
	heldOff  int
	detached detach
	closed   bool
	lastOut  int  // bytes queued to the client at the last flush check
	serving  bool // inside serve: re-entrant calls leave the work to its loop

	log exchangeLog // what metrics and the access log learn about the exchange
}

func newClient(l *loop, c gnet.Conn) *clientConn {
	cc := &clientConn{l: l, c: c}
	cc.owner = cc
	cc.detached.fd = -1
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		cc.ip = []byte(a.IP.String())
		if ap, ok := netip.AddrFromSlice(a.IP); ok {
			cc.trusted = inPrefixes(l.gen.trusted, ap)
		}
	}
	cc.ipKey = upstream.HashKey(cc.ip)
	c.SetContext(cc)
	l.arm(&cc.timer, timerClientHeader)
	return cc
}

func (cc *clientConn) onTraffic() gnet.Action {
	if cc.state == clientClosing {
		cc.c.Discard(-1) // lingering: the answer is out, input is ignored
		return gnet.None
	}
	cc.serve()
	return cc.limitInput()
}

// input returns the unconsumed request bytes: those saved across a detach
// first, then what gnet holds. They are valid until consume or the callback's end.
func (cc *clientConn) input() []byte {
	if cc.heldOff < len(cc.held) {
		return cc.held[cc.heldOff:]
	}
	if cc.c == nil {
		return nil
	}
	b, _ := cc.c.Peek(-1)
	return b
}

func (cc *clientConn) consume(n int) {
	if cc.heldOff < len(cc.held) {
		if cc.heldOff += n; cc.heldOff == len(cc.held) {
			cc.held, cc.heldOff = cc.held[:0], 0
		}
		return
	}
	cc.c.Discard(n)
}

// serve advances the request side as far as the input allows. Writes to an
// upstream can fail and end the exchange from inside serve (gnet closes a
// conn synchronously when a write fails); such re-entrant calls only change
// state, and this loop carries on from the new state.
func (cc *clientConn) serve() {
	if cc.serving {
		return
	}
	cc.serving = true
	defer func() { cc.serving = false }()
	for !cc.closed {
		var progressed bool
		switch cc.state {
		case clientReadHead:
			progressed = cc.readHead()
		case clientReadBody:
			progressed = cc.forwardBody()
		}
		if !progressed {
			break // clientDialing, clientWaiting, clientClosing: input waits
		}
	}
	if !cc.closed && cc.c == nil && !cc.detached.closing && cc.wantsInput() {
		cc.reattach()
	}
}

// wantsInput reports whether a detached client should be read again.
func (cc *clientConn) wantsInput() bool {
	switch cc.state {
	case clientReadHead:
		return true
	case clientReadBody:
		u := cc.up
		return u != nil && u.c != nil && u.c.OutboundBuffered() < cc.l.cfg.Flow.LowWatermark
	}
	return false
}

// readHead parses the next request head and starts its exchange. It reports
// whether the state machine moved on.
func (cc *clientConn) readHead() bool {
	b := cc.input()
	if len(b) == 0 {
		return false
	}
	if cc.list == &cc.l.timers[timerClientIdle] {
		// The first byte of the next request: it now has client_header to arrive.
		cc.l.arm(&cc.timer, timerClientHeader)
	}
	cc.l.sync()
	r := &cc.l.req
	n, err := codec.ParseRequest(b, r, &cc.l.cfg.Limits)
	if err == codec.ErrNeedMore {
		return false
	}
	if err == nil && r.Body == codec.BodyChunked {
		err = checkChunks(b[n:], &cc.l.cfg.Limits)
		if err == codec.ErrNeedMore {
			if !r.Expect100 {
				return false // nothing goes upstream before the first chunk-size line is known good
			}
			err = nil // the client sends its body only after a 100 Continue
		}
	}
	if err != nil {
		cc.reject(err)
		return false
	}
	cc.start(b, n)
	return true
}

// checkChunks validates the chunked body bytes that arrived with the head, so
// that a malformed body already in hand is answered with 400 and nothing of
// it, not even the head, reaches a backend. It returns ErrNeedMore until the
// first chunk-size line is complete. Framing errors further into a streamed
// body end the exchange instead: the upstream connection is closed and never
// reused, so no byte of it can be read as another request.
func checkChunks(body []byte, lim *codec.Limits) error {
	var ch codec.Chunked
	off, lines := 0, 0
	for off < len(body) && !ch.Done() {
		k, data, err := ch.Next(body[off:], lim)
		if err == codec.ErrNeedMore {
			break
		}
		if err != nil {
			return err
		}
		if !data {
			lines++
		}
		off += k
	}
	if lim.MaxBodyBytes > 0 && ch.Payload() > lim.MaxBodyBytes {
		return codec.ErrBodyTooLarge
	}
	if lines == 0 {
		return codec.ErrNeedMore
	}
	return nil
}

// reject answers a request the proxy will not forward and closes: nothing of
// it has reached a backend (RFC 9112 §11.2: no guessing at broken framing).
func (cc *clientConn) reject(err error) {
	status := 400
	if e, ok := err.(*codec.Error); ok {
		status = e.Status
	}
	cc.l.s.log.Debug("request rejected", "client", string(cc.ip), "status", status, "reason", err.Error())
	if !cc.log.open {
		cc.beginBare()
	}
	cc.answer(status, true)
}

// answer writes a response of the proxy's own and closes the connection
// after it when asked to, when the client asked to (Connection: close, or
// HTTP/1.0, which our answers do not keep alive), or when the request body
// has not been read.
func (cc *clientConn) answer(status int, close bool) {
	close = close || cc.closeAfter || cc.minor == 0 || !cc.reqDone || cc.l.s.draining.Load()
	retryAfter := 0
	if status == 503 {
		retryAfter = 1
	}
	if !cc.log.open {
		cc.beginBare() // a timeout or limit before any head was parsed
	}
	if cc.log.reason == stats.ReasonNone {
		cc.log.reason = reasonFor(status)
	}
	cc.log.status = status
	if cc.c != nil {
		l := cc.l
		l.extra = cc.appendIDField(l.extra[:0])
		if status == 405 {
			l.extra = append(l.extra, "Allow: GET, HEAD\r\n"...) // RFC 9110 §15.5.6; only seed endpoints answer 405
		}
		l.scratch = codec.AppendErrorExtra(l.scratch[:0], status, close, retryAfter, l.extra)
		cc.log.bytesOut += int64(len(l.scratch))
		cc.c.Write(l.scratch)
	}
	cc.record()
	if close {
		cc.closeGracefully()
		return
	}
	cc.next()
}

// start begins the exchange for the head b[:n]: pick a backend, rewrite the
// head and send it on a pooled connection, or hold it while one is dialed.
func (cc *clientConn) start(b []byte, n int) {
	r := &cc.l.req
	cc.method, cc.minor, cc.body = r.Method, r.Minor, r.Body
	cc.remaining = r.BodyLen
	cc.chunk.Reset()
	cc.reqDone = r.Body == codec.BodyNone
	cc.closeAfter = r.Close
	cc.respStarted = false
	cc.retry = cc.retry[:0]

	l := cc.l
	cc.beginExchange(b, r, n)
	if l.cfg.SeedEndpoints && cc.serveSeedAt(b, r, n) {
		return
	}
	cc.log.pooled = true
	lp := l.pool(0)
	i, picker := cc.choose(lp, b, r)
	if i < 0 {
		cc.consume(n)
		cc.answer(503, false)
		return
	}
	fw := codec.Forward{ClientIP: cc.ip, Proto: protoHTTP}
	if l.genID {
		l.extra = cc.appendIDField(l.extra[:0])
		fw.Extra = l.extra
	}
	l.scratch = codec.AppendRequestHead(l.scratch[:0], b, r, &fw)
	cc.consume(n)
	cc.timer.stop()

	// A request that may be replayed (idempotent, no body: RFC 9110 §9.2.2)
	// is kept, so that a connection that dies before any response byte costs
	// a retry, not a 502: a pooled one the backend had closed, or a backend
	// that went down.
	cc.attempts, cc.arrived = 0, now()
	lp.retryTokens = min(lp.retryTokens+lp.p.retryBudget, maxRetryTokens)
	if r.Body == codec.BodyNone && r.Method.Idempotent() {
		cc.retry = append(cc.retry, l.scratch...)
	}
	if u := l.takeIdle(lp, i, len(cc.retry) == 0); u != nil {
		u.picked(picker)
		cc.send(u, l.scratch)
		return
	}
	cc.head = append(cc.head[:0], l.scratch...)
	cc.state = clientDialing
	l.dial(cc, lp, i).picked(picker)
}

// serveSeedAt answers the head b[:n] itself when it asks for a seed
// endpoint, and reports whether it did.
func (cc *clientConn) serveSeedAt(b []byte, r *codec.Request, n int) bool {
	k := seedEndpoint(r.Target.Bytes(b))
	if k == seedNone {
		return false
	}
	cc.consume(n)
	cc.serveSeed(k)
	return true
}

// choose routes the request whose head r was parsed from b: to the backend
// its sticky cookie names while that backend may take traffic (assigned to
// the picker, so load-aware algorithms count it), otherwise to the
// algorithm's pick, by the request's key for the hashing algorithms. It
// returns the picker that must get the Done.
func (cc *clientConn) choose(lp *loopPool, b []byte, r *codec.Request) (int, upstream.Picker) {
	st := lp.st
	cc.setCookie = nil
	if t := st.cookie; t != nil {
		if v, ok := cookieValue(b, r, t.name); ok {
			if i, ok := t.index[string(v)]; ok && st.mask.Has(i) {
				lp.picker.Assign(i)
				return i, lp.picker
			}
		}
	}
	cc.key = upstream.NoKey
	if lp.p.keyed {
		if k, ok := cc.requestKey(&lp.p.key, b, r); ok {
			cc.key = k
		}
	}
	i := lp.picker.Pick(cc.key, st.mask, -1)
	if i < 0 {
		return -1, nil
	}
	if t := st.cookie; t != nil {
		cc.setCookie = t.setCookie[i]
	}
	return i, lp.picker
}

var protoHTTP = []byte("http")

// send writes the rewritten head on u and moves to the body or to waiting.
func (cc *clientConn) send(u *upConn, head []byte) {
	cc.up, u.cc = u, cc
	u.state = upAwaitHead
	u.gotBytes = false
	u.start = time.Now()
	cc.log.bs, cc.log.reason = u.bs, stats.ReasonNone
	cc.log.connect, cc.log.ttfb, cc.log.upTime = u.connectTime, 0, 0
	u.connectTime = 0
	if cc.reqDone {
		cc.state = clientWaiting
		cc.l.arm(&u.timer, timerUpResponse)
	} else {
		cc.state = clientReadBody
		cc.l.arm(&cc.timer, timerClientBody)
	}
	u.c.Write(head) // on error gnet closes u and u.onClose takes over
}

// forwardBody writes the request body bytes that have arrived to the
// upstream. It reports whether the state machine moved on.
func (cc *clientConn) forwardBody() bool {
	u := cc.up
	if u == nil || u.c == nil {
		return false
	}
	hw := cc.l.cfg.Flow.HighWatermark
	if u.c.OutboundBuffered() > hw {
		cc.pause()
		return false
	}
	b := cc.input()
	if len(b) == 0 {
		return false
	}
	n := 0
	switch cc.body {
	case codec.BodyLength:
		n = int(min(int64(len(b)), cc.remaining))
		cc.remaining -= int64(n)
		cc.reqDone = cc.remaining == 0
	case codec.BodyChunked:
		lim := &cc.l.cfg.Limits
		for n < len(b) && !cc.chunk.Done() {
			k, data, err := cc.chunk.Next(b[n:], lim)
			if err == codec.ErrNeedMore {
				break
			}
			if err != nil {
				cc.failBody(err)
				return false
			}
			if data && lim.MaxBodyBytes > 0 && cc.chunk.Payload() > lim.MaxBodyBytes {
				cc.failBody(codec.ErrBodyTooLarge)
				return false
			}
			n += k
		}
		cc.reqDone = cc.chunk.Done()
	}
	if n == 0 {
		return false
	}
	cc.timer.touch(now())
	cc.log.bytesIn += int64(n)
	u.c.Write(b[:n])
	if cc.closed {
		return false
	}
	cc.consume(n)
	if cc.up != u {
		return true // the write failed and the exchange ended; go on from the new state
	}
	if cc.reqDone {
		cc.timer.stop()
		if cc.state == clientReadBody {
			cc.state = clientWaiting
		}
		if u.state == upAwaitHead {
			cc.l.arm(&u.timer, timerUpResponse)
		}
	}
	return true
}

// redispatch sends the request again, to another backend than avoid when
// one may take it (-1: any). head is what to send: the held head after a
// failed dial (nothing was sent, so any request may move, its body still
// unread), or the kept head of a replayable request.
func (cc *clientConn) redispatch(avoid int, head []byte) {
	l := cc.l
	lp := l.pool(0)
	i := lp.picker.Pick(cc.key, lp.st.mask, avoid)
	if i < 0 {
		cc.log.reason = stats.ReasonNoBackend
		cc.fail(503)
		return
	}
	if lp.st.cookie != nil {
		cc.setCookie = lp.st.cookie.setCookie[i]
	}
	if u := l.takeIdle(lp, i, len(cc.retry) == 0); u != nil {
		u.picked(lp.picker)
		cc.send(u, head)
		return
	}
	if len(cc.head) == 0 || &head[0] != &cc.head[0] {
		cc.head = append(cc.head[:0], head...)
	}
	cc.state = clientDialing
	l.dial(cc, lp, i).picked(lp.picker)
}

// retryAfter decides what follows a failed attempt on backend failed: a
// retry elsewhere while the pool's retries allow, or the status.
//
// Retries are bounded by the pool's retries per request and the retry
// deadline since the request arrived. A request that was sent (sent set)
// also needs the retry budget: a per-loop token bucket that every request
// fills by retry_budget percent of a retry, so that retries cannot hit a
// failing pool with a multiple of its traffic. A failed connect sent
// nothing and cost no backend any work, so it is not charged.
func (cc *clientConn) retryAfter(failed int, head []byte, status int, sent bool) {
	if cc.mayRetry(head, sent) {
		cc.retryLater(failed, sent)
		return
	}
	cc.fail(status)
}

// retryLater redispatches at once, or, with a retry_backoff, after
// base x 2^(attempt-1) with ±50% jitter (capped at ten bases), waited out on
// the loop's waiter list, which the ticker polls every few milliseconds.
func (cc *clientConn) retryLater(failed int, sent bool) {
	head := cc.head
	if sent {
		head = cc.retry
	}
	base := cc.l.pools[0].p.retryBackoff
	if base <= 0 {
		cc.redispatch(failed, head)
		return
	}
	d := min(base<<(cc.attempts-1), 10*base)
	d = d/2 + time.Duration(rand.Int64N(int64(d))) // jitter: d x [0.5, 1.5)
	cc.retryAt, cc.retryAvoid, cc.retrySent = monoNow()+int64(d), failed, sent
	cc.state = clientBackoff
	cc.l.wait(cc)
}

// mayRetry reports whether one more attempt is within the bounds above, and
// if so counts it.
func (cc *clientConn) mayRetry(head []byte, sent bool) bool {
	lp := cc.l.pools[0]
	p := lp.p
	if cc.attempts >= p.retries || len(head) == 0 || now()-cc.arrived >= int64(p.retryDeadline) ||
		sent && lp.retryTokens < 100 {
		return false
	}
	cc.attempts++
	if sent {
		lp.retryTokens -= 100
	}
	p.stats.Retries.Inc()
	return true
}

// failBody ends an exchange whose request body turned out malformed or too
// large after its head was sent: the upstream connection cannot be reused,
// and the client gets the error if no response has started.
func (cc *clientConn) failBody(err error) {
	if u := cc.up; u != nil {
		cc.up, u.cc = nil, nil
		u.done(false)
		u.closeNow()
	}
	if cc.respStarted {
		cc.closeNow()
		return
	}
	cc.reject(err)
}

// fail answers status for an exchange whose upstream failed, or cuts the
// connection if part of the response is already out.
func (cc *clientConn) fail(status int) {
	if cc.closed {
		return
	}
	if cc.respStarted || cc.l.s.cutting.Load() {
		cc.closeNow()
		return
	}
	cc.answer(status, !cc.reqDone)
}

// exchangeDone runs when the response is complete: the connection takes the
// next request, or closes when either side asked for it. A retiring server
// keeps the promise the response head made (cc.closeAfter, settled when the
// head went out): a head sent without "Connection: close" just before the
// server began to retire lets the client send its next request here, which is
// answered with "Connection: close"; an idle one is closed after handoffIdle.
func (cc *clientConn) exchangeDone() {
	cc.up = nil
	cc.record()
	if s := cc.l.s; cc.closeAfter || !cc.reqDone || s.draining.Load() && !s.ho.retiring.Load() {
		cc.closeGracefully()
		return
	}
	cc.next()
}

// next readies the connection for the next request and serves any that is
// already buffered (pipelining: one exchange at a time, so answers stay in order).
func (cc *clientConn) next() {
	cc.state = clientReadHead
	cc.l.arm(&cc.timer, timerClientIdle)
	cc.serve()
}

// write sends response bytes to the client. It reports false when the client
// is gone (gnet closes a connection whose write fails).
func (cc *clientConn) write(p []byte) bool {
	if cc.closed || cc.c == nil {
		return false
	}
	cc.respStarted = true
	cc.log.bytesOut += int64(len(p))
	cc.c.Write(p)
	return !cc.closed
}

func (cc *clientConn) writev(bs [][]byte) bool {
	if cc.closed || cc.c == nil {
		return false
	}
	cc.respStarted = true
	for _, b := range bs {
		cc.log.bytesOut += int64(len(b))
	}
	cc.c.Writev(bs)
	return !cc.closed
}

// closeGracefully flushes what is queued (bounded by body_progress, as any
// body), then half-closes and lingers until the client closes or the linger
// timer ends.
func (cc *clientConn) closeGracefully() {
	if cc.closed || cc.state == clientClosing {
		return
	}
	cc.state = clientClosing
	if cc.c == nil {
		cc.closeNow()
		return
	}
	cc.lastOut = -1
	if !cc.drained() {
		cc.l.arm(&cc.timer, timerClientBody)
		cc.l.wait(cc)
	}
}

// drained is the waiter check of a client: a closing client half-closes once
// its last response is flushed; a paused one resumes once its upstream drains.
func (cc *clientConn) drained() bool {
	if cc.closed {
		return true
	}
	switch cc.state {
	case clientClosing:
		if cc.c == nil {
			return false
		}
		if out := cc.c.OutboundBuffered(); out > 0 {
			if out < cc.lastOut {
				cc.timer.touch(now())
			}
			cc.lastOut = out
			return false
		}
		unix.Shutdown(cc.c.Fd(), unix.SHUT_WR)
		cc.l.arm(&cc.timer, timerLinger)
		return true
	case clientReadBody:
		u := cc.up
		if u == nil || u.c == nil || u.c.OutboundBuffered() >= cc.l.cfg.Flow.LowWatermark {
			return false
		}
		cc.resume()
		return true
	case clientBackoff:
		if monoNow() < cc.retryAt {
			return false
		}
		head := cc.head
		if cc.retrySent {
			head = cc.retry
		}
		cc.redispatch(cc.retryAvoid, head)
		return true
	}
	return true
}

// closeNow closes at once; queued bytes get one write attempt.
func (cc *clientConn) closeNow() {
	if cc.closed {
		return
	}
	if cc.c != nil {
		cc.c.Close()
		return
	}
	cc.onClose(nil)
}

func (cc *clientConn) onTimeout(k timerKind) {
	if cc.state == clientClosing {
		cc.closeNow()
		return
	}
	switch k {
	case timerClientHeader:
		cc.l.s.log.Debug("client header timeout", "client", string(cc.ip))
		cc.answer(408, true)
	case timerClientBody:
		cc.l.s.log.Debug("client body timeout", "client", string(cc.ip))
		cc.fail(408)
	default: // keep-alive idle, or the end of lingering
		cc.closeNow()
	}
}

func (cc *clientConn) onClose(error) {
	if cc.detached.closing {
		cc.detached.closing = false
		cc.c = nil
		return
	}
	if cc.closed {
		return
	}
	cc.closed = true
	cc.c = nil
	cc.timer.stop()
	cc.l.unwait(cc)
	cc.detached.release()
	cc.l.s.clients.Add(-1)
	if cc.log.open {
		// Cut: by us after an upstream failure mid-response (reason set),
		// or by the client before its answer was complete.
		if cc.log.reason == stats.ReasonNone {
			cc.log.reason = stats.ReasonClientGone
		}
		cc.record()
	}
	if u := cc.up; u != nil {
		cc.up, u.cc = nil, nil
		u.done(false)
		if u.state != upDialing {
			u.closeNow() // the response has nobody to go to
		}
	}
}
