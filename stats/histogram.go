package stats

import (
	"slices"
	"sync/atomic"
	"time"
)

// mantissas are the bucket bounds of one decade, in hundredths.
var mantissas = [...]int64{100, 125, 150, 175, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900}

const (
	numDecades = 7 // 10µs up to 100s
	numBounds  = numDecades*len(mantissas) + 1
	numBuckets = numBounds + 1 // the last one holds everything above 100s
)

// bounds are the inclusive upper bounds of the buckets in nanoseconds,
// ascending: 10µs, 12.5µs, 15µs ... 90s, 100s. Bucket i holds the values v
// with bounds[i-1] < v <= bounds[i], as Prometheus' "le" buckets do.
var bounds = makeBounds()

func makeBounds() []int64 {
	b := make([]int64, 0, numBounds)
	decade := int64(10 * time.Microsecond)
	for range numDecades {
		for _, m := range mantissas {
			b = append(b, decade*m/100)
		}
		decade *= 10
	}
	return append(b, decade)
}

// bucketOf returns the index of the bucket that holds v nanoseconds.
func bucketOf(v int64) int {
	i, _ := slices.BinarySearch(bounds, v)
	return i
}

// Histogram counts durations in fixed buckets: 15 per decade from 10µs to
// 100s, one below 10µs and one above 100s. The zero value is ready to use.
// Observe is safe from any number of goroutines or event loops at once: it
// only does atomic adds (and a compare-and-swap when a new minimum or
// maximum is seen), takes no lock and does not allocate.
//
// Quantiles computed from it are exact to the bucket: adjacent bounds are at
// most 25% apart (1 to 1.25 within a decade, 11% at best), so above 10µs a
// quantile is off by at most 25% of the true value, and usually much less
// thanks to interpolation inside the bucket. Below 10µs the error is at most
// 10µs; above 100s only Max bounds it.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	count  atomic.Uint64
	// sum wraps after 2^64ns (584 years) of summed durations, e.g. after
	// 213 days at one million 1ms requests per second; Sub stays right
	// across the wrap.
	sum atomic.Uint64
	max atomic.Uint64
	// minInv holds ^min, so that the zero value means "no minimum yet" and
	// min, like max, only ever grows by compare-and-swap.
	minInv atomic.Uint64
}

// Observe adds one duration; negative ones count as 0. It does not allocate
// or lock.
func (h *Histogram) Observe(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)].Add(1)
	h.count.Add(1)
	u := uint64(v)
	h.sum.Add(u)
	// Only write when improving: in a steady state these are plain loads.
	raise(&h.max, u)
	raise(&h.minInv, ^u)
}

// raise stores v in a if v is greater than its value.
func raise(a *atomic.Uint64, v uint64) {
	for {
		m := a.Load()
		if v <= m || a.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of durations observed.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Snapshot copies h. Observations racing with it may be half counted (in
// their bucket but not yet in the sum); Count is the sum of Counts, so the
// quantiles are always consistent. Cold path: it reads every bucket.
func (h *Histogram) Snapshot() HistSnapshot {
	var s HistSnapshot
	for i := range h.counts {
		n := h.counts[i].Load()
		s.Counts[i] = n
		s.Count += n
	}
	s.Sum = time.Duration(h.sum.Load())
	if s.Count > 0 {
		s.Min = time.Duration(^h.minInv.Load())
		s.Max = time.Duration(h.max.Load())
	}
	return s
}

// HistSnapshot is a copy of a Histogram, or the difference of two copies
// (see Sub). It is a plain value: 107 buckets, under 1KB.
type HistSnapshot struct {
	Counts [numBuckets]uint64 // Counts[i]: durations in (bounds[i-1], bounds[i]]
	Count  uint64
	Sum    time.Duration
	// Min and Max are exact for a snapshot of a whole Histogram with at
	// least one observation, and 0 when unknown (no observation, or a
	// window made by Sub).
	Min, Max time.Duration
}

// Mean is Sum/Count, or 0 without observations.
func (s HistSnapshot) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Count)
}

// Quantile estimates the q-quantile (0 <= q <= 1) by linear interpolation
// inside the bucket that holds it. When Max is known (> 0) the result is
// clamped to [Min, Max], which makes q=0 and q=1 exact and bounds the
// overflow bucket. It returns 0 without observations. See Histogram for the
// error.
func (s HistSnapshot) Quantile(q float64) time.Duration {
	if s.Count == 0 {
		return 0
	}
	if !(q > 0) { // also catches NaN
		q = 0
	}
	q = min(q, 1)
	rank := q * float64(s.Count)
	var below uint64
	i := 0
	for ; i < numBuckets-1; i++ {
		n := s.Counts[i]
		if n > 0 && float64(below+n) >= rank {
			break
		}
		below += n
	}
	var lo, hi float64
	if i > 0 {
		lo = float64(bounds[i-1])
	}
	if i < numBounds {
		hi = float64(bounds[i])
	} else {
		// Slow path: above 100s only Max says how far it goes.
		hi = max(lo, float64(s.Max))
	}
	frac := 0.0
	if n := s.Counts[i]; n > 0 {
		frac = min(max((rank-float64(below))/float64(n), 0), 1)
	}
	v := time.Duration(lo + frac*(hi-lo))
	if s.Max > 0 {
		v = min(max(v, s.Min), s.Max)
	}
	return v
}

// Sub returns what was observed between prev and s, where prev is an
// earlier snapshot of the same Histogram: counts and sum subtract; Min and
// Max of the window are unknown and left 0, so its quantiles are not
// clamped.
func (s HistSnapshot) Sub(prev HistSnapshot) HistSnapshot {
	var d HistSnapshot
	for i, n := range s.Counts {
		if p := prev.Counts[i]; n > p {
			d.Counts[i] = n - p
			d.Count += n - p
		}
	}
	d.Sum = s.Sum - prev.Sum // wraps like Histogram.sum does
	return d
}
