package upstream

import "time"

func init() {
	register("p2c", &factory{load: true, make: func(_ *Set, st *state, seed uint64, _ *Options) picker {
		st.aliasTable()
		return &p2cPicker{st: st, rng: rng{seed}}
	}})
}

// p2cPicker is the power of two choices (HAProxy's random(2), Envoy's
// LEAST_REQUEST): draw two different backends in proportion to their weight,
// send the request to the one with fewer requests in flight per unit of
// weight; on a tie, to the first drawn. With nothing in flight it is weighted
// random; under load it avoids the busiest backends without the herd effect
// of always taking the least loaded one. O(1): two draws, two atomic loads.
//
// Global view: in-flight counts are one atomic per backend in the Set, shared
// by every loop and carried over to the next Set by NewSet, so a loop sees the
// requests the other loops have in flight. It misses only the picks other
// loops make between its two loads and its own increment (at most one per
// other loop), which P2C tolerates by design.
type p2cPicker struct {
	_   cacheLinePad
	st  *state
	rng rng // written by every pick: kept off other loops' cache lines
	_   cacheLinePad
}

func (p *p2cPicker) pick(_ uint64, up Mask, avoid int) int {
	a := p.st.draw(&p.rng, up, avoid, -1)
	if a < 0 {
		return -1
	}
	b := p.st.draw(&p.rng, up, avoid, a)
	if b < 0 {
		return a
	}
	la, lb := p.st.cells[a].inflight.Load(), p.st.cells[b].inflight.Load()
	if lb*int64(p.st.weight[a]) < la*int64(p.st.weight[b]) {
		return b
	}
	return a
}

func (p *p2cPicker) observe(int, time.Duration, bool) {}
