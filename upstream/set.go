package upstream

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// MaxBackends is the most backends one Set may hold: compiled tables index
// backends with uint16.
const MaxBackends = 65535

// maxWeight caps Backend.Weight; larger weights count as maxWeight. Tables
// grow with the sum of the weights (round robin's schedule is one entry per
// unit after dividing by their common divisor), so keep weights small: the
// configuration allows 0..1000.
const maxWeight = 1 << 16

// Backend is one server of a pool. It is immutable once placed in a Set.
type Backend struct {
	Addr   string // host:port, dialed as TCP
	Weight int    // relative share of new requests; 0 (or less) takes no new requests
	Backup bool   // takes requests only when no primary can; see Set.Eligible
}

// Set is an immutable snapshot of one pool. A new Set (with a new Gen) is built
// when membership or weights change and published through an atomic.Pointer.
// Backend indexes are positions in Backends.
//
// One *Set is shared by the Pickers of every loop: the state they share (round
// robin's cursor, in-flight counts, latency estimates, compiled hash tables)
// lives here, behind atomics and sync.Once, never a lock on the request path.
// Build a Set with NewSet to carry in-flight counts and latency estimates over
// from the previous generation; a Set made as a struct literal starts from zero.
type Set struct {
	Gen      uint64
	Backends []Backend

	// cursor is round robin's position, shared by the pickers of all loops
	// so that the rotation is global: one atomic add per pick. It has a
	// cache line of its own, so its writes do not slow readers of the rest.
	_      cacheLinePad
	cursor atomic.Uint64
	_      cacheLinePad

	once sync.Once
	st   *state
}

// NewSet returns a Set of backends (which it keeps; the caller must not modify
// them). Backends of prev with the same Addr share their in-flight count and
// latency estimate with the new Set, so requests still in flight on the old
// generation are counted by the new one until their Done, which goes to the
// old Picker. prev may be nil. It allocates; call it on the control plane.
func NewSet(gen uint64, backends []Backend, prev *Set) *Set {
	if prev != nil {
		prev.state() // prev may never have made a Picker
	}
	s := &Set{Gen: gen, Backends: backends}
	st := newState(backends, prev)
	s.once.Do(func() { s.st = st })
	return s
}

// Eligible returns the backends that may take new requests, given up (the
// backends that are healthy): the primaries that are up and have a weight, or,
// when there are none, the backups that are up and have a weight. Backup
// failover lives here and nowhere else: Pickers only see the mask. It allocates
// a new Mask; call it when up or the Set changes, off the request path, and
// publish the result for Pick.
func (s *Set) Eligible(up Mask) Mask {
	st := s.state()
	out := make(Mask, len(st.positive))
	found := false
	for w := range out {
		if w < len(up) {
			out[w] = up[w] & st.positive[w] & st.primary[w]
			found = found || out[w] != 0
		}
	}
	if found {
		return out
	}
	for w := range out {
		if w < len(up) {
			out[w] = up[w] & st.positive[w] &^ st.primary[w]
		}
	}
	return out
}

// InFlight returns the number of requests routed to backend i whose Done has
// not come yet, counted over all loops (and over earlier generations, for a
// Set made by NewSet). Only load-aware pickers count: least_connections, p2c,
// least_time, and hash or ip_hash with a balance factor or a load-aware
// fallback; under the others it stays 0. It is one atomic load.
func (s *Set) InFlight(i int) int64 {
	st := s.state()
	if i < 0 || i >= len(st.cells) {
		return 0
	}
	return st.cells[i].inflight.Load()
}

func (s *Set) state() *state {
	s.once.Do(func() { s.st = newState(s.Backends, nil) })
	return s.st
}

// cacheLinePad keeps what is written often by one core off the cache lines
// other cores use: 64 bytes before and after a field, or a struct, leave no
// line shared with a neighbour, whatever the allocator's alignment.
type cacheLinePad [64]byte

