package engine

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"loopgate/certs"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"loopgate/health"
	"loopgate/stats"
	"loopgate/upstream"
)

// pool is the shared side of a configured pool. Loops read its state with
// one atomic load per request.
type pool struct {
	name          string
	alg           upstream.Algorithm
	maxIdle       int
	key           keySpec       // what keyed algorithms hash on
	keyed         bool          // the algorithm routes by key
	sticky        *StickyCookie // nil: no sticky cookie
	secret        []byte        // HMAC key of the sticky cookie
	checker       *probes       // active probes; nil when off
	retries       int           // attempts on another backend after a safe failure
	retryBudget   int           // percent of requests that may be retried
	retryDeadline time.Duration // no new attempt after a request has been here this long
	retryOn       []int         // response statuses that send an idempotent bodiless request elsewhere
	retryBackoff  time.Duration // base of the jittered exponential backoff; 0: retry at once
	ej            *ejector      // combines probes, ejections, slow start and the admin's changes into the Set and mask
	passive       bool          // loops count failures for ej
	// panicMode spreads traffic over every backend when none may take it;
	// panicking is whether it does now (written by publish, under ej.mu).
	panicMode, panicking bool
	log                  *slog.Logger
	stats                *stats.PoolStats
	state                atomic.Pointer[poolState]

	// Connection bounds and the queue (queue.go): maxConn by backend
	// address, defaultMax for backends added later; limited when any is set.
	limited      bool
	maxConn      map[string]int64
	defaultMax   int64
	queueMax     int64
	queueTimeout int64 // ns

	// tls dials the backends over TLS (Pool.TLS); nil: plain. tlsConf is
	// what built it, to tell whether a reload changed it.
	tls     *tls.Config
	tlsConf *certs.Client
	// tlsWarned is when a failed handshake was last logged at warn level
	// (unix ns): at most one such line per tlsWarnEvery, the others debug,
	// so a pool whose CA is wrong does not flood the log at full traffic.
	tlsWarned atomic.Int64
}

// tlsWarnEvery spaces the warnings about failed handshakes with a pool's
// backends.
const tlsWarnEvery = 10 * time.Second

// warnTLS reports whether a failed handshake now is logged at warn level.
func (p *pool) warnTLS(now time.Time) bool {
	last := p.tlsWarned.Load()
	return now.UnixNano()-last >= int64(tlsWarnEvery) && p.tlsWarned.CompareAndSwap(last, now.UnixNano())
}

// poolState is what a pool publishes: its backends, which of them may take
// traffic now, and the sticky cookie of each. It is immutable and replaced
// as a whole, so a request never sees a mask of one Set with another.
type poolState struct {
	set    *upstream.Set
	mask   upstream.Mask
	cookie *stickyTable // nil when the pool has no sticky cookie
	// stats are the metric handles of each backend, indexed like set.
	stats []*stats.BackendStats
	// maxConn is each backend's bound on exchanges in flight (0: none),
	// indexed like set; nil when the pool has no bound.
	maxConn []int64
}

// publish makes set, with up saying which backends are healthy, the pool's
// current state. It runs on the control plane, never on a loop.
func (p *pool) publish(set *upstream.Set, up upstream.Mask) {
	p.publishAllowed(set, up, upstream.NewMask(len(set.Backends)))
}

// publishAllowed is publish where only the backends in allowed may take
// traffic at all: up must be within it, and panic mode spreads traffic over
// allowed, not over every backend, so a drained backend stays out of it.
func (p *pool) publishAllowed(set *upstream.Set, up, allowed upstream.Mask) {
	p.alg.Prepare(set) // shared tables are built here, not by the first loop to need them
	st := &poolState{set: set, mask: set.Eligible(up)}
	if p.panicMode {
		// With no backend to take traffic, spread it over all of them
		// rather than answer 503: they may be healthier than probes say.
		panicking := st.mask.Count() == 0 && allowed.Count() > 0
		if panicking {
			st.mask = set.Eligible(allowed)
		}
		if panicking != p.panicking {
			p.panicking = panicking
			p.log.Warn("panic mode", "on", panicking, "reason", "no backend may take traffic")
		}
	}
	if old := p.state.Load(); old != nil && old.set == set {
		st.cookie, st.stats, st.maxConn = old.cookie, old.stats, old.maxConn
	} else {
		if p.limited {
			st.maxConn = make([]int64, len(set.Backends))
			for i, b := range set.Backends {
				m, ok := p.maxConn[b.Addr]
				if !ok {
					m = p.defaultMax
				}
				st.maxConn[i] = m
			}
		}
		if p.sticky != nil {
			st.cookie = newStickyTable(p.sticky, p.secret, set)
		}
		st.stats = make([]*stats.BackendStats, len(set.Backends))
		for i, b := range set.Backends {
			st.stats[i] = p.stats.Backend(b.Addr)
		}
	}
	p.state.Store(st)
}

