package upstream

// Idle is a per-loop list of idle keep-alive connections to one backend. It is
// LIFO, so the most recently used connection (the one least likely to have been
// closed by the backend) is reused first, and the oldest ones age out. An Idle
// is owned by one event loop and takes no locks.
type Idle[C comparable] struct {
	conns []idleConn[C] // oldest first
}

type idleConn[C comparable] struct {
	c     C
	since int64 // when it became idle, in the caller's clock
}

// Len returns the number of idle connections.
func (l *Idle[C]) Len() int { return len(l.conns) }

// Push adds c, idle since now. When the list already holds max connections it
// evicts the oldest one and returns it with evicted set, for the caller to close.
func (l *Idle[C]) Push(c C, now int64, max int) (old C, evicted bool) {
	if max <= 0 {
		return c, true
	}
	if len(l.conns) >= max {
		old, evicted = l.conns[0].c, true
		copy(l.conns, l.conns[1:])
		l.conns = l.conns[:len(l.conns)-1]
	}
	l.conns = append(l.conns, idleConn[C]{c, now})
	return old, evicted
}

// Pop removes and returns the most recently pushed connection.
func (l *Idle[C]) Pop() (c C, ok bool) {
	n := len(l.conns)
	if n == 0 {
		return c, false
	}
	c = l.conns[n-1].c
	l.conns[n-1] = idleConn[C]{}
	l.conns = l.conns[:n-1]
	return c, true
}

// Remove takes c out of the list, for a connection the backend closed while
// it was idle. It reports whether c was there.
func (l *Idle[C]) Remove(c C) bool {
	for i := range l.conns {
		if l.conns[i].c == c {
			copy(l.conns[i:], l.conns[i+1:])
			l.conns[len(l.conns)-1] = idleConn[C]{}
			l.conns = l.conns[:len(l.conns)-1]
			return true
		}
	}
	return false
}

// Expire removes the connections idle since before deadline, oldest first,
// and calls drop for each of them. drop must not use l.
func (l *Idle[C]) Expire(deadline int64, drop func(C)) {
	n := 0
	for n < len(l.conns) && l.conns[n].since < deadline {
		drop(l.conns[n].c)
		n++
	}
	if n == 0 {
		return
	}
	rest := copy(l.conns, l.conns[n:])
	clear(l.conns[rest:])
	l.conns = l.conns[:rest]
}
