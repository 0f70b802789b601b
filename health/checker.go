package health

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"loopgate/upstream"
)

// State is what a backend may do, as shown by States. Active checks move
// backends between StateUp and StateDown only; the other states belong to
// passive outlier detection, draining and slow start, which share this view.
type State string

const (
	StateUp        State = "up"
	StateDown      State = "down"
	StateEjected   State = "ejected"
	StateDraining  State = "draining"
	StateSlowStart State = "slow-start"
)

// Sizes of the per-backend history that States returns.
const (
	RecentProbes   = 10  // last probes kept per backend
	MaxTransitions = 100 // last transitions kept per backend; every one is logged
)

// maxInFlight bounds the probes of one pool running at the same time.
const maxInFlight = 256

// Probe is the outcome of one probe.
type Probe struct {
	At      time.Time     // when it started
	OK      bool          // it passed
	Latency time.Duration // from start to verdict
	Status  int           // HTTP status; 0 for TCP probes and failures before a status
	Err     string        // why it failed; "" when OK
}

// Transition is one change of a backend's state.
type Transition struct {
	At       time.Time
	From, To State
	Reason   string
}

// BackendState is a read-only snapshot of one backend, for the stats package.
type BackendState struct {
	Addr        string
	State       State
	Reason      string       // why it is in State
	Since       time.Time    // when it entered State (the Checker's creation at first)
	Passes      int          // consecutive passes while down (toward Rise)
	Fails       int          // consecutive failures while up (toward Fall)
	Transitions []Transition // oldest first; the last MaxTransitions
	Recent      []Probe      // oldest first; the last RecentProbes
}

// Checker probes the backends of one pool and keeps which are up. One
// scheduler goroutine owns the counters and the timer heap; it starts each
// due probe on a goroutine of its own (at most maxInFlight at once, at most
// one per backend), so a slow or black-holed backend delays nobody else's
// probe, and gets each result back over a channel. Nothing runs on an event
// loop. Mask and States are safe from any goroutine.
type Checker struct {
	cfg     Config
	addrs   []string
	log     *slog.Logger
	publish func(up upstream.Mask)
	prober  *prober

	mask atomic.Pointer[upstream.Mask]

	mu   sync.Mutex // guards the view fields of bs, for States
	bs   []backend
	rng  *rand.Rand // the scheduler's only
	due  dueHeap
	busy int // probes in flight

	results          chan result
	ctx              context.Context
	cancel           context.CancelFunc
	startOnce, once  sync.Once
	started          atomic.Bool // Start has run
	loopDone, probes sync.WaitGroup
}

type backend struct {
	// Owned by the scheduler goroutine.
	up     bool
	fresh  bool // new to the pool (Inherit) and not probed yet: one pass brings it up
	passes int
	fails  int
	next   time.Time // when the next probe is due; zero: Start picks a time

	// The view, guarded by Checker.mu.
	state       State
	reason      string
	since       time.Time
	transitions []Transition
	recent      [RecentProbes]Probe
	nrecent     int // probes recorded so far
}

type result struct {
	i      int
	status int
	start  time.Time
	end    time.Time
	err    error
}

// New returns a Checker for the backends at addrs (indexed like the pool's
// upstream.Set), configured by cfg after WithDefaults. Every backend starts
// up, so traffic flows at boot; only probes take one down. publish is called
// with the new up mask, from the scheduler goroutine, each time a backend
// flips, and never concurrently with itself; it must not call Stop. log may
// be nil. New fails if cfg does not Validate.
func New(cfg Config, addrs []string, log *slog.Logger, publish func(up upstream.Mask)) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(addrs) > upstream.MaxBackends {
		return nil, fmt.Errorf("cannot check %d backends: a pool holds at most %d", len(addrs), upstream.MaxBackends)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if publish == nil {
		publish = func(upstream.Mask) {}
	}
	cfg = cfg.WithDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Checker{
		cfg:     cfg,
		addrs:   append([]string(nil), addrs...),
		log:     log,
		publish: publish,
		prober:  newProber(cfg, addrs),
		bs:      make([]backend, len(addrs)),
		rng:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		results: make(chan result, min(len(addrs), maxInFlight)),
		ctx:     ctx,
		cancel:  cancel,
	}
	m := upstream.NewMask(len(addrs))
	c.mask.Store(&m)
	now := time.Now()
	reason := "initial state"
	if cfg.Disabled {
		reason = "active checks disabled"
	}
	for i := range c.bs {
		c.bs[i] = backend{up: true, state: StateUp, reason: reason, since: now}
	}
	return c, nil
}

