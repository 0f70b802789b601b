package upstream

import (
	"sync/atomic"
	"time"
)

func init() { register("round_robin", roundRobin{}) }

// roundRobin is smooth weighted round robin, in nginx's order: weights 5,1,1
// give a a b a c a a. The schedule for the whole Set is compiled once in
// NewPicker; Pick walks it and skips backends the Mask excludes, so a backend
// that is down hands its turns to the next ones in the schedule.
//
// The position in the schedule is one atomic counter shared by every loop's
// picker of the Set, so consecutive requests rotate over the backends even
// when they land on different loops (nginx and HAProxy keep one rotation per
// pool too). It is the only picker state shared across loops: a contended
// atomic add costs a few nanoseconds, and no lock is taken.
type roundRobin struct{}

func (roundRobin) Name() string { return "round_robin" }

func (roundRobin) NewPicker(s *Set, _ uint64) Picker {
	return &rrPicker{schedule: smoothSchedule(s.Backends), cursor: &s.cursor}
}

// smoothSchedule returns one period of smooth weighted round robin: each step
// adds every weight to its backend's current value, picks the largest and
// subtracts the total from it. The period is the sum of the weights.
func smoothSchedule(bs []Backend) []uint16 {
	total := 0
	for _, b := range bs {
		total += b.Weight
	}
	sched := make([]uint16, 0, total)
	cur := make([]int, len(bs))
	for range total {
		best := -1
		for i, b := range bs {
			cur[i] += b.Weight
			if b.Weight > 0 && (best < 0 || cur[i] > cur[best]) {
				best = i
			}
		}
		cur[best] -= total
		sched = append(sched, uint16(best))
	}
	return sched
}

type rrPicker struct {
	schedule []uint16
	cursor   *atomic.Uint64
}

func (p *rrPicker) Pick(_ uint64, up Mask, avoid int) int {
	n := uint64(len(p.schedule))
	if n == 0 {
		return -1
	}
	start := p.cursor.Add(1) - 1
	fallback := -1
	for k := range n {
		i := int(p.schedule[(start+k)%n])
		if !up.Has(i) {
			continue
		}
		if i != avoid {
			if k > 0 {
				// Skipped turns are consumed, so the next pick does not
				// walk over the same excluded backends again.
				p.cursor.Add(k)
			}
			return i
		}
		fallback = i
	}
	return fallback
}

func (p *rrPicker) Done(int, time.Duration, bool) {}
