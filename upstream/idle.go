package upstream

// Idle is a per-loop list of idle keep-alive connections to one backend. It is
// LIFO, so the most recently used connection (the one least likely to have been
// closed by the backend) is reused first, and the oldest is evicted at the cap;
// the engine's idle timers age them out. An Idle is owned by one event loop and
// takes no locks.
type Idle[C comparable] struct {
	conns []C // oldest first
}

// Len returns the number of idle connections.
func (l *Idle[C]) Len() int { return len(l.conns) }

// Push adds c. When the list already holds max connections it evicts the
// oldest one and returns it with evicted set, for the caller to close.
func (l *Idle[C]) Push(c C, max int) (old C, evicted bool) {
	if max <= 0 {
		return c, true
	}
	if len(l.conns) >= max {
		old, evicted = l.conns[0], true
		copy(l.conns, l.conns[1:])
		l.conns = l.conns[:len(l.conns)-1]
	}
	l.conns = append(l.conns, c)
	return old, evicted
}

// Pop removes and returns the most recently pushed connection.
func (l *Idle[C]) Pop() (c C, ok bool) {
	n := len(l.conns)
	if n == 0 {
		return c, false
	}
	c = l.conns[n-1]
	var zero C
	l.conns[n-1] = zero
	l.conns = l.conns[:n-1]
	return c, true
}

// Remove takes c out of the list, for a connection the backend closed while
// it was idle. It reports whether c was there.
func (l *Idle[C]) Remove(c C) bool {
	for i := range l.conns {
		if l.conns[i] == c {
			copy(l.conns[i:], l.conns[i+1:])
			var zero C
			l.conns[len(l.conns)-1] = zero
			l.conns = l.conns[:len(l.conns)-1]
			return true
		}
	}
	return false
}
