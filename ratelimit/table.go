package ratelimit

import "math/bits"

// Slot layout shared by Local and Gauge: one uint64 holds a 16-bit key
// fingerprint in the top bits and a 48-bit value (a TAT in microseconds, or a
// count) in the low bits, so a whole entry changes with one compare-and-swap.
const (
	slotsPerBucket = 8 // 64 bytes: one cache line per bucket
	valueBits      = 48
	valueMask      = 1<<valueBits - 1
	defaultMaxKeys = 1 << 20
)

// mix spreads the caller's key over all 64 bits (the splitmix64 finalizer), so
// that keys that differ only in a few bits (addresses, route indexes) still land
// in different buckets with different fingerprints. mix is a bijection: distinct
// keys stay distinct.
func mix(k uint64) uint64 {
	k ^= k >> 30
	k *= 0xbf58476d1ce4e5b9
	k ^= k >> 27
	k *= 0x94d049bb133111eb
	k ^= k >> 31
	return k
}

// fingerprint is the part of a mixed key stored in a slot. It comes from the low
// bits, the bucket index from the high bits, so the two are independent.
func fingerprint(h uint64) uint64 { return h & 0xffff }

// tableShape returns the number of slots for maxKeys (the next power of two,
// at least one bucket) and the shift that turns a mixed key into a bucket index.
func tableShape(maxKeys int) (slots int, shift uint) {
	if maxKeys <= 0 {
		maxKeys = defaultMaxKeys
	}
	if maxKeys < slotsPerBucket {
		maxKeys = slotsPerBucket
	}
	slots = 1 << bits.Len(uint(maxKeys-1))
	buckets := slots / slotsPerBucket
	// With one bucket the shift is 64, and a Go shift by the full width is 0.
	shift = uint(64 - bits.Len(uint(buckets-1)))
	return slots, shift
}