// Start starts probing, unless checks are disabled. The first probe of each
// backend comes within Jitter×Interval (inherited backends keep their
// schedule, new ones are probed at once: see Inherit). Start is idempotent.
func (c *Checker) Start() {
	c.startOnce.Do(func() {
		c.started.Store(true)
		if c.cfg.Disabled || len(c.bs) == 0 || c.ctx.Err() != nil {
			return
		}
		now := time.Now()
		for i := range c.bs {
			if c.bs[i].next.IsZero() { // an inherited backend keeps its schedule
				c.bs[i].next = now.Add(time.Duration(c.rng.Float64() * max(c.cfg.Jitter, 0) * float64(c.cfg.Interval)))
			}
			heap.Push(&c.due, dueEntry{i: i, at: c.bs[i].next})
		}
		c.loopDone.Add(1)
		go c.loop()
	})
}

// Stop stops probing and waits for the scheduler and every probe in flight;
// probes in flight are aborted (their sockets closed), so it returns within
// a few milliseconds. The Mask stays as it was. Stop is idempotent.
func (c *Checker) Stop() {
	c.once.Do(func() {
		c.cancel()
		c.loopDone.Wait()
		c.probes.Wait()
	})
}

// Successor stops c and returns a Checker for addrs that carries on from it,
// for a pool whose membership changed: a New Checker with c's configuration,
// log and publish func that has Inherited from c. Its Mask is indexed like
// addrs; it probes nothing until Start.
func (c *Checker) Successor(addrs []string) (*Checker, error) {
	n, err := New(c.cfg, addrs, c.log, c.publish)
	if err != nil {
		c.Stop()
		return nil, err
	}
	n.Inherit(c)
	return n, nil
}

// Inherit stops from and gives c from's view of every backend they share
// by address: up or down, the counters toward Rise and Fall, the reason,
// transitions, recent probes and the time of the next probe. c's other
// backends are new to the pool: they start down ("added; waiting for its
// first probe") and are probed as soon as c starts. One passing probe brings
// such a backend up; a failing one leaves it down until Rise consecutive
// passes, as any down backend. So a backend added at runtime takes traffic
// only once it has answered, and the others keep their verdicts. If either
// Checker has checks disabled, Inherit only stops from: c keeps every
// backend up, as at boot.
//
// c must not have been started; Inherit must not be called from publish.
func (c *Checker) Inherit(from *Checker) {
	from.Stop() // from here the scheduler's fields of from.bs are ours to read
	if c.started.Load() {
		panic("BUG: health: Inherit on a started Checker")
	}
	if c.cfg.Disabled || from.cfg.Disabled {
		return
	}
	old := make(map[string]int, len(from.addrs))
	for i, a := range from.addrs {
		if _, dup := old[a]; !dup {
			old[a] = i
		}
	}
	now := time.Now()
	from.mu.Lock()
	defer from.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	m := upstream.NewMask(len(c.addrs))
	for i, a := range c.addrs {
		b := &c.bs[i]
		if j, ok := old[a]; ok {
			*b = from.bs[j]
			b.transitions = append([]Transition(nil), b.transitions...)
		} else {
			*b = backend{fresh: true, state: StateDown, reason: "added; waiting for its first probe", since: now, next: now}
		}
		if !b.up {
			m[i/64] &^= 1 << (i % 64)
		}
	}
	c.mask.Store(&m)
}

// Mask returns which backends are up. It is immutable; one atomic load.
func (c *Checker) Mask() upstream.Mask { return *c.mask.Load() }

// States returns a snapshot of every backend, indexed like addrs. It copies;
// call it from the stats handlers, not per request.
func (c *Checker) States() []BackendState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]BackendState, len(c.bs))
	for i := range c.bs {
		b := &c.bs[i]
		s := BackendState{
			Addr:        c.addrs[i],
			State:       b.state,
			Reason:      b.reason,
			Since:       b.since,
			Passes:      b.passes,
			Fails:       b.fails,
			Transitions: append([]Transition(nil), b.transitions...),
		}
		n := min(b.nrecent, RecentProbes)
		s.Recent = make([]Probe, 0, n)
		for k := b.nrecent - n; k < b.nrecent; k++ {
			s.Recent = append(s.Recent, b.recent[k%RecentProbes])
		}
		out[i] = s
	}
	return out
}