// padded returns a slice of n int64 with a cache line free on either side,
// for a loop's own counters.
func padded(n int) []int64 { return make([]int64, n+16)[8 : 8+n] }

// cell is the state one backend shares across loops. It fills a cache line,
// so loops counting requests to different backends do not contend.
type cell struct {
	inflight atomic.Int64
	ewma     atomic.Uint64 // least_time's estimate: float64 bits, in ns; 0 = no sample yet
	stamp    atomic.Int64  // when ewma was last updated, from nanotime
	_        [40]byte
}

// state is what a Set compiles once and its Pickers read: weights, masks, the
// shared cells, and the tables some algorithms build on first use.
type state struct {
	weight   []uint32 // per backend; 0 takes no new requests
	total    uint64   // sum of weight
	positive Mask     // weight > 0
	primary  Mask     // !Backup
	cells    []*cell
	addrHash []uint64 // hash of each backend's Addr
	order    []uint16 // backend indexes sorted by addrHash, for tables that must not depend on index order

	schedOnce sync.Once
	sched     []uint16 // one period of smooth weighted round robin

	aliasOnce sync.Once
	alias     alias

	ringOnce sync.Once
	ring     *ring

	maglevOnce sync.Once
	maglev     []uint16
}

func newState(bs []Backend, prev *Set) *state {
	if len(bs) > MaxBackends {
		panic("upstream: a Set holds at most 65535 backends")
	}
	n := len(bs)
	st := &state{
		weight:   make([]uint32, n),
		positive: make(Mask, (n+63)/64),
		primary:  make(Mask, (n+63)/64),
		cells:    make([]*cell, n),
		addrHash: make([]uint64, n),
		order:    make([]uint16, n),
	}
	var inherit map[string]*cell
	if prev != nil {
		inherit = make(map[string]*cell, len(prev.Backends))
		for i, b := range prev.Backends {
			if _, dup := inherit[b.Addr]; !dup {
				inherit[b.Addr] = prev.st.cells[i]
			}
		}
	}
	for i, b := range bs {
		if b.Weight > 0 {
			st.weight[i] = uint32(min(b.Weight, maxWeight))
			st.total += uint64(st.weight[i])
			st.positive[i/64] |= 1 << (i % 64)
		}
		if !b.Backup {
			st.primary[i/64] |= 1 << (i % 64)
		}
		if c := inherit[b.Addr]; c != nil {
			st.cells[i] = c
			delete(inherit, b.Addr) // a duplicate address gets a cell of its own
		} else {
			st.cells[i] = new(cell)
		}
		st.addrHash[i] = hashString(b.Addr)
		st.order[i] = uint16(i)
	}
	sortIndexes(st.order, st.addrHash)
	return st
}

// can reports whether backend i may take a new request under up.
func (st *state) can(up Mask, i int) bool {
	return up.Has(i) && i < len(st.weight) && st.weight[i] > 0
}

// word returns the backends of word w that up allows and that have a weight.
func (st *state) word(up Mask, w int) uint64 {
	if w < len(up) {
		return up[w] & st.positive[w]
	}
	return 0
}

// Mask reports which backends may take traffic, one bit per backend index.
// A Mask is immutable once published; loops load it once per request.
type Mask []uint64

// NewMask returns a Mask with the first n bits set.
func NewMask(n int) Mask {
	m := make(Mask, (n+63)/64)
	for i := 0; i < n; i++ {
		m[i/64] |= 1 << (i % 64)
	}
	return m
}

// Has reports whether backend i may take traffic.
func (m Mask) Has(i int) bool {
	w := i / 64
	return i >= 0 && w < len(m) && m[w]&(1<<(i%64)) != 0
}

// Count returns the number of backends that may take traffic.
func (m Mask) Count() int {
	n := 0
	for _, w := range m {
		n += bits.OnesCount64(w)
	}
	return n
}
