package upstream

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The conformance tests run every registered algorithm (and the hash
// variants) through the same checks; a new pick_<name>.go is covered by
// registering.

// key returns a request key: NoKey one time in eight for keyed algorithms.
func (a testAlg) key(r *rand.Rand) uint64 {
	if !a.keyed() || r.IntN(8) == 0 {
		return NoKey
	}
	return r.Uint64() | 1
}

func TestConformanceEligibility(t *testing.T) {
	sets := map[string][]int{
		"5":  {5, 1, 0, 2, 1},
		"70": nil,
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 70 {
		sets["70"] = append(sets["70"], r.IntN(4)) // a quarter have weight 0
	}
	for _, a := range testAlgs() {
		for label, weights := range sets {
			t.Run(a.label+"/"+label, func(t *testing.T) {
				s := backends(weights...)
				n := len(weights)
				p := mustNew(t, a.name, a.o).NewPicker(s, 1)
				w := &window{p: p, k: 16, rtt: time.Millisecond}
				r := rand.New(rand.NewPCG(1, uint64(n)))
				can := func(up Mask, i int) bool { return up.Has(i) && weights[i] > 0 }
				for iter := range 20000 {
					up := make(Mask, (n+63)/64)
					density := []float64{0, 0.02, 0.2, 0.7, 1}[iter%5]
					for i := range n {
						if r.Float64() < density {
							up[i/64] |= 1 << (i % 64)
						}
					}
					avoid := r.IntN(n+1) - 1
					some, other := false, false
					for i := range n {
						some = some || can(up, i)
						other = other || (i != avoid && can(up, i))
					}
					i := p.Pick(a.key(r), up, avoid)
					switch {
					case i == -1 && some:
						t.Fatalf("pick %d: -1, but a backend may take traffic (avoid %d, up %x)", iter, avoid, up)
					case i == -1:
					case i < 0 || i >= n || !can(up, i):
						t.Fatalf("pick %d: %d, which may not take traffic (up %x)", iter, i, up)
					case i == avoid && other:
						t.Fatalf("pick %d: returned avoid %d while another backend may take traffic (up %x)", iter, i, up)
					}
					w.add(i)
				}
				w.drain()
				for i := range n {
					if l := s.InFlight(i); l != 0 {
						t.Fatalf("backend %d: %d in flight after every Done", i, l)
					}
				}
			})
		}
	}
}

func TestConformanceWeights(t *testing.T) {
	// Over 100,000 seeded picks with equal response times, each backend's
	// share is within 2 points of its share of the weight. Load-aware
	// algorithms are run with 256 requests in flight, so that they see load
	// (their shares follow the weights in steady state).
	const picks = 100000
	for _, a := range testAlgs() {
		for _, weights := range [][]int{{5, 1, 1}, {3, 0, 2, 1, 1, 4}} {
			t.Run(a.label, func(t *testing.T) {
				s := backends(weights...)
				p := mustNew(t, a.name, a.o).NewPicker(s, 3)
				w := &window{p: p, k: 256, rtt: time.Millisecond}
				r := rand.New(rand.NewPCG(3, 3))
				up := NewMask(len(weights))
				got := make([]int, len(weights))
				for range picks {
					key := r.Uint64() | 1 // every request has a key here
					i := p.Pick(key, up, -1)
					got[i]++
					w.add(i)
				}
				w.drain()
				total := 0
				for _, x := range weights {
					total += x
				}
				for i, x := range weights {
					share, want := float64(got[i])/picks, float64(x)/float64(total)
					if math.Abs(share-want) > 0.02 {
						t.Errorf("weights %v: backend %d got %.4f of the picks; want %.4f ± 0.02 (all: %v)", weights, i, share, want, got)
					}
				}
			})
		}
	}
}

func TestConformanceRebuild(t *testing.T) {
	// A loop swaps to a Picker of the next Set while requests picked by the
	// old one are in flight: their Done goes to the old Picker, the new Set
	// counts them (carried over by address), and no count leaks.
	old := []Backend{{Addr: "a", Weight: 1}, {Addr: "b", Weight: 2}, {Addr: "c", Weight: 1}, {Addr: "d", Weight: 1}}
	next := []Backend{{Addr: "e", Weight: 1}, {Addr: "c", Weight: 1}, {Addr: "a", Weight: 3}, {Addr: "b", Weight: 2}}
	for _, a := range testAlgs() {
		t.Run(a.label, func(t *testing.T) {
			alg := mustNew(t, a.name, a.o)
			r := rand.New(rand.NewPCG(5, 5))
			s1 := NewSet(1, old, nil)
			p1 := alg.NewPicker(s1, 1)
			var pending1 []int
			for range 200 {
				i := p1.Pick(a.key(r), NewMask(4), -1)
				if i < 0 || i >= 4 {
					t.Fatalf("old Set: picked %d", i)
				}
				pending1 = append(pending1, i)
			}
			s2 := NewSet(2, next, s1)
			for j, b := range next {
				for i, o := range old {
					if o.Addr == b.Addr && s2.InFlight(j) != s1.InFlight(i) {
						t.Fatalf("%s: %d in flight in the new Set; %d in the old", b.Addr, s2.InFlight(j), s1.InFlight(i))
					}
				}
			}
			p2 := alg.NewPicker(s2, 2)
			up := NewMask(4)
			up[0] &^= 1 << 1 // c is down
			var pending2 []int
			for k := range 400 {
				if k%2 == 0 && len(pending1) > 0 {
					p1.Done(pending1[0], time.Millisecond, true)
					pending1 = pending1[1:]
				}
				i := p2.Pick(a.key(r), up, -1)
				if i < 0 || i >= 4 || i == 1 {
					t.Fatalf("new Set: picked %d; want one of 0, 2, 3", i)
				}
				pending2 = append(pending2, i)
			}
			for _, i := range pending2 {
				p2.Done(i, time.Millisecond, true)
			}
			for i := range next {
				if l := s2.InFlight(i); l != 0 {
					t.Fatalf("new Set: %s has %d in flight after every Done", next[i].Addr, l)
				}
			}
			if l := s1.InFlight(3); l != 0 {
				t.Fatalf("old Set: d has %d in flight after every Done", l)
			}
		})
	}
}

func TestConformanceAssign(t *testing.T) {
	// Requests the engine routes itself (sticky cookie) are counted like
	// picks, and their Done uncounts them.
	for _, a := range testAlgs() {
		s := backends(1, 1, 1)
		p := mustNew(t, a.name, a.o).NewPicker(s, 1)
		for range 5 {
			p.Assign(1)
		}
		counts := mustNew(t, a.name, a.o).(*algorithm).counts
		if want := map[bool]int64{true: 5, false: 0}[counts]; s.InFlight(1) != want {
			t.Fatalf("%s: %d in flight after 5 Assign; want %d", a.label, s.InFlight(1), want)
		}
		if a.name == "least_connections" {
			for range 10 {
				i := p.Pick(0, NewMask(3), -1)
				if i == 1 {
					t.Fatalf("least_connections picked backend 1 with 5 assigned requests")
				}
				p.Done(i, time.Millisecond, true)
			}
		}
		for range 5 {
			p.Done(1, time.Millisecond, true)
		}
		if l := s.InFlight(1); l != 0 {
			t.Fatalf("%s: %d in flight after every Done", a.label, l)
		}
	}
}

func TestEligible(t *testing.T) {
	s := NewSet(1, []Backend{
		{Addr: "p1", Weight: 1},
		{Addr: "p2", Weight: 0}, // draining primary
		{Addr: "b1", Weight: 1, Backup: true},
		{Addr: "p3", Weight: 2},
		{Addr: "b2", Weight: 0, Backup: true},
		{Addr: "b3", Weight: 3, Backup: true},
	}, nil)
	f := func(up []int, want []int) {
		t.Helper()
		m := make(Mask, 1)
		for _, i := range up {
			m[0] |= 1 << i
		}
		got := s.Eligible(m)
		var gotIdx []int
		for i := range 6 {
			if got.Has(i) {
				gotIdx = append(gotIdx, i)
			}
		}
		if len(gotIdx) != len(want) {
			t.Fatalf("Eligible(up %v) = %v; want %v", up, gotIdx, want)
		}
		for k := range want {
			if gotIdx[k] != want[k] {
				t.Fatalf("Eligible(up %v) = %v; want %v", up, gotIdx, want)
			}
		}
	}
	f([]int{0, 1, 2, 3, 4, 5}, []int{0, 3}) // primaries with a weight
	f([]int{3, 5}, []int{3})                // one primary is enough
	f([]int{1, 2, 4, 5}, []int{2, 5})       // only a weight-0 primary: backups with a weight
	f([]int{2, 4, 5}, []int{2, 5})
	f([]int{4}, nil)
	f(nil, nil)

	// Every algorithm keeps to the backups while the primaries are down.
	for _, a := range testAlgs() {
		p := mustNew(t, a.name, a.o).NewPicker(s, 1)
		up := s.Eligible(Mask{1<<2 | 1<<5})
		r := rand.New(rand.NewPCG(1, 1))
		for range 1000 {
			i := p.Pick(a.key(r), up, -1)
			if i != 2 && i != 5 {
				t.Fatalf("%s: picked %d with only backups 2 and 5 eligible", a.label, i)
			}
			p.Done(i, time.Millisecond, true)
		}
	}
}
