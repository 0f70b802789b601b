package engine

import (
	"time"

	"loopgate/stats"
	"loopgate/upstream"
)

// Connection bounds and the queue (HAProxy's maxconn, maxqueue and timeout
// queue). A backend's exchanges in flight are counted process-wide
// (BackendStats.InFlight, from pick to done); a pool with a bound reserves
// a slot with a compare-and-swap before it sends, so no backend ever has
// more than its bound, whatever the loops do at once. When every backend
// that may take traffic is full, the request waits in the pool's queue:
// its rewritten head is kept, the client's input is not read, and the loop
// polls it every fast tick (2 ms) until a slot frees or queue_timeout
// passes. Waiting requests are served in arrival order within a loop, and
// across loops within a tick; a request that finds others waiting joins
// them rather than take a slot that frees, so nobody is overtaken.

// notFull returns lp's eligible backends without those at their bound, in
// the loop's scratch mask.
func (l *loop) notFull(lp *loopPool) upstream.Mask {
	st := lp.st
	m := append(l.mask[:0], st.mask...)
	for i, max := range st.maxConn {
		if max > 0 && m.Has(i) && st.stats[i].InFlight.Load() >= max {
			m[i/64] &^= 1 << (i % 64)
		}
	}
	l.mask = m
	return m
}

// reserve takes one of backend i's slots, counting the exchange in flight
// (picked with reserved = true does not count it again); false when it is
// full.
func reserve(st *poolState, i int) bool {
	max, n := st.maxConn[i], &st.stats[i].InFlight
	for {
		v := n.Load()
		if max > 0 && v >= max {
			return false
		}
		if n.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// pickLimited picks a backend of a bounded pool that has a free slot and
// reserves it; -1 when none has.
func (l *loop) pickLimited(lp *loopPool, key uint64, avoid int) int {
	for range 4 { // a slot another loop took between the look and the reservation
		i := lp.picker.Pick(key, l.notFull(lp), avoid)
		if i < 0 {
			return -1
		}
		if reserve(lp.st, i) {
			return i
		}
	}
	return -1
}

// enqueue makes the request whose rewritten head is head wait for a slot
// of lp's pool, or answers 503 when the queue is full.
func (cc *clientConn) enqueue(lp *loopPool, head []byte) {
	p := lp.p
	ps := p.stats
	if ps.Queued.Add(1) > p.queueMax {
		ps.Queued.Add(-1)
		cc.log.reason = stats.ReasonQueue
		cc.fail(503)
		return
	}
	ps.QueuedTotal.Inc()
	cc.head = append(cc.head[:0], head...)
	cc.lp, cc.queued, cc.queuedAt = lp, ps, monoNow()
	cc.state = clientQueued
	cc.l.wait(cc)
}

// leaveQueue takes the request out of its pool's queue count, once.
func (cc *clientConn) leaveQueue() {
	if cc.exchange == nil || cc.queued == nil {
		return
	}
	ps := cc.queued
	cc.queued = nil
	ps.Queued.Add(-1)
	ps.QueueWait.Add(time.Duration(monoNow() - cc.queuedAt).Seconds())
}

// dequeue is the waiter check of a queued request: it goes to a backend
// with a free slot, or gets 503 once queue_timeout has passed.
func (cc *clientConn) dequeue() bool {
	lp := cc.l.current(cc.lp)
	if lp == nil { // a reload removed the pool
		cc.leaveQueue()
		cc.log.reason = stats.ReasonNoBackend
		cc.fail(503)
		return true
	}
	if i := cc.l.pickLimited(lp, cc.key, -1); i >= 0 {
		cc.leaveQueue()
		cc.dispatch(lp, i, cc.head, true)
		return true
	}
	if monoNow()-cc.queuedAt < lp.p.queueTimeout {
		return false
	}
	cc.leaveQueue()
	lp.p.stats.QueueTimeouts.Inc()
	cc.log.reason = stats.ReasonQueue
	cc.fail(503)
	return true
}
