package upstream

import (
	"math"
	"math/bits"
	"time"
)

func init() {
	f := func(s *Set, st *state, seed uint64, o *Options) picker {
		p := &hashPicker{st: st, factor: o.BalanceFactor}
		p.fallback = registry[o.Fallback].make(s, st, seed, &Options{})
		if o.HashMethod == "maglev" {
			p.seq = st.maglevTable()
		} else {
			p.ring = st.ringTable()
			p.seq = p.ring.idx
		}
		return p
	}
	register("hash", &factory{keyed: true, make: f})
	register("ip_hash", &factory{keyed: true, make: f})
}

// hashPicker is consistent hashing (hash, and ip_hash, whose key the engine
// makes from the client IP): a key goes to the same backend for as long as
// that backend may take requests, and when backends come or go only the keys
// of the ones that changed move. The key is looked up on a ring (ketama-style,
// 1024 points per unit of weight, ring.go) or in a Maglev table (65537
// entries, maglev.go), both built once per Set. A key whose backend is not in
// the Mask, or is avoid, walks on along the ring or table to the next one that
// may take it, so a backend that is down spreads its keys over the others and
// gets them back when it is up again.
//
// With a balance factor c (bounded loads, as in HAProxy's hash-balance-factor
// and Envoy's hash_balance_factor), a backend with l requests in flight takes
// the key only if l < ⌈c × (m+1) × w / W⌉, where m is the number in flight and
// W the weight over the backends the Mask allows; otherwise the key walks on.
// Some backend is always under the bound because c > 1. Idle backends are
// accepted without summing; otherwise the sum costs one O(n) scan.
//
// Requests with NoKey go to the fallback algorithm's picker on the same Set.
//
// Global view: the key mapping needs none (every loop computes the same
// answer). The in-flight counts for the bound are the Set's shared atomics, as
// in least_connections: a loop misses at most one concurrent pick per other loop.
type hashPicker struct {
	st       *state
	ring     *ring    // nil for Maglev
	seq      []uint16 // backends in ring order, or the Maglev table
	factor   float64  // balance factor; 0 = unbounded
	fallback picker
}

func (p *hashPicker) pick(key uint64, up Mask, avoid int) int {
	if key == NoKey {
		return p.fallback.pick(0, up, avoid)
	}
	st := p.st
	if !st.anyOther(up, avoid) {
		return -1
	}
	k := mix(key)
	n := len(p.seq)
	var at int
	if p.ring != nil {
		at = p.ring.search(uint32(k >> 32))
	} else {
		at = int(k % uint64(n))
	}
	var m, total int64 // in flight and weight over the allowed backends, once needed
	for range n {
		i := int(p.seq[at])
		if at++; at == n {
			at = 0
		}
		if i == avoid || !up.Has(i) {
			continue
		}
		if p.factor == 0 {
			return i
		}
		l := st.cells[i].inflight.Load()
		if l == 0 {
			return i // Fast path: the bound is at least 1.
		}
		if total == 0 {
			m, total = st.load(up)
		}
		bound := math.Ceil(p.factor * float64(m+1) * float64(st.weight[i]) / float64(total))
		if float64(l) < bound {
			return i
		}
	}
	// Slow path: what may take the request is absent from the table (a
	// weight too small for a Maglev entry); take the least loaded.
	return st.leastLoaded(up, avoid)
}

func (p *hashPicker) observe(idx int, rtt time.Duration, ok bool) {
	p.fallback.observe(idx, rtt, ok)
}

// anyOther reports whether a backend other than avoid may take a request.
func (st *state) anyOther(up Mask, avoid int) bool {
	for w := range st.positive {
		word := st.word(up, w)
		if avoid >= 0 && avoid/64 == w {
			word &^= 1 << (avoid % 64)
		}
		if word != 0 {
			return true
		}
	}
	return false
}

// load returns the requests in flight and the weight over the backends up allows.
func (st *state) load(up Mask) (inflight, weight int64) {
	for w := range st.positive {
		for word := st.word(up, w); word != 0; word &= word - 1 {
			i := w*64 + bits.TrailingZeros64(word)
			inflight += st.cells[i].inflight.Load()
			weight += int64(st.weight[i])
		}
	}
	return inflight, weight
}

// leastLoaded returns the backend other than avoid with the fewest requests in
// flight per unit of weight, the first on a tie, or -1.
func (st *state) leastLoaded(up Mask, avoid int) int {
	best := -1
	var bl, bw int64
	for w := range st.positive {
		for word := st.word(up, w); word != 0; word &= word - 1 {
			i := w*64 + bits.TrailingZeros64(word)
			if i == avoid {
				continue
			}
			l, wt := st.cells[i].inflight.Load(), int64(st.weight[i])
			if best < 0 || l*bw < bl*wt {
				best, bl, bw = i, l, wt
			}
		}
	}
	return best
}
