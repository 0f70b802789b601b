package engine

import (
	"context"
	"loopgate/certs"
	"net"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"loopgate/codec"
	"loopgate/compress"
	"loopgate/stats"
	"loopgate/upstream"
)

// loop is the engine's state for one gnet event loop. Everything in it is
// touched only on that loop, except waiting, which the ticker reads.
type loop struct {
	s      *Server
	gen    *generation // the configuration this loop runs; see sync
	cfg    *Config     // &gen.cfg
	el     gnet.EventLoop
	seed   uint64
	pools  []*loopPool
	timers [numTimerKinds]timerList

	// Heads are parsed into these and used before the callback returns; a
	// connection keeps only what it needs of them, so an idle one does not
	// carry a 2.6 KB parsed head.
	req  codec.Request
	resp codec.Response

	exchanges []*exchange // free list: exchanges of connections between requests

	scratch []byte    // rewritten heads are appended here, then written at once
	reframe []byte    // chunked framing re-written canonically (walkChunks)
	iov     [3][]byte // Writev argument, kept here so the call does not allocate

	waiters  []waiter // clients waiting out a retry's backoff
	waitSnap []waiter // sweepWaiters' copy of waiters
	waiting  atomic.Bool

	sweepFn, waitersFn gnet.RunnableFunc

	// Observability: the record of the exchange that just ended, the
	// loop's access log buffer (nil: no access log), extra field lines
	// being added to a head, and request ID generation.
	rec      stats.Record
	alog     *stats.LogBuffer
	extra    []byte
	fields   []byte   // more field lines for an answer of the proxy's own
	drop     []string // fields a response head leaves out: a route's and compression's
	idPrefix [12]byte
	idSeq    uint64
	genID    bool // the current request's ID was generated: add it upstream

	// Routing the current request (routes.go): its normalised host and
	// path, a rewritten target, the conditions' view of its fields and its
	// template variables; plus timer lists for routes' own response timeouts.
	hostBuf, pathBuf, targetBuf, keyBuf []byte
	pathChanged                         bool
	hv                                  headerView
	vars                                requestVars
	respTimers                          []*timerList
	mask                                upstream.Mask // notFull's result

	// Compression (compress.go): the loop's encoders, and scratch for the
	// request's Accept-Encoding values, an encoded response's fields, the
	// encoder's output and its chunk framing.
	cf                      cacheFields // cache.go
	chead, cextra           []byte      // a response head as the cache stores it, and its added fields
	zpool                   *compress.Pool
	accept                  [][]byte
	zfields, zbuf, chunkHdr []byte
	ziov                    [4][]byte

	// TLS (tlsconn.go): the records of one write before they go to gnet,
	// a write's small pieces gathered into one record, and empty
	// plaintext buffers for clients with decrypted input waiting.
	tlsOut, tlsPlain []byte
	tlsBufs          [][]byte
	upg              []byte    // the Connection and Upgrade fields an upgrade request forwards (tunnel.go)
	tunnels          []*tunnel // open tunnels, ended at the end of a shutdown's grace

	// Gauges, written only by this loop, read by scrapes.
	upConns     atomic.Int64 // upstream connections, dialing ones included
	idleConns   atomic.Int64 // of which pooled
	tunnelsOpen atomic.Int64 // len(tunnels)
}

// loopPool is one pool as seen by one loop: a Picker for the current Set
// generation and the idle connections to each of its backends.
type loopPool struct {
	p      *pool
	st     *poolState    // the state last loaded
	set    *upstream.Set // st.set, which picker and idle are built for
	picker upstream.Picker
	idle   []upstream.Idle[*upConn]
	fails  []uint16 // consecutive failures per backend on this loop, for passive ejection
	// retryTokens is the retry budget's bucket, in hundredths of a retry:
	// each request adds retry_budget, each retry takes 100.
	retryTokens int
}

// maxRetryTokens caps the bucket at ten retries, so a quiet loop does not
// save up a storm.
const maxRetryTokens = 1000

// waiter is a client waiting out a retry's backoff. drained runs on every
// fast tick and reports whether it is done waiting.
type waiter interface{ drained() bool }

