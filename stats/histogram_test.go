package stats

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestBounds(t *testing.T) {
	if len(bounds) != numBounds || numBounds != 106 {
		t.Fatalf("got %d bounds (numBounds %d); want 106", len(bounds), numBounds)
	}
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] {
			t.Fatalf("bounds are not strictly ascending at %d: %v", i, bounds)
		}
	}
	f := func(i int, want time.Duration) {
		t.Helper()
		if got := time.Duration(bounds[i]); got != want {
			t.Fatalf("bounds[%d] = %v; want %v", i, got, want)
		}
	}
	f(0, 10*time.Microsecond)
	f(1, 12500*time.Nanosecond)
	f(3, 17500*time.Nanosecond)
	f(14, 90*time.Microsecond)
	f(15, 100*time.Microsecond)
	f(55, 50*time.Millisecond) // mantissa 5 of the fourth decade
	f(numBounds-2, 90*time.Second)
	f(numBounds-1, 100*time.Second)
}

func TestBucketOf(t *testing.T) {
	f := func(d time.Duration, want int) {
		t.Helper()
		if got := bucketOf(int64(d)); got != want {
			t.Fatalf("bucketOf(%v) = %d; want %d", d, got, want)
		}
	}
	f(0, 0)
	f(1, 0)
	f(10*time.Microsecond, 0) // upper bounds are inclusive
	f(10*time.Microsecond+1, 1)
	f(12500*time.Nanosecond, 1)
	f(12500*time.Nanosecond+1, 2)
	f(time.Millisecond, 30)
	f(time.Millisecond+1, 31)
	f(100*time.Second, numBounds-1)
	f(100*time.Second+1, numBounds) // overflow
	f(time.Hour, numBounds)
}

func TestHistogramObserveEdges(t *testing.T) {
	var h Histogram
	h.Observe(-time.Second) // counts as 0
	h.Observe(0)
	h.Observe(10 * time.Microsecond)
	h.Observe(10*time.Microsecond + 1)
	h.Observe(time.Millisecond)
	h.Observe(2 * time.Minute)
	s := h.Snapshot()
	want := map[int]uint64{0: 3, 1: 1, 30: 1, numBounds: 1}
	for i, n := range s.Counts {
		if n != want[i] {
			t.Fatalf("Counts[%d] = %d; want %d (all: %v)", i, n, want[i], s.Counts)
		}
	}
	if s.Count != 6 || h.Count() != 6 {
		t.Fatalf("Count = %d, Count() = %d; want 6", s.Count, h.Count())
	}
	if s.Min != 0 || s.Max != 2*time.Minute {
		t.Fatalf("Min, Max = %v, %v; want 0, 2m", s.Min, s.Max)
	}
	wantSum := 20*time.Microsecond + 1 + time.Millisecond + 2*time.Minute
	if s.Sum != wantSum {
		t.Fatalf("Sum = %v; want %v", s.Sum, wantSum)
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	s := h.Snapshot()
	if s.Count != 0 || s.Sum != 0 || s.Min != 0 || s.Max != 0 {
		t.Fatalf("empty snapshot: %+v", s)
	}
	for _, q := range []float64{0, 0.5, 1} {
		if got := s.Quantile(q); got != 0 {
			t.Fatalf("Quantile(%v) of nothing = %v; want 0", q, got)
		}
	}
	if s.Mean() != 0 {
		t.Fatalf("Mean of nothing = %v", s.Mean())
	}
}

func TestQuantileUniform(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Observe(time.Duration(i) * time.Millisecond)
	}
	s := h.Snapshot()
	f := func(q float64, want time.Duration, tol float64) {
		t.Helper()
		got := s.Quantile(q)
		if math.Abs(float64(got-want)) > tol*float64(want) {
			t.Fatalf("Quantile(%v) = %v; want %v within %.0f%%", q, got, want, tol*100)
		}
	}
	f(0.50, 500*time.Millisecond, 0.05)
	f(0.90, 900*time.Millisecond, 0.05)
	f(0.95, 950*time.Millisecond, 0.05)
	f(0.99, 990*time.Millisecond, 0.05)
	f(0.10, 100*time.Millisecond, 0.05)
	f(0.01, 10*time.Millisecond, 0.05)
	// Clamped to the exact extremes.
	f(0, time.Millisecond, 0)
	f(1, time.Second, 0)
	f(-1, time.Millisecond, 0)
	f(2, time.Second, 0)
	f(math.NaN(), time.Millisecond, 0)
	if s.Mean() != 500500*time.Microsecond {
		t.Fatalf("Mean = %v; want 500.5ms", s.Mean())
	}
	if s.Min != time.Millisecond || s.Max != time.Second || s.Count != 1000 {
		t.Fatalf("Min, Max, Count = %v, %v, %d", s.Min, s.Max, s.Count)
	}
}