// stickyTable holds, for one Set, each backend's cookie value (an HMAC of
// its address, so it names the backend without revealing it and survives
// reordering) and the Set-Cookie line that sets it.
type stickyTable struct {
	name      string
	index     map[string]int // cookie value -> backend index
	setCookie [][]byte       // per backend: "Set-Cookie: ...\r\n"
}

func newStickyTable(c *StickyCookie, secret []byte, set *upstream.Set) *stickyTable {
	t := &stickyTable{name: c.Name, index: make(map[string]int, len(set.Backends))}
	attrs := "; Path=" + c.Path
	if c.MaxAge > 0 {
		attrs += "; Max-Age=" + strconv.FormatInt(int64(c.MaxAge.Seconds()), 10)
	}
	if c.Secure {
		attrs += "; Secure"
	}
	if c.HTTPOnly == nil || *c.HTTPOnly {
		attrs += "; HttpOnly"
	}
	if c.SameSite != "" {
		attrs += "; SameSite=" + c.SameSite
	}
	for i, b := range set.Backends {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(b.Addr))
		v := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
		t.index[v] = i
		t.setCookie = append(t.setCookie, []byte("Set-Cookie: "+c.Name+"="+v+attrs+"\r\n"))
	}
	return t
}

// newPool builds the shared side of pc and publishes its first state with
// every backend up, except those configured as drained. With probes
// configured, its checker publishes each flip.
func newPool(pc Pool, ps *stats.PoolStats, log *slog.Logger) (*pool, error) {
	alg, err := upstream.New(pc.Algorithm, upstream.Options{
		HashMethod:    pc.HashMethod,
		BalanceFactor: pc.HashBalanceFactor,
		Fallback:      pc.Fallback,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot start pool %q: %w", pc.Name, err)
	}
	if len(pc.Backends) == 0 {
		return nil, fmt.Errorf("cannot start pool %q: no backends", pc.Name)
	}
	if len(pc.Backends) > upstream.MaxBackends {
		return nil, fmt.Errorf("cannot start pool %q: more than %d backends", pc.Name, upstream.MaxBackends)
	}
	keyed := pc.Algorithm == "hash" || pc.Algorithm == "ip_hash"
	p := &pool{name: pc.Name, alg: alg, maxIdle: pc.MaxIdlePerBackend, keyed: keyed, retries: pc.Retries,
		retryBudget: pc.RetryBudget, retryDeadline: pc.RetryDeadline, retryOn: pc.RetryOnStatus,
		retryBackoff: pc.RetryBackoff,
		panicMode:    pc.PanicMode, log: log.With("pool", pc.Name), stats: ps}
	if pc.TLS != nil {
		if p.tls, err = certs.NewClientConfig(*pc.TLS); err != nil {
			return nil, fmt.Errorf("cannot start pool %q: tls: %w", pc.Name, err)
		}
		conf := *pc.TLS
		p.tlsConf = &conf
		ps.UseTLS()
	}
	if p.keyed {
		spec := pc.HashKey
		if pc.Algorithm == "ip_hash" || spec == "" {
			spec = DefaultHashKey
		}
		if p.key, err = parseKeySpec(spec); err != nil {
			return nil, fmt.Errorf("cannot start pool %q: %w", pc.Name, err)
		}
	}
	if c := pc.StickyCookie; c != nil {
		sc := *c
		if sc.Name == "" {
			sc.Name = DefaultStickyName
		}
		if sc.Path == "" {
			sc.Path = "/"
		}
		if sc.SameSite == "" {
			sc.SameSite = "Lax"
		}
		p.sticky = &sc
		p.secret = []byte(sc.Secret)
		if len(p.secret) == 0 {
			p.secret = make([]byte, 32)
			rand.Read(p.secret)
		}
	}
	p.defaultMax, p.queueMax, p.queueTimeout = int64(pc.MaxConnections), int64(pc.Queue), int64(pc.QueueTimeout)
	p.maxConn = make(map[string]int64, len(pc.Backends))
	p.limited = pc.MaxConnections > 0
	for _, b := range pc.Backends {
		m := int64(cmp.Or(b.MaxConnections, pc.MaxConnections))
		p.maxConn[b.Address] = m
		p.limited = p.limited || m > 0
	}
	backends := make([]upstream.Backend, 0, len(pc.Backends))
	for _, b := range pc.Backends {
		backends = append(backends, upstream.Backend{Addr: b.Address, Weight: b.WeightOf(), Backup: b.Backup})
	}
	set := upstream.NewSet(1, slices.Clone(backends), nil)
	p.ej = newEjector(p, log.With("pool", pc.Name), set, backends, pc.SlowStart)
	if pc.Passive != nil {
		p.ej.cfg = pc.Passive.WithDefaults()
		if err := p.ej.cfg.Validate(); err != nil {
			return nil, fmt.Errorf("cannot start pool %q: %w", pc.Name, err)
		}
		p.passive = true
	}
	e := p.ej
	e.mu.Lock()
	for i, b := range pc.Backends {
		if b.Drained { // kept by cmd/loopgate across restarts and reloads
			e.drained[i] = time.Now()
			e.noteLocked(i, upstream.StateUp, upstream.StateDraining, drainReason)
		}
	}
	e.publishLocked()
	e.mu.Unlock()
	if pc.Health != nil {
		addrs := make([]string, len(backends))
		for i, b := range backends {
			addrs[i] = b.Addr
		}
		// The checker publishes from its own goroutine, on flips only; the
		// loops see the new mask at their next request.
		hc := *pc.Health
		hc.TLS = p.tls // probes go over TLS too (HAProxy's check-ssl)
		c, err := health.New(hc, addrs, log.With("pool", pc.Name), p.ej.setHealth)
		if err != nil {
			return nil, fmt.Errorf("cannot start pool %q: %w", pc.Name, err)
		}
		p.checker = &probes{c: c, cfg: *pc.Health, tls: p.tlsConf}
	}
	return p, nil
}

// probes is a pool's active health checking. A membership change (or a
// reload) replaces its Checker by one that inherits its state; the pointer
// is swapped under mu so that Status can read it meanwhile. Start, Stop and
// replace run under the Server's ctl.
type probes struct {
	mu  sync.Mutex
	c   *health.Checker
	cfg health.Config // as configured, to tell whether a reload changed it
	tls *certs.Client // the pool's TLS, which the probes use too
}

func (pr *probes) current() *health.Checker {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.c
}

// Start starts the current checker.
func (pr *probes) Start() { pr.current().Start() }

// Stop stops the current checker.
func (pr *probes) Stop() { pr.current().Stop() }

// States returns the current checker's view of its backends.
func (pr *probes) States() []health.BackendState { return pr.current().States() }

// reshape stops the current checker and replaces it with a successor for
// addrs, which keeps the state of every backend still checked (see
// health.Checker.Inherit); it returns the successor's mask, indexed like
// addrs. The successor probes and publishes nothing until it is started, so
// the caller can publish its new Set with that mask first. It must not be
// called with the ejector's mutex held: the old checker may be waiting for
// it to publish a flip.
func (pr *probes) reshape(addrs []string) upstream.Mask {
	next, err := pr.current().Successor(addrs)
	if err != nil {
		// Its configuration was valid, and the caller checked the count.
		panic("BUG: cannot make a successor checker: " + err.Error())
	}
	pr.mu.Lock()
	pr.c = next
	pr.mu.Unlock()
	return next.Mask()
}
