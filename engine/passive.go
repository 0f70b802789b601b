package engine

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"loopgate/upstream"
)

// Passive is a pool's [pool.passive] section: ejection of backends that fail
// real traffic (Envoy's outlier detection, nginx's max_fails). A nil Passive
// turns it off.
type Passive struct {
	// ConsecutiveFailures in a row on one loop eject a backend: failed
	// connects, connections closed or reset before a response, invalid
	// responses, response timeouts, and the Statuses below (default 5).
	ConsecutiveFailures int `toml:"consecutive_failures"`
	// Statuses are response codes counted as failures, e.g. [502, 503, 504]
	// (default none).
	Statuses []int `toml:"statuses"`
	// BaseEjectionTime is how long the first ejection lasts; each further
	// ejection of the same backend lasts one more base, up to
	// MaxEjectionTime (defaults 30s and 300s).
	BaseEjectionTime time.Duration `toml:"base_ejection_time"`
	MaxEjectionTime  time.Duration `toml:"max_ejection_time"`
	// MaxEjectionPercent caps the share of the pool's backends ejected at
	// once, so one bad deploy cannot empty the pool (default 50).
	MaxEjectionPercent int `toml:"max_ejection_percent"`
}

// Defaults of Passive.
const (
	DefaultConsecutiveFailures = 5
	DefaultBaseEjectionTime    = 30 * time.Second
	DefaultMaxEjectionTime     = 300 * time.Second
	DefaultMaxEjectionPercent  = 50
)

