package engine

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"loopgate/cache"
	"loopgate/codec"
	"loopgate/compress"
	"loopgate/ratelimit"
	"loopgate/stats"
	"loopgate/upstream"
)

// lingerTimeout bounds how long a closing client may take to read its last
// response and close its end; input meanwhile is discarded (nginx's
// lingering close), so the client reads our answer instead of a reset.
const lingerTimeout = 5 * time.Second

type clientState uint8

const (
	clientReadHead  clientState = iota // waiting for a complete request head
	clientDialing                      // head parsed and held while the upstream connection is dialed
	clientReadBody                     // forwarding a fixed-length or chunked body upstream
	clientWaiting                      // request forwarded; the response is in progress
	clientClosing                      // last response written; flushing, then closing
	clientBackoff                      // waiting out a retry's backoff before the next attempt
	clientQueued                       // head held while every backend is at max_connections (queue.go)
	clientCollapsed                    // head unread while another request fetches the same cache key (cache.go)
	clientTunnel                       // a tunnel (tunnel.go) carries the connection's bytes
)

// clientConn is the state of one client connection. It is owned by its loop.
// Between requests it holds only what the next request needs; the state of
// an exchange lives in an exchange taken from the loop's free list when a
// request's first byte arrives and given back when the exchange is done, so
// an idle keep-alive client costs this struct and gnet's, not both.
type clientConn struct {
	timer
	wire    // the socket, and its TLS on a TLS listener (tls nil on a plain one)
	l       *loop
	ln      *listener // the listener it came through
	state   clientState
	ip      []byte // for X-Forwarded-For, formatted once at accept
	ipKey   uint64 // hash of ip, for ip_hash and hash_key = "ip"
	trusted bool   // the peer is in trusted_proxies: its X-Forwarded-For is believed

	closed    bool
	shutWrite bool // closing: our side is shut down, lingering
	refused   bool // over max_connections: answered 503, not counted as a client
	perClient bool // counted in Server.perClient (max_connections_per_client)
	serving   bool // inside serve: re-entrant calls leave the work to its loop
	lastOut   int  // closing: bytes queued when the flush last made progress

	up *upConn // the upstream serving the current exchange

	*exchange // the current exchange; nil between requests
}

// exchange is one request and its response as the client connection sees
// them. Its fields are copied out of the parsed head (the loop's scratch
// Request, whose spans point into input that is discarded as the body
// streams).
type exchange struct {
	method      codec.Method
	minor       uint8
	body        codec.BodyKind
	reqDone     bool          // the whole request has been written upstream
	upgrade     bool          // the request's Upgrade went upstream: a 101 opens a tunnel (tunnel.go)
	tun         *tunnel       // the tunnel the exchange became; nil otherwise
	closeAfter  bool          // close the connection after this exchange
	respStarted bool          // bytes of the response have been written to the client
	remaining   int64         // BodyLength: bytes still to forward
	chunk       codec.Chunked // BodyChunked: framing state

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

	rt        *routeAction // the route that took the request
	lp        *loopPool    // its pool, for actPool
	maxBody   int64        // the route's request body bound; 0: none
	respExtra []byte       // the route's response header fields, expanded
	// The request counts in this gauge (max_requests_per_client) until
	// record; nil: it does not.
	inflight    *ratelimit.Gauge
	inflightKey uint64
	// Compression (compress.go): whether the route compresses, the coding
	// the client accepts, and what the request says for Eligible.
	zon    bool
	coding compress.Coding
	zhead  compress.Head
	cache  cacheState // cache.go
	// Waiting in a pool's queue since queuedAt; nil: not queued.
	queued   *stats.PoolStats
	queuedAt int64

	log exchangeLog // what metrics and the access log learn about the exchange
}

// maxKeptBuffer bounds a head buffer an exchange keeps for its next use;
// a bigger one (a long head) goes to the garbage collector.
const maxKeptBuffer = 4 << 10

// hold gives cc an exchange, from the loop's free list when it has one. All
// its fields are zero except the capacity of its buffers.
func (cc *clientConn) hold() {
	if cc.exchange != nil {
		return
	}
	l := cc.l
	if n := len(l.exchanges); n > 0 {
		cc.exchange = l.exchanges[n-1]
		l.exchanges = l.exchanges[:n-1]
		return
	}
	cc.exchange = new(exchange)
}

