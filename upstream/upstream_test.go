package upstream

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// backends returns a Set of backends a, b, c... with the given weights.
func backends(weights ...int) *Set {
	bs := make([]Backend, len(weights))
	for i, w := range weights {
		bs[i] = Backend{Addr: addr(i), Weight: w}
	}
	return NewSet(1, bs, nil)
}

func addr(i int) string {
	if i < 26 {
		return string(rune('a' + i))
	}
	return fmt.Sprintf("10.0.%d.%d:80", i/256, i%256)
}

func mustNew(t testing.TB, name string, o Options) Algorithm {
	t.Helper()
	a, err := New(name, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newPicker(t testing.TB, name string, s *Set, seed uint64) Picker {
	t.Helper()
	return mustNew(t, name, Options{}).NewPicker(s, seed)
}

// picks makes n picks, each Done at once.
func picks(p Picker, up Mask, n int) []int {
	var got []int
	for range n {
		i := p.Pick(0, up, -1)
		p.Done(i, time.Millisecond, true)
		got = append(got, i)
	}
	return got
}

// testAlg is one algorithm with one set of options, as the shared tests run it.
type testAlg struct {
	label string
	name  string
	o     Options
}

// testAlgs is every registered algorithm with default options, plus the
// hash variants.
func testAlgs() []testAlg {
	var out []testAlg
	for _, n := range Names() {
		out = append(out, testAlg{n, n, Options{}})
	}
	return append(out,
		testAlg{"hash/maglev", "hash", Options{HashMethod: "maglev"}},
		testAlg{"hash/ring/bounded", "hash", Options{BalanceFactor: 1.25}},
		testAlg{"hash/maglev/bounded", "hash", Options{HashMethod: "maglev", BalanceFactor: 1.25}},
		testAlg{"ip_hash/fallback=p2c", "ip_hash", Options{Fallback: "p2c"}},
		testAlg{"hash/fallback=least_time", "hash", Options{Fallback: "least_time", HashMethod: "maglev"}},
	)
}

func (a testAlg) keyed() bool { return registry[a.name].keyed }

// window keeps the last k picks in flight: Done for the oldest comes when a
// new one is added, with the same rtt for every backend. It does not allocate
// after the first add.
type window struct {
	p    Picker
	k    int
	rtt  time.Duration
	q    []int // ring buffer of k entries
	head int   // oldest
	n    int
}

func (w *window) add(i int) {
	if i < 0 {
		return
	}
	if w.k == 0 {
		w.p.Done(i, w.rtt, true)
		return
	}
	if w.q == nil {
		w.q = make([]int, w.k)
	}
	if w.n == w.k {
		w.p.Done(w.q[w.head], w.rtt, true)
		w.q[w.head] = i
		w.head = (w.head + 1) % w.k
		return
	}
	w.q[(w.head+w.n)%w.k] = i
	w.n++
}

func (w *window) drain() {
	for ; w.n > 0; w.n-- {
		w.p.Done(w.q[w.head], w.rtt, true)
		w.head = (w.head + 1) % w.k
	}
}

func TestRoundRobinSmoothOrder(t *testing.T) {
	f := func(weights []int, want []int) {
		t.Helper()
		p := newPicker(t, "round_robin", backends(weights...), 0)
		if got := picks(p, NewMask(len(weights)), len(want)); !slices.Equal(got, want) {
			t.Fatalf("weights %v: got %v; want %v", weights, got, want)
		}
	}
	// nginx's smooth weighted round robin: 5,1,1 gives a a b a c a a.
	f([]int{5, 1, 1}, []int{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0})
	f([]int{1, 1, 1}, []int{0, 1, 2, 0, 1, 2})
	f([]int{2, 1}, []int{0, 1, 0, 0, 1, 0})
	// Scaled weights give the same order.
	f([]int{10, 2, 2}, []int{0, 0, 1, 0, 2, 0, 0})
	// Weight 0 takes no new requests.
	f([]int{1, 0, 1}, []int{0, 2, 0, 2})
}

func TestRoundRobinMaskAndAvoid(t *testing.T) {
	p := newPicker(t, "round_robin", backends(1, 1, 1), 0)
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
	zero := newPicker(t, "round_robin", backends(0, 0), 0)
	if i := zero.Pick(0, NewMask(2), -1); i != -1 {
		t.Fatalf("Pick over weight-0 backends = %d; want -1", i)
	}
}

func TestRoundRobinRotatesAcrossLoops(t *testing.T) {
	// Each loop has its own Picker; requests alternating between two loops
	// still rotate over every backend in order.
	s := backends(1, 1, 1)
	a := newPicker(t, "round_robin", s, 0)
	b := newPicker(t, "round_robin", s, 1)
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

func TestNew(t *testing.T) {
	f := func(name string, o Options, wantName string, wantErr bool) {
		t.Helper()
		a, err := New(name, o)
		if (err != nil) != wantErr {
			t.Fatalf("New(%q, %+v): err = %v; want error %v", name, o, err, wantErr)
		}
		if err == nil && a.Name() != wantName {
			t.Fatalf("New(%q).Name() = %q; want %q", name, a.Name(), wantName)
		}
	}
	for _, n := range []string{"round_robin", "least_connections", "p2c", "random", "least_time", "ip_hash", "hash"} {
		f(n, Options{}, n, false)
	}
	f("", Options{}, DefaultAlgorithm, false)
	f("leastconn", Options{}, "least_connections", false)
	f("least_conn", Options{}, "least_connections", false)
	f("roundrobin", Options{}, "round_robin", false)
	f("hash", Options{HashMethod: "maglev", BalanceFactor: 1.25, Fallback: "p2c"}, "hash", false)
	f("ip_hash", Options{HashMethod: "ring", Fallback: "leastconn"}, "ip_hash", false)
	f("hash", Options{HashMethod: "jump"}, "", true)
	f("hash", Options{BalanceFactor: 1}, "", true)
	f("hash", Options{BalanceFactor: 0.5}, "", true)
	f("hash", Options{BalanceFactor: -2}, "", true)
	f("hash", Options{Fallback: "hash"}, "", true)
	f("hash", Options{Fallback: "ip_hash"}, "", true)
	f("hash", Options{Fallback: "nope"}, "", true)
	f("p2c", Options{HashMethod: "maglev"}, "", true)
	f("round_robin", Options{Fallback: "p2c"}, "", true)

	if _, err := New("nope", Options{}); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Fatalf("New(nope): err = %v; want ErrUnknownAlgorithm", err)
	}
	if _, err := Lookup("round_robin"); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup("nope"); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Fatalf("Lookup(nope): err = %v; want ErrUnknownAlgorithm", err)
	}
	if a := mustNew(t, "", Options{}); a.Name() != "p2c" {
		t.Fatalf("default algorithm is %q; want p2c", a.Name())
	}
}

func TestHashKey(t *testing.T) {
	if HashKey(nil) == NoKey || HashKey([]byte("10.0.0.1")) == NoKey {
		t.Fatal("HashKey returned NoKey")
	}
	if HashKey([]byte("a")) != HashKey([]byte("a")) || HashKey([]byte("a")) == HashKey([]byte("b")) {
		t.Fatal("HashKey is not a function of its input")
	}
}

func TestMask(t *testing.T) {
	m := NewMask(130)
	if m.Count() != 130 || !m.Has(0) || !m.Has(129) || m.Has(130) || m.Has(-1) {
		t.Fatalf("NewMask(130) = %x, count %d", m, m.Count())
	}
}

func TestSmoothScheduleLarge(t *testing.T) {
	// A schedule's period is the sum of the reduced weights and each backend
	// appears weight times.
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]uint32, 100)
	for i := range w {
		w[i] = uint32(r.IntN(5)) * 3
	}
	sched := smoothSchedule(w)
	count := make([]uint32, len(w))
	for _, i := range sched {
		count[i]++
	}
	for i := range w {
		if count[i] != w[i]/3 {
			t.Fatalf("backend %d appears %d times; want %d", i, count[i], w[i]/3)
		}
	}
}

func TestSortKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	keys := make([]uint64, 5000)
	for i := range keys {
		keys[i] = uint64(r.Uint32N(1000))<<32 | uint64(r.IntN(MaxBackends))
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if sortKeys(keys); !slices.Equal(keys, want) {
		t.Fatal("sortKeys disagrees with slices.Sort")
	}
}

func TestPrepare(t *testing.T) {
	// Prepare builds the shared tables, so NewPicker only reads them.
	for _, a := range testAlgs() {
		s := backends(1, 2, 3)
		alg := mustNew(t, a.name, a.o)
		alg.Prepare(s)
		st := s.state()
		if a.name == "hash" || a.name == "ip_hash" {
			if st.ring == nil && st.maglev == nil {
				t.Fatalf("%s: Prepare built no table", a.label)
			}
		}
		p := alg.NewPicker(s, 1)
		if i := p.Pick(1, NewMask(3), -1); i < 0 {
			t.Fatalf("%s: Pick after Prepare = %d", a.label, i)
		}
	}
}

func TestIdle(t *testing.T) {
	var l Idle[int]
	for i := 1; i <= 3; i++ {
		if _, ev := l.Push(i, 3); ev {
			t.Fatalf("Push %d evicted below the cap", i)
		}
	}
	if old, ev := l.Push(4, 3); !ev || old != 1 {
		t.Fatalf("Push over the cap evicted %d, %v; want the oldest, 1", old, ev)
	}
	if c, ok := l.Pop(); !ok || c != 4 {
		t.Fatalf("Pop = %d, %v; want 4 (LIFO)", c, ok)
	}
	if !l.Remove(2) || l.Remove(2) || l.Len() != 1 {
		t.Fatalf("Remove: len %d", l.Len())
	}
	l.Push(5, 3)
	if c, _ := l.Pop(); c != 5 {
		t.Fatalf("Pop = %d; want 5 (LIFO)", c)
	}
	if c, _ := l.Pop(); c != 3 {
		t.Fatalf("Pop = %d; want 3", c)
	}
	if _, ok := l.Pop(); ok {
		t.Fatal("Pop on empty list succeeded")
	}
	if _, ev := l.Push(6, 0); !ev {
		t.Fatal("Push with cap 0 kept the connection")
	}
}