// loop is the scheduler: it starts due probes and applies their results.
func (c *Checker) loop() {
	defer c.loopDone.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(c.launch(time.Now()))
		select {
		case <-c.ctx.Done():
			return
		case r := <-c.results:
			c.busy--
			c.apply(r)
		case <-timer.C:
		}
	}
}

// launch starts every due probe there is room for and returns how long to
// wait for the next one.
func (c *Checker) launch(now time.Time) time.Duration {
	for c.due.Len() > 0 && c.busy < maxInFlight {
		e := c.due[0]
		if e.at.After(now) {
			return e.at.Sub(now)
		}
		heap.Pop(&c.due)
		c.busy++
		c.probes.Add(1)
		go func(i int, addr string) {
			defer c.probes.Done()
			start := time.Now()
			status, err := c.prober.run(c.ctx, i, addr)
			// results has room for every probe in flight: this never blocks.
			c.results <- result{i: i, status: status, start: start, end: time.Now(), err: err}
		}(e.i, c.addrs[e.i])
	}
	return time.Hour // nothing due, or no room: a result wakes the loop
}

// apply counts one result, flips the backend if a threshold is reached, and
// schedules its next probe.
func (c *Checker) apply(r result) {
	if c.ctx.Err() != nil {
		return // Stop aborted the probe: its failure says nothing of the backend
	}
	b := &c.bs[r.i]
	p := Probe{At: r.start, OK: r.err == nil, Latency: r.end.Sub(r.start), Status: r.status}
	if r.err != nil {
		p.Err = r.err.Error()
	}
	var flip *Transition
	c.mu.Lock()
	b.recent[b.nrecent%RecentProbes] = p
	b.nrecent++
	switch {
	case p.OK && b.up:
		b.fails = 0
	case p.OK && b.fresh:
		flip = c.flip(b, r.end, StateUp, "first probe passed")
		b.up, b.passes = true, 0
	case p.OK:
		if b.passes++; b.passes >= c.cfg.Rise {
			flip = c.flip(b, r.end, StateUp, fmt.Sprintf("%d consecutive passes", b.passes))
			b.up, b.passes = true, 0
		}
	case b.up:
		if b.fails++; b.fails >= c.cfg.Fall {
			flip = c.flip(b, r.end, StateDown, fmt.Sprintf("%d consecutive failures: %s", b.fails, p.Err))
			b.up, b.fails = false, 0
		}
	default:
		b.passes = 0
		b.reason = "still failing: " + p.Err
	}
	b.fresh = false
	c.mu.Unlock()

	d := c.cfg.Interval
	switch {
	case !b.up && b.passes == 0:
		d = c.cfg.DownInterval
	case b.passes > 0 || b.fails > 0:
		d = c.cfg.FastInterval
	}
	b.next = r.start.Add(c.jitter(d))
	heap.Push(&c.due, dueEntry{i: r.i, at: b.next})

	if flip != nil {
		c.log.Info("backend state changed", "backend", c.addrs[r.i], "from", string(flip.From), "to", string(flip.To), "reason", flip.Reason)
		old := *c.mask.Load()
		m := append(upstream.Mask(nil), old...)
		if flip.To == StateUp {
			m[r.i/64] |= 1 << (r.i % 64)
		} else {
			m[r.i/64] &^= 1 << (r.i % 64)
		}
		c.mask.Store(&m)
		c.publish(m)
	}
}

// flip records a transition of b to `to`. The caller holds c.mu.
func (c *Checker) flip(b *backend, at time.Time, to State, reason string) *Transition {
	t := Transition{At: at, From: b.state, To: to, Reason: reason}
	if len(b.transitions) == MaxTransitions {
		b.transitions = append(b.transitions[:0], b.transitions[1:]...)
	}
	b.transitions = append(b.transitions, t)
	b.state, b.reason, b.since = to, reason, at
	return &t
}

// jitter scales d by a random factor in [1-Jitter, 1+Jitter].
func (c *Checker) jitter(d time.Duration) time.Duration {
	j := c.cfg.Jitter
	if j <= 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + j*(2*c.rng.Float64()-1)))
}

// dueHeap orders pending probes by due time: the scheduler sleeps until the
// first, so a pool of any size costs one timer.
type dueHeap []dueEntry

type dueEntry struct {
	i  int
	at time.Time
}

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(a, b int) bool { return h[a].at.Before(h[b].at) }
func (h dueHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