func newLoop(s *Server, el gnet.EventLoop, seed uint64) *loop {
	l := &loop{s: s, el: el, seed: seed, scratch: make([]byte, 0, 4096), idPrefix: newIDPrefix()}
	if a := s.cfg.AccessLog; a != nil {
		l.alog = a.NewBuffer()
	}
	for k := range l.timers {
		l.timers[k].kind = timerKind(k)
	}
	l.adopt(s.gen.Load())
	l.sweepFn = func(context.Context) error { l.sweep(); return nil }
	l.waitersFn = func(context.Context) error { l.sweepWaiters(); return nil }
	return l
}

// execute runs f on the loop. Safe from any goroutine.
func (l *loop) execute(f func()) {
	_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { f(); return nil }))
}

// run submits a runnable made once at loop creation, so the ticker's sweeps
// allocate nothing. Safe from any goroutine.
func (l *loop) run(r gnet.RunnableFunc) { _ = l.el.Execute(context.Background(), r) }

func (l *loop) arm(t *timer, k timerKind) { t.arm(&l.timers[k], now()) }

// armResponse arms u's response timer: upstream_response, or the route's
// own timeout, whose list the loop keeps for as long as it runs (one per
// distinct duration ever configured, so timers armed before a reload stay
// on a list that is swept).
func (l *loop) armResponse(u *upConn, d int64) {
	if d == 0 {
		l.arm(&u.timer, timerUpResponse)
		return
	}
	for _, t := range l.respTimers {
		if t.d == d {
			u.timer.arm(t, now())
			return
		}
	}
	t := &timerList{d: d, kind: timerUpResponse}
	l.respTimers = append(l.respTimers, t)
	u.timer.arm(t, now())
}

// sweep fires due timers and re-checks paused exchanges. Runs on the loop.
func (l *loop) sweep() {
	at := now()
	for k := range l.timers {
		l.timers[k].expire(at)
	}
	for _, t := range l.respTimers {
		t.expire(at)
	}
	l.sweepWaiters()
	if l.alog != nil {
		l.alog.Flush()
	}
}

// wait adds w to the connections polled on every fast tick.
func (l *loop) wait(w waiter) {
	if l.isWaiting(w) {
		return
	}
	if len(l.waiters) == 0 {
		l.waiting.Store(true)
		l.s.fast.Add(1)
	}
	l.waiters = append(l.waiters, w)
}

func (l *loop) unwait(w waiter) {
	for i, x := range l.waiters {
		if x == w {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			if len(l.waiters) == 0 {
				l.waiting.Store(false)
				l.s.fast.Add(-1)
			}
			return
		}
	}
}

func (l *loop) sweepWaiters() {
	if len(l.waiters) == 0 {
		return
	}
	// drained may add or remove waiters, so walk a snapshot, kept in a
	// loop-owned slice: this runs every fast tick while anything waits.
	l.waitSnap = append(l.waitSnap[:0], l.waiters...)
	for _, w := range l.waitSnap {
		if w.drained() {
			l.unwait(w)
		}
	}
}

// pool returns the loop's view of pool i, rebuilt if its Set has changed.
// It costs one atomic load when nothing changed.
func (l *loop) pool(i int) *loopPool { return l.refresh(l.pools[i]) }

func (l *loop) refresh(lp *loopPool) *loopPool {
	if st := lp.p.state.Load(); st != lp.st {
		lp.st = st
		if st.set != lp.set {
			l.rebuild(lp)
		}
	}
	return lp
}

// rebuild compiles a Picker for the pool's current Set and carries idle
// connections over to backends that are still in it, matched by address.
func (l *loop) rebuild(lp *loopPool) {
	if lp.st == nil {
		lp.st = lp.p.state.Load()
	}
	set := lp.st.set
	old, oldSet := lp.idle, lp.set
	lp.set = set
	lp.picker = lp.p.alg.NewPicker(set, l.seed)
	lp.idle = make([]upstream.Idle[*upConn], len(set.Backends))
	lp.fails = make([]uint16, len(set.Backends))
	if oldSet == nil {
		return
	}
	index := make(map[string]int, len(set.Backends))
	for i, b := range set.Backends {
		index[b.Addr] = i
	}
	for i := range old {
		j, kept := index[oldSet.Backends[i].Addr]
		for {
			u, ok := old[i].Pop()
			if !ok {
				break
			}
			if !kept {
				u.leaveIdle(true)
				u.closeNow()
				continue
			}
			u.backend, u.set, u.lp = j, set, lp
			if ev, evicted := lp.idle[j].Push(u, lp.p.maxIdle); evicted {
				ev.closeNow()
			}
		}
	}
}

