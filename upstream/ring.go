package upstream

import "math/bits"

const (
	// ringPoints is the number of points per unit of weight. Ketama and
	// nginx use 160, which leaves a backend's share of keys about ±8% off
	// its weight (one standard deviation is 1/√points); 1024 brings it to
	// about ±3% per backend, so that shares hold within 2 points of the
	// weights, at 8 to 10 bytes per point.
	ringPoints = 1024
	// maxRingPoints caps the ring at about 10 MB. Above it (more than 1024
	// units of weight in the pool) the points per unit shrink, and then a
	// change of the total weight moves a few more keys than the minimum.
	maxRingPoints = 1 << 20
)

// ring is a consistent hashing ring: each backend owns points at positions
// that depend only on its address, and a key belongs to the first point at or
// after its own position. A bucket index over the top bits of the position
// makes a lookup O(1).
type ring struct {
	pos    []uint32 // point positions, ascending
	idx    []uint16 // backend of each point
	shift  uint     // position >> shift is its bucket
	bucket []uint32 // bucket[b]: the first point whose bucket is >= b; one extra at the end
}

// ringTable builds the Set's ring on first use.
func (st *state) ringTable() *ring {
	st.ringOnce.Do(func() { st.ring = newRing(st) })
	return st.ring
}

func newRing(st *state) *ring {
	per := uint64(ringPoints)
	if st.total*per > maxRingPoints {
		per = max(1, maxRingPoints/st.total)
	}
	// rank is a backend's place in address order: points at the same
	// position are ordered by it, so the ring does not depend on indexes.
	rank := make([]uint16, len(st.weight))
	for r, i := range st.order {
		rank[i] = uint16(r)
	}
	keys := make([]uint64, 0, st.total*per) // position<<32 | rank
	for i, w := range st.weight {
		h := st.addrHash[i]
		for k := range uint64(w) * per {
			p := mix(h+(k+1)*0x9e3779b97f4a7c15) >> 32
			keys = append(keys, p<<32|uint64(rank[i]))
		}
	}
	sortKeys(keys)
	r := &ring{pos: make([]uint32, len(keys)), idx: make([]uint16, len(keys))}
	for j, k := range keys {
		r.pos[j], r.idx[j] = uint32(k>>32), st.order[uint16(k)]
	}
	// About two points per bucket.
	b := max(1, bits.Len(uint(len(keys)))-1)
	r.shift = uint(32 - b)
	r.bucket = make([]uint32, 1<<b+1)
	j := 0
	for bk := range r.bucket {
		for j < len(r.pos) && uint64(r.pos[j])>>r.shift < uint64(bk) {
			j++
		}
		r.bucket[bk] = uint32(j)
	}
	return r
}

// search returns the first point at or after position h, wrapping around.
func (r *ring) search(h uint32) int {
	b := h >> r.shift
	i, end := int(r.bucket[b]), int(r.bucket[b+1])
	for i < end && r.pos[i] < h {
		i++
	}
	if i == len(r.pos) {
		i = 0
	}
	return i
}

// sortKeys sorts ring keys (position<<32 | rank) with an LSD radix sort on
// the bytes that can be non-zero: about 10× faster than a comparison sort
// for the 600,000 points of 300 backends.
func sortKeys(keys []uint64) {
	tmp := make([]uint64, len(keys))
	src, dst := keys, tmp
	for _, shift := range [...]uint{0, 8, 32, 40, 48, 56} {
		var count [257]int
		for _, k := range src {
			count[(k>>shift)&0xff+1]++
		}
		for b := 1; b < len(count); b++ {
			count[b] += count[b-1]
		}
		for _, k := range src {
			b := (k >> shift) & 0xff
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	// An even number of passes leaves the result in keys.
}
