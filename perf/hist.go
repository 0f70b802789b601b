package perf

import (
	"math"
	"math/bits"
	"time"
)

// Histogram bucket layout (log-linear, as in HdrHistogram): values below 2^(subBits+1) ns are
// counted exactly; above that each power of two is split into 2^subBits buckets, so a bucket
// is at most 1/128 (0.78%) of its value wide and a reported percentile is within 0.4% of the
// true one. Values are clamped to maxValue.
const (
	subBits  = 7
	subCount = 1 << subBits // buckets per power of two
	exact    = 2 * subCount // values below this have a bucket each
	maxExp   = 40           // 2^40 ns ≈ 18 minutes
	nBuckets = exact + (maxExp-subBits-1)*subCount
	maxValue = int64(1)<<maxExp - 1
)

// Histogram counts durations in nanoseconds. Record and Merge are O(1) and O(buckets); it
// does not allocate after creation. The zero value is not ready: use NewHistogram. A
// Histogram is not safe for concurrent use: the load generator keeps one per shard.
type Histogram struct {
	counts []uint64
	n      uint64
	sum    float64 // ns; float so that a long run cannot overflow
	min    int64
	max    int64
}

// NewHistogram returns an empty histogram (35 KiB).
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]uint64, nBuckets), min: math.MaxInt64}
}

// bucketOf returns the bucket index of v (0 <= v <= maxValue).
func bucketOf(v int64) int {
	if v < exact {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits - 1 // v>>e is in [subCount, 2*subCount)
	return exact + (e-1)*subCount + int(v>>e) - subCount
}

// bucketRange returns the smallest value of bucket i and the bucket's width.
func bucketRange(i int) (lo, width int64) {
	if i < exact {
		return int64(i), 1
	}
	i -= exact
	e := i/subCount + 1
	return int64(subCount+i%subCount) << e, int64(1) << e
}

// Record counts one duration. Negative durations count as 0, huge ones as maxValue.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	} else if v > maxValue {
		v = maxValue
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
}

// Merge adds the counts of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count returns how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Min returns the smallest recorded duration (exact), or 0 if none.
func (h *Histogram) Min() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.min)
}

// Max returns the largest recorded duration (exact), or 0 if none.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the average recorded duration (exact up to float rounding), or 0 if none.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Percentile returns the duration at or below which p percent (0 < p <= 100) of the recorded
// durations lie, by the nearest-rank method: the value of rank ceil(p/100·n). It reports the
// middle of that value's bucket, clamped to the exact min and max, so it is exact below
// 256 ns and within 0.4% above. It returns 0 for an empty histogram.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := bucketRange(i)
			v := lo + (w-1)/2
			return time.Duration(max(h.min, min(v, h.max)))
		}
	}
	return time.Duration(h.max)
}