// takeIdle pops a pooled connection to backend i. With check set it first
// makes sure the backend has not closed it: a request that may not be
// replayed must not be sent on a connection that is already dead (RFC 9112
// §9.3.1), and one MSG_PEEK costs less than losing a POST.
func (l *loop) takeIdle(lp *loopPool, i int, check bool) *upConn {
	for {
		u, ok := lp.idle[i].Pop()
		if !ok {
			return nil
		}
		u.timer.stop()
		u.leaveIdle(true)
		if !check || u.alive() {
			return u
		}
		u.closeNow()
	}
}

// dial connects to backend i of lp for cc in a goroutine, with the connect
// timeout that gnet's Register lacks, then enrolls the socket into this loop
// so both ends of the exchange share it.
func (l *loop) dial(cc *clientConn, lp *loopPool, i int) *upConn {
	u := newUpConn(l, lp, i)
	u.cc = cc
	cc.up = u
	l.arm(&u.timer, timerUpConnect)
	addr := lp.set.Backends[i].Addr
	var handshake func(net.Conn, time.Time) error
	if cfg := lp.p.tls; cfg != nil {
		handshake = u.handshaker(certs.ForAddr(cfg, addr))
	}
	l.dialEnroll(addr, u, &u.connectTime, u.dialFailed, handshake)
	return u
}

// dialEnroll dials addr in a goroutine, with the connect timeout that gnet's
// Register lacks, and enrolls the socket into this loop with owner as its
// context (its onOpen then runs on the loop). The connect time goes to
// *took, which the loop reads once onOpen or failed has run; failed runs on
// the loop when the dial, the handshake or the enrolment fails. handshake,
// if not nil, runs on the dialed socket before it joins the loop, within
// the same timeout (its deadline).
func (l *loop) dialEnroll(addr string, owner any, took *time.Duration, failed func(error), handshake func(net.Conn, time.Time) error) {
	timeout := l.cfg.Timeouts.UpstreamConnect
	go func() {
		t0 := time.Now()
		nc, err := net.DialTimeout("tcp", addr, timeout)
		if err == nil && handshake != nil {
			if err = handshake(nc, t0.Add(timeout)); err != nil {
				nc.Close()
			}
		}
		*took = time.Since(t0)
		if err == nil {
			var ch <-chan gnet.RegisteredResult
			ch, err = l.el.Enroll(gnet.NewContext(context.Background(), owner), nc)
			if err == nil {
				if res := <-ch; res.Err == nil {
					return // onOpen has run on the loop
				} else {
					err = res.Err
				}
			} else {
				nc.Close()
			}
		}
		l.execute(func() { failed(err) })
	}()
}

// drainIdle closes what a shutting-down server no longer needs: pooled
// upstream connections and clients between requests.
func (l *loop) drainIdle() {
	for t := l.timers[timerUpIdle].head; t != nil; t = l.timers[timerUpIdle].head {
		t.stop()
		t.owner.onTimeout(timerUpIdle)
	}
	for t := l.timers[timerClientIdle].head; t != nil; t = l.timers[timerClientIdle].head {
		t.stop()
		t.owner.(*clientConn).closeIdle()
	}
	for t := l.timers[timerTLSHandshake].head; t != nil; t = l.timers[timerTLSHandshake].head {
		t.stop()
		t.owner.(*clientConn).closeNow() // no request yet, and none can be answered before the handshake
	}
	for t := l.timers[timerClientHeader].head; t != nil; {
		next := t.next
		if cc := t.owner.(*clientConn); !cc.closed && cc.inboundBuffered() == 0 {
			t.stop()
			cc.closeNow()
		}
		t = next
	}
}

// peekAlive reports whether the socket fd is open with nothing unread: a
// pooled connection that has data or EOF waiting must not be reused.
func peekAlive(fd int) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	_ = n
	return err == unix.EAGAIN
}

func (l *loop) isWaiting(w waiter) bool {
	for _, x := range l.waiters {
		if x == w {
			return true
		}
	}
	return false
}
