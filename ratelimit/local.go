package ratelimit

import (
	"math"
	"sync/atomic"
	"time"
)

// Rule is a rate limit: Rate requests per Period, with Burst of them admitted at
// once. Its zero Period and Burst take the defaults.
type Rule struct {
	Rate   int           `toml:"rate"`   // requests per Period (> 0)
	Period time.Duration `toml:"period"` // (default 1s)
	Burst  int           `toml:"burst"`  // requests admitted at once on top of an empty history (>= 1; default Rate)
}

// Decision is the verdict on one request, with what the RateLimit and
// Retry-After headers need.
type Decision struct {
	Allowed    bool
	Limit      int           // the rule's Burst: the quota of the RateLimit header
	Remaining  int           // requests that would be admitted right now, after this one
	Reset      time.Duration // until the key's history is empty again (the bucket full)
	RetryAfter time.Duration // when !Allowed: until one more request would be admitted
}

// Local is a GCRA rate limiter over a bounded table of keys, shared by all
// event loops. Allow and Peek take no lock, do not allocate, make no syscall and
// do not block: they are one compare-and-swap on one cache line in the common
// case. It holds Bytes() of memory whatever the traffic.
type Local struct {
	slots []atomic.Uint64
	shift uint
	t     int64 // emission interval, microseconds (>= 1)
	limit int64 // Burst·t: how far the TAT may run ahead of now
	burst int
	epoch atomic.Int64 // caller's clock (ns) at TAT 0; epochUnset until the first call
}

const epochUnset = math.MinInt64

// NewLocal returns a limiter for r that tracks about maxKeys keys at once
// (default 1<<20 when 0) in 8 bytes per key, the table rounded up to a power of
// two. It panics on a Rule with Rate <= 0: rules are checked at config time.
func NewLocal(r Rule, maxKeys int) *Local {
	r = r.withDefaults()
	n, shift := tableShape(maxKeys)
	l := &Local{
		slots: make([]atomic.Uint64, n),
		shift: shift,
		burst: r.Burst,
	}
	// T is kept in whole microseconds; rounding to the nearest keeps the long-run
	// rate within 0.5µs/T of the rule (exact for every rule whose T is whole µs).
	l.t = (r.Period.Nanoseconds()/1000*2/int64(r.Rate) + 1) / 2
	if l.t < 1 {
		l.t = 1 // rules above 1e6 per second per key are capped there
	}
	l.limit = int64(r.Burst) * l.t
	l.epoch.Store(epochUnset)
	return l
}

func (r Rule) withDefaults() Rule {
	if r.Rate <= 0 {
		panic("BUG: ratelimit.Rule with Rate <= 0")
	}
	if r.Period <= 0 {
		r.Period = time.Second
	}
	if r.Burst <= 0 {
		r.Burst = r.Rate
	}
	return r
}

// Bytes is the memory the key table holds: 8 bytes per slot.
func (l *Local) Bytes() int { return len(l.slots) * 8 }

// Allow admits a request for key at now (monotonic nanoseconds, any origin,
// the same clock for every call) and records it, or refuses it and records
// nothing. Safe from any goroutine; it does not allocate or block.
func (l *Local) Allow(key uint64, now int64) Decision {
	d, _ := l.decide(mix(key), l.micros(now), true)
	return d
}

// Peek says what Allow would say for key at now, and records nothing: for
// answering headers without spending quota. A dry run (log but do not refuse)
// should call Allow and ignore the verdict instead: Allow records only what it
// admits, so the dry run's state, and so its verdicts, are exactly those the
// enforced limit would have.
func (l *Local) Peek(key uint64, now int64) Decision {
	d, _ := l.decide(mix(key), l.micros(now), false)
	return d
}

// micros converts the caller's clock to microseconds since the table's epoch,
// which the first call fixes one second before its own now (so that a slightly
// older reading from another loop still lands after it).
func (l *Local) micros(now int64) int64 {
	e := l.epoch.Load()
	if e == epochUnset {
		l.epoch.CompareAndSwap(epochUnset, now-int64(time.Second))
		e = l.epoch.Load()
	}
	n := (now - e) / 1000
	if n < 0 {
		return 0
	}
	if n > valueMask/2 {
		// 4.4 years after the epoch: saturate rather than wrap (a TAT must fit
		// 48 bits with room for the limit above it). The owner rebuilds the
		// Local on any reload long before.
		return valueMask / 2
	}
	return n
}

// decide runs GCRA for the mixed key h at n (µs). It returns the decision and
// the index of the key's slot (meaningful when the decision is Allowed and
// record is set).
//
// The loop: find the key's slot by fingerprint, else the slot with the smallest
// TAT (free if that TAT has passed, else the closest-to-idle key, evicted);
// compute the new TAT; publish it with one CAS on the value that was read. A
// failed CAS means another goroutine changed that slot (same key or an
// eviction): read the bucket again. Refusals write nothing, so they never
// evict.
func (l *Local) decide(h uint64, n int64, record bool) (Decision, int) {
	fp := fingerprint(h) << valueBits
	base := int(h>>l.shift) * slotsPerBucket
	b := l.slots[base : base+slotsPerBucket : base+slotsPerBucket]
	for {
		idx, old, found := -1, uint64(0), false
		minTAT := uint64(math.MaxUint64)
		for i := range b {
			v := b[i].Load()
			if v&^valueMask == fp {
				idx, old, found = i, v, true
				break
			}
			if tat := v & valueMask; tat < minTAT {
				idx, old, minTAT = i, v, tat
			}
		}
		tat := int64(0)
		if found {
			tat = int64(old & valueMask)
		}
		if tat < n {
			tat = n
		}
		next := tat + l.t
		if next-n > l.limit {
			return Decision{
				Limit:      l.burst,
				Reset:      micro(tat - n),
				RetryAfter: micro(next - n - l.limit),
			}, base + idx
		}
		d := Decision{
			Allowed:   true,
			Limit:     l.burst,
			Remaining: int((l.limit - (next - n)) / l.t),
			Reset:     micro(next - n),
		}
		if !record || b[idx].CompareAndSwap(old, fp|uint64(next)) {
			return d, base + idx
		}
	}
}

// raise moves the TAT of slot i forward to at least tat (µs) if the slot still
// holds fingerprint fp; it never moves a TAT back. It is how Shared applies the
// global state.
func (l *Local) raise(i int, fp, tat uint64) {
	for {
		v := l.slots[i].Load()
		if v&^valueMask != fp<<valueBits || v&valueMask >= tat {
			return
		}
		if l.slots[i].CompareAndSwap(v, fp<<valueBits|tat) {
			return
		}
	}
}

func micro(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
