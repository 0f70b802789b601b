package upstream

import (
	"math/bits"
	"time"
)

func init() {
	register("least_connections", &factory{load: true, make: func(_ *Set, st *state, _ uint64, _ *Options) picker {
		n := len(st.weight)
		return &leastConnPicker{st: st, cur: padded(n), tied: padded(n)}
	}})
}

// leastConnPicker sends each request to the backend with the fewest requests
// in flight per unit of weight (nginx's least_conn, HAProxy's leastconn).
// Backends that tie share the request by smooth weighted round robin, as in
// nginx, so with nothing in flight it is weighted round robin. Pick scans every
// allowed backend once: O(n) atomic loads.
//
// Global view: in-flight counts are one atomic per backend in the Set, shared
// by every loop and carried over to the next Set by NewSet, so the minimum is
// taken over all loops' requests. The view misses only the picks other loops
// make during the scan (at most one per other loop). The tie-break rotation is
// per loop.
type leastConnPicker struct {
	st   *state
	cur  []int64 // smooth round robin's current weights, for ties
	tied []int64 // the backends tied so far in this scan
}

func (p *leastConnPicker) pick(_ uint64, up Mask, avoid int) int {
	st := p.st
	cells, weight, cur, tied := st.cells, st.weight, p.cur, p.tied
	best, chosen, ntied := -1, -1, 0
	var bl, bw, total int64 // best's load and weight (l/w < bl/bw is l*bw < bl*wt); tied weight
	for w := range st.positive {
		for word := st.word(up, w); word != 0; word &= word - 1 {
			i := w*64 + bits.TrailingZeros64(word)
			if i == avoid {
				continue
			}
			l, wt := cells[i].inflight.Load(), int64(weight[i])
			if best < 0 || l*bw < bl*wt {
				// A new minimum: undo the tie-break steps of the old one.
				for _, j := range tied[:ntied] {
					cur[j] -= int64(weight[j])
				}
				best, bl, bw, chosen, ntied, total = i, l, wt, -1, 0, 0
			} else if l*bw != bl*wt {
				continue
			}
			// A step of smooth weighted round robin among the tied backends;
			// with one of them, the steps cancel out.
			cur[i] += wt
			total += wt
			tied[ntied] = int64(i)
			ntied++
			if chosen < 0 || cur[i] > cur[chosen] {
				chosen = i
			}
		}
	}
	if chosen >= 0 {
		cur[chosen] -= total
	}
	return chosen
}

func (p *leastConnPicker) observe(int, time.Duration, bool) {}
