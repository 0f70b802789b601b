package upstream

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// DefaultAlgorithm is the algorithm of a pool that names none.
const DefaultAlgorithm = "p2c"

// NoKey is the key the engine passes to Pick when a request has no hash key
// (the header, cookie or query parameter is absent). hash and ip_hash send such
// requests to their fallback algorithm; the other algorithms ignore key. A real
// key hash never equals NoKey when it comes from HashKey.
const NoKey uint64 = 0

// ErrUnknownAlgorithm is wrapped by New for a name that is not registered.
var ErrUnknownAlgorithm = errors.New("upstream: unknown algorithm")

// Algorithm makes Pickers. It holds no per-request state; it is safe to use
// from any goroutine.
type Algorithm interface {
	Name() string
	// Prepare builds the tables that every loop's Picker of s shares: the
	// smooth round robin schedule, the alias table of weighted draws, the
	// hash ring or Maglev table. A ring of 300 backends takes about 20 ms, so
	// call Prepare on the control plane before publishing s; otherwise the
	// first NewPicker builds them, on a loop, and the others wait for it.
	Prepare(s *Set)
	// NewPicker makes the Picker of s for one event loop: once per loop per
	// Set generation, off the request path. It is cheap after Prepare (O(n)
	// per-loop arrays at most). seed seeds the Picker's own PRNG.
	NewPicker(s *Set, seed uint64) Picker
}

// Picker chooses a backend for one request. A Picker is owned by a single
// event loop: Pick and Done take no locks, do not block and do not allocate.
//
// Contract: every index Pick returns (that is, every result >= 0), and every
// index passed to Assign, gets exactly one Done call later, on the same loop
// and on the same Picker, even after the loop has moved on to a Picker of a
// newer Set, and for failed requests and for each attempt of a retry (the
// failed attempt gets Done(idx, 0, false); the retry is a new Pick with
// avoid = idx). Load-aware pickers count a request in flight in Pick (and
// Assign) and uncount it in Done, so a missing Done leaks load and a second
// one hides it.
type Picker interface {
	// Pick returns the index of a backend that may take a new request (its
	// bit is set in up and its weight is above 0), or -1 exactly when there is
	// none. up is the mask from Set.Eligible. key is the request's hash key,
	// or NoKey; only hash and ip_hash use it. avoid is the index that just
	// failed, or -1; Pick returns it only if no other backend may take the
	// request.
	Pick(key uint64, up Mask, avoid int) int
	// Assign records a request that the engine routed to idx without Pick
	// (a sticky cookie named the backend), so that load-aware pickers count
	// it like their own picks; it gets a Done like them. It is one atomic add
	// for load-aware pickers and nothing for the others.
	Assign(idx int)
	// Done reports the outcome of a request that Pick routed to idx: rtt is the
	// time from sending the request to the end of the response, and 0 when !ok.
	// Done(-1, ...) does nothing.
	Done(idx int, rtt time.Duration, ok bool)
}

// Options are a pool's algorithm settings. The zero value is the default of
// every algorithm. Only hash and ip_hash take options; New rejects them for
// the other algorithms.
type Options struct {
	// HashMethod is how hash and ip_hash map keys to backends: "ring"
	// (consistent hashing on a ring with 1024 points per unit of weight) or
	// "maglev" (a lookup table of 65537 entries) (default "ring").
	HashMethod string `toml:"hash_method"`
	// BalanceFactor bounds the load of hash and ip_hash: no backend takes a
	// request while its in-flight count is at or above BalanceFactor × the
	// weighted average (rounded up); the key spills to the next backend of the
	// ring or table. 0 is off; otherwise it must be above 1, e.g. 1.25
	// (default 0).
	BalanceFactor float64 `toml:"hash_balance_factor"`
	// Fallback is the algorithm for requests without a key (default
	// "round_robin"). It may be any algorithm but hash and ip_hash.
	Fallback string `toml:"fallback"`
}

// New returns the algorithm registered under name, configured by o. An empty
// name means DefaultAlgorithm. It fails, with a message that starts "cannot",
// for an unknown name (wrapping ErrUnknownAlgorithm) or options the algorithm
// cannot use. It is cold: call it when loading the configuration.
func New(name string, o Options) (Algorithm, error) {
	name = canonical(name)
	f, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("cannot use algorithm %q: %w (known: %s)", name, ErrUnknownAlgorithm, strings.Join(Names(), ", "))
	}
	a := &algorithm{name: name, f: f, counts: f.load}
	if !f.keyed {
		if o != (Options{}) {
			return nil, fmt.Errorf("cannot use hash_method, hash_balance_factor or fallback with algorithm %q: they apply to hash and ip_hash only", name)
		}
		return a, nil
	}
	switch o.HashMethod {
	case "":
		o.HashMethod = "ring"
	case "ring", "maglev":
	default:
		return nil, fmt.Errorf("cannot use hash_method %q: want \"ring\" or \"maglev\"", o.HashMethod)
	}
	if bf := o.BalanceFactor; bf != 0 && (!(bf > 1) || math.IsInf(bf, 1)) {
		return nil, fmt.Errorf("cannot use hash_balance_factor %v: want 0 (off) or a number above 1, e.g. 1.25", bf)
	}
	if o.Fallback == "" {
		o.Fallback = "round_robin"
	}
	o.Fallback = canonical(o.Fallback)
	fb, ok := registry[o.Fallback]
	if !ok {
		return nil, fmt.Errorf("cannot use fallback %q: %w (known: %s)", o.Fallback, ErrUnknownAlgorithm, strings.Join(Names(), ", "))
	}
	if fb.keyed {
		return nil, fmt.Errorf("cannot use fallback %q: requests without a key need an algorithm that ignores keys", o.Fallback)
	}
	a.o = o
	a.counts = o.BalanceFactor > 0 || fb.load
	return a, nil
}