// release gives the exchange back to the loop once it is done and the
// connection waits for its next request. A closed connection keeps its
// exchange for the garbage collector: code still on the stack may read it.
func (cc *clientConn) release() {
	x := cc.exchange
	if x == nil {
		return
	}
	cc.exchange = nil
	*x = exchange{head: keep(x.head), retry: keep(x.retry), respExtra: keep(x.respExtra), log: x.log.emptied(),
		cache: cacheState{key: keep(x.cache.key)}}
	cc.l.exchanges = append(cc.l.exchanges, x)
}

// keep returns b emptied, or nil when it is too big to keep.
func keep(b []byte) []byte {
	if cap(b) > maxKeptBuffer {
		return nil
	}
	return b[:0]
}

func newClient(l *loop, c gnet.Conn, ln *listener) *clientConn {
	cc := &clientConn{l: l, wire: wire{c: c}, ln: ln}
	cc.owner = cc
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
	if cc.closed {
		cc.discardInput()
		return gnet.None
	}
	if cc.tls != nil && cc.tls.hs != nil {
		cc.feedHandshake()
		return gnet.None
	}
	if cc.state == clientClosing {
		cc.discardInput() // lingering: the answer is out, input is ignored
		if cc.c.ReadEOF() && cc.shutWrite {
			cc.closeNow()
		}
		return gnet.None
	}
	if cc.state == clientTunnel {
		cc.tun.fromClient()
		return gnet.None
	}
	cc.serve()
	return gnet.None
}

// discardInput drops all the input in hand (closing: it is not read).
func (cc *clientConn) discardInput() {
	cc.c.Discard(-1)
	if cc.tls != nil {
		cc.tls.forgetIn()
	}
}

// serve advances the request side as far as the input allows, then bounds
// what waits unread (flow.go) and handles the client's end of input. Writes
// and closes can end the exchange from inside serve; such re-entrant calls
// only change state, and this loop carries on from the new state.
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
	if cc.closed {
		return
	}
	if cc.readEOF() {
		cc.endOfInput()
	}
	cc.bound()
	if t := cc.tls; t != nil {
		t.dropInIfDrained() // no caller holds input now: an idle client keeps no buffer
	}
}

// endOfInput handles a client that has shut its sending side (its FIN). It
// may still read: RFC 9112 §9.6 lets a client half-close after its request,
// and HAProxy and nginx answer it. What is already in hand is served first.
func (cc *clientConn) endOfInput() {
	switch cc.state {
	case clientReadHead:
		// serve took every complete request: what is left, if anything, is
		// a head that can never end. Close once the last answer is out.
		cc.closeGracefully()
	case clientReadBody:
		if len(cc.input()) > 0 {
			return // paused behind a slow backend; the rest is still to forward
		}
		// The body will never be complete: the backend must not take it
		// for a whole request (guarantee 2), so its connection closes.
		cc.log.reason = stats.ReasonClientGone
		cc.closeNow()
	case clientDialing, clientWaiting, clientBackoff, clientQueued, clientCollapsed:
		cc.closeAfter = true // answer this request, then close
	}
	// clientTunnel: the tunnel passes the FIN on (tunnel.go).
}

