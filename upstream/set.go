package upstream

import (
	"math/bits"
	"sync/atomic"
)

// Backend is one server of a pool. It is immutable once placed in a Set.
type Backend struct {
	Addr   string // host:port, dialed as TCP
	Weight int    // relative share of new requests; 0 takes no new requests
}

// Set is an immutable snapshot of one pool. A new Set (with a new Gen) is built
// when membership or weights change and published through an atomic.Pointer.
// Backend indexes are positions in Backends.
type Set struct {
	Gen      uint64
	Backends []Backend

	// cursor is round robin's position, shared by the pickers of all loops
	// so that the rotation is global: one atomic add per pick.
	cursor atomic.Uint64
}

// Mask reports which backends may take traffic, one bit per backend index.
// A Mask is immutable once published; loops load it once per request.
type Mask []uint64

// NewMask returns a Mask with the first n bits set.
func NewMask(n int) Mask {
	m := make(Mask, (n+63)/64)
	for i := 0; i < n; i++ {
		m[i/64] |= 1 << (i % 64)
	}
	return m
}

// Has reports whether backend i may take traffic.
func (m Mask) Has(i int) bool {
	w := i / 64
	return i >= 0 && w < len(m) && m[w]&(1<<(i%64)) != 0
}

// Count returns the number of backends that may take traffic.
func (m Mask) Count() int {
	n := 0
	for _, w := range m {
		n += bits.OnesCount64(w)
	}
	return n
}