// Lookup returns the algorithm registered under name with default Options.
func Lookup(name string) (Algorithm, error) { return New(name, Options{}) }

// Names lists the registered algorithms in sorted order, without aliases.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// aliases are other proxies' names that New accepts for ours.
var aliases = map[string]string{
	"":           DefaultAlgorithm,
	"roundrobin": "round_robin", // HAProxy
	"leastconn":  "least_connections",
	"least_conn": "least_connections", // nginx, Caddy
}

func canonical(name string) string {
	if c, ok := aliases[name]; ok {
		return c
	}
	return name
}

// picker is what each algorithm implements; the exported Picker wraps it with
// the parts every algorithm shares: in-flight counting and the avoid fallback.
type picker interface {
	// pick returns a backend that may take a request under up, other than
	// avoid, or -1. It neither counts nor falls back to avoid.
	pick(key uint64, up Mask, avoid int) int
	// observe learns from the outcome of a request to idx (>= 0). It does
	// not uncount.
	observe(idx int, rtt time.Duration, ok bool)
}

type factory struct {
	keyed bool // uses the key, so Options apply
	load  bool // reads in-flight counts, so its Picker must keep them
	make  func(s *Set, st *state, seed uint64, o *Options) picker
}

var registry = map[string]*factory{}

// register adds an algorithm under name; each pick_<name>.go calls it from init.
func register(name string, f *factory) {
	if _, dup := registry[name]; dup {
		panic("BUG: algorithm registered twice: " + name)
	}
	registry[name] = f
}

type algorithm struct {
	name   string
	f      *factory
	o      Options
	counts bool
}

func (a *algorithm) Name() string { return a.name }

func (a *algorithm) Prepare(s *Set) { a.f.make(s, s.state(), 0, &a.o) }

func (a *algorithm) NewPicker(s *Set, seed uint64) Picker {
	st := s.state()
	p := a.f.make(s, st, seed, &a.o)
	if a.counts {
		return &counted{p: p, st: st}
	}
	return &uncounted{p: p, st: st}
}

// uncounted is the Picker of algorithms that ignore load.
type uncounted struct {
	p  picker
	st *state
}

func (u *uncounted) Pick(key uint64, up Mask, avoid int) int {
	i := u.p.pick(key, up, avoid)
	if i < 0 && u.st.can(up, avoid) {
		i = avoid
	}
	return i
}

func (u *uncounted) Assign(int) {}

func (u *uncounted) Done(idx int, rtt time.Duration, ok bool) {
	if idx >= 0 {
		u.p.observe(idx, rtt, ok)
	}
}

// counted is the Picker of load-aware algorithms: one atomic add on the
// backend's shared cell in Pick and one in Done.
type counted struct {
	p  picker
	st *state
}

func (c *counted) Pick(key uint64, up Mask, avoid int) int {
	i := c.p.pick(key, up, avoid)
	if i < 0 {
		if !c.st.can(up, avoid) {
			return -1
		}
		i = avoid
	}
	c.st.cells[i].inflight.Add(1)
	return i
}

func (c *counted) Assign(idx int) { c.st.cells[idx].inflight.Add(1) }

func (c *counted) Done(idx int, rtt time.Duration, ok bool) {
	if idx >= 0 {
		c.st.cells[idx].inflight.Add(-1)
		c.p.observe(idx, rtt, ok)
	}
}

// HashKey hashes b (a client IP, a header or cookie value, a path) into a
// key for Pick. It never returns NoKey and does not allocate.
func HashKey(b []byte) uint64 {
	h := uint64(fnvOffset)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	if h = mix(h); h == NoKey {
		h = 1
	}
	return h
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix(h)
}

// mix is SplitMix64's finalizer: every input bit affects every output bit,
// so keys made by a weak hash still spread over a ring or table.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// rng is a SplitMix64 generator, one per Picker: no lock, no shared state.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix(r.s)
}

// below returns a number in [0, n) (Lemire's multiply-high; the bias is
// below n/2^64).
func (r *rng) below(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

// sortIndexes sorts idx by hashes[idx], then by index.
func sortIndexes(idx []uint16, hashes []uint64) {
	slices.SortFunc(idx, func(a, b uint16) int {
		if c := cmp.Compare(hashes[a], hashes[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
}

// nanotime is a monotonic clock for latency estimates: cheaper than
// time.Now, as time.Since of a monotonic Time reads only the monotonic clock.
func nanotime() int64 { return int64(time.Since(epoch)) }

var epoch = time.Now()
