package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Flights collapses concurrent misses: the first miss for a primary key leads
// a Flight and goes upstream; the misses that find it in flight wait for it
// to be Done and then look the key up again, so a thousand clients asking at
// once for one cold object cost the backend one request (nginx's
// proxy_cache_lock, Varnish's waiting list). Safe from any goroutine. It is on
// the miss path only: a hit never touches it.
type Flights struct {
	seed   maphash.Seed
	shards [64]flightShard
}

type flightShard struct {
	mu sync.Mutex
	m  map[string]*Flight
}

// Flight is one miss being fetched. Waiters poll Done; nothing is sent to
// them, so a waiter that gives up (or whose client goes away) costs nothing.
type Flight struct {
	done atomic.Bool
}

// Done reports whether the leader has finished: its response is stored, or
// will not be.
func (f *Flight) Done() bool { return f.done.Load() }

// NewFlights returns an empty table.
func NewFlights() *Flights {
	fs := &Flights{seed: maphash.MakeSeed()}
	for i := range fs.shards {
		fs.shards[i].m = make(map[string]*Flight)
	}
	return fs
}

func (fs *Flights) shard(key []byte) *flightShard {
	return &fs.shards[maphash.Bytes(fs.seed, key)%uint64(len(fs.shards))]
}

// Join returns the flight for key and whether the caller leads it: true when
// none was in flight (the caller must Finish it), false when the caller
// should wait for the one returned.
func (fs *Flights) Join(key []byte) (f *Flight, leader bool) {
	sh := fs.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f := sh.m[string(key)]; f != nil {
		return f, false
	}
	f = new(Flight)
	sh.m[string(key)] = f
	return f, true
}

// Finish ends the flight f for key that Join made the caller lead, waking its
// waiters; calling it again does nothing.
func (fs *Flights) Finish(key []byte, f *Flight) {
	if f.done.Swap(true) {
		return
	}
	sh := fs.shard(key)
	sh.mu.Lock()
	if sh.m[string(key)] == f {
		delete(sh.m, string(key))
	}
	sh.mu.Unlock()
}

// Len returns the number of flights in progress.
func (fs *Flights) Len() int {
	n := 0
	for i := range fs.shards {
		sh := &fs.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
