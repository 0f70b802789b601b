package perf

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	// Every value lands in a bucket whose range holds it, buckets are contiguous and
	// increasing, and the relative width stays under 1/128.
	prevLo, prevW := int64(-1), int64(1)
	for i := 0; i < nBuckets; i++ {
		lo, w := bucketRange(i)
		if lo != prevLo+prevW {
			t.Fatalf("bucket %d starts at %d; want %d", i, lo, prevLo+prevW)
		}
		if bucketOf(lo) != i || bucketOf(lo+w-1) != i {
			t.Fatalf("bucket %d [%d, %d) maps back to %d and %d", i, lo, lo+w, bucketOf(lo), bucketOf(lo+w-1))
		}
		if lo >= exact && float64(w)/float64(lo) > 1.0/subCount {
			t.Fatalf("bucket %d [%d, +%d) is wider than 1/%d of its value", i, lo, w, subCount)
		}
		prevLo, prevW = lo, w
	}
	if last := prevLo + prevW - 1; last != maxValue {
		t.Fatalf("last bucket ends at %d; want maxValue %d", last, maxValue)
	}
}

func TestHistogramExactValues(t *testing.T) {
	f := func(vals []time.Duration, p float64, want time.Duration) {
		t.Helper()
		h := NewHistogram()
		for _, v := range vals {
			h.Record(v)
		}
		if got := h.Percentile(p); got != want {
			t.Fatalf("Percentile(%v) of %v = %v; want %v", p, vals, got, want)
		}
	}
	f(nil, 50, 0)
	f([]time.Duration{7}, 50, 7)
	f([]time.Duration{7}, 100, 7)
	f([]time.Duration{1, 2, 3, 4}, 50, 2) // nearest rank: ceil(0.5*4) = 2nd value
	f([]time.Duration{1, 2, 3, 4}, 51, 3)
	f([]time.Duration{1, 2, 3, 4}, 100, 4)
	f([]time.Duration{1, 2, 3, 4}, 0.001, 1)
	f([]time.Duration{-5, 3}, 50, 0) // negative counts as 0
	f([]time.Duration{time.Second}, 99.9, time.Second)
	f([]time.Duration{100 * time.Hour}, 50, time.Duration(maxValue)) // clamped
}

// TestHistogramUniform records 1..100000 µs, whose percentiles are known exactly.
func TestHistogramUniform(t *testing.T) {
	h := NewHistogram()
	const n = 100_000
	for i := n; i >= 1; i-- { // order must not matter
		h.Record(time.Duration(i) * time.Microsecond)
	}
	if h.Count() != n || h.Min() != time.Microsecond || h.Max() != n*time.Microsecond {
		t.Fatalf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
	if want := time.Duration(n+1) * time.Microsecond / 2; h.Mean() != want {
		t.Fatalf("mean %v; want %v", h.Mean(), want)
	}
	for _, p := range []float64{1, 10, 50, 90, 95, 99, 99.9, 99.99, 100} {
		want := time.Duration(math.Ceil(p/100*n)) * time.Microsecond
		checkClose(t, p, h.Percentile(p), want)
	}
}

// TestHistogramExponential compares with the exact nearest-rank percentiles of a seeded
// exponential sample (mean 1 ms), a long-tailed shape like real latencies.
func TestHistogramExponential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200_000
	vals := make([]time.Duration, n)
	a, b := NewHistogram(), NewHistogram()
	for i := range vals {
		vals[i] = time.Duration(rng.ExpFloat64() * float64(time.Millisecond))
		if i%2 == 0 {
			a.Record(vals[i])
		} else {
			b.Record(vals[i])
		}
	}
	a.Merge(b) // two halves merged must equal one histogram of all
	slices.Sort(vals)
	for _, p := range []float64{50, 90, 95, 99, 99.9} {
		rank := int(math.Ceil(p / 100 * n))
		checkClose(t, p, a.Percentile(p), vals[rank-1])
	}
	if a.Min() != vals[0] || a.Max() != vals[n-1] || a.Count() != n {
		t.Fatalf("min %v max %v count %d; want %v %v %d", a.Min(), a.Max(), a.Count(), vals[0], vals[n-1], n)
	}
}

// checkClose fails unless got is within the histogram's 0.4% (+1 ns) of want.
func checkClose(t *testing.T, p float64, got, want time.Duration) {
	t.Helper()
	if d := math.Abs(float64(got - want)); d > float64(want)*0.004+1 {
		t.Fatalf("p%v = %v; want %v (off by %.3f%%)", p, got, want, 100*d/float64(want))
	}
}

func TestLatencyOfMilliseconds(t *testing.T) {
	h := NewHistogram()
	h.Record(1500 * time.Microsecond)
	l := LatencyOf(h)
	if l.Minimum != 1.5 || l.Maximum != 1.5 || l.Average != 1.5 || l.P50 != 1.5 || l.P999 != 1.5 {
		t.Fatalf("LatencyOf one 1.5 ms sample = %+v", l)
	}
}
