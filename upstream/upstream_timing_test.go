package upstream

import (
	"fmt"
	"testing"
)

var sink int

func BenchmarkPick(b *testing.B) {
	for _, name := range Names() {
		for _, n := range []int{3, 30, 300} {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				s := &Set{Gen: 1}
				for i := range n {
					s.Backends = append(s.Backends, Backend{Addr: fmt.Sprint(i), Weight: 1 + i%3})
				}
				p := registry[name].NewPicker(s, 1)
				up := NewMask(n)
				b.ReportAllocs()
				for b.Loop() {
					i := p.Pick(0, up, -1)
					p.Done(i, 0, true)
					sink += i
				}
			})
		}
	}
}
