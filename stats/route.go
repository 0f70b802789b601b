package stats

import (
	"strconv"
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
