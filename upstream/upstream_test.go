package upstream

import (
	"slices"
	"testing"
)

func backends(weights ...int) *Set {
	s := &Set{Gen: 1}
	for i, w := range weights {
		s.Backends = append(s.Backends, Backend{Addr: string(rune('a' + i)), Weight: w})
	}
	return s
}

func picks(p Picker, up Mask, n int) []int {
	var got []int
	for range n {
		got = append(got, p.Pick(0, up, -1))
	}
	return got
}

func TestRoundRobinSmoothOrder(t *testing.T) {
	f := func(weights []int, want []int) {
		t.Helper()
		s := backends(weights...)
		p := registry["round_robin"].NewPicker(s, 0)
		if got := picks(p, NewMask(len(weights)), len(want)); !slices.Equal(got, want) {
			t.Fatalf("weights %v: got %v; want %v", weights, got, want)
		}
	}
	// nginx's smooth weighted round robin: 5,1,1 gives a a b a c a a.
	f([]int{5, 1, 1}, []int{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0})
	f([]int{1, 1, 1}, []int{0, 1, 2, 0, 1, 2})
	f([]int{2, 1}, []int{0, 1, 0, 0, 1, 0})
	// Weight 0 takes no new requests.
	f([]int{1, 0, 1}, []int{0, 2, 0, 2})
}

func TestRoundRobinMaskAndAvoid(t *testing.T) {
	s := backends(1, 1, 1)
	p := registry["round_robin"].NewPicker(s, 0)
	up := NewMask(3)
	up[0] &^= 1 << 1 // backend 1 may not take traffic
	for _, i := range picks(p, up, 30) {
		if i == 1 {
			t.Fatalf("picked masked-out backend 1")
		}
	}
	for range 30 {
		if i := p.Pick(0, up, 0); i != 2 {
			t.Fatalf("Pick(avoid 0) = %d; want 2, the only other eligible", i)
		}
	}
	only := Mask{1} // only backend 0
	if i := p.Pick(0, only, 0); i != 0 {
		t.Fatalf("Pick(avoid 0) with nothing else eligible = %d; want 0", i)
	}
	if i := p.Pick(0, Mask{0}, -1); i != -1 {
		t.Fatalf("Pick with nothing eligible = %d; want -1", i)
	}
	zero := registry["round_robin"].NewPicker(backends(0, 0), 0)
	if i := zero.Pick(0, NewMask(2), -1); i != -1 {
		t.Fatalf("Pick over weight-0 backends = %d; want -1", i)
	}
}

func TestRoundRobinRotatesAcrossLoops(t *testing.T) {
	// Each loop has its own Picker; requests alternating between two loops
	// still rotate over every backend in order.
	s := backends(1, 1, 1)
	a := registry["round_robin"].NewPicker(s, 0)
	b := registry["round_robin"].NewPicker(s, 1)
	var got []int
	for i := range 6 {
		p := a
		if i%2 == 1 {
			p = b
		}
		got = append(got, p.Pick(0, NewMask(3), -1))
	}
	if want := []int{0, 1, 2, 0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("alternating loops picked %v; want %v", got, want)
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("round_robin"); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup("nope"); err == nil {
		t.Fatal("Lookup(nope) succeeded")
	}
}

func TestMask(t *testing.T) {
	m := NewMask(130)
	if m.Count() != 130 || !m.Has(0) || !m.Has(129) || m.Has(130) || m.Has(-1) {
		t.Fatalf("NewMask(130) = %x, count %d", m, m.Count())
	}
}

func TestIdle(t *testing.T) {
	var l Idle[int]
	for i := 1; i <= 3; i++ {
		if _, ev := l.Push(i, int64(i*10), 3); ev {
			t.Fatalf("Push %d evicted below the cap", i)
		}
	}
	if old, ev := l.Push(4, 40, 3); !ev || old != 1 {
		t.Fatalf("Push over the cap evicted %d, %v; want the oldest, 1", old, ev)
	}
	if c, ok := l.Pop(); !ok || c != 4 {
		t.Fatalf("Pop = %d, %v; want 4 (LIFO)", c, ok)
	}
	if !l.Remove(2) || l.Remove(2) || l.Len() != 1 {
		t.Fatalf("Remove: len %d", l.Len())
	}
	l.Push(5, 50, 3)
	var dropped []int
	l.Expire(45, func(c int) { dropped = append(dropped, c) })
	if !slices.Equal(dropped, []int{3}) || l.Len() != 1 {
		t.Fatalf("Expire dropped %v, left %d; want [3], 1", dropped, l.Len())
	}
	if c, _ := l.Pop(); c != 5 {
		t.Fatalf("Pop after Expire = %d; want 5", c)
	}
	if _, ok := l.Pop(); ok {
		t.Fatal("Pop on empty list succeeded")
	}
	if _, ev := l.Push(6, 0, 0); !ev {
		t.Fatal("Push with cap 0 kept the connection")
	}
}
