package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"loopgate/cache"
	"loopgate/codec"
	"loopgate/compress"
	"loopgate/ratelimit"
)

// generation is what a reload replaces as a whole: the configuration the
// loops read (limits, timeouts, flow, trusted proxies) and the pools. It is
// immutable once published; each loop adopts a new one at its next request
// (sync), so a request never mixes two.
type generation struct {
	cfg       Config
	pools     []*pool
	trusted   []netip.Prefix
	seedAll   bool           // SeedEndpointsAllow is nil: every client may use them
	seedAllow []netip.Prefix // otherwise, these clients
	// Client filtering (ClientAllow, ClientDeny); filtered is false when
	// both are empty, so an unfiltered request pays one branch.
	filtered                bool
	clientAllow, clientDeny []netip.Prefix
	routes                  *routeTable
	parse                   codec.Limits          // cfg.Limits as the parser applies them (routes.go)
	limits                  map[string]*limitRule // [[rate_limit]] by name (limits.go)
	inflight                *ratelimit.Gauge      // max_requests_per_client; nil: no bound
	zopts                   compress.Options      // [compression], for each loop's pool
	zany                    bool                  // some route compresses
	cache                   *cache.Store          // the response cache; nil when no route uses it
	tlsIn                   int                   // decrypted input a TLS client may have waiting (tlsconn.go)
}

// newGeneration validates cfg (with defaults) and builds its pools, reusing
// nothing of prev yet: nothing is published or started. A pool whose name
// was in prev gets a fresh picker state but keeps its metrics.
func (s *Server) newGeneration(cfg Config, prev *generation) (*generation, error) {
	g := &generation{cfg: cfg, seedAll: cfg.SeedEndpointsAllow == nil}
	// A whole head must fit, as in gnet's buffer, and one read's worth.
	g.tlsIn = max(cfg.ReadBufferCap, cfg.Limits.MaxHeadBytes+1)
	var err error
	if g.trusted, err = parsePrefixes(cfg.TrustedProxies, "trusted proxy"); err != nil {
		return nil, err
	}
	if g.seedAllow, err = parsePrefixes(cfg.SeedEndpointsAllow, "seed endpoints client"); err != nil {
		return nil, err
	}
	if g.clientAllow, err = parsePrefixes(cfg.ClientAllow, "allowed client"); err != nil {
		return nil, err
	}
	if g.clientDeny, err = parsePrefixes(cfg.ClientDeny, "denied client"); err != nil {
		return nil, err
	}
	g.filtered = len(g.clientAllow)+len(g.clientDeny) > 0
	for _, p := range cfg.ConnectPorts {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("cannot use connect port %d: want 1..65535", p)
		}
	}
	for _, pc := range cfg.Pools {
		p, err := newPool(pc, s.st.Pool(pc.Name), s.log)
		if err != nil {
			return nil, err
		}
		g.pools = append(g.pools, p)
	}
	names := make([]string, len(g.pools))
	for i, p := range g.pools {
		names[i] = p.name
	}
	if g.routes, err = compileRoutes(&g.cfg, names, s.st); err != nil {
		return nil, err
	}
	// The parser bounds bodies by the largest any route accepts; each
	// route checks its own once it is known.
	g.parse = cfg.Limits
	g.parse.MaxBodyBytes = g.routes.maxBody
	g.parse.AllowConnect = len(cfg.ConnectPorts) > 0 // tunnel.go
	if g.zopts, err = compressOptions(&cfg.Compression); err != nil {
		return nil, err
	}
	cached := false
	for _, a := range append([]*routeAction{g.routes.implicit, g.routes.fallback}, g.routes.list...) {
		g.zany = g.zany || a != nil && a.compress
		cached = cached || a != nil && a.cache
	}
	var prevCache *cache.Store
	if prev != nil {
		prevCache = prev.cache
	}
	g.cache = newCacheStore(&g.cfg, prevCache, cached)
	// Last, as nothing can fail any more: limiter state (and Redis
	// clients) carried over from the running rules or made.
	var have map[string]*limitRule
	if prev != nil {
		have = prev.limits
	}
	g.limits = buildLimits(&g.cfg, have, s.st, s.log)
	g.routes.linkLimits(cfg.RateLimit, g.limits)
	if cfg.MaxRequestsPerClient > 0 {
		if g.inflight = s.inflight; g.inflight == nil {
			g.inflight = ratelimit.NewGauge(0)
			s.inflight = g.inflight
		}
	}
	return g, nil
}

