package upstream

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// sim is a virtual-time load test: requests arrive at a fixed interval,
// alternating over the loops' Pickers, and backend i answers after rtt(i, now).
type sim struct {
	pickers []Picker
	up      Mask
	gap     time.Duration
	rtt     func(i int, now time.Duration) time.Duration
	now     int64       // virtual ns; least_time Pickers read it
	loop    *rand.Rand  // when set, each request lands on a random loop
	done    func(i int) // when set, called as each response ends
	pending simQueue
}

type simReq struct {
	end time.Duration
	p   Picker
	i   int
	rtt time.Duration
}

type simQueue []simReq

func (q simQueue) Len() int           { return len(q) }
func (q simQueue) Less(a, b int) bool { return q[a].end < q[b].end }
func (q simQueue) Swap(a, b int)      { q[a], q[b] = q[b], q[a] }
func (q *simQueue) Push(x any)        { *q = append(*q, x.(simReq)) }
func (q *simQueue) Pop() any {
	old := *q
	r := old[len(old)-1]
	*q = old[:len(old)-1]
	return r
}

func newSim(t *testing.T, name string, s *Set, loops int, gap time.Duration, rtt func(i int, now time.Duration) time.Duration) *sim {
	return newSimSets(t, name, slices.Repeat([]*Set{s}, loops), gap, rtt)
}

// newSimSets gives loop l a Picker of sets[l]: one shared Set is the global
// view; a Set per loop is per-loop counting.
func newSimSets(t *testing.T, name string, sets []*Set, gap time.Duration, rtt func(i int, now time.Duration) time.Duration) *sim {
	sm := &sim{up: NewMask(len(sets[0].Backends)), gap: gap, rtt: rtt}
	for l, s := range sets {
		p := newPicker(t, name, s, uint64(l+1))
		if c, ok := p.(*counted); ok {
			if lt, ok := c.p.(*leastTimePicker); ok {
				lt.now = func() int64 { return sm.now }
			}
		}
		sm.pickers = append(sm.pickers, p)
	}
	return sm
}

// run sends n requests, calling seen for each pick, and returns the time of
// the last arrival.
func (sm *sim) run(start time.Duration, n int, seen func(i int, at time.Duration)) time.Duration {
	at := start
	for k := range n {
		at = start + time.Duration(k)*sm.gap
		for sm.pending.Len() > 0 && sm.pending[0].end <= at {
			r := heap.Pop(&sm.pending).(simReq)
			sm.now = int64(r.end)
			r.p.Done(r.i, r.rtt, true)
			if sm.done != nil {
				sm.done(r.i)
			}
		}
		sm.now = int64(at)
		p := sm.pickers[k%len(sm.pickers)]
		if sm.loop != nil {
			p = sm.pickers[sm.loop.IntN(len(sm.pickers))]
		}
		i := p.Pick(0, sm.up, -1)
		rtt := sm.rtt(i, at)
		heap.Push(&sm.pending, simReq{at + rtt, p, i, rtt})
		seen(i, at)
	}
	return at
}

func TestLeastConnectionsOrder(t *testing.T) {
	// With nothing in flight every backend ties: smooth weighted round robin.
	p := newPicker(t, "least_connections", backends(5, 1, 1), 0)
	if got, want := picks(p, NewMask(3), 7), []int{0, 0, 1, 0, 2, 0, 0}; !slices.Equal(got, want) {
		t.Fatalf("idle least_connections picked %v; want %v", got, want)
	}
	// Held requests: the fewest in flight per unit of weight wins.
	p = newPicker(t, "least_connections", backends(2, 1, 1), 0)
	up := NewMask(3)
	var got []int
	for range 8 {
		got = append(got, p.Pick(0, up, -1)) // none is Done
	}
	// In flight per weight, then the tie-break's current weights:
	// 0,0,0 tie: 0 | ½,0,0: 1 and 2 tie, 1 | ½,1,0: 2 | ½,1,1: 0 |
	// 1,1,1 tie (current 0,1,2): 2 | 1,1,2: 0 and 1 tie (current 2,2): 0 |
	// 1½,1,2: 1 | 1½,2,2: 0.
	if want := []int{0, 1, 2, 0, 2, 0, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("held least_connections picked %v; want %v", got, want)
	}
	p.Done(1, time.Millisecond, true)
	if i := p.Pick(0, up, -1); i != 1 {
		t.Fatalf("after Done(1) picked %d; want 1, the only one below its share", i)
	}
}

