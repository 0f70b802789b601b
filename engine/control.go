package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"loopgate/upstream"
)

// Runtime control of backends, for the admin API. Every call is checked
// first (a refused call changes nothing), then applied whole under the
// pool's control mutex and the ejector's: a membership or weight change is
// one new Set (upstream.NewSet from the published one, so in-flight counts
// carry over), a drain one new mask. Loops pick the change up at their next
// request; exchanges in flight keep the Set they started on and finish. Each
// change is logged at Info. The calls are cold: they lock, allocate and, for
// a membership change with active checks, wait a few milliseconds for the
// old checker to stop.

// Refusals of the control calls. They are wrapped with the details; test
// them with errors.Is. The admin API maps them to 404 (unknown), 409
// (duplicate, last backend) and 400 (invalid).
var (
	ErrUnknownPool    = errors.New("engine: unknown pool")
	ErrUnknownBackend = errors.New("engine: unknown backend")
	ErrDuplicate      = errors.New("engine: backend already in pool")
	ErrLastBackend    = errors.New("engine: cannot remove the last backend of a pool")
	ErrInvalid        = errors.New("engine: invalid backend")
)

// MaxWeight is the largest weight a backend may have.
const MaxWeight = 1000

// drainPoll is how often WaitDrained looks at the in-flight count.
const drainPoll = 20 * time.Millisecond

// AddBackend adds b to the pool named pool. Its address must be host:port
// (an IP address or a DNS name, and a port in 1..65535) not already in the
// pool, its weight 0..MaxWeight (nil: 1).
//
// A new backend starts with no ejection history. With active health checks
// it starts down and is probed at once: it takes traffic after its first
// passing probe (a failing one leaves it down until rise passes), so a
// backend that is still booting costs no request an error. The other
// backends keep their verdicts, counters and history. Without active checks
// it takes traffic at once. Either way, with slow_start it ramps up when it
// enters rotation. With b.Drained set it is added drained.
func (s *Server) AddBackend(pool string, b Backend) error {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	p, err := s.poolNamed(pool)
	if err != nil {
		return err
	}
	w := b.WeightOf()
	if err := checkAddress(b.Address); err != nil {
		return fmt.Errorf("cannot add backend to pool %q: %w: %w", pool, ErrInvalid, err)
	}
	if err := checkWeight(w); err != nil {
		return fmt.Errorf("cannot add backend %q to pool %q: %w", b.Address, pool, err)
	}
	e := p.ej
	e.mu.Lock()
	conf := e.conf
	e.mu.Unlock() // only control calls change conf, and s.ctl keeps them out
	if j := slices.IndexFunc(conf, func(c upstream.Backend) bool { return strings.EqualFold(c.Addr, b.Address) }); j >= 0 {
		return fmt.Errorf("cannot add backend %q to pool %q: %w (as %q)", b.Address, pool, ErrDuplicate, conf[j].Addr)
	}
	if len(conf) >= upstream.MaxBackends {
		return fmt.Errorf("cannot add backend %q to pool %q: %w: the pool has %d backends, the most it may have",
			b.Address, pool, ErrInvalid, len(conf))
	}
	next := append(slices.Clone(conf), upstream.Backend{Addr: b.Address, Weight: w, Backup: b.Backup})
	idx := make([]int, len(next))
	for i := range idx {
		idx[i] = i
	}
	idx[len(conf)] = -1
	up := p.reshape(s, next, idx, b.Drained)
	state := "up"
	switch {
	case b.Drained:
		state = upstream.StateDraining
	case !up.Has(len(conf)):
		state = "down until its first passing probe"
	}
	p.log.Info("backend added", "backend", b.Address, "weight", w, "backup", b.Backup, "state", state, "backends", len(next))
	return nil
}