// WithDefaults returns p with zero fields set to their defaults.
func (p Passive) WithDefaults() Passive {
	if p.ConsecutiveFailures == 0 {
		p.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if p.BaseEjectionTime == 0 {
		p.BaseEjectionTime = DefaultBaseEjectionTime
	}
	if p.MaxEjectionTime == 0 {
		p.MaxEjectionTime = max(DefaultMaxEjectionTime, p.BaseEjectionTime)
	}
	if p.MaxEjectionPercent == 0 {
		p.MaxEjectionPercent = DefaultMaxEjectionPercent
	}
	return p
}

// Validate reports the first problem of p, naming its key.
func (p Passive) Validate() error {
	switch {
	case p.ConsecutiveFailures < 1:
		return fmt.Errorf("cannot use passive.consecutive_failures %d: want at least 1", p.ConsecutiveFailures)
	case p.BaseEjectionTime < 0:
		return fmt.Errorf("cannot use passive.base_ejection_time %v: want a positive duration", p.BaseEjectionTime)
	case p.MaxEjectionTime < p.BaseEjectionTime:
		return fmt.Errorf("cannot use passive.max_ejection_time %v: want at least base_ejection_time (%v)", p.MaxEjectionTime, p.BaseEjectionTime)
	case p.MaxEjectionPercent < 1 || p.MaxEjectionPercent > 100:
		return fmt.Errorf("cannot use passive.max_ejection_percent %d: want 1..100", p.MaxEjectionPercent)
	}
	for _, s := range p.Statuses {
		if s < 100 || s > 599 {
			return fmt.Errorf("cannot use passive.statuses %d: want a status code 100..599", s)
		}
	}
	return nil
}

// ejector is a pool's shared backend state: it combines the active checker's
// verdicts, passive ejections, slow-start ramps and the admin's changes
// (membership, weights, drains) into the Set and mask the pool publishes.
// Loops count failures themselves (loopPool.fails) and call eject, in a
// goroutine, when one reaches the threshold; everything here runs off the
// loops, under mu. Every per-backend slice is indexed like set, and is
// rebuilt by address when the membership changes (reshapeLocked).
type ejector struct {
	cfg   Passive
	log   *slog.Logger
	p     *pool
	mu    sync.Mutex
	set   *upstream.Set           // the published Set (weights may be ramping)
	conf  []upstream.Backend      // the backends as configured: weights before any ramp
	until []time.Time             // ejected until; zero: not ejected
	times []int                   // ejections so far, for the growing ejection time
	why   []string                // reason of the last ejection or ramp, for Status
	when  []time.Time             // when it began
	hist  [][]upstream.Transition // ejection, slow-start and drain transitions, the last maxHistory
	up    upstream.Mask           // the active checker's verdicts (all up without one)

	// drained: when the admin drained each backend; zero: not drained. A
	// drained backend is out of the mask (panic mode included) but stays in
	// the Set, so the exchanges in flight to it finish.
	drained []time.Time

	// Slow start: a backend that comes back ramps from a tenth of its
	// weight to all of it over slowStart, by Sets published with adjusted
	// weights (same backends in the same order, so indexes stay valid).
	slowStart time.Duration
	rampFrom  []time.Time // when each ramp began; zero: none
	ramping   bool        // the ramp goroutine runs
}

// newEjector returns the state of a pool whose backends are conf, all up,
// with set (made of conf) published.
func newEjector(p *pool, log *slog.Logger, set *upstream.Set, conf []upstream.Backend, slowStart time.Duration) *ejector {
	n := len(conf)
	return &ejector{log: log, p: p, set: set, conf: conf, up: upstream.NewMask(n),
		until: make([]time.Time, n), times: make([]int, n), why: make([]string, n), when: make([]time.Time, n),
		hist: make([][]upstream.Transition, n), drained: make([]time.Time, n),
		slowStart: slowStart, rampFrom: make([]time.Time, n)}
}

// status reports whether a response status counts as a failure.
func (e *ejector) failing(status int) bool { return slices.Contains(e.cfg.Statuses, status) }

// setHealth records the active checker's view and republishes. The mask is
// indexed like e.set: a membership change stops the old checker (so that it
// publishes nothing more) before it reshapes, and starts the new one after.
func (e *ejector) setHealth(up upstream.Mask) {
	e.mu.Lock()
	defer e.mu.Unlock()
	prev := e.up
	e.up = up
	for i := range e.until {
		if up.Has(i) && !prev.Has(i) {
			e.rampLocked(i)
		}
	}
	e.publishLocked()
}

// index returns the index of the backend at addr, or -1. It scans: cold path.
func (e *ejector) index(addr string) int {
	return slices.IndexFunc(e.conf, func(b upstream.Backend) bool { return b.Addr == addr })
}

// eject takes backend i of set out of rotation, unless it is no longer in
// the pool, is already out, or max_ejection_percent forbids it. set may be
// older than the pool's: the backend is found by address.
func (e *ejector) eject(set *upstream.Set, i int, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	addr := set.Backends[i].Addr
	if i = e.index(addr); i < 0 {
		return
	}
	now := time.Now()
	if !e.until[i].IsZero() {
		return
	}
	out := 0
	for _, u := range e.until {
		if !u.IsZero() {
			out++
		}
	}
	if (out+1)*100 > e.cfg.MaxEjectionPercent*len(e.until) {
		e.log.Warn("backend not ejected: max_ejection_percent reached", "backend", addr, "ejected", out, "reason", reason)
		return
	}
	e.times[i]++
	e.p.stats.Ejections.Inc()
	d := min(time.Duration(e.times[i])*e.cfg.BaseEjectionTime, e.cfg.MaxEjectionTime)
	until := now.Add(d)
	e.until[i] = until
	e.why[i], e.when[i] = reason, now
	e.noteLocked(i, upstream.StateUp, upstream.StateEjected, reason)
	e.log.Info("backend state changed", "backend", addr, "from", "up", "to", "ejected", "for", d, "reason", reason)
	e.publishLocked()
	time.AfterFunc(d, func() { e.readmit(addr, until) })
}

// readmit ends the ejection of the backend at addr that was to last until
// until; it does nothing if that backend has left the pool since, or was
// removed and added again (a new backend has no ejection of its own).
func (e *ejector) readmit(addr string, until time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.index(addr)
	if i < 0 || !e.until[i].Equal(until) {
		return
	}
	e.until[i] = time.Time{}
	e.noteLocked(i, upstream.StateEjected, upstream.StateUp, "ejection time over")
	e.log.Info("backend state changed", "backend", addr, "from", "ejected", "to", "up",
		"reason", "ejection time over")
	e.rampLocked(i)
	e.publishLocked()
}

// rampLocked starts the slow start of backend i, if the pool has one.
func (e *ejector) rampLocked(i int) {
	if e.slowStart <= 0 {
		return
	}
	e.rampFrom[i] = time.Now()
	e.why[i], e.when[i] = "back in rotation; weight ramps over "+e.slowStart.String(), e.rampFrom[i]
	e.noteLocked(i, upstream.StateUp, upstream.StateSlowStart, e.why[i])
	e.log.Info("backend state changed", "backend", e.conf[i].Addr, "from", "up", "to", "slow-start",
		"reason", "back in rotation; weight ramps over "+e.slowStart.String())
	if !e.ramping {
		e.ramping = true
		go e.ramp()
	}
	e.setWeightsLocked(time.Now())
}

// ramp republishes the ramping weights about ten times per slow_start
// window until every ramp is over.
func (e *ejector) ramp() {
	step := max(e.slowStart/10, 50*time.Millisecond)
	for {
		time.Sleep(step)
		e.mu.Lock()
		active := e.setWeightsLocked(time.Now())
		e.publishLocked()
		if !active {
			e.ramping = false
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
	}
}

// setWeightsLocked makes e.set hold the configured backends (e.conf) with
// the weights of this moment of the ramps; it reports whether any ramp is
// still going. A new Set is made only when something changed, from the
// current one, so in-flight counts carry over (upstream.NewSet).
//
// While a ramp runs every weight is scaled by ten (weights are relative, so
// shares do not change), which lets a backend of weight 1 ramp too.
func (e *ejector) setWeightsLocked(now time.Time) bool {
	for i, from := range e.rampFrom {
		if !from.IsZero() && now.Sub(from) >= e.slowStart {
			e.rampFrom[i] = time.Time{}
			e.noteLocked(i, upstream.StateSlowStart, upstream.StateUp, "slow start over")
			e.log.Info("backend state changed", "backend", e.conf[i].Addr, "from", "slow-start", "to", "up",
				"reason", "slow start over")
		}
	}
	active := slices.ContainsFunc(e.rampFrom, func(t time.Time) bool { return !t.IsZero() })
	scale := 1
	if active {
		scale = 10
	}
	bs := slices.Clone(e.conf)
	for i := range bs {
		w := bs[i].Weight * scale
		if from := e.rampFrom[i]; !from.IsZero() && w > 0 {
			el := now.Sub(from)
			w = max(1, w*(1+int(9*el/e.slowStart))/10) // from a tenth to all of it
		}
		bs[i].Weight = w
	}
	if !slices.Equal(bs, e.set.Backends) {
		e.set = upstream.NewSet(e.set.Gen+1, bs, e.set)
	}
	return active
}

// reshapeLocked makes conf the pool's backends. idx[i] is the old index of
// conf[i], or -1 for a new backend: each remaining backend keeps its
// ejection, ramp, drain and history; a new one starts with none. up is the
// active checker's view, indexed like conf. The caller then makes the Set
// (setWeightsLocked) and publishes it.
func (e *ejector) reshapeLocked(conf []upstream.Backend, idx []int, up upstream.Mask) {
	e.conf, e.up = conf, up
	e.until = remap(e.until, idx)
	e.times = remap(e.times, idx)
	e.why = remap(e.why, idx)
	e.when = remap(e.when, idx)
	e.hist = remap(e.hist, idx)
	e.drained = remap(e.drained, idx)
	e.rampFrom = remap(e.rampFrom, idx)
}

// remap returns the elements of old at idx; -1 gives the zero value.
func remap[T any](old []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		if j >= 0 {
			out[i] = old[j]
		}
	}
	return out
}

// maxHistory bounds the transitions kept per backend; every one is logged.
const maxHistory = 100

func (e *ejector) noteLocked(i int, from, to, reason string) {
	h := append(e.hist[i], upstream.Transition{At: time.Now(), From: from, To: to, Reason: reason})
	if len(h) > maxHistory {
		h = h[len(h)-maxHistory:]
	}
	e.hist[i] = h
}

// status fills the ejection, slow-start and drain view of bs, which must be
// indexed like e.set (the caller holds mu since it loaded the pool's state).
// A drained backend shows as draining whatever else it is: the operator's
// decision is what the operator needs to see; the other state stays in the
// reason.
func (e *ejector) status(bs []upstream.BackendStatus) {
	for i := range bs {
		if i >= len(e.until) {
			return
		}
		bs[i].Weight, bs[i].Current = e.conf[i].Weight, e.set.Backends[i].Weight
		bs[i].Transitions = append(bs[i].Transitions, e.hist[i]...)
		slices.SortStableFunc(bs[i].Transitions, func(a, b upstream.Transition) int { return a.At.Compare(b.At) })
		switch {
		case !e.until[i].IsZero():
			bs[i].State, bs[i].Reason, bs[i].Since = upstream.StateEjected, e.why[i], e.when[i]
		case !e.rampFrom[i].IsZero() && bs[i].State == upstream.StateUp:
			bs[i].State, bs[i].Reason, bs[i].Since = upstream.StateSlowStart, e.why[i], e.when[i]
		}
		if at := e.drained[i]; !at.IsZero() {
			reason := drainReason
			if bs[i].State == upstream.StateDown || bs[i].State == upstream.StateEjected {
				reason += "; also " + bs[i].State + ": " + bs[i].Reason
			}
			bs[i].State, bs[i].Reason, bs[i].Since = upstream.StateDraining, reason, at
		}
	}
}

// drainReason is the Status reason of a drained backend.
const drainReason = "drained by admin"

// publishLocked publishes the healthy backends that are neither ejected nor
// drained.
func (e *ejector) publishLocked() {
	up := slices.Clone(e.up)
	allowed := upstream.NewMask(len(e.conf))
	for i := range e.conf {
		if !e.until[i].IsZero() {
			up[i/64] &^= 1 << (i % 64)
		}
		if !e.drained[i].IsZero() {
			up[i/64] &^= 1 << (i % 64)
			allowed[i/64] &^= 1 << (i % 64)
		}
	}
	e.p.publishAllowed(e.set, up, allowed)
}