func TestP2CFewerInFlight(t *testing.T) {
	// With two backends both are always drawn: the one with fewer requests in
	// flight per unit of weight wins every time.
	s := backends(1, 1)
	p := newPicker(t, "p2c", s, 1)
	up := NewMask(2)
	for range 5 {
		i := p.Pick(0, up, -1)
		if i != 0 && i != 1 {
			t.Fatalf("picked %d", i)
		}
		if l0, l1 := s.InFlight(0), s.InFlight(1); l0-l1 > 1 || l1-l0 > 1 {
			t.Fatalf("in flight %d and %d after %d; p2c let them drift apart", l0, l1, i)
		}
	}
	// A second loop's picks count too.
	q := newPicker(t, "p2c", s, 2)
	for range 6 {
		q.Pick(0, up, -1)
	}
	if l0, l1 := s.InFlight(0), s.InFlight(1); l0 != 5 && l1 != 5 && (l0 > 6 || l1 > 6) {
		t.Fatalf("in flight %d and %d across two loops; want them balanced", l0, l1)
	}
}

func TestSlowBackendGetsLess(t *testing.T) {
	// Three backends, two loops, 10,000 requests/s for 10 s; backend 2 answers
	// in 10 ms, the others in 1 ms. Round robin would give it a third of the
	// requests; least_connections and p2c keep its in-flight count level with
	// the others', which means about 1/21 of the requests; least_time prefers
	// queueing 5 deep on a fast backend to 10 ms, and only probes it. None
	// starves it.
	slow := func(i int, _ time.Duration) time.Duration {
		if i == 2 {
			return 10 * time.Millisecond
		}
		return time.Millisecond
	}
	for _, name := range []string{"least_connections", "p2c", "least_time"} {
		t.Run(name, func(t *testing.T) {
			sm := newSim(t, name, backends(1, 1, 1), 2, 100*time.Microsecond, slow)
			got := make([]int, 3)
			sm.run(0, 100000, func(i int, at time.Duration) {
				if at >= time.Second {
					got[i]++
				}
			})
			share := float64(got[2]) / float64(got[0]+got[1]+got[2])
			t.Logf("slow backend's share: %.3f (%v)", share, got)
			if share > 0.12 || got[2] == 0 {
				t.Fatalf("slow backend got %.3f of the requests (%v); want some, below 0.12", share, got)
			}
		})
	}
}

func TestLeastTimeSlowThenRecovered(t *testing.T) {
	// 1,000 requests/s over three backends that answer in 1 ms. From 20 s to
	// 80 s backend 2 answers in 10 ms: it loses its traffic but is still
	// tried; from 80 s on it is fast again and gets its third back.
	const (
		slowFrom = 20 * time.Second
		slowTo   = 80 * time.Second
		end      = 200 * time.Second
	)
	rtt := func(i int, now time.Duration) time.Duration {
		if i == 2 && now >= slowFrom && now < slowTo {
			return 10 * time.Millisecond
		}
		return time.Millisecond
	}
	sm := newSim(t, "least_time", backends(1, 1, 1), 2, time.Millisecond, rtt)
	type phase struct {
		from, to time.Duration
		n, slow  int
	}
	phases := []*phase{{from: 10 * time.Second, to: slowFrom}, {from: slowFrom + time.Second, to: slowTo}, {from: end - 60*time.Second, to: end}}
	sm.run(0, int(end/time.Millisecond), func(i int, at time.Duration) {
		for _, ph := range phases {
			if at >= ph.from && at < ph.to {
				ph.n++
				if i == 2 {
					ph.slow++
				}
			}
		}
	})
	share := func(ph *phase) float64 { return float64(ph.slow) / float64(ph.n) }
	t.Logf("backend 2's share: before %.3f, slow %.4f (%d requests), recovered %.3f", share(phases[0]), share(phases[1]), phases[1].slow, share(phases[2]))
	if s := share(phases[0]); math.Abs(s-1.0/3) > 0.05 {
		t.Errorf("before: backend 2 got %.3f; want about 1/3", s)
	}
	if s := share(phases[1]); s > 0.02 || phases[1].slow == 0 {
		t.Errorf("while 10x slower: backend 2 got %.4f (%d requests); want some, below 0.02", s, phases[1].slow)
	}
	if s := share(phases[2]); math.Abs(s-1.0/3) > 0.05 {
		t.Errorf("recovered: backend 2 got %.3f; want about 1/3", s)
	}
}

