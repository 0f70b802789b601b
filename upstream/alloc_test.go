//go:build !race

package upstream

import "testing"

func TestPickDoesNotAllocate(t *testing.T) {
	for _, name := range Names() {
		s := backends(5, 1, 1)
		p := registry[name].NewPicker(s, 1)
		up := NewMask(3)
		if n := testing.AllocsPerRun(1000, func() { p.Pick(0, up, -1); p.Done(0, 0, true) }); n != 0 {
			t.Errorf("%s: %v allocs per Pick+Done; want 0", name, n)
		}
	}
}
