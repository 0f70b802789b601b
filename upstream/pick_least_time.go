package upstream

import (
	"math"
	"time"
)

func init() {
	register("least_time", &factory{load: true, make: func(_ *Set, st *state, seed uint64, _ *Options) picker {
		st.aliasTable()
		return &leastTimePicker{st: st, rng: rng{seed}, now: nanotime}
	}})
}

// leastTimeDecay is the time constant of least_time's estimate: a sample's
// weight falls to 1/e after this long, and so does the estimate of a backend
// that gets no requests, so a slow backend is tried again after about
// 2.3 × leastTimeDecay when it is 10× slower than the others and the pool is
// idle (sooner under load). Finagle and Linkerd use 10 s too.
const leastTimeDecay = 10 * time.Second

// leastTimePicker is latency-aware: the power of two choices over the cost
// peak-EWMA(response time) × (in flight + 1) / weight, as in Finagle's and
// Linkerd's peak EWMA balancers. The estimate jumps to any response slower
// than itself (peak), otherwise moves towards each response time with a weight
// that grows with the time since the previous one (EWMA over time, not over
// requests), and decays towards 0 while no response arrives. So a backend
// that turns slow loses its traffic at once, is never starved (its estimate
// decays until it is tried again) and gets its share back within about
// leastTimeDecay once it answers fast again. A backend with no estimate yet is
// compared on in-flight load alone, as in p2c. Failed requests (!ok) teach it
// nothing: ejecting a failing backend is the health checks' job.
//
// Candidates are drawn in proportion to weight, as in p2c; Pick is O(1) and
// reads no clock (both estimates decay alike, so only the difference of their
// timestamps matters); Done reads the monotonic clock once.
//
// Global view: the in-flight count and the estimate of each backend live in
// the Set (carried over to the next Set by NewSet) and are fed by every loop's
// responses. The estimate is updated with a plain load and store: when two
// loops finish a request to the same backend at the same instant, one sample
// may be lost, which an average over seconds does not notice.
type leastTimePicker struct {
	_   cacheLinePad
	st  *state
	rng rng          // written by every pick: kept off other loops' cache lines
	now func() int64 // nanotime; tests replace it
	_   cacheLinePad
}

func (p *leastTimePicker) pick(_ uint64, up Mask, avoid int) int {
	st := p.st
	a := st.draw(&p.rng, up, avoid, -1)
	if a < 0 {
		return -1
	}
	b := st.draw(&p.rng, up, avoid, a)
	if b < 0 {
		return a
	}
	ca, cb := st.cells[a], st.cells[b]
	la, lb := float64(ca.inflight.Load()+1), float64(cb.inflight.Load()+1)
	wa, wb := float64(st.weight[a]), float64(st.weight[b])
	ea, eb := math.Float64frombits(ca.ewma.Load()), math.Float64frombits(cb.ewma.Load())
	if ea > 0 && eb > 0 {
		// Decayed to now, ea is ea×exp(-(now-ta)/τ) and eb is eb×exp(-(now-tb)/τ):
		// comparing them needs only exp((ta-tb)/τ).
		x := float64(ca.stamp.Load()-cb.stamp.Load()) / float64(leastTimeDecay)
		la *= ea * exp(max(-700, min(700, x)))
		lb *= eb
	}
	if lb*wa < la*wb {
		return b
	}
	return a
}

func (p *leastTimePicker) observe(idx int, rtt time.Duration, ok bool) {
	if !ok || rtt <= 0 {
		return
	}
	c := p.st.cells[idx]
	now := p.now()
	e, x := math.Float64frombits(c.ewma.Load()), float64(rtt)
	if e > 0 {
		d := exp(-float64(max(0, now-c.stamp.Load())) / float64(leastTimeDecay))
		if e *= d; x < e {
			x = e + x*(1-d) // the decayed estimate moves towards the sample
		}
	}
	c.stamp.Store(now)
	c.ewma.Store(math.Float64bits(x))
}

// exp is math.Exp with a fast path for the small arguments that samples a
// few milliseconds apart give (|x| < 2^-10: the error is below 10^-10).
func exp(x float64) float64 {
	if x > -1.0/1024 && x < 1.0/1024 {
		return 1 + x + x*x/2
	}
	return math.Exp(x)
}