var hashMethods = []testAlg{
	{"hash/ring", "hash", Options{HashMethod: "ring"}},
	{"hash/maglev", "hash", Options{HashMethod: "maglev"}},
	{"ip_hash/ring", "ip_hash", Options{}},
	{"ip_hash/maglev", "ip_hash", Options{HashMethod: "maglev"}},
}

func testKeys(n int) []uint64 {
	r := rand.New(rand.NewPCG(9, 9))
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = r.Uint64() | 1
	}
	return keys
}

// owners returns the address each key goes to.
func owners(t *testing.T, a testAlg, s *Set, up Mask, keys []uint64) []string {
	p := mustNew(t, a.name, a.o).NewPicker(s, 1)
	out := make([]string, len(keys))
	for k, key := range keys {
		i := p.Pick(key, up, -1)
		p.Done(i, time.Millisecond, true)
		out[k] = s.Backends[i].Addr
	}
	return out
}

func TestHashSticky(t *testing.T) {
	// A key keeps its backend across picks, loops (seeds) and a rebuild that
	// reorders the same backends.
	keys := testKeys(2000)
	bs := []Backend{{Addr: "10.0.0.1:80", Weight: 1}, {Addr: "10.0.0.2:80", Weight: 2}, {Addr: "10.0.0.3:80", Weight: 1}}
	rev := []Backend{bs[2], bs[1], bs[0]}
	for _, a := range hashMethods {
		t.Run(a.label, func(t *testing.T) {
			s := NewSet(1, bs, nil)
			want := owners(t, a, s, NewMask(3), keys)
			again := owners(t, a, s, NewMask(3), keys)
			s2 := NewSet(2, rev, s)
			reordered := owners(t, a, s2, NewMask(3), keys)
			p := mustNew(t, a.name, a.o).NewPicker(s, 99)
			for k, key := range keys {
				if again[k] != want[k] || reordered[k] != want[k] {
					t.Fatalf("key %d went to %s, then %s, then %s after a reorder", k, want[k], again[k], reordered[k])
				}
				for range 3 {
					i := p.Pick(key, NewMask(3), -1)
					p.Done(i, time.Millisecond, true)
					if bs[i].Addr != want[k] {
						t.Fatalf("key %d went to %s and then %s", k, want[k], bs[i].Addr)
					}
				}
			}
		})
	}
}

func TestHashMinimalDisruption(t *testing.T) {
	// Adding a fourth backend moves about a quarter of the keys (the ones it
	// takes), plus a small margin; a backend going down moves only its keys,
	// and they come back when it is up again.
	keys := testKeys(10000)
	bs := []Backend{{Addr: "10.0.0.1:80", Weight: 1}, {Addr: "10.0.0.2:80", Weight: 1}, {Addr: "10.0.0.3:80", Weight: 1}}
	for _, a := range hashMethods {
		t.Run(a.label, func(t *testing.T) {
			s3 := NewSet(1, bs, nil)
			before := owners(t, a, s3, NewMask(3), keys)
			s4 := NewSet(2, append(slices.Clone(bs), Backend{Addr: "10.0.0.4:80", Weight: 1}), s3)
			after := owners(t, a, s4, NewMask(4), keys)
			moved, toNew := 0, 0
			for k := range keys {
				if before[k] != after[k] {
					moved++
					if after[k] == "10.0.0.4:80" {
						toNew++
					}
				}
			}
			t.Logf("adding a 4th backend moved %d of %d keys, %d of them to it", moved, len(keys), toNew)
			if moved > len(keys)/4+len(keys)/50 {
				t.Errorf("adding a 4th backend moved %d of %d keys; want at most 1/4 + 2%%", moved, len(keys))
			}
			if a.o.HashMethod != "maglev" && toNew != moved {
				t.Errorf("ring: %d keys moved between old backends", moved-toNew)
			}

			up := NewMask(4)
			up[0] &^= 1 << 1 // 10.0.0.2 is down
			down := owners(t, a, s4, up, keys)
			back := owners(t, a, s4, NewMask(4), keys)
			for k := range keys {
				if after[k] != "10.0.0.2:80" && down[k] != after[k] {
					t.Fatalf("key %d moved from %s to %s when another backend went down", k, after[k], down[k])
				}
				if down[k] == "10.0.0.2:80" {
					t.Fatalf("key %d went to a backend that is down", k)
				}
				if back[k] != after[k] {
					t.Fatalf("key %d did not come back to %s", k, after[k])
				}
			}
		})
	}
}

