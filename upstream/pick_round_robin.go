package upstream

import "time"

func init() { register("round_robin", roundRobin{}) }

// roundRobin is smooth weighted round robin, in nginx's order: weights 5,1,1
// give a a b a c a a. The schedule for the whole Set is compiled once in
// NewPicker; Pick walks it and skips backends the Mask excludes, so a backend
// that is down hands its turns to the next ones in the schedule.
type roundRobin struct{}

func (roundRobin) Name() string { return "round_robin" }

func (roundRobin) NewPicker(s *Set, seed uint64) Picker {
	p := &rrPicker{schedule: smoothSchedule(s.Backends)}
	if len(p.schedule) > 0 {
		// Loops start at different points so that, summed over loops, the
		// first requests after a rebuild do not all land on one backend.
		p.next = int(seed % uint64(len(p.schedule)))
	}
	p.weighted = make([]bool, len(s.Backends))
	for i, b := range s.Backends {
		p.weighted[i] = b.Weight > 0
	}
	return p
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
	weighted []bool // weight > 0
	next     int
}

func (p *rrPicker) Pick(_ uint64, up Mask, avoid int) int {
	n := len(p.schedule)
	fallback := -1
	for range n {
		i := int(p.schedule[p.next])
		if p.next++; p.next == n {
			p.next = 0
		}
		if !up.Has(i) {
			continue
		}
		if i != avoid {
			return i
		}
		fallback = i
	}
	return fallback
}

func (p *rrPicker) Done(int, time.Duration, bool) {}