// parsePrefixes parses CIDRs, or bare addresses as one-address prefixes.
func parsePrefixes(list []string, what string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, t := range list {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			a, aerr := netip.ParseAddr(t)
			if aerr != nil {
				return nil, fmt.Errorf("cannot parse %s %q: %w", what, t, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// sync makes the loop run the current generation. It costs one atomic load
// when nothing changed; it runs on the loop before each request head.
func (l *loop) sync() {
	if g := l.s.gen.Load(); g != l.gen {
		l.adopt(g)
	}
}

// adopt switches the loop to g: timer durations, and a loopPool per pool of
// g. A pool that keeps its name keeps the loop's idle connections to the
// backends it still has; exchanges in flight finish on the pool that
// started them.
func (l *loop) adopt(g *generation) {
	l.gen, l.cfg = g, &g.cfg
	l.zpool = nil
	if g.zany {
		l.zpool, _ = compress.NewPool(&g.zopts) // checked by newGeneration
	}
	t := g.cfg.Timeouts
	for k, d := range [numTimerKinds]int64{
		timerClientIdle:   int64(t.ClientIdle),
		timerClientHeader: int64(t.ClientHeader),
		timerClientBody:   int64(t.BodyProgress),
		timerUpResponse:   int64(t.UpstreamResponse),
		timerUpBody:       int64(t.BodyProgress),
		timerUpIdle:       int64(t.UpstreamIdle),
		timerLinger:       int64(lingerTimeout),
		timerUpConnect:    int64(t.UpstreamConnect),
		timerUpSend:       int64(t.BodyProgress),
		timerTLSHandshake: int64(t.TLSHandshake),
		timerTunnel:       int64(t.TunnelIdle),
	} {
		l.timers[k].d = d
	}
	old := l.pools
	l.pools = make([]*loopPool, 0, len(g.pools))
	for _, p := range g.pools {
		lp := &loopPool{p: p, retryTokens: maxRetryTokens}
		if i := slices.IndexFunc(old, func(o *loopPool) bool { return o.p.name == p.name }); i >= 0 {
			// Carry the idle connections over: rebuild moves those whose
			// backend is still in the Set and closes the others.
			o := old[i]
			old = slices.Delete(old, i, i+1)
			if !sameTLS(o.p, p) {
				closeIdle(o) // made with the TLS settings the reload replaced
				l.rebuild(lp)
				l.pools = append(l.pools, lp)
				continue
			}
			lp.idle, lp.set, lp.retryTokens = o.idle, o.set, o.retryTokens
			lp.st = p.state.Load()
			l.rebuild(lp)
		} else {
			l.rebuild(lp)
		}
		l.pools = append(l.pools, lp)
	}
	for _, o := range old { // pools the reload removed
		closeIdle(o)
	}
}

// closeIdle closes the idle connections of lp.
func closeIdle(lp *loopPool) {
	for i := range lp.idle {
		for {
			u, ok := lp.idle[i].Pop()
			if !ok {
				break
			}
			u.leaveIdle(true)
			u.closeNow()
		}
	}
}

// sameTLS reports whether connections made for pool a may serve pool b:
// both plain, or TLS with the same settings. A reload that changes
// [pool.tls] (another CA, verification turned on) must not leave requests
// on connections the new settings would not have made.
func sameTLS(a, b *pool) bool { return reflect.DeepEqual(a.tlsConf, b.tlsConf) }

// current returns the loop's loopPool for the pool lp belongs to, by name,
// or nil when a reload removed that pool.
func (l *loop) current(lp *loopPool) *loopPool {
	l.sync()
	for _, x := range l.pools {
		if x == lp || x.p.name == lp.p.name {
			return l.refresh(x)
		}
	}
	return nil
}

// ErrNeedsRestart refuses a reload that changes what only a new process
// can: the listening socket and the event loops. cmd/loopgate answers it
// with a zero-downtime upgrade (docs/UPGRADE.md).
var ErrNeedsRestart = errors.New("engine: the change needs a new process")

// Reload makes cfg the running configuration without dropping a
// connection: limits, timeouts, flow control, trusted proxies, request IDs,
// seed endpoints, max_connections and every pool (algorithm, health checks,
// retries, backends; pools added and removed). It validates everything
// first: a config that fails leaves the running one untouched. Each loop
// switches at its next request; exchanges in flight finish on the pool
// that started them. A pool that keeps its name keeps its metrics, and
// each backend that stays keeps its health verdict, ejection and history
// when the pool's health settings are unchanged (carryOver).
//
// A change of listen, event_loops, reuse_port or read_buffer returns
// ErrNeedsRestart and changes nothing.
func (s *Server) Reload(cfg Config) error {
	cfg = cfg.WithDefaults()
	cur := s.gen.Load()
	if keys := RestartKeys(cur.cfg, cfg); len(keys) > 0 {
		return fmt.Errorf("cannot reload %s in place: %w", strings.Join(keys, ", "), ErrNeedsRestart)
	}
	// What the process wired in stays: one metrics registry, one access log.
	cfg.Stats, cfg.AccessLog = cur.cfg.Stats, cur.cfg.AccessLog
	s.ctl.Lock()
	defer s.ctl.Unlock()
	g, err := s.newGeneration(cfg, cur)
	if err != nil {
		return err
	}
	old := s.pools
	for _, p := range g.pools {
		if i := slices.IndexFunc(old, func(o *pool) bool { return o.name == p.name }); i >= 0 {
			carryOver(old[i], p)
		}
	}
	if s.running.Load() {
		for _, p := range g.pools {
			if p.checker != nil {
				p.checker.Start()
			}
		}
	}
	s.pools = g.pools
	s.gen.Store(g)
	closeLimits(cur.limits, g.limits)
	for _, p := range old {
		if p.checker != nil {
			p.checker.Stop()
		}
	}
	// Loops that see no request for a while still let go of pools that are gone.
	s.forEachLoop(func(l *loop) { l.execute(l.sync) })
	names := make([]string, len(g.pools))
	for i, p := range g.pools {
		names[i] = p.name
	}
	s.log.Info("configuration reloaded", "pools", names)
	return nil
}

// RestartKeys names the settings of b that differ from a and that only a
// new process can apply, as their config keys; none when Reload can apply b.
func RestartKeys(a, b Config) []string {
	var keys []string
	for _, k := range []struct {
		name    string
		changed bool
	}{
		{"listen", a.Listen != b.Listen},
		{"event_loops", a.EventLoops != b.EventLoops},
		{"reuse_port", a.ReusePort != b.ReusePort},
		{"read_buffer", a.ReadBufferCap != b.ReadBufferCap},
		{"listener", !sameListeners(a.Listeners, b.Listeners)},
	} {
		if k.changed {
			keys = append(keys, k.name)
		}
	}
	return keys
}

// sameListeners reports whether a and b bind the same addresses the same
// way. TLS settings are the certificate store's to change at run time
// (GetCertificate), so only TLS on or off counts.
func sameListeners(a, b []Listener) bool {
	return slices.EqualFunc(a, b, func(x, y Listener) bool {
		return x.Address == y.Address && (x.TLS == nil) == (y.TLS == nil) &&
			x.RedirectHTTPS == y.RedirectHTTPS && x.HTTPSPort == y.HTTPSPort
	})
}

// carryOver gives p, the reloaded version of old, what old knows about the
// backends both have (pool.inherit): health verdicts and history when the
// health settings are the same, ejections in progress, slow-start ramps.
// Membership, weights and drains come from the new configuration.
func carryOver(old, p *pool) { p.inherit(old) }
