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

// ejector is a pool's passive-ejection state. Loops count failures
// themselves (loopPool.fails) and call eject, in a goroutine, when one
// reaches the threshold; everything here runs off the loops, under mu.
type ejector struct {
	cfg   Passive
	log   *slog.Logger
	p     *pool
	mu    sync.Mutex
	set   *upstream.Set           // the published Set (weights may be ramping)
	until []time.Time             // ejected until; zero: not ejected
	times []int                   // ejections so far, for the growing ejection time
	why   []string                // reason of the last ejection or ramp, for Status
	when  []time.Time             // when it began
	hist  [][]upstream.Transition // ejection and slow-start transitions, the last maxHistory
	up    upstream.Mask

	// Slow start: a backend that comes back ramps from a tenth of its
	// weight to all of it over slowStart, by Sets published with adjusted
	// weights (same backends in the same order, so indexes stay valid).
	slowStart time.Duration
	weights   []int       // configured weights
	rampFrom  []time.Time // when each ramp began; zero: none
	ramping   bool        // the ramp goroutine runs
}

// status reports whether a response status counts as a failure.
func (e *ejector) failing(status int) bool { return slices.Contains(e.cfg.Statuses, status) }

// setHealth records the active checker's view and republishes.
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

// eject takes backend i of set out of rotation, unless set is no longer the
// pool's, i is already out, or max_ejection_percent forbids it.
func (e *ejector) eject(set *upstream.Set, i int, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !sameMembers(set, e.set) {
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
	addr := set.Backends[i].Addr
	if (out+1)*100 > e.cfg.MaxEjectionPercent*len(e.until) {
		e.log.Warn("backend not ejected: max_ejection_percent reached", "backend", addr, "ejected", out, "reason", reason)
		return
	}
	e.times[i]++
	d := min(time.Duration(e.times[i])*e.cfg.BaseEjectionTime, e.cfg.MaxEjectionTime)
	e.until[i] = now.Add(d)
	e.why[i], e.when[i] = reason, now
	e.noteLocked(i, upstream.StateUp, upstream.StateEjected, reason)
	e.log.Info("backend state changed", "backend", addr, "from", "up", "to", "ejected", "for", d, "reason", reason)
	e.publishLocked()
	time.AfterFunc(d, func() { e.readmit(set, i) })
}

func (e *ejector) readmit(set *upstream.Set, i int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !sameMembers(set, e.set) || e.until[i].IsZero() {
		return
	}
	e.until[i] = time.Time{}
	e.noteLocked(i, upstream.StateEjected, upstream.StateUp, "ejection time over")
	e.log.Info("backend state changed", "backend", set.Backends[i].Addr, "from", "ejected", "to", "up",
		"reason", "ejection time over")
	e.rampLocked(i)
	e.publishLocked()
}

// sameMembers reports whether a and b list the same backends in the same
// order, so that an index of one names the same backend in the other.
func sameMembers(a, b *upstream.Set) bool {
	if a == b {
		return true
	}
	if len(a.Backends) != len(b.Backends) {
		return false
	}
	for i := range a.Backends {
		if a.Backends[i].Addr != b.Backends[i].Addr {
			return false
		}
	}
	return true
}

// rampLocked starts the slow start of backend i, if the pool has one.
func (e *ejector) rampLocked(i int) {
	if e.slowStart <= 0 {
		return
	}
	e.rampFrom[i] = time.Now()
	e.why[i], e.when[i] = "back in rotation; weight ramps over "+e.slowStart.String(), e.rampFrom[i]
	e.noteLocked(i, upstream.StateUp, upstream.StateSlowStart, e.why[i])
	e.log.Info("backend state changed", "backend", e.set.Backends[i].Addr, "from", "up", "to", "slow-start",
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

// setWeightsLocked makes e.set carry the weights of this moment of the
// ramps; it reports whether any ramp is still going.
//
// While a ramp runs every weight is scaled by ten (weights are relative, so
// shares do not change), which lets a backend of weight 1 ramp too.
func (e *ejector) setWeightsLocked(now time.Time) bool {
	for i, from := range e.rampFrom {
		if !from.IsZero() && now.Sub(from) >= e.slowStart {
			e.rampFrom[i] = time.Time{}
			e.noteLocked(i, upstream.StateSlowStart, upstream.StateUp, "slow start over")
			e.log.Info("backend state changed", "backend", e.set.Backends[i].Addr, "from", "slow-start", "to", "up",
				"reason", "slow start over")
		}
	}
	active := slices.ContainsFunc(e.rampFrom, func(t time.Time) bool { return !t.IsZero() })
	scale := 1
	if active {
		scale = 10
	}
	bs := slices.Clone(e.set.Backends)
	for i := range bs {
		w := e.weights[i] * scale
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

// maxHistory bounds the transitions kept per backend; every one is logged.
const maxHistory = 100

func (e *ejector) noteLocked(i int, from, to, reason string) {
	h := append(e.hist[i], upstream.Transition{At: time.Now(), From: from, To: to, Reason: reason})
	if len(h) > maxHistory {
		h = h[len(h)-maxHistory:]
	}
	e.hist[i] = h
}

// status fills the ejection and slow-start view of bs (indexed like the Set).
func (e *ejector) status(bs []upstream.BackendStatus) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range bs {
		if i >= len(e.until) {
			return
		}
		bs[i].Weight, bs[i].Current = e.weights[i], e.set.Backends[i].Weight
		bs[i].Transitions = append(bs[i].Transitions, e.hist[i]...)
		slices.SortStableFunc(bs[i].Transitions, func(a, b upstream.Transition) int { return a.At.Compare(b.At) })
		switch {
		case !e.until[i].IsZero():
			bs[i].State, bs[i].Reason, bs[i].Since = upstream.StateEjected, e.why[i], e.when[i]
		case !e.rampFrom[i].IsZero() && bs[i].State == upstream.StateUp:
			bs[i].State, bs[i].Reason, bs[i].Since = upstream.StateSlowStart, e.why[i], e.when[i]
		}
	}
}

// publishLocked publishes the healthy backends that are not ejected.
func (e *ejector) publishLocked() {
	up := slices.Clone(e.up)
	for i, u := range e.until {
		if !u.IsZero() {
			up[i/64] &^= 1 << (i % 64)
		}
	}
	e.p.publish(e.set, up)
}
