package stats

import (
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// RouteStats are the counters of one [[route]], by name: the same pointer
// for the same name for the life of the Proxy, so counts survive a reload
// that keeps the route.
type RouteStats struct {
	Name     string
	byClass  [6]*metrics.Counter // loopgate_route_requests_total{route,class}
	requests atomic.Uint64
}

// Route returns the counters of the route named name, creating them on
// first use. Cold path.
func (p *Proxy) Route(name string) *RouteStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rs := p.routes[name]; rs != nil {
		return rs
	}
	rs := &RouteStats{Name: name}
	for i, c := range classNames {
		rs.byClass[i] = p.set.NewCounter(`loopgate_route_requests_total{route=` + strconv.Quote(name) + `,class="` + c + `"}`)
	}
	if p.routes == nil {
		p.routes = map[string]*RouteStats{}
	}
	p.routes[name] = rs
	return rs
}

// done counts one exchange of the route.
func (rs *RouteStats) done(status int) {
	rs.requests.Add(1)
	class := 5
	if status >= 100 && status <= 599 {
		class = status/100 - 1
	}
	rs.byClass[class].Inc()
}

// Requests is the number of exchanges the route took.
func (rs *RouteStats) Requests() uint64 { return rs.requests.Load() }

// ByClass returns the route's exchanges by status class: 1xx..5xx, then
// those cut without a status.
func (rs *RouteStats) ByClass() (n [6]uint64) {
	for i, c := range rs.byClass {
		n[i] = c.Get()
	}
	return n
}

// RateLimitStats count the decisions of one [[rate_limit]] rule.
type RateLimitStats struct {
	Name    string
	Allowed *metrics.Counter // loopgate_rate_limit_total{rule,result="allowed"}
	Limited *metrics.Counter // ... result="limited": refused with 429
	DryRun  *metrics.Counter // ... result="dry_run": would have been refused, let through

	redis atomic.Pointer[func() bool]
	gauge sync.Once
}

// RateLimit returns the counters of the rule named name, creating them on
// first use. Cold path.
func (p *Proxy) RateLimit(name string) *RateLimitStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rs := p.limits[name]; rs != nil {
		return rs
	}
	l := `loopgate_rate_limit_total{rule=` + strconv.Quote(name) + `,result="`
	rs := &RateLimitStats{Name: name,
		Allowed: p.set.NewCounter(l + `allowed"}`),
		Limited: p.set.NewCounter(l + `limited"}`),
		DryRun:  p.set.NewCounter(l + `dry_run"}`),
	}
	if p.limits == nil {
		p.limits = map[string]*RateLimitStats{}
	}
	p.limits[name] = rs
	return rs
}

// RouteView describes one route of the running configuration, for
// /api/routes and the dashboard.
type RouteView struct {
	Name       string
	Match      string // e.g. "host a.example, path_prefix /api/"
	Action     string // e.g. "pool c, strip_prefix /api", "redirect 308 /new/$rest"
	RateLimits []string
	Stats      *RouteStats
}

// LimitView describes one [[rate_limit]] rule of the running configuration.
type LimitView struct {
	Name   string
	Rule   string // e.g. "5 per 1s, burst 5, per client"
	Store  string // "local" or "redis"
	DryRun bool
	// RedisHealthy reports whether Redis answered the last sync; nil for
	// local rules.
	RedisHealthy func() bool
	Stats        *RateLimitStats
}

// SetRoutes installs the engine's view of its routes and rate limits; it is
// called at scrape time, from the scraping goroutine.
func (p *Proxy) SetRoutes(view func() ([]RouteView, []LimitView)) { p.routesView.Store(&view) }

func (p *Proxy) routeViews() ([]RouteView, []LimitView) {
	if v := p.routesView.Load(); v != nil {
		return (*v)()
	}
	return nil, nil
}

type apiRoute struct {
	Name       string     `json:"name"`
	Match      string     `json:"match"`
	Action     string     `json:"action"`
	RateLimits []string   `json:"rate_limits,omitempty"`
	Requests   uint64     `json:"requests"`
	ByClass    apiByClass `json:"responses"`
}

type apiByClass struct {
	C1xx uint64 `json:"1xx"`
	C2xx uint64 `json:"2xx"`
	C3xx uint64 `json:"3xx"`
	C4xx uint64 `json:"4xx"`
	C5xx uint64 `json:"5xx"`
	Cut  uint64 `json:"cut"`
}

type apiLimit struct {
	Name      string `json:"name"`
	Rule      string `json:"rule"`
	Store     string `json:"store"`
	DryRun    bool   `json:"dry_run"`
	RedisUp   *bool  `json:"redis_healthy,omitempty"`
	Allowed   uint64 `json:"allowed"`
	Limited   uint64 `json:"limited"`
	DryRunHit uint64 `json:"dry_run_hits"`
}

type apiRoutes struct {
	Routes     []apiRoute `json:"routes"`
	RateLimits []apiLimit `json:"rate_limits"`
}

func (p *Proxy) apiRoutes() apiRoutes {
	rv, lv := p.routeViews()
	out := apiRoutes{Routes: make([]apiRoute, 0, len(rv)), RateLimits: make([]apiLimit, 0, len(lv))}
	for _, r := range rv {
		ar := apiRoute{Name: r.Name, Match: r.Match, Action: r.Action, RateLimits: r.RateLimits}
		if r.Stats != nil {
			c := r.Stats.ByClass()
			ar.Requests = r.Stats.Requests()
			ar.ByClass = apiByClass{c[0], c[1], c[2], c[3], c[4], c[5]}
		}
		out.Routes = append(out.Routes, ar)
	}
	for _, l := range lv {
		al := apiLimit{Name: l.Name, Rule: l.Rule, Store: l.Store, DryRun: l.DryRun}
		if l.RedisHealthy != nil {
			up := l.RedisHealthy()
			al.RedisUp = &up
		}
		if s := l.Stats; s != nil {
			al.Allowed, al.Limited, al.DryRunHit = s.Allowed.Get(), s.Limited.Get(), s.DryRun.Get()
		}
		out.RateLimits = append(out.RateLimits, al)
	}
	return out
}