// RemoveBackend takes the backend at addr out of the pool. Exchanges in
// flight to it finish; its idle connections are closed as each loop picks up
// the new Set (the loops are nudged at once). It refuses with
// ErrLastBackend to leave the pool without a backend, or without a primary
// (non-backup) backend or a backend of positive weight when it had one, as
// cmd/loopgate requires of a configuration: what Pools returns must stay a
// configuration that loads. Drain the
// backend and WaitDrained first for a removal that cuts nothing short.
func (s *Server) RemoveBackend(pool, addr string) error {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	p, err := s.poolNamed(pool)
	if err != nil {
		return err
	}
	e := p.ej
	e.mu.Lock()
	conf := e.conf
	e.mu.Unlock()
	i := find(conf, addr)
	if i < 0 {
		return fmt.Errorf("cannot remove backend %q from pool %q: %w", addr, pool, ErrUnknownBackend)
	}
	next := slices.Delete(slices.Clone(conf), i, i+1)
	switch {
	case len(next) == 0:
		return fmt.Errorf("cannot remove backend %q from pool %q: %w", addr, pool, ErrLastBackend)
	case primary(conf) && !primary(next):
		return fmt.Errorf("cannot remove backend %q from pool %q: %w: it is the last primary; the others are backups",
			addr, pool, ErrLastBackend)
	case weighted(conf) && !weighted(next):
		return fmt.Errorf("cannot remove backend %q from pool %q: %w: it is the last with a weight above 0",
			addr, pool, ErrLastBackend)
	}
	idx := make([]int, 0, len(next))
	for j := range conf {
		if j != i {
			idx = append(idx, j)
		}
	}
	inflight := p.stats.Backend(conf[i].Addr).InFlight.Load()
	p.reshape(s, next, idx, false)
	p.log.Info("backend removed", "backend", conf[i].Addr, "in_flight", inflight, "backends", len(next))
	return nil
}

// SetWeight sets the configured weight of the backend at addr, 0..MaxWeight.
// A slow-start ramp in progress goes on, scaling the new weight. It refuses
// with ErrLastBackend to set to 0 the only backend with a positive weight
// (drain it instead). Setting the weight it has already changes nothing.
func (s *Server) SetWeight(pool, addr string, weight int) error {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	p, err := s.poolNamed(pool)
	if err != nil {
		return err
	}
	if err := checkWeight(weight); err != nil {
		return fmt.Errorf("cannot set the weight of backend %q in pool %q: %w", addr, pool, err)
	}
	e := p.ej
	e.mu.Lock()
	defer e.mu.Unlock()
	i := find(e.conf, addr)
	if i < 0 {
		return fmt.Errorf("cannot set the weight of backend %q in pool %q: %w", addr, pool, ErrUnknownBackend)
	}
	from := e.conf[i].Weight
	if from == weight {
		return nil
	}
	next := slices.Clone(e.conf)
	next[i].Weight = weight
	if weighted(e.conf) && !weighted(next) {
		return fmt.Errorf("cannot set the weight of backend %q in pool %q to 0: %w: it is the only one with a weight above 0; drain it instead",
			addr, pool, ErrLastBackend)
	}
	e.conf = next
	e.setWeightsLocked(time.Now())
	e.publishLocked()
	p.log.Info("backend weight changed", "backend", next[i].Addr, "from", from, "to", weight, "current", e.set.Backends[i].Weight)
	return nil
}

// Drain stops sending new requests to the backend at addr: it leaves the
// mask (panic mode does not bring it back), so a sticky cookie naming it and
// a hash key mapping to it are routed to another backend, while its
// exchanges in flight finish on it. It stays in the Set, keeps its weight
// and its health checks, and Status shows it as draining. Draining a drained
// backend changes nothing. Draining every backend of a pool is allowed: its
// requests then get 503.
func (s *Server) Drain(pool, addr string) error {
	return s.setDrained(pool, addr, true)
}