func TestHashBoundedLoad(t *testing.T) {
	// Nine requests in ten carry the same key. With 100 in flight over four
	// backends and a factor of 1.25, no backend ever holds more than
	// ⌈1.25 × 100 / 4⌉ = 32; without the bound the hot key's backend holds
	// about 90.
	const inflight, factor = 100, 1.25
	bound := int64(math.Ceil(factor * inflight / 4))
	for _, method := range []string{"ring", "maglev"} {
		for _, f := range []float64{0, factor} {
			s := backends(1, 1, 1, 1)
			p := mustNew(t, "hash", Options{HashMethod: method, BalanceFactor: f}).NewPicker(s, 1)
			w := &window{p: p, k: inflight, rtt: time.Millisecond}
			r := rand.New(rand.NewPCG(4, 4))
			var most int64
			for k := range 20000 {
				key := uint64(12345)
				if r.IntN(10) == 0 {
					key = r.Uint64() | 1
				}
				w.add(p.Pick(key, NewMask(4), -1))
				if k < inflight {
					continue
				}
				var held [4]int64 // unbounded hash does not count; the window knows
				for j := range w.n {
					held[w.q[(w.head+j)%w.k]]++
				}
				for i := range 4 {
					if f > 0 && s.InFlight(i) != held[i] {
						t.Fatalf("backend %d: InFlight %d; %d held", i, s.InFlight(i), held[i])
					}
					most = max(most, held[i])
				}
			}
			t.Logf("%s, factor %v: at most %d in flight on one backend", method, f, most)
			if f > 0 && most > bound {
				t.Errorf("%s, factor %v: a backend held %d in flight; want at most %d", method, f, most, bound)
			}
			if f == 0 && most <= bound {
				t.Errorf("%s unbounded: the hot key's backend held only %d; the test does not load it", method, most)
			}
		}
	}
}

func TestHashFallback(t *testing.T) {
	// Requests without a key go to the fallback algorithm (round robin by
	// default); keyed ones stick.
	s := backends(1, 1, 1)
	p := mustNew(t, "hash", Options{}).NewPicker(s, 1)
	up := NewMask(3)
	var got []int
	for range 6 {
		got = append(got, p.Pick(NoKey, up, -1))
	}
	if want := []int{0, 1, 2, 0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("hash without a key picked %v; want round robin %v", got, want)
	}
	key := uint64(777)
	first := p.Pick(key, up, -1)
	for range 5 {
		if i := p.Pick(key, up, -1); i != first {
			t.Fatalf("keyed pick moved from %d to %d", first, i)
		}
	}

	// A load-aware fallback is counted by the hash Picker, once.
	s = backends(1, 1, 1)
	p = mustNew(t, "hash", Options{Fallback: "least_connections"}).NewPicker(s, 1)
	var held []int
	for range 6 {
		held = append(held, p.Pick(NoKey, up, -1))
	}
	for i := range 3 {
		if l := s.InFlight(i); l != 2 {
			t.Fatalf("least_connections fallback: backend %d has %d in flight; want 2 each (%v)", i, l, held)
		}
	}
	for _, i := range held {
		p.Done(i, time.Millisecond, true)
	}
	for i := range 3 {
		if l := s.InFlight(i); l != 0 {
			t.Fatalf("backend %d has %d in flight after every Done", i, l)
		}
	}
}