// AppendAPIRoutes appends the JSON of GET /api/routes: every route with its
// match, action and counters, and every rate limit rule with its counters
// and, for rules on Redis, whether Redis is reachable.
func (p *Proxy) AppendAPIRoutes(dst []byte) []byte {
	b, _ := json.Marshal(p.apiRoutes())
	return append(dst, b...)
}

// WatchRedis makes loopgate_rate_limit_redis_up{rule} report healthy (1 or
// 0); the latest rule of the name is the one reported.
func (rs *RateLimitStats) WatchRedis(p *Proxy, healthy func() bool) {
	rs.redis.Store(&healthy)
	rs.gauge.Do(func() {
		p.set.NewGauge(`loopgate_rate_limit_redis_up{rule=`+strconv.Quote(rs.Name)+`}`, func() float64 {
			if f := rs.redis.Load(); f != nil && (*f)() {
				return 1
			}
			return 0
		})
	})
}

// codings name the compressed-responses counters; the engine's codings are
// a subset.
var codings = [...]string{"gzip", "br", "zstd"}

// Compressed counts a response sent encoded in coding ("gzip", "br" or
// "zstd"). It does not allocate.
func (p *Proxy) Compressed(coding string) {
	for i, c := range codings {
		if c == coding {
			p.compressed[i].Inc()
			return
		}
	}
}

// CacheOutcome is how the response cache served a request.
type CacheOutcome uint8

const (
	CacheHit CacheOutcome = iota
	CacheMiss
	CacheStale
	CacheBypass
	CacheRevalidated
	numCacheOutcomes
)

var cacheOutcomes = [numCacheOutcomes]string{"hit", "miss", "stale", "bypass", "revalidated"}

// CacheResult counts one request the cache answered or passed on
// (loopgate_cache_requests_total{result}). It does not allocate.
func (p *Proxy) CacheResult(o CacheOutcome) { p.cacheResults[o].Inc() }

// CacheCollapsed counts a miss that waited for another request fetching
// the same key (loopgate_cache_collapsed_total).
func (p *Proxy) CacheCollapsed() { p.cacheCollapsed.Inc() }

// CacheCollapsedTotal returns the count of collapsed misses.
func (p *Proxy) CacheCollapsedTotal() uint64 { return p.cacheCollapsed.Get() }

// CacheResults returns the counts by outcome, in CacheOutcome order.
func (p *Proxy) CacheResults() (n [numCacheOutcomes]uint64) {
	for i, c := range p.cacheResults {
		n[i] = c.Get()
	}
	return n
}

// CacheSize is what the response cache holds; On is false when no route
// uses the cache.
type CacheSize struct {
	On                    bool
	Entries               int
	Bytes                 int64
	Insertions, Evictions uint64
}

// CacheStore reads the response cache's size at scrape time.
type CacheStore func() CacheSize

// SetCacheStore registers the cache's gauges, once; later calls replace
// the function they read.
func (p *Proxy) SetCacheStore(f CacheStore) {
	p.cacheStore.Store(&f)
	p.cacheOnce.Do(func() {
		p.set.NewGauge(`loopgate_cache_entries`, func() float64 { return float64(p.cacheSize().Entries) })
		p.set.NewGauge(`loopgate_cache_bytes`, func() float64 { return float64(p.cacheSize().Bytes) })
		p.set.NewGauge(`loopgate_cache_insertions_total`, func() float64 { return float64(p.cacheSize().Insertions) })
		p.set.NewGauge(`loopgate_cache_evictions_total`, func() float64 { return float64(p.cacheSize().Evictions) })
	})
}

func (p *Proxy) cacheSize() CacheSize {
	if f := p.cacheStore.Load(); f != nil && *f != nil {
		return (*f)()
	}
	return CacheSize{}
}

// apiCache is the "cache" object of /api/metrics.
type apiCache struct {
	HitRatio    float64 `json:"hit_ratio"` // percent of lookups answered from the cache (hit, stale, revalidated), lifetime
	Hits        uint64  `json:"hits"`
	Misses      uint64  `json:"misses"`
	Stale       uint64  `json:"stale"`
	Revalidated uint64  `json:"revalidated"`
	Bypassed    uint64  `json:"bypassed"`
	Collapsed   uint64  `json:"collapsed"`
	Entries     int     `json:"entries"`
	Bytes       int64   `json:"bytes"`
	Evictions   uint64  `json:"evictions"`
}

// apiCache reports the cache, or nil when it is off.
func (p *Proxy) apiCache() *apiCache {
	size := p.cacheSize()
	if !size.On {
		return nil
	}
	n := p.CacheResults()
	c := &apiCache{Hits: n[CacheHit], Misses: n[CacheMiss], Stale: n[CacheStale], Revalidated: n[CacheRevalidated],
		Bypassed: n[CacheBypass], Collapsed: p.CacheCollapsedTotal(),
		Entries: size.Entries, Bytes: size.Bytes, Evictions: size.Evictions}
	served := c.Hits + c.Stale + c.Revalidated
	c.HitRatio = round3(percent(served, served+c.Misses))
	return c
}