// Undrain puts a drained backend back in rotation (if its probes and passive
// checks allow it), with a slow start if the pool has one. Undraining a
// backend that is not drained changes nothing.
func (s *Server) Undrain(pool, addr string) error {
	return s.setDrained(pool, addr, false)
}

func (s *Server) setDrained(pool, addr string, drain bool) error {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	verb := "undrain"
	if drain {
		verb = "drain"
	}
	p, err := s.poolNamed(pool)
	if err != nil {
		return err
	}
	e := p.ej
	e.mu.Lock()
	defer e.mu.Unlock()
	i := find(e.conf, addr)
	if i < 0 {
		return fmt.Errorf("cannot %s backend %q in pool %q: %w", verb, addr, pool, ErrUnknownBackend)
	}
	if drain == !e.drained[i].IsZero() {
		return nil // idempotent
	}
	a := e.conf[i].Addr
	inflight := p.stats.Backend(a).InFlight.Load()
	if drain {
		from := e.stateLocked(i)
		e.drained[i] = time.Now()
		e.noteLocked(i, from, upstream.StateDraining, drainReason)
		p.log.Info("backend drained", "backend", a, "in_flight", inflight)
		if !slices.ContainsFunc(e.drained, time.Time.IsZero) {
			p.log.Warn("every backend of the pool is drained: its requests get 503")
		}
	} else {
		e.drained[i] = time.Time{}
		to := e.stateLocked(i)
		e.noteLocked(i, upstream.StateDraining, to, "undrained by admin")
		p.log.Info("backend undrained", "backend", a, "state", to, "in_flight", inflight)
		if to == upstream.StateUp {
			e.rampLocked(i)
		}
	}
	e.publishLocked()
	return nil
}

// stateLocked names the state of backend i, the drain aside.
func (e *ejector) stateLocked(i int) string {
	switch {
	case !e.until[i].IsZero():
		return upstream.StateEjected
	case !e.up.Has(i):
		return upstream.StateDown
	case !e.rampFrom[i].IsZero():
		return upstream.StateSlowStart
	}
	return upstream.StateUp
}

// InFlight returns the number of exchanges sent to the backend at addr that
// have not finished, counted over every loop and every Set generation.
func (s *Server) InFlight(pool, addr string) (int64, error) {
	p, a, err := s.backendNamed(pool, addr)
	if err != nil {
		return 0, err
	}
	return p.stats.Backend(a).InFlight.Load(), nil
}

// WaitDrained polls the in-flight count of the backend at addr every 20ms
// until it is 0 or ctx ends, and returns the last count, with ctx's error if
// ctx ended first. The backend must be in the pool when the wait begins; it
// may be removed meanwhile (its exchanges in flight still count).
func (s *Server) WaitDrained(ctx context.Context, pool, addr string) (int64, error) {
	p, a, err := s.backendNamed(pool, addr)
	if err != nil {
		return 0, err
	}
	bs := p.stats.Backend(a)
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		n := bs.InFlight.Load()
		if n <= 0 {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-t.C:
		}
	}
}

// Pools returns the effective configuration of every pool: as configured,
// with the backends it has now, in order, with their configured weights
// (not the ramping ones) and backup flags; drained backends are included.
// It is a copy the caller may keep and change.
func (s *Server) Pools() []Pool {
	g := s.gen.Load()
	out := make([]Pool, len(g.pools))
	for k, p := range g.pools {
		pc := clonePool(g.cfg.Pools[k])
		p.ej.mu.Lock()
		pc.Backends = make([]Backend, len(p.ej.conf))
		for i, b := range p.ej.conf {
			pc.Backends[i] = Backend{Address: b.Addr, Weight: &b.Weight, Backup: b.Backup, Drained: !p.ej.drained[i].IsZero()}
		}
		p.ej.mu.Unlock()
		out[k] = pc
	}
	return out
}

