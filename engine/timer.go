package engine

import (
	"sync/atomic"
	"time"
)

// clock is a coarse monotonic clock in nanoseconds, advanced by the server's
// ticker. Timeouts only need tick precision, and reading an atomic is cheaper
// than time.Now on the request path.
var clock atomic.Int64

var clockBase = time.Now()

func monoNow() int64 { return int64(time.Since(clockBase)) }

func init() { clock.Store(monoNow()) }

func now() int64 { return clock.Load() }

// timerKind names a timeout. Every timer of a kind has the same duration, so
// a kind's timers expire in the order they were armed: a FIFO list per kind
// is a complete timer structure, with O(1) arm, touch and stop. A touch moves
// the timer to the back only when the coarse clock has advanced, so a busy
// body stream relinks at most once per tick.
type timerKind uint8

const (
	timerClientIdle   timerKind = iota // keep-alive connection waiting for the first byte of a request
	timerClientHeader                  // request head arriving
	timerClientBody                    // request body arriving from the client
	timerUpResponse                    // request sent, waiting for the response head
	timerUpBody                        // response body arriving (or waiting for a slow client to drain)
	timerUpIdle                        // pooled keep-alive connection
	timerLinger                        // closing client: flushing and discarding input
	timerUpConnect                     // dial in flight (the dialer has its own timeout; this one is the loop's)
	timerUpSend                        // upload paused because the backend stopped reading it
	timerTLSHandshake                  // TLS client: accept to the end of its handshake
	timerTunnel                        // tunnel with no byte either way (tunnel_idle)
	numTimerKinds
)

// timer is embedded in each connection. It belongs to the connection's loop.
type timer struct {
	prev, next *timer
	list       *timerList
	armed      int64 // when it was last armed or touched
	owner      timerOwner
}

// timerList is the FIFO of one kind on one loop.
type timerList struct {
	head, tail *timer
	d          int64 // duration in nanoseconds
	kind       timerKind
}

// arm (re)starts t in list l from now. It runs on the owning loop.
func (t *timer) arm(l *timerList, at int64) {
	t.stop()
	t.armed, t.list = at, l
	t.prev = l.tail
	if l.tail != nil {
		l.tail.next = t
	} else {
		l.head = t
	}
	l.tail = t
}

// touch records progress: t restarts from at.
func (t *timer) touch(at int64) {
	if t.list != nil && t.armed != at {
		t.arm(t.list, at)
	}
}

func (t *timer) stop() {
	l := t.list
	if l == nil {
		return
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		l.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		l.tail = t.prev
	}
	t.prev, t.next, t.list = nil, nil, nil
}

// expire fires the timers of l that are due at now, oldest first.
func (l *timerList) expire(now int64) {
	for t := l.head; t != nil && t.armed+l.d <= now; t = l.head {
		t.stop()
		t.owner.onTimeout(l.kind)
	}
}

// timerOwner is the connection a timer belongs to.
type timerOwner interface{ onTimeout(timerKind) }
