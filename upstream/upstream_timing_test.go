package upstream

import (
	"fmt"
	"testing"
	"time"
)

var sink int

// benchSet returns n backends with weights 1, 2, 3, 1, 2, 3...
func benchSet(n int) *Set {
	bs := make([]Backend, n)
	for i := range bs {
		bs[i] = Backend{Addr: fmt.Sprintf("10.0.%d.%d:8080", i/256, i%256), Weight: 1 + i%3}
	}
	return NewSet(1, bs, nil)
}

// BenchmarkPick measures one Pick and its Done on one loop, with every
// backend eligible and (for hash) a different key each time.
func BenchmarkPick(b *testing.B) {
	for _, a := range testAlgs() {
		for _, n := range []int{3, 30, 300} {
			b.Run(fmt.Sprintf("%s/%d", a.label, n), func(b *testing.B) {
				p := mustNew(b, a.name, a.o).NewPicker(benchSet(n), 1)
				up := NewMask(n)
				key := uint64(0)
				b.ReportAllocs()
				for b.Loop() {
					key += 0x9e3779b97f4a7c15
					i := p.Pick(key|1, up, -1)
					p.Done(i, time.Millisecond, true)
					sink += i
				}
			})
		}
	}
}

// BenchmarkNewSet measures what a new Set costs the control plane and the
// first loop that makes a Picker of it: the state, then the algorithm's
// shared table (the schedule, the ring, the Maglev table).
func BenchmarkNewSet(b *testing.B) {
	for _, a := range []testAlg{
		{"round_robin", "round_robin", Options{}},
		{"p2c", "p2c", Options{}},
		{"hash/ring", "hash", Options{}},
		{"hash/maglev", "hash", Options{HashMethod: "maglev"}},
	} {
		for _, n := range []int{3, 30, 300} {
			b.Run(fmt.Sprintf("%s/%d", a.label, n), func(b *testing.B) {
				bs := benchSet(n).Backends
				alg := mustNew(b, a.name, a.o)
				b.ReportAllocs()
				for b.Loop() {
					alg.Prepare(NewSet(1, bs, nil))
				}
			})
		}
	}
}