// readHead parses the next request head and starts its exchange. It reports
// whether the state machine moved on.
func (cc *clientConn) readHead() bool {
	b := cc.input()
	if len(b) == 0 {
		return false
	}
	cc.hold()
	if cc.list == &cc.l.timers[timerClientIdle] {
		// The first byte of the next request: it now has client_header to arrive.
		cc.l.arm(&cc.timer, timerClientHeader)
	}
	cc.l.sync()
	r := &cc.l.req
	n, err := codec.ParseRequest(b, r, &cc.l.gen.parse)
	if err == codec.ErrNeedMore {
		return false
	}
	if err == nil && r.Body == codec.BodyChunked {
		err = checkChunks(b[n:], &cc.l.gen.parse)
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
	if err == codec.ErrConnect {
		// Nothing of a CONNECT is forwarded until tunnels exist; any method
		// the proxy forwards may be used instead (RFC 9110 §15.5.6).
		cc.answerAllow(status, true, allowProxied)
		return
	}
	cc.answer(status, true)
}

// answer writes a response of the proxy's own and closes the connection
// after it when asked to, when the client asked to (Connection: close, or
// HTTP/1.0, which our answers do not keep alive), or when the request body
// has not been read.
func (cc *clientConn) answer(status int, close bool) {
	cc.answerAllow(status, close, "GET, HEAD") // only seed endpoints answer 405 otherwise
}

// answerAllow is answer with the Allow field a 405 carries.
func (cc *clientConn) answerAllow(status int, close bool, allow string) {
	var fields []byte
	if status == 405 {
		// RFC 9110 §15.5.6: a 405 lists the methods the target takes.
		fields = append(append(append(cc.l.fields[:0], "Allow: "...), allow...), "\r\n"...)
		cc.l.fields = fields
	}
	cc.answerWith(status, close, fields)
}

// answerWith is answer with extra field lines ("Name: value\r\n" each).
// A HEAD request gets the head alone (RFC 9110 §9.3.2).
func (cc *clientConn) answerWith(status int, close bool, fields []byte) {
	retryAfter := 0
	if status == 503 || status == 429 {
		retryAfter = 1
	}
	cc.answerRetry(status, close, retryAfter, fields)
}

// answerRetry is answerWith with Retry-After: retryAfter seconds (0: none).
func (cc *clientConn) answerRetry(status int, close bool, retryAfter int, fields []byte) {
	cc.hold() // a timeout before any byte of a request
	close = close || cc.closeAfter || cc.minor == 0 || !cc.reqDone || cc.l.s.draining.Load()
	if !cc.log.open {
		cc.beginBare() // a timeout or limit before any head was parsed
	}
	if cc.log.reason == stats.ReasonNone {
		cc.log.reason = reasonFor(status)
	}
	cc.log.status = status
	if !cc.closed {
		l := cc.l
		l.extra = append(cc.appendIDField(l.extra[:0]), fields...)
		l.scratch = codec.AppendErrorExtra(l.scratch[:0], status, close, retryAfter, l.extra)
		if cc.method == codec.MethodHead {
			l.scratch = l.scratch[:bytes.Index(l.scratch, headEnd)+len(headEnd)]
		}
		cc.log.bytesOut += int64(len(l.scratch))
		_ = cc.writeOut(l.scratch) // a client that is gone is closed below or by its read side
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
	if l.s.cfg.ACMEChallenge != nil && cc.serveACME(b, r, n) {
		return
	}
	if cc.ln.RedirectHTTPS {
		cc.redirectHTTPS(b, r, n)
		return
	}
	if l.gen.filtered && !cc.admitted(b, r) {
		cc.consume(n)
		cc.log.reason = stats.ReasonDenied
		cc.answer(403, true)
		return
	}
	if r.Method == codec.MethodConnect { // parsed only with connect_ports (tunnel.go)
		cc.connect(b, r, n)
		return
	}
	if l.cfg.SeedEndpoints && cc.serveSeedAt(b, r, n) {
		return
	}
	routed := l.gen.routes.table != nil
	a := l.gen.routes.implicit
	if routed {
		if a = cc.route(b, r); a == nil {
			cc.consume(n)
			cc.log.reason = stats.ReasonNoRoute
			cc.answer(404, false)
			return
		}
	}
	cc.rt, cc.maxBody = a, a.maxBody
	cc.log.route = a.stats
	// RFC 9110 §7.8: a protocol change is forwarded for a request without a
	// body only; with one the upgrade is ignored, as a server may, and the
	// request goes on as an ordinary one: the body's end, where the new
	// protocol would begin, is the backend's to judge, not ours.
	if r.Upgrade.Len > 0 && r.Body == codec.BodyNone {
		l.upg, cc.upgrade = appendUpgrade(l.upg[:0], r.Upgrade.Bytes(b))
	}
	if a.filtered && !cc.routeAdmits(a, b, r) {
		cc.consume(n)
		cc.log.reason = stats.ReasonDenied
		cc.answer(403, true)
		return
	}
	cc.respExtra = cc.respExtra[:0]
	if g := l.gen; g.inflight != nil {
		key := cc.clientIPKey(b, r)
		if !g.inflight.Acquire(key, g.cfg.MaxRequestsPerClient) {
			cc.consume(n)
			cc.log.reason = stats.ReasonRateLimit
			cc.overLimit()
			return
		}
		cc.inflight, cc.inflightKey = g.inflight, key
	}
	if len(a.limits) > 0 && cc.limited(a.limits, b, r, a, n) {
		return
	}
	switch a.kind {
	case actRedirect:
		cc.consume(n)
		cc.redirect(a)
		return
	case actRespond:
		cc.consume(n)
		cc.respond(a)
		return
	}
	if a.cache && !cc.upgrade && cc.cacheLookup(a, b, r, n, true) {
		return
	}
	cc.forward(a, b, r, n)
}

// forward sends the request for route a upstream: pick a backend, rewrite
// the head and send it on a pooled connection, or hold it while one is
// dialed.
func (cc *clientConn) forward(a *routeAction, b []byte, r *codec.Request, n int) {
	l := cc.l
	routed := l.gen.routes.table != nil
	if a.maxBody > 0 && r.Body == codec.BodyLength && r.BodyLen > a.maxBody {
		cc.reject(codec.ErrBodyTooLarge) // RFC 9110 §15.5.14; the body is not read
		return
	}
	cc.log.pooled = true
	cc.negotiate(b, r)
	lp := l.pool(a.pool)
	cc.lp = lp
	i, picker := cc.choose(lp, b, r)
	queue := i < 0 && lp.p.limited && lp.st.mask.Count() > 0 // all full: wait for a slot
	if i < 0 && !queue {
		cc.consume(n)
		if !cc.serveStaleOnError() { // stale-if-error shields an outage
			cc.answer(503, false)
		}
		return
	}
	fw := codec.Forward{ClientIP: cc.ip, Proto: cc.ln.scheme}
	if l.genID {
		l.extra = cc.appendIDField(l.extra[:0])
		fw.Extra = l.extra
	}
	if cc.cache.stale != nil {
		// Revalidation: the entry's validators go upstream instead of the
		// client's conditions, which the refreshed entry answers.
		l.drop = append(append(l.drop[:0], a.reqDrop...), "If-None-Match", "If-Modified-Since")
		if !l.genID {
			l.extra = l.extra[:0]
		}
		l.extra = cache.AppendValidators(l.extra, cc.cache.stale)
		fw.Extra, fw.Drop = l.extra, l.drop
	}
	if routed {
		fw.Target = cc.rewriteTarget(a)
		if cc.cache.stale == nil {
			fw.Drop = a.reqDrop
		}
		if len(a.reqAdd) > 0 {
			if !l.genID && cc.cache.stale == nil {
				l.extra = l.extra[:0]
			}
			l.extra = appendFields(l.extra, a.reqAdd, &l.vars)
			fw.Extra = l.extra
		}
		if len(a.respAdd) > 0 {
			cc.respExtra = appendFields(cc.respExtra, a.respAdd, &l.vars)
		}
	}
	if cc.upgrade {
		l.extra = append(append(l.extra[:0], fw.Extra...), l.upg...)
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
	if queue {
		cc.enqueue(lp, l.scratch)
		return
	}
	if u := l.takeIdle(lp, i, len(cc.retry) == 0); u != nil {
		u.picked(picker, lp.p.limited)
		cc.send(u, l.scratch)
		return
	}
	cc.head = append(cc.head[:0], l.scratch...)
	cc.state = clientDialing
	l.dial(cc, lp, i).picked(picker, lp.p.limited)
}

// serveSeedAt answers the head b[:n] itself when it asks for a seed
// endpoint, and reports whether it did.
func (cc *clientConn) serveSeedAt(b []byte, r *codec.Request, n int) bool {
	k := seedEndpoint(r.Target.Bytes(b))
	if k == seedNone || !cc.seedAllowed(b, r) {
		return false
	}
	cc.consume(n)
	cc.serveSeed(k)
	return true
}

// peer is the socket's peer address.
func (cc *clientConn) peer() (netip.Addr, bool) { return parseAddr(cc.ip) }

// admitted applies client_allow and client_deny to the request's client. A
// client whose address a trusted proxy garbled is refused: filtering is on.
func (cc *clientConn) admitted(b []byte, r *codec.Request) bool {
	g := cc.l.gen
	a, ok := cc.clientAddr(b, r)
	return ok && !inPrefixes(g.clientDeny, a) && (len(g.clientAllow) == 0 || inPrefixes(g.clientAllow, a))
}

// seedAllowed reports whether the client may use the seed endpoints.
func (cc *clientConn) seedAllowed(b []byte, r *codec.Request) bool {
	g := cc.l.gen
	if g.seedAll {
		return true
	}
	a, ok := cc.clientAddr(b, r)
	return ok && inPrefixes(g.seedAllow, a)
}

// choose routes the request whose head r was parsed from b: to the backend
// its sticky cookie names while that backend may take traffic (assigned to
// the picker, so load-aware algorithms count it), otherwise to the
// algorithm's pick, by the request's key for the hashing algorithms. It
// returns the picker that must get the Done.
func (cc *clientConn) choose(lp *loopPool, b []byte, r *codec.Request) (int, upstream.Picker) {
	st := lp.st
	cc.setCookie = nil
	limited := lp.p.limited
	if t := st.cookie; t != nil {
		if v, ok := cookieValue(b, r, t.name); ok {
			if i, ok := t.index[string(v)]; ok && st.mask.Has(i) && (!limited || reserve(st, i)) {
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
	var i int
	switch {
	case !limited:
		i = lp.picker.Pick(cc.key, st.mask, -1)
	case lp.p.stats.Queued.Load() > 0:
		i = -1 // others wait: join them
	default:
		i = cc.l.pickLimited(lp, cc.key, -1)
	}
	if i < 0 {
		return -1, nil
	}
	if t := st.cookie; t != nil {
		cc.setCookie = t.setCookie[i]
	}
	return i, lp.picker
}

var protoHTTP = []byte("http")

// allowProxied is the Allow field of a 405 for CONNECT: every method the
// proxy forwards.
const allowProxied = "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH"

// send writes the rewritten head on u and moves to the body or to waiting.
// A failed write is not acted on here: gnet keeps reading u, so a response
// the backend sent before it failed is still delivered, and u's read side
// ends the exchange (onClose) otherwise.
func (cc *clientConn) send(u *upConn, head []byte) {
	cc.up, u.cc = u, cc
	u.state = upAwaitHead
	u.gotBytes, u.interim = false, 0
	u.start = time.Now()
	cc.cache.sent = monoNow()
	cc.log.bs, cc.log.reason = u.bs, stats.ReasonNone
	cc.log.connect, cc.log.ttfb, cc.log.upTime = u.connectTime, 0, 0
	u.connectTime = 0
	if cc.reqDone {
		cc.state = clientWaiting
		cc.l.armResponse(u, cc.rt.timeout)
	} else {
		cc.state = clientReadBody
		cc.l.arm(&cc.timer, timerClientBody)
	}
	_ = u.writeOut(head) // on failure u's read side ends the exchange
}

// forwardBody writes the request body bytes that have arrived to the
// upstream, re-framing a chunked body canonically (walkChunks). It reports
// whether the state machine moved on.
func (cc *clientConn) forwardBody() bool {
	u := cc.up
	if u == nil || u.c == nil {
		return false
	}
	if u.c.OutboundBuffered() > cc.l.cfg.Flow.HighWatermark {
		cc.pauseUpload(u)
		return false
	}
	b := cc.input()
	if len(b) == 0 {
		return false
	}
	n, out := 0, b
	switch cc.body {
	case codec.BodyLength:
		n = int(min(int64(len(b)), cc.remaining))
		out = b[:n]
		cc.remaining -= int64(n)
		cc.reqDone = cc.remaining == 0
	case codec.BodyChunked:
		var err error
		n, out, err = cc.l.walkChunks(b, &cc.chunk, false, cc.maxBody)
		if err != nil {
			cc.failBody(err)
			return false
		}
		cc.reqDone = cc.chunk.Done()
	}
	if n == 0 {
		return false
	}
	cc.timer.touch(now())
	cc.log.bytesIn += int64(n)
	if len(out) > 0 {
		_ = u.writeOut(out) // on failure u's read side ends the exchange, as in send
	}
	cc.consume(n)
	if cc.reqDone {
		cc.timer.stop()
		cc.state = clientWaiting
		if u.state == upAwaitHead {
			cc.l.armResponse(u, cc.rt.timeout)
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
	lp := l.current(cc.lp)
	if lp == nil { // a reload removed the pool
		cc.log.reason = stats.ReasonNoBackend
		cc.fail(503)
		return
	}
	cc.lp = lp
	var i int
	if lp.p.limited {
		if i = l.pickLimited(lp, cc.key, avoid); i < 0 && lp.st.mask.Count() > 0 {
			cc.enqueue(lp, head)
			return
		}
	} else {
		i = lp.picker.Pick(cc.key, lp.st.mask, avoid)
	}
	if i < 0 {
		cc.log.reason = stats.ReasonNoBackend
		cc.fail(503)
		return
	}
	cc.dispatch(lp, i, head, lp.p.limited)
}

// dispatch sends head to backend i of lp, on an idle connection or a new
// one; reserved says whether i's slot is already counted (pickLimited).
func (cc *clientConn) dispatch(lp *loopPool, i int, head []byte, reserved bool) {
	l := cc.l
	if lp.st.cookie != nil {
		cc.setCookie = lp.st.cookie.setCookie[i]
	}
	if u := l.takeIdle(lp, i, len(cc.retry) == 0); u != nil {
		u.picked(lp.picker, reserved)
		cc.send(u, head)
		if !cc.closed {
			// From a waiter (queue, backoff) no read event may come: the
			// body may be waiting in full already.
			cc.serve()
		}
		return
	}
	if len(cc.head) == 0 || &head[0] != &cc.head[0] {
		cc.head = append(cc.head[:0], head...)
	}
	cc.state = clientDialing
	l.dial(cc, lp, i).picked(lp.picker, reserved)
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
	base := cc.lp.p.retryBackoff
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
	lp := cc.l.refresh(cc.lp)
	p := lp.p
	retries := p.retries
	if cc.rt.retries >= 0 {
		retries = cc.rt.retries
	}
	if cc.attempts >= retries || len(head) == 0 || now()-cc.arrived >= int64(p.retryDeadline) ||
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
	cc.unlink()
	if cc.respStarted {
		cc.markCut()
		cc.closeGracefully() // cut, as in fail
		return
	}
	cc.reject(err)
}

// unlink ends the current exchange's tie to its upstream connection, which
// is closed so that nothing it still sends can reach this client. One being
// dialed is kept: it joins the pool when the dial completes.
func (cc *clientConn) unlink() {
	if cc.exchange != nil {
		cc.cacheFinish() // nothing will be stored: the misses waiting for it go on
	}
	u := cc.up
	if u == nil {
		return
	}
	cc.up, u.cc = nil, nil
	u.done(false)
	if u.state != upDialing {
		u.closeNow()
	}
}

// fail answers status for an exchange that failed, or cuts the connection if
// part of the response is already out: what is queued is still flushed (it
// may end earlier, complete responses to pipelined requests), then the
// connection closes, so the client sees this response end short of its
// framing (guarantee 3).
func (cc *clientConn) fail(status int) {
	if cc.closed {
		return
	}
	cc.unlink()
	if cc.l.s.cutting.Load() {
		cc.closeNow()
		return
	}
	if cc.serveStaleOnError() {
		return
	}
	if cc.respStarted {
		cc.markCut()
		cc.closeGracefully()
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
	cc.release()
	cc.state = clientReadHead
	cc.l.arm(&cc.timer, timerClientIdle)
	cc.serve()
}

// write sends response bytes to the client. It reports false when the client
// is gone: a failed write closes it.
func (cc *clientConn) write(p []byte) bool {
	if cc.closed {
		return false
	}
	cc.respStarted = true
	cc.log.bytesOut += int64(len(p))
	if err := cc.writeOut(p); err != nil {
		cc.closeNow()
		return false
	}
	return true
}

func (cc *clientConn) writev(bs [][]byte) bool {
	if cc.closed {
		return false
	}
	cc.respStarted = true
	for _, b := range bs {
		cc.log.bytesOut += int64(len(b))
	}
	var err error
	if cc.tls != nil {
		err = cc.tls.writev(bs)
	} else {
		_, err = cc.c.Writev(bs)
	}
	if err != nil {
		cc.closeNow()
		return false
	}
	return true
}

// closeGracefully flushes what is queued (bounded by body_progress, as any
// body), then half-closes and lingers, discarding input, until the client
// closes or the linger timer ends (nginx's lingering close: the client reads
// our answer instead of a reset caused by input we left unread).
func (cc *clientConn) closeGracefully() {
	if cc.closed || cc.state == clientClosing {
		return
	}
	cc.state = clientClosing
	cc.unlink()
	cc.l.unwait(cc)
	cc.leaveQueue()
	cc.discardInput()
	cc.closeNotify()
	cc.resumeRead()
	if cc.c.OutboundBuffered() == 0 {
		cc.flushed()
		return
	}
	cc.lastOut = cc.c.OutboundBuffered()
	cc.c.NotifyDrain(0)
	cc.l.arm(&cc.timer, timerClientBody)
}

// flushed half-closes a closing client whose last answer is out, then
// lingers; a client that has already ended its input is closed at once.
func (cc *clientConn) flushed() {
	if cc.shutWrite {
		return
	}
	cc.shutWrite = true
	unix.Shutdown(cc.c.Fd(), unix.SHUT_WR)
	if cc.c.ReadEOF() {
		cc.closeNow()
		return
	}
	cc.l.arm(&cc.timer, timerLinger)
}

// drained is the waiter check of a client backing off before a retry, or
// waiting in a pool's queue.
func (cc *clientConn) drained() bool {
	if cc.closed {
		return true
	}
	switch cc.state {
	case clientQueued:
		return cc.dequeue()
	case clientCollapsed:
		return cc.collapsedDone()
	}
	if cc.state != clientBackoff {
		return true
	}
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

// closeIdle closes a client between requests (idle timeout, shutdown): a
// TLS client is told with close_notify first.
func (cc *clientConn) closeIdle() {
	cc.closeNotify()
	cc.closeNow()
}

// closeNow closes at once; queued bytes get one write attempt.
func (cc *clientConn) closeNow() {
	if cc.closed {
		return
	}
	cc.shut()
	_ = cc.c.Close()
}

func (cc *clientConn) onTimeout(k timerKind) {
	if cc.state == clientClosing {
		if k == timerClientBody && progressed(cc.c.OutboundBuffered(), &cc.lastOut) {
			cc.l.arm(&cc.timer, timerClientBody) // still reading its last answer
			return
		}
		cc.closeNow()
		return
	}
	switch k {
	case timerTLSHandshake:
		cc.handshakeTimedOut()
	case timerClientIdle:
		cc.closeIdle()
	case timerClientHeader:
		cc.l.s.log.Debug("client header timeout", "client", string(cc.ip))
		cc.answer(408, true)
	case timerClientBody:
		// Armed only while the client is the side expected to send: a
		// backend that stops reading the upload runs the upstream's send
		// timer instead (flow.go).
		cc.l.s.log.Debug("client body timeout", "client", string(cc.ip))
		cc.log.reason = stats.ReasonTimeout
		cc.fail(408)
	default: // the end of lingering
		cc.closeNow()
	}
}

// onClose runs when gnet has closed the connection: the client closed or
// reset it, or the engine closed it.
func (cc *clientConn) onClose(error) { cc.shut() }

// shut is the single end of a client connection's life: counted once,
// logged if an exchange was cut, its upstream closed.
func (cc *clientConn) shut() {
	if cc.closed {
		return
	}
	cc.closed = true
	cc.timer.stop()
	if cc.tls != nil {
		cc.shutTLS()
	}
	if cc.exchange != nil && cc.tun != nil {
		cc.tun.clientGone()
	}
	cc.l.unwait(cc)
	cc.leaveQueue()
	if !cc.refused {
		cc.l.s.clients.Add(-1)
	}
	if cc.perClient {
		if a, ok := cc.peer(); ok {
			cc.l.s.perClient.remove(a)
		}
	}
	if cc.exchange != nil && cc.log.open {
		// Cut: by us after an upstream failure mid-response (reason set),
		// or by the client before its answer was complete.
		if cc.log.reason == stats.ReasonNone {
			cc.log.reason = stats.ReasonClientGone
		}
		cc.record()
	}
	cc.unlink()
}
