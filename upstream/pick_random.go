package upstream

import (
	"math/bits"
	"time"
)

func init() {
	register("random", &factory{make: func(_ *Set, st *state, seed uint64, _ *Options) picker {
		st.aliasTable()
		return &randomPicker{st: st, rng: rng{seed}}
	}})
}

// randomPicker is weighted random: each request goes to a backend drawn in
// proportion to its weight from those the Mask allows, in O(1) with an alias
// table compiled once per Set.
//
// Global view: none needed; each loop draws from its own PRNG.
type randomPicker struct {
	_   cacheLinePad
	st  *state
	rng rng // written by every pick: kept off other loops' cache lines
	_   cacheLinePad
}

func (p *randomPicker) pick(_ uint64, up Mask, avoid int) int {
	return p.st.draw(&p.rng, up, avoid, -1)
}

func (p *randomPicker) observe(int, time.Duration, bool) {}

// alias is Vose's alias table over the weights, in integers so that it is
// exact: column i yields i with probability prob[i]/total, else alias[i]. A
// backend of weight 0 is never yielded.
type alias struct {
	prob  []uint64
	alias []uint16
	total uint64
}

// aliasTable builds the Set's alias table on first use.
func (st *state) aliasTable() *alias {
	st.aliasOnce.Do(func() { st.alias = newAlias(st.weight, st.total) })
	return &st.alias
}

func newAlias(weight []uint32, total uint64) alias {
	n := len(weight)
	a := alias{prob: make([]uint64, n), alias: make([]uint16, n), total: total}
	if total == 0 {
		return a
	}
	// Each column holds total; a backend brings weight × n of it.
	scaled := make([]uint64, n)
	var small, large []int
	for i, w := range weight {
		scaled[i] = uint64(w) * uint64(n)
		if scaled[i] < total {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		a.prob[s], a.alias[s] = scaled[s], uint16(l)
		scaled[l] -= total - scaled[s]
		if scaled[l] < total {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// Integer arithmetic leaves nothing over: what remains fills its column.
	for _, i := range large {
		a.prob[i], a.alias[i] = total, uint16(i)
	}
	for _, i := range small {
		a.prob[i], a.alias[i] = total, uint16(i)
	}
	return a
}

func (a *alias) sample(r *rng) int {
	col, _ := bits.Mul64(r.next(), uint64(len(a.prob)))
	if r.below(a.total) < a.prob[col] {
		return int(col)
	}
	return int(a.alias[col])
}

// draw returns a backend drawn in proportion to weight among those up allows,
// other than avoid and except, or -1 if there is none. The alias table must
// have been built (NewPicker does it).
func (st *state) draw(r *rng, up Mask, avoid, except int) int {
	if st.total == 0 {
		return -1
	}
	// Fast path: rejection sampling keeps the proportions among the allowed
	// backends, and almost always succeeds at the first draw.
	for range 8 {
		if i := st.alias.sample(r); i != avoid && i != except && up.Has(i) {
			return i
		}
	}
	// Slow path: most of the weight is excluded; draw over what is allowed.
	var sum uint64
	for w := range st.positive {
		for word := st.word(up, w); word != 0; word &= word - 1 {
			if i := w*64 + bits.TrailingZeros64(word); i != avoid && i != except {
				sum += uint64(st.weight[i])
			}
		}
	}
	if sum == 0 {
		return -1
	}
	x := r.below(sum)
	for w := range st.positive {
		for word := st.word(up, w); word != 0; word &= word - 1 {
			if i := w*64 + bits.TrailingZeros64(word); i != avoid && i != except {
				if x < uint64(st.weight[i]) {
					return i
				}
				x -= uint64(st.weight[i])
			}
		}
	}
	panic("BUG: weighted draw ran past the sum")
}