// clonePool copies pc deeply enough that changing the copy leaves pc alone.
func clonePool(pc Pool) Pool {
	pc.RetryOnStatus = slices.Clone(pc.RetryOnStatus)
	if c := pc.StickyCookie; c != nil {
		cc := *c
		if c.HTTPOnly != nil {
			v := *c.HTTPOnly
			cc.HTTPOnly = &v
		}
		pc.StickyCookie = &cc
	}
	if h := pc.Health; h != nil {
		hc := *h
		hc.Headers = slices.Clone(h.Headers)
		pc.Health = &hc
	}
	if ps := pc.Passive; ps != nil {
		pp := *ps
		pp.Statuses = slices.Clone(ps.Statuses)
		pc.Passive = &pp
	}
	return pc
}

// reshape makes conf the pool's backends (idx as for reshapeLocked), the
// new ones drained if drain is set, and publishes them as one new Set; it
// returns the new up mask. With active checks the old checker is stopped
// first, so that nothing indexed by the old Set is published after it, and
// its successor, which keeps the state of every remaining backend, starts
// after the new Set is out. The loops are
// then nudged to pick up the Set, which closes the idle connections to
// removed backends. The caller holds s.ctl, not p.ej.mu.
func (p *pool) reshape(s *Server, conf []upstream.Backend, idx []int, drain bool) upstream.Mask {
	e := p.ej
	var up upstream.Mask
	if p.checker != nil {
		addrs := make([]string, len(conf))
		for i, b := range conf {
			addrs[i] = b.Addr
		}
		up = p.checker.reshape(addrs)
	}
	e.mu.Lock()
	if up == nil {
		up = upstream.NewMask(len(conf))
		for i, j := range idx {
			if j >= 0 && !e.up.Has(j) {
				up[i/64] &^= 1 << (i % 64)
			}
		}
	}
	e.reshapeLocked(conf, idx, up)
	for i, j := range idx {
		switch {
		case j >= 0:
		case drain:
			e.drained[i] = time.Now()
			e.noteLocked(i, upstream.StateUp, upstream.StateDraining, drainReason)
		case up.Has(i):
			e.rampLocked(i) // a new backend enters rotation at once
		}
	}
	e.setWeightsLocked(time.Now())
	e.publishLocked()
	e.mu.Unlock()
	if p.checker != nil && s.running.Load() {
		p.checker.Start()
	}
	s.forEachLoop(func(l *loop) {
		l.execute(func() {
			for _, lp := range l.pools {
				if lp.p == p {
					l.refresh(lp)
				}
			}
		})
	})
	return up
}

// inherit gives p, the version of old that a reload built, what old knows
// of the backends both have, matched by address: health verdicts, counters
// and history when both probe with the same settings (see
// health.Checker.Inherit: a backend new to the pool then starts down until
// its first passing probe), ejections in progress when p has passive
// checks, slow-start ramps when it has a slow start, and the transitions
// behind them. Weights, membership and drains are p's own (cmd/loopgate
// passes the drained backends in the configuration); a backend drained in
// both keeps the time it was drained. p must not
// be published to the loops nor its checker started yet; the caller holds
// s.ctl. It stops old's checker when it takes its state.
func (p *pool) inherit(old *pool) {
	if p.tls != nil && sameTLS(p, old) {
		// The same settings: the sessions stay resumable. (Before the
		// generation is published, so no loop has dialed with p.tls yet.)
		p.tls.ClientSessionCache = old.tls.ClientSessionCache
	}
	if p.checker != nil && old.checker != nil && reflect.DeepEqual(p.checker.cfg, old.checker.cfg) &&
		reflect.DeepEqual(p.checker.tls, old.checker.tls) {
		p.checker.current().Inherit(old.checker.current())
	}
	e, o := p.ej, old.ej
	o.mu.Lock()
	defer o.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.checker != nil {
		e.up = p.checker.current().Mask()
	}
	now := time.Now()
	for i, b := range e.conf {
		j := o.index(b.Addr)
		if j < 0 {
			continue
		}
		e.hist[i] = slices.Clone(o.hist[j])
		if !e.drained[i].IsZero() && !o.drained[j].IsZero() {
			e.drained[i] = o.drained[j] // still drained: since then
		}
		e.why[i], e.when[i] = o.why[j], o.when[j]
		if e.slowStart > 0 {
			e.rampFrom[i] = o.rampFrom[j]
		}
		if p.passive {
			e.times[i] = o.times[j]
			if u := o.until[j]; u.After(now) {
				e.until[i] = u
				addr := b.Addr
				time.AfterFunc(u.Sub(now), func() { e.readmit(addr, u) })
			}
		}
	}
	if slices.ContainsFunc(e.rampFrom, func(t time.Time) bool { return !t.IsZero() }) && !e.ramping {
		e.ramping = true
		go e.ramp()
	}
	e.setWeightsLocked(now)
	e.publishLocked()
}