// TestQuantileError checks the documented bound: without clamping, a
// quantile of identical values is within 25% of them.
func TestQuantileError(t *testing.T) {
	// Above the first bound only: bucket 0 spans 0 to 10µs.
	for v := 11 * time.Microsecond; v <= 100*time.Second; v = v * 107 / 100 {
		var h Histogram
		for range 10 {
			h.Observe(v)
		}
		w := h.Snapshot().Sub(HistSnapshot{}) // a window: not clamped
		for _, q := range []float64{0.01, 0.5, 0.99} {
			got := w.Quantile(q)
			if math.Abs(float64(got-v)) > 0.25*float64(v) {
				t.Fatalf("Quantile(%v) of %v = %v: more than 25%% off", q, v, got)
			}
		}
	}
}

func TestQuantileOverflow(t *testing.T) {
	var h Histogram
	h.Observe(150 * time.Second)
	h.Observe(200 * time.Second)
	s := h.Snapshot()
	if got := s.Quantile(0.99); got < 100*time.Second || got > 200*time.Second {
		t.Fatalf("Quantile(0.99) = %v; want in [100s, 200s]", got)
	}
	if got := s.Sub(HistSnapshot{}).Quantile(0.99); got != 100*time.Second {
		t.Fatalf("window Quantile(0.99) above the last bound = %v; want 100s", got)
	}
}

func TestSub(t *testing.T) {
	var h Histogram
	for range 50 {
		h.Observe(time.Millisecond)
	}
	prev := h.Snapshot()
	var only Histogram // what h sees after prev
	for i := 1; i <= 100; i++ {
		d := 100*time.Millisecond + time.Duration(i)*time.Millisecond
		h.Observe(d)
		only.Observe(d)
	}
	cur := h.Snapshot()
	w := cur.Sub(prev)
	o := only.Snapshot()
	if w.Counts != o.Counts || w.Count != 100 || w.Sum != o.Sum {
		t.Fatalf("Sub: Count %d Sum %v; want 100 and %v; counts %v want %v", w.Count, w.Sum, o.Sum, w.Counts, o.Counts)
	}
	if w.Min != 0 || w.Max != 0 {
		t.Fatalf("Sub: Min, Max = %v, %v; want unknown (0)", w.Min, w.Max)
	}
	if w.Mean() != o.Mean() {
		t.Fatalf("Sub: Mean = %v; want %v", w.Mean(), o.Mean())
	}
	if got := w.Quantile(0.5); got < 140*time.Millisecond || got > 160*time.Millisecond {
		t.Fatalf("Sub: Quantile(0.5) = %v; want about 150ms", got)
	}
	if z := cur.Sub(cur); z.Count != 0 || z.Sum != 0 || z.Quantile(0.5) != 0 {
		t.Fatalf("s.Sub(s) = %+v; want empty", z)
	}
}

func TestHistogramConcurrent(t *testing.T) {
	const workers, each = 8, 10000
	var h Histogram
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				h.Observe(time.Duration(w*each+i+1) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	const n = workers * each
	if s.Count != n || h.Count() != n {
		t.Fatalf("Count = %d; want %d", s.Count, n)
	}
	if want := time.Duration(n*(n+1)/2) * time.Microsecond; s.Sum != want {
		t.Fatalf("Sum = %v; want %v", s.Sum, want)
	}
	if s.Min != time.Microsecond || s.Max != n*time.Microsecond {
		t.Fatalf("Min, Max = %v, %v; want 1µs, %v", s.Min, s.Max, n*time.Microsecond)
	}
}
