package ratelimit

import "sync/atomic"

// Gauge counts the requests in flight per key, to hold each key to at most max
// at once, in a bounded table shared by all event loops. Acquire and Release
// take no lock, do not allocate and do not block.
type Gauge struct {
	slots []atomic.Uint64 // fingerprint<<48 | count; count 0 is a free slot
	shift uint
}

// NewGauge returns a gauge for about maxKeys keys in flight at once (default
// 1<<20 when 0), 8 bytes per key, the table rounded up to a power of two.
func NewGauge(maxKeys int) *Gauge {
	n, shift := tableShape(maxKeys)
	return &Gauge{slots: make([]atomic.Uint64, n), shift: shift}
}

// Bytes is the memory the table holds: 8 bytes per slot.
func (g *Gauge) Bytes() int { return len(g.slots) * 8 }

// Acquire counts one more request in flight for key, unless the key already
// holds max (or max < 1): then it returns false and counts nothing. Every
// Acquire that returns true must be followed by exactly one Release(key).
//
// When the key's bucket already holds 8 other keys with requests in flight,
// Acquire admits without counting (fail open): refusing a client because
// others share its bucket would punish the wrong one. Release stays safe: the
// key's count may then read low (looser) while such a request is in flight,
// but it never goes below zero and is back at zero when the key's last request
// ends, so no slot leaks.
func (g *Gauge) Acquire(key uint64, max int) bool {
	if max < 1 {
		return false
	}
	h := mix(key)
	fp := fingerprint(h) << valueBits
	base := int(h>>g.shift) * slotsPerBucket
	b := g.slots[base : base+slotsPerBucket : base+slotsPerBucket]
retry:
	free := -1
	var freeOld uint64
	for i := range b {
		v := b[i].Load()
		if v&valueMask == 0 {
			if free < 0 {
				free, freeOld = i, v
			}
			continue
		}
		if v&^valueMask == fp {
			if v&valueMask >= uint64(max) {
				return false
			}
			if !b[i].CompareAndSwap(v, v+1) {
				goto retry
			}
			return true
		}
	}
	if free < 0 {
		return true // bucket full of live keys: fail open, uncounted
	}
	if !b[free].CompareAndSwap(freeOld, fp|1) {
		goto retry
	}
	return true
}

// Release ends one request counted by Acquire(key, ...). It decrements a slot
// of the key's fingerprint in the key's bucket, so the bucket's total for that
// fingerprint is exact even when two keys collide (they share one count:
// stricter, never looser).
func (g *Gauge) Release(key uint64) {
	h := mix(key)
	fp := fingerprint(h) << valueBits
	base := int(h>>g.shift) * slotsPerBucket
	b := g.slots[base : base+slotsPerBucket : base+slotsPerBucket]
retry:
	for i := range b {
		v := b[i].Load()
		if v&^valueMask == fp && v&valueMask != 0 {
			if !b[i].CompareAndSwap(v, v-1) {
				goto retry
			}
			return
		}
	}
	// Nothing counted: the matching Acquire failed open.
}
