package stats

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Proxy holds the proxy's metric handles and counters. Create it once at
// startup with New; Done and the handles it returns are safe from any loop
// and never allocate or lock. Pool and Backend create handles on first use:
// call them on the control plane (startup, a new backend Set), never per
// request.
type Proxy struct {
	set   *metrics.Set
	start time.Time
	opts  Options

	mu     sync.Mutex // guards pools, routes and limits (cold)
	pools  map[string]*PoolStats
	routes map[string]*RouteStats
	limits map[string]*RateLimitStats

	// AcceptErrors counts failed accepts (EMFILE and the like): the
	// listener backs off and existing connections are served meanwhile.
	AcceptErrors *metrics.Counter // loopgate_accept_errors_total

	requests *metrics.Counter // loopgate_requests_total, no labels: every exchange
	errors   atomic.Uint64    // status >= 500 or a cut response
	codes    [600]atomic.Uint64
	byReason [numReasons]*metrics.Counter
	total    Histogram // every exchange
	connect  Histogram // fresh upstream connections
	ttfb     Histogram // request sent to response head

	compressed     [8]*metrics.Counter                // loopgate_compressed_responses_total{coding}, by the coding's index in codings
	cacheResults   [numCacheOutcomes]*metrics.Counter // loopgate_cache_requests_total{result}
	cacheCollapsed *metrics.Counter                   // loopgate_cache_collapsed_total
	tunnels        tunnelStats                        // tunnel.go
	cacheStore     atomic.Pointer[CacheStore]
	extra          atomic.Pointer[[]func(io.Writer)] // AddMetricsWriter
	cacheOnce      sync.Once
	gauges         atomic.Pointer[Gauges]
	routesView     atomic.Pointer[func() ([]RouteView, []LimitView)]
	alog           atomic.Pointer[AccessLog]
	win            window // the sampler's recent history (sampler.go)
}

// Options configure a Proxy; the zero value is ready to use.
type Options struct {
	// Window is the span that requests_per_second and the recent latency
	// quantiles cover (default 10s).
	Window time.Duration
}

// DefaultWindow is Options.Window's default.
const DefaultWindow = 10 * time.Second

// Gauges reads live values that the engine owns. Each func is called at
// scrape time, from the scraping goroutine.
type Gauges struct {
	Clients        func() int64 // open client connections
	UpstreamActive func() int64 // upstream connections serving an exchange or dialing
	UpstreamIdle   func() int64 // pooled keep-alive upstream connections
	Tunnels        func() int64 // open tunnels (WebSocket and other upgrades, CONNECT)
}

// PoolStats are the handles of one pool.
type PoolStats struct {
	Name      string
	Retries   *metrics.Counter // loopgate_retries_total{pool}
	Ejections *metrics.Counter // loopgate_ejections_total{pool}

	// The pool's queue (max_connections): requests waiting now
	// (loopgate_queue_length{pool}), every request that waited, those that
	// waited out queue_timeout, and the seconds they waited in all.
	Queued        atomic.Int64
	QueuedTotal   *metrics.Counter      // loopgate_queued_total{pool}
	QueueTimeouts *metrics.Counter      // loopgate_queue_timeouts_total{pool}
	QueueWait     *metrics.FloatCounter // loopgate_queue_wait_seconds_total{pool}

	// TLS to the pool's backends (UseTLS): handshakes by result,
	// loopgate_upstream_tls_handshakes_total{pool,result}. nil for a plain pool.
	TLSFull, TLSResumed, TLSFailed *metrics.Counter

	p        *Proxy
	mu       sync.Mutex // guards backends (cold)
	backends map[string]*BackendStats
}

// BackendStats are the handles of one backend, keyed by address: the same
// pointer for the same address for the life of the Proxy, so counts carry
// over when a Set is rebuilt or a backend is removed and added again.
type BackendStats struct {
	Addr string
	Pool string
	// InFlight counts exchanges sent to the backend and not finished: the
	// engine adds 1 when it sends a request and subtracts 1 when that
	// attempt ends, whatever ends it. Drains wait for it to reach 0.
	InFlight atomic.Int64

	byClass [6]*metrics.Counter // loopgate_requests_total{pool,backend,class}: 1xx..5xx, and "none" for a cut response
	errors  atomic.Uint64       // status >= 500 or a cut response
	latency Histogram           // request sent to response complete
}

// New returns a Proxy with its handles registered in a fresh metrics.Set.
func New(o Options) *Proxy {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	p := &Proxy{set: metrics.NewSet(), start: time.Now(), opts: o, pools: map[string]*PoolStats{}}
	// The unlabeled total shares its family with the per-backend series;
	// registering it in the set keeps the family in one group.
	p.requests = p.set.NewCounter(`loopgate_requests_total`)
	p.AcceptErrors = p.set.NewCounter(`loopgate_accept_errors_total`)
	for i, c := range cacheOutcomes {
		p.cacheResults[i] = p.set.NewCounter(`loopgate_cache_requests_total{result="` + c + `"}`)
	}
	p.cacheCollapsed = p.set.NewCounter(`loopgate_cache_collapsed_total`)
	for i, c := range codings {
		p.compressed[i] = p.set.NewCounter(`loopgate_compressed_responses_total{coding="` + c + `"}`)
	}
	p.tunnels.init(p.set)
	for r := ReasonParse; r < numReasons; r++ {
		p.byReason[r] = p.set.NewCounter(`loopgate_errors_total{reason="` + r.String() + `"}`)
	}
	return p
}

// Metrics is the set the handles live in; /metrics writes it.
func (p *Proxy) Metrics() *metrics.Set { return p.set }

// Uptime is the time since New.
func (p *Proxy) Uptime() time.Duration { return time.Since(p.start) }

