//go:build !race

package upstream

import (
	"testing"
	"time"
)

func TestPickDoesNotAllocate(t *testing.T) {
	for _, a := range testAlgs() {
		for _, n := range []int{3, 300} {
			s := benchSet(n)
			p := mustNew(t, a.name, a.o).NewPicker(s, 1)
			up := NewMask(n)
			up[0] &^= 1 // one backend down, so masks are walked
			w := &window{p: p, k: 8, rtt: time.Millisecond}
			key := uint64(1)
			w.add(p.Pick(0, up, -1)) // the window allocates its queue once
			if got := testing.AllocsPerRun(1000, func() {
				key++
				i := p.Pick(key, up, -1)
				w.add(i)
			}); got != 0 {
				t.Errorf("%s/%d: %v allocs per Pick+Done; want 0", a.label, n, got)
			}
		}
	}
}