// poolNamed returns the current pool named name. The caller holds s.ctl.
func (s *Server) poolNamed(name string) (*pool, error) { return poolIn(s.pools, name) }

func poolIn(pools []*pool, name string) (*pool, error) {
	for _, p := range pools {
		if p.name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("cannot find pool %q: %w", name, ErrUnknownPool)
}

// backendNamed returns the pool named pool, as the loops run it now, and the
// address, as configured, of its backend at addr.
func (s *Server) backendNamed(pool, addr string) (*pool, string, error) {
	p, err := poolIn(s.gen.Load().pools, pool)
	if err != nil {
		return nil, "", err
	}
	p.ej.mu.Lock()
	defer p.ej.mu.Unlock()
	i := find(p.ej.conf, addr)
	if i < 0 {
		return nil, "", fmt.Errorf("cannot find backend %q in pool %q: %w", addr, pool, ErrUnknownBackend)
	}
	return p, p.ej.conf[i].Addr, nil
}

// find returns the index of the backend at addr in conf, or -1. Addresses
// are compared as cmd/loopgate compares them for duplicates: ignoring case.
func find(conf []upstream.Backend, addr string) int {
	if i := slices.IndexFunc(conf, func(b upstream.Backend) bool { return b.Addr == addr }); i >= 0 {
		return i
	}
	return slices.IndexFunc(conf, func(b upstream.Backend) bool { return strings.EqualFold(b.Addr, addr) })
}

// primary reports whether any backend of conf is not a backup.
func primary(conf []upstream.Backend) bool {
	return slices.ContainsFunc(conf, func(b upstream.Backend) bool { return !b.Backup })
}

// weighted reports whether any backend of conf has a positive weight.
func weighted(conf []upstream.Backend) bool {
	return slices.ContainsFunc(conf, func(b upstream.Backend) bool { return b.Weight > 0 })
}

func checkWeight(w int) error {
	if w < 0 || w > MaxWeight {
		return fmt.Errorf("%w: weight %d is not in 0..%d", ErrInvalid, w, MaxWeight)
	}
	return nil
}

// checkAddress reports why addr is not host:port with an IP address or a
// DNS name and a port in 1..65535, as cmd/loopgate checks configured ones.
func checkAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("cannot parse %q: want host:port or [ipv6]:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("cannot parse %q: port %q is not in 1..65535", addr, port)
	}
	if host == "" {
		return fmt.Errorf("cannot parse %q: missing host", addr)
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 {
		return fmt.Errorf("cannot parse %q: host name longer than 253 bytes", addr)
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		ok := label != "" && len(label) <= 63 && label[0] != '-' && label[len(label)-1] != '-'
		for i := 0; ok && i < len(label); i++ {
			c := label[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		}
		if !ok {
			return fmt.Errorf("cannot parse %q: invalid host %q", addr, host)
		}
	}
	return nil
}

// Routes returns the running routes, as configured.
func (s *Server) Routes() []Route { return slices.Clone(s.gen.Load().cfg.Routes) }
