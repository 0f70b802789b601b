package upstream

import (
	"sync/atomic"
	"time"
)

func init() {
	register("round_robin", &factory{make: func(s *Set, st *state, _ uint64, _ *Options) picker {
		return &rrPicker{schedule: st.schedule(), cursor: &s.cursor}
	}})
}

// rrPicker is smooth weighted round robin, in nginx's order: weights 5,1,1
// give a a b a c a a. The schedule for the whole Set is compiled once and
// shared by the loops; Pick walks it and skips backends the Mask excludes, so
// a backend that is down hands its turns to the next ones in the schedule.
//
// Global view: exact. The position in the schedule is one atomic counter
// shared by every loop's picker of the Set, so consecutive requests rotate
// over the backends even when they land on different loops (nginx and HAProxy
// keep one rotation per pool too). A contended atomic add costs a few
// nanoseconds, and no lock is taken.
type rrPicker struct {
	schedule []uint16
	cursor   *atomic.Uint64
}

func (p *rrPicker) pick(_ uint64, up Mask, avoid int) int {
	n := uint64(len(p.schedule))
	if n == 0 {
		return -1
	}
	start := p.cursor.Add(1) - 1
	for k := range n {
		i := int(p.schedule[(start+k)%n])
		if i == avoid || !up.Has(i) {
			continue
		}
		if k > 0 {
			// Skipped turns are consumed, so the next pick does not
			// walk over the same excluded backends again.
			p.cursor.Add(k)
		}
		return i
	}
	return -1
}

func (p *rrPicker) observe(int, time.Duration, bool) {}

// schedule returns the Set's smooth weighted round robin schedule, built on
// first use.
func (st *state) schedule() []uint16 {
	st.schedOnce.Do(func() { st.sched = smoothSchedule(st.weight) })
	return st.sched
}

// smoothSchedule returns one period of smooth weighted round robin: each step
// adds every weight to its backend's current value, picks the largest and
// subtracts the total from it. The weights are divided by their greatest
// common divisor first (the sequence is the same), so the period is the sum
// of the reduced weights.
func smoothSchedule(weight []uint32) []uint16 {
	g := uint32(0)
	for _, w := range weight {
		g = gcd(g, w)
	}
	if g == 0 {
		return nil
	}
	total := 0
	for _, w := range weight {
		total += int(w / g)
	}
	sched := make([]uint16, 0, total)
	cur := make([]int, len(weight))
	for range total {
		best := -1
		for i, w := range weight {
			cur[i] += int(w / g)
			if w > 0 && (best < 0 || cur[i] > cur[best]) {
				best = i
			}
		}
		cur[best] -= total
		sched = append(sched, uint16(best))
	}
	return sched
}

func gcd(a, b uint32) uint32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