// SetGauges installs the engine's live gauges.
func (p *Proxy) SetGauges(g Gauges) { p.gauges.Store(&g) }

// SetAccessLog makes the access log's written and dropped counts part of
// the metrics.
func (p *Proxy) SetAccessLog(a *AccessLog) { p.alog.Store(a) }

// Pool returns the handles of the pool named name, creating them on first
// use. Cold path.
func (p *Proxy) Pool(name string) *PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps := p.pools[name]; ps != nil {
		return ps
	}
	l := `{pool=` + strconv.Quote(name) + `}`
	ps := &PoolStats{Name: name, p: p, backends: map[string]*BackendStats{},
		Retries:       p.set.NewCounter(`loopgate_retries_total` + l),
		Ejections:     p.set.NewCounter(`loopgate_ejections_total` + l),
		QueuedTotal:   p.set.NewCounter(`loopgate_queued_total` + l),
		QueueTimeouts: p.set.NewCounter(`loopgate_queue_timeouts_total` + l),
		QueueWait:     p.set.NewFloatCounter(`loopgate_queue_wait_seconds_total` + l),
	}
	p.set.NewGauge(`loopgate_queue_length`+l, func() float64 { return float64(ps.Queued.Load()) })
	p.pools[name] = ps
	return ps
}

// UseTLS creates the pool's upstream TLS counters, once: the loops read
// them without a lock. Cold path.
func (ps *PoolStats) UseTLS() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.TLSFull != nil {
		return
	}
	c := func(result string) *metrics.Counter {
		return ps.p.set.GetOrCreateCounter(`loopgate_upstream_tls_handshakes_total{pool=` + strconv.Quote(ps.Name) + `,result="` + result + `"}`)
	}
	ps.TLSFull, ps.TLSResumed, ps.TLSFailed = c("full"), c("resumed"), c("failed")
}

// classNames label BackendStats.byClass: index status/100 - 1, and 5 for none.
var classNames = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "none"}

// Backend returns the handles of the backend at addr, creating them on
// first use. Cold path.
func (ps *PoolStats) Backend(addr string) *BackendStats {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if b := ps.backends[addr]; b != nil {
		return b
	}
	b := &BackendStats{Addr: addr, Pool: ps.Name}
	for i, c := range classNames {
		b.byClass[i] = ps.p.set.NewCounter(`loopgate_requests_total{pool=` + strconv.Quote(ps.Name) +
			`,backend=` + strconv.Quote(addr) + `,class="` + c + `"}`)
	}
	ps.backends[addr] = b
	return b
}

// Done counts one finished exchange: its status, error reason and
// latencies, in the Proxy and in r.Backend. It is the hot path: safe from
// any loop, no lock, no map, no allocation. It reads r only during the
// call. InFlight is the engine's to maintain, not Done's.
func (p *Proxy) Done(r *Record) {
	p.requests.Inc()
	s := r.Status
	known := s >= 100 && s <= 599
	if known {
		p.codes[s].Add(1)
	}
	failed := s >= 500 || s == 0
	if failed {
		p.errors.Add(1)
	}
	if r.Reason != ReasonNone && r.Reason < numReasons {
		p.byReason[r.Reason].Inc()
	}
	if r.Tunnel != TunnelNone {
		p.tunnels.done(r) // a tunnel's life is not a request's latency
	} else {
		p.total.Observe(r.Total)
	}
	if r.Connect > 0 {
		p.connect.Observe(r.Connect)
	}
	if r.TTFB > 0 {
		p.ttfb.Observe(r.TTFB)
	}
	if r.Route != nil {
		r.Route.done(s)
	}
	b := r.Backend
	if b == nil {
		return
	}
	class := 5 // "none": cut, or a status no client could read
	if known {
		class = s/100 - 1
	}
	b.byClass[class].Inc()
	if failed {
		b.errors.Add(1)
	}
	if r.Upstream > 0 {
		b.latency.Observe(r.Upstream)
	}
}

// Requests is the number of exchanges counted by Done.
func (p *Proxy) Requests() uint64 { return p.requests.Get() }

// Errors is the number of exchanges that ended with a status >= 500 or
// without a status.
func (p *Proxy) Errors() uint64 { return p.errors.Load() }

// Total is a snapshot of every exchange's total duration. Cold path.
func (p *Proxy) Total() HistSnapshot { return p.total.Snapshot() }

// Requests is the number of exchanges whose last attempt went to b.
func (b *BackendStats) Requests() uint64 {
	var n uint64
	for _, c := range b.byClass {
		n += c.Get()
	}
	return n
}

// Errors is the number of b's exchanges with a status >= 500 or without a
// status.
func (b *BackendStats) Errors() uint64 { return b.errors.Load() }

// Latency is a snapshot of b's response times: request sent to response
// complete. Cold path.
func (b *BackendStats) Latency() HistSnapshot { return b.latency.Snapshot() }

// lookup returns the handles of addr in pool, or nil if Backend never made
// them. Unlike Pool and Backend it creates nothing, so renderers do not
// register metrics for what they merely display.
func (p *Proxy) lookup(pool, addr string) *BackendStats {
	p.mu.Lock()
	ps := p.pools[pool]
	p.mu.Unlock()
	if ps == nil {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.backends[addr]
}

// backends returns the handles of every backend ever created. Cold path.
func (p *Proxy) backends() []*BackendStats {
	p.mu.Lock()
	pools := make([]*PoolStats, 0, len(p.pools))
	for _, ps := range p.pools {
		pools = append(pools, ps)
	}
	p.mu.Unlock()
	var out []*BackendStats
	for _, ps := range pools {
		ps.mu.Lock()
		for _, b := range ps.backends {
			out = append(out, b)
		}
		ps.mu.Unlock()
	}
	return out
}
