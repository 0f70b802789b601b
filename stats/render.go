package stats

import (
	"encoding/json"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"loopgate/upstream"
)

// The renderers below are cold code: they allocate, lock the sampler's
// ring and take a snapshot of every histogram they show. Field order in
// the JSON is the order of the struct fields. Durations are milliseconds
// rounded to 3 decimals; rates and percentages are rounded likewise.

// backendStates are the states loopgate_backend_state reports; a backend
// in any other state is not available and gets 0 in all of them.
var backendStates = [...]string{upstream.StateUp, upstream.StateDown, upstream.StateEjected, upstream.StateSlowStart, upstream.StateDraining}

// available reports whether b may take traffic: up or in slow start, with
// a weight.
func available(b *upstream.BackendStatus) bool {
	return (b.State == upstream.StateUp || b.State == upstream.StateSlowStart) && b.Current > 0
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// ms is d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func perSecond(n uint64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

func percent(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) * 100 / float64(of)
}

// timeJSON is t in RFC 3339 with milliseconds, UTC, or nil (null) for the
// zero time.
func timeJSON(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(rfc3339Milli)
	return &s
}

const rfc3339Milli = "2006-01-02T15:04:05.000Z07:00"

func appendJSON(dst []byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: cannot marshal stats: " + err.Error())
	}
	return append(dst, b...)
}

// codesSeen returns the count of every status code seen, keyed by code; JSON
// writes the keys in ascending order.
func (p *Proxy) codesSeen() map[int]uint64 {
	m := map[int]uint64{}
	for c := 100; c <= 599; c++ {
		if n := p.codes[c].Load(); n > 0 {
			m[c] = n
		}
	}
	return m
}

type seedMetrics struct {
	UptimeSeconds     float64        `json:"uptime_seconds"`
	TotalRequests     uint64         `json:"total_requests"`
	TotalErrors       uint64         `json:"total_errors"`
	RequestsPerSecond float64        `json:"requests_per_second"`
	ErrorRate         float64        `json:"error_rate"`
	ResponseTimes     seedTimes      `json:"response_times"`
	StatusCodes       map[int]uint64 `json:"status_codes"`
	WindowSeconds     float64        `json:"window_seconds"`
}

type seedTimes struct {
	Average float64 `json:"average"`
	Minimum float64 `json:"minimum"`
	Maximum float64 `json:"maximum"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	P50     float64 `json:"p50"`
}

// AppendSeedMetrics appends the body of /__metrics__ to dst:
//
//	{"uptime_seconds": float, "total_requests": int, "total_errors": int,
//	 "requests_per_second": float,  // over the window
//	 "error_rate": float,           // percent of requests with status >= 500 or none, lifetime
//	 "response_times": {"average", "minimum", "maximum", "p95", "p99", "p50"},
//	                                // ms, lifetime; min and max exact; all 0 without requests
//	 "status_codes": {"200": int, ...}, // codes seen, ascending
//	 "window_seconds": float}       // the span requests_per_second covers
func (p *Proxy) AppendSeedMetrics(dst []byte) []byte {
	r := p.rates()
	h := p.total.Snapshot()
	req, errs := p.Requests(), p.Errors()
	return appendJSON(dst, seedMetrics{
		UptimeSeconds:     round3(p.Uptime().Seconds()),
		TotalRequests:     req,
		TotalErrors:       errs,
		RequestsPerSecond: round3(r.rps()),
		ErrorRate:         round3(percent(errs, req)),
		ResponseTimes: seedTimes{
			Average: ms(h.Mean()),
			Minimum: ms(h.Min),
			Maximum: ms(h.Max),
			P95:     ms(h.Quantile(0.95)),
			P99:     ms(h.Quantile(0.99)),
			P50:     ms(h.Quantile(0.50)),
		},
		StatusCodes:   p.codesSeen(),
		WindowSeconds: round3(r.secs),
	})
}

type seedHealth struct {
	Status            string  `json:"status"`
	UptimeSeconds     float64 `json:"uptime_seconds"`
	BackendsAvailable int     `json:"backends_available"`
	BackendsTotal     int     `json:"backends_total"`
}

// AppendSeedHealth appends the body of /__health__ to dst:
//
//	{"status": "healthy"|"unhealthy", "uptime_seconds": float,
//	 "backends_available": int, "backends_total": int}
//
// A backend is available when it is up or in slow start with a current
// weight above 0; backups count. ok is false when none is, and the answer
// should then be a 503.
func (p *Proxy) AppendSeedHealth(dst []byte, pools []upstream.PoolStatus) (out []byte, ok bool) {
	h := seedHealth{Status: "unhealthy", UptimeSeconds: round3(p.Uptime().Seconds())}
	for i := range pools {
		for j := range pools[i].Backends {
			h.BackendsTotal++
			if available(&pools[i].Backends[j]) {
				h.BackendsAvailable++
			}
		}
	}
	ok = h.BackendsAvailable > 0
	if ok {
		h.Status = "healthy"
	}
	return appendJSON(dst, h), ok
}

type probeJSON struct {
	At        *string `json:"at"`
	OK        bool    `json:"ok"`
	LatencyMS float64 `json:"latency_ms"`
	Status    int     `json:"status"`
	Error     string  `json:"error"`
}

func newProbeJSON(pr *upstream.Probe) probeJSON {
	return probeJSON{At: timeJSON(pr.At), OK: pr.OK, LatencyMS: ms(pr.Latency), Status: pr.Status, Error: pr.Err}
}

type transitionJSON struct {
	At     *string `json:"at"`
	From   string  `json:"from"`
	To     string  `json:"to"`
	Reason string  `json:"reason"`
}

// backendJSON is one backend in the status documents ("B").
type backendJSON struct {
	Address       string     `json:"address"`
	Weight        int        `json:"weight"`
	CurrentWeight int        `json:"current_weight"`
	Backup        bool       `json:"backup"`
	State         string     `json:"state"`
	Reason        string     `json:"reason"`
	Since         *string    `json:"since"`
	InFlight      int64      `json:"in_flight"`
	Requests      uint64     `json:"requests"`
	Errors        uint64     `json:"errors"`
	AverageMS     float64    `json:"average_ms"`
	P95MS         float64    `json:"p95_ms"`
	LastProbe     *probeJSON `json:"last_probe"`
}

// newBackendJSON fills B from the engine's view of b and the stats handles
// bs (nil if the backend has none yet: its counts are then 0).
func newBackendJSON(b *upstream.BackendStatus, bs *BackendStats) backendJSON {
	j := backendJSON{
		Address: b.Addr, Weight: b.Weight, CurrentWeight: b.Current, Backup: b.Backup,
		State: b.State, Reason: b.Reason, Since: timeJSON(b.Since),
	}
	if bs != nil {
		h := bs.Latency()
		j.InFlight, j.Requests, j.Errors = bs.InFlight.Load(), bs.Requests(), bs.Errors()
		j.AverageMS, j.P95MS = ms(h.Mean()), ms(h.Quantile(0.95))
	}
	if n := len(b.Probes); n > 0 {
		pr := newProbeJSON(&b.Probes[n-1])
		j.LastProbe = &pr
	}
	return j
}

// apiBackendJSON is B with the backend's history and recent traffic.
type apiBackendJSON struct {
	backendJSON
	RPS         float64          `json:"rps"`
	Share       float64          `json:"share"` // percent of the window's requests
	Transitions []transitionJSON `json:"transitions"`
	Probes      []probeJSON      `json:"probes"`
}

type poolJSON[B any] struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Backends  []B    `json:"backends"`
}

// flatJSON and apiFlatJSON are backends in the flat lists: B with its pool
// first.
type flatJSON struct {
	Pool string `json:"pool"`
	backendJSON
}

type apiFlatJSON struct {
	Pool string `json:"pool"`
	apiBackendJSON
}

type statusJSON[B, F any] struct {
	UptimeSeconds float64       `json:"uptime_seconds"`
	TotalRequests uint64        `json:"total_requests"`
	Pools         []poolJSON[B] `json:"pools"`
	Backends      []F           `json:"backends"`
}

// buildStatus lays out pools once by pool and once flat, with mk making
// each backend's JSON and flat adding its pool.
func buildStatus[B, F any](p *Proxy, pools []upstream.PoolStatus,
	mk func(*upstream.BackendStatus, *BackendStats) B, flat func(string, B) F) statusJSON[B, F] {
	s := statusJSON[B, F]{
		UptimeSeconds: round3(p.Uptime().Seconds()),
		TotalRequests: p.Requests(),
		Pools:         make([]poolJSON[B], 0, len(pools)),
		Backends:      []F{},
	}
	for i := range pools {
		ps := &pools[i]
		pj := poolJSON[B]{Name: ps.Name, Algorithm: ps.Algorithm, Backends: make([]B, 0, len(ps.Backends))}
		for k := range ps.Backends {
			b := &ps.Backends[k]
			bj := mk(b, p.lookup(ps.Name, b.Addr))
			pj.Backends = append(pj.Backends, bj)
			s.Backends = append(s.Backends, flat(ps.Name, bj))
		}
		s.Pools = append(s.Pools, pj)
	}
	return s
}

// AppendSeedStatus appends the body of /__status__ to dst:
//
//	{"uptime_seconds": float, "total_requests": int,
//	 "pools": [{"name", "algorithm", "backends": [B, ...]}, ...],
//	 "backends": [{"pool", B...}, ...]}  // every backend of every pool, flat
//
// where B is
//
//	{"address", "weight", "current_weight", "backup", "state", "reason",
//	 "since": RFC 3339 or null, "in_flight", "requests", "errors",
//	 "average_ms", "p95_ms",   // lifetime response times of the backend
//	 "last_probe": {"at", "ok", "latency_ms", "status", "error"} or null}
//
// in_flight, requests, errors and the times come from the Backend handles
// of (pool, address); they are 0 for a backend that has none.
func (p *Proxy) AppendSeedStatus(dst []byte, pools []upstream.PoolStatus) []byte {
	return appendJSON(dst, buildStatus(p, pools, newBackendJSON, func(pool string, b backendJSON) flatJSON {
		return flatJSON{Pool: pool, backendJSON: b}
	}))
}

// AppendAPIStatus appends the body of the admin /api/status to dst: the
// document of AppendSeedStatus where each backend also has, after
// "last_probe":
//
//	"rps": float, "share": float,  // over the window; share in percent of all requests
//	"transitions": [{"at", "from", "to", "reason"}, ...],  // oldest first
//	"probes": [{"at", "ok", "latency_ms", "status", "error"}, ...]
func (p *Proxy) AppendAPIStatus(dst []byte, pools []upstream.PoolStatus) []byte {
	r := p.rates()
	return appendJSON(dst, buildStatus(p, pools, func(b *upstream.BackendStatus, bs *BackendStats) apiBackendJSON {
		j := apiBackendJSON{
			backendJSON: newBackendJSON(b, bs),
			Transitions: make([]transitionJSON, 0, len(b.Transitions)),
			Probes:      make([]probeJSON, 0, len(b.Probes)),
		}
		rps, share := r.backend(bs)
		j.RPS, j.Share = round3(rps), round3(share)
		for _, t := range b.Transitions {
			j.Transitions = append(j.Transitions, transitionJSON{At: timeJSON(t.At), From: t.From, To: t.To, Reason: t.Reason})
		}
		for k := range b.Probes {
			j.Probes = append(j.Probes, newProbeJSON(&b.Probes[k]))
		}
		return j
	}, func(pool string, b apiBackendJSON) apiFlatJSON {
		return apiFlatJSON{Pool: pool, apiBackendJSON: b}
	}))
}

type apiMetrics struct {
	UptimeSeconds     float64                       `json:"uptime_seconds"`
	TotalRequests     uint64                        `json:"total_requests"`
	TotalErrors       uint64                        `json:"total_errors"`
	RequestsPerSecond float64                       `json:"requests_per_second"`
	ErrorRate         float64                       `json:"error_rate"`
	WindowSeconds     float64                       `json:"window_seconds"`
	LatencyMS         apiLatency                    `json:"latency_ms"`
	StatusCodes       map[int]uint64                `json:"status_codes"`
	Connections       apiConnections                `json:"connections"`
	AccessLog         apiAccessLog                  `json:"access_log"`
	Series            []point                       `json:"series"`
	Pools             []poolJSON[apiMetricsBackend] `json:"pools"`
	Routes            []apiRoute                    `json:"routes"`
	RateLimits        []apiLimit                    `json:"rate_limits"`
	Cache             *apiCache                     `json:"cache,omitempty"`
}

type apiLatency struct {
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	Average float64 `json:"average"`
}

type apiConnections struct {
	Clients        int64 `json:"clients"`
	UpstreamActive int64 `json:"upstream_active"`
	UpstreamIdle   int64 `json:"upstream_idle"`
	Tunnels        int64 `json:"tunnels"`
}

type apiAccessLog struct {
	Written uint64 `json:"written"`
	Dropped uint64 `json:"dropped"`
}

type apiMetricsBackend struct {
	Address       string  `json:"address"`
	State         string  `json:"state"`
	Reason        string  `json:"reason"`
	Weight        int     `json:"weight"`
	CurrentWeight int     `json:"current_weight"`
	InFlight      int64   `json:"in_flight"`
	Requests      uint64  `json:"requests"`
	Errors        uint64  `json:"errors"`
	RPS           float64 `json:"rps"`
	Share         float64 `json:"share"`
	AverageMS     float64 `json:"average_ms"`
	P95MS         float64 `json:"p95_ms"`
}

// connections reads the engine's gauges; unset ones read 0.
func (p *Proxy) connections() apiConnections {
	var c apiConnections
	g := p.gauges.Load()
	if g == nil {
		return c
	}
	read := func(f func() int64) int64 {
		if f == nil {
			return 0
		}
		return f()
	}
	c.Clients, c.UpstreamActive, c.UpstreamIdle = read(g.Clients), read(g.UpstreamActive), read(g.UpstreamIdle)
	c.Tunnels = read(g.Tunnels)
	return c
}

func (p *Proxy) accessLog() apiAccessLog {
	if a := p.alog.Load(); a != nil {
		return apiAccessLog{Written: a.Written(), Dropped: a.Dropped()}
	}
	return apiAccessLog{}
}

// AppendAPIMetrics appends the body of the admin /api/metrics, which the
// dashboard polls, to dst:
//
//	{"uptime_seconds": float,
//	 "total_requests": int, "total_errors": int,  // lifetime
//	 "requests_per_second": float,                // over the window
//	 "error_rate": float,                         // percent, lifetime, as in /__metrics__
//	 "window_seconds": float,                     // the span the window covers
//	 "latency_ms": {"p50", "p95", "p99", "average"},  // total time, over the window
//	 "status_codes": {"200": int, ...},           // lifetime, codes seen, ascending
//	 "connections": {"clients", "upstream_active", "upstream_idle"},  // now; 0 if unknown
//	 "access_log": {"written", "dropped"},        // lines, lifetime; 0 without an access log
//	 "series": [{"t": unix seconds, "rps", "errors_per_second",
//	             "p50_ms", "p95_ms", "p99_ms"}, ...],  // the last 60 seconds, oldest first
//	 "pools": [{"name", "algorithm", "backends": [
//	     {"address", "state", "reason", "weight", "current_weight", "in_flight",
//	      "requests", "errors",    // lifetime
//	      "rps", "share",          // over the window; share in percent of all requests
//	      "average_ms", "p95_ms"}, // lifetime response times
//	     ...]}, ...],
//	 "routes": [...], "rate_limits": [...],       // as in /api/routes
//	 "cache": {"hit_ratio",                       // percent of cached lookups answered from it
//	           "hits", "misses", "stale", "revalidated", "bypassed", "collapsed",  // lifetime
//	           "entries", "bytes", "evictions"}}  // absent when no route uses the cache
//
// The window is Options.Window once the sampler (Start) has run that long;
// before it has two samples, rates cover the whole uptime and series is
// empty.
func (p *Proxy) AppendAPIMetrics(dst []byte, pools []upstream.PoolStatus) []byte {
	r := p.rates()
	req, errs := p.Requests(), p.Errors()
	m := apiMetrics{
		UptimeSeconds:     round3(p.Uptime().Seconds()),
		TotalRequests:     req,
		TotalErrors:       errs,
		RequestsPerSecond: round3(r.rps()),
		ErrorRate:         round3(percent(errs, req)),
		WindowSeconds:     round3(r.secs),
		LatencyMS: apiLatency{
			P50:     ms(r.hist.Quantile(0.50)),
			P95:     ms(r.hist.Quantile(0.95)),
			P99:     ms(r.hist.Quantile(0.99)),
			Average: ms(r.hist.Mean()),
		},
		StatusCodes: p.codesSeen(),
		Connections: p.connections(),
		AccessLog:   p.accessLog(),
		Series:      p.series(),
		Pools:       make([]poolJSON[apiMetricsBackend], 0, len(pools)),
	}
	ar := p.apiRoutes()
	m.Routes, m.RateLimits = ar.Routes, ar.RateLimits
	m.Cache = p.apiCache()
	for i := range pools {
		ps := &pools[i]
		pj := poolJSON[apiMetricsBackend]{Name: ps.Name, Algorithm: ps.Algorithm, Backends: make([]apiMetricsBackend, 0, len(ps.Backends))}
		for k := range ps.Backends {
			b := &ps.Backends[k]
			j := apiMetricsBackend{
				Address: b.Addr, State: b.State, Reason: b.Reason, Weight: b.Weight, CurrentWeight: b.Current,
			}
			if bs := p.lookup(ps.Name, b.Addr); bs != nil {
				h := bs.Latency()
				rps, share := r.backend(bs)
				j.InFlight, j.Requests, j.Errors = bs.InFlight.Load(), bs.Requests(), bs.Errors()
				j.RPS, j.Share = round3(rps), round3(share)
				j.AverageMS, j.P95MS = ms(h.Mean()), ms(h.Quantile(0.95))
			}
			pj.Backends = append(pj.Backends, j)
		}
		m.Pools = append(m.Pools, pj)
	}
	return appendJSON(dst, m)
}

// promLE are the "le" bounds of the Prometheus histograms: a subset of the
// fine bounds (1, 2.5 and 5 per decade), so each cumulative count is exact.
var promLE = [...]string{
	"0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	"0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "25", "50", "100",
}

// promIdx[k] is the index of the fine bucket whose upper bound is promLE[k].
var promIdx = func() (idx [len(promLE)]int) {
	for k, le := range promLE {
		f, err := strconv.ParseFloat(le, 64)
		if err != nil {
			panic("BUG: bad le bound " + le)
		}
		ns := int64(math.Round(f * float64(time.Second)))
		i := bucketOf(ns)
		if i >= numBounds || bounds[i] != ns {
			panic("BUG: le bound " + le + " is not a bucket bound")
		}
		idx[k] = i
	}
	return idx
}()

// appendLabels appends {k1="v1",...}, or nothing without labels. Values
// are quoted as strconv.Quote does.
func appendLabels(b []byte, kv ...string) []byte {
	if len(kv) == 0 {
		return b
	}
	b = append(b, '{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, kv[i]...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, kv[i+1])
	}
	return append(b, '}')
}

func appendType(b []byte, name, typ string) []byte {
	b = append(b, "# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

func appendUint(b []byte, name string, v uint64, kv ...string) []byte {
	b = appendLabels(append(b, name...), kv...)
	b = append(b, ' ')
	return append(strconv.AppendUint(b, v, 10), '\n')
}

func appendInt(b []byte, name string, v int64, kv ...string) []byte {
	b = appendLabels(append(b, name...), kv...)
	b = append(b, ' ')
	return append(strconv.AppendInt(b, v, 10), '\n')
}

func appendFloat(b []byte, name string, v float64, kv ...string) []byte {
	b = appendLabels(append(b, name...), kv...)
	b = append(b, ' ')
	return append(strconv.AppendFloat(b, v, 'g', -1, 64), '\n')
}

// appendHist appends the _bucket, _sum and _count series of one histogram
// in seconds; kv are its labels other than le.
func appendHist(b []byte, name string, s HistSnapshot, kv ...string) []byte {
	bucket := name + "_bucket"
	lkv := append(kv[:len(kv):len(kv)], "le", "")
	var cum uint64
	j := 0
	for k, i := range promIdx {
		for ; j <= i; j++ {
			cum += s.Counts[j]
		}
		lkv[len(lkv)-1] = promLE[k]
		b = appendUint(b, bucket, cum, lkv...)
	}
	lkv[len(lkv)-1] = "+Inf"
	b = appendUint(b, bucket, s.Count, lkv...)
	b = appendFloat(b, name+"_sum", s.Sum.Seconds(), kv...)
	return appendUint(b, name+"_count", s.Count, kv...)
}

// AddMetricsWriter adds write to what WritePrometheus writes: metrics of
// other packages in the Prometheus text format (the TLS certificates'
// expiry, from package certs).
func (p *Proxy) AddMetricsWriter(write func(io.Writer)) {
	for {
		old := p.extra.Load()
		var fs []func(io.Writer)
		if old != nil {
			fs = append(fs, *old...)
		}
		fs = append(fs, write)
		if p.extra.CompareAndSwap(old, &fs) {
			return
		}
	}
}

// WritePrometheus writes every metric in the Prometheus text format: the
// handles of Metrics() (loopgate_requests_total, unlabeled for all
// exchanges and by {pool,backend,class} for those that reached one;
// loopgate_errors_total{reason}; loopgate_retries_total{pool};
// loopgate_ejections_total{pool}), then
//
//	loopgate_request_duration_seconds   histogram: total time of every exchange
//	loopgate_upstream_connect_seconds   histogram: fresh upstream connections
//	loopgate_upstream_ttfb_seconds      histogram: request sent to response head
//	loopgate_backend_response_seconds{pool,backend}  histogram: request sent to response complete
//	loopgate_uptime_seconds, loopgate_client_connections,
//	loopgate_upstream_connections{state="active"|"idle"},
//	loopgate_backend_in_flight{pool,backend}, loopgate_backend_up{pool,backend},
//	loopgate_backend_state{pool,backend,state}, loopgate_backend_weight{pool,backend}  gauges
//	loopgate_access_log_lines_total{result="written"|"dropped"}  counter
//	loopgate_tunnels_open  gauge; loopgate_tunnel_duration_seconds  histogram
//	(loopgate_tunnels_total{kind} and loopgate_tunnel_bytes_total{direction}
//	are handles of Metrics())
//
// and the Go runtime and process metrics. The per-backend series cover the
// backends of pools. Cold path.
func (p *Proxy) WritePrometheus(w io.Writer, pools []upstream.PoolStatus) {
	p.set.WritePrometheus(w)
	if f := p.extra.Load(); f != nil {
		for _, write := range *f {
			write(w)
		}
	}

	b := make([]byte, 0, 16<<10)
	b = appendType(b, "loopgate_request_duration_seconds", "histogram")
	b = appendHist(b, "loopgate_request_duration_seconds", p.total.Snapshot())
	b = appendType(b, "loopgate_upstream_connect_seconds", "histogram")
	b = appendHist(b, "loopgate_upstream_connect_seconds", p.connect.Snapshot())
	b = appendType(b, "loopgate_upstream_ttfb_seconds", "histogram")
	b = appendHist(b, "loopgate_upstream_ttfb_seconds", p.ttfb.Snapshot())

	type row struct {
		pool string
		b    *upstream.BackendStatus
		bs   *BackendStats
	}
	var rows []row
	for i := range pools {
		for k := range pools[i].Backends {
			bk := &pools[i].Backends[k]
			rows = append(rows, row{pools[i].Name, bk, p.lookup(pools[i].Name, bk.Addr)})
		}
	}
	b = appendType(b, "loopgate_backend_response_seconds", "histogram")
	for _, r := range rows {
		var h HistSnapshot
		if r.bs != nil {
			h = r.bs.Latency()
		}
		b = appendHist(b, "loopgate_backend_response_seconds", h, "pool", r.pool, "backend", r.b.Addr)
	}

	c := p.connections()
	b = appendType(b, "loopgate_uptime_seconds", "gauge")
	b = appendFloat(b, "loopgate_uptime_seconds", p.Uptime().Seconds())
	b = appendType(b, "loopgate_client_connections", "gauge")
	b = appendInt(b, "loopgate_client_connections", c.Clients)
	b = appendType(b, "loopgate_upstream_connections", "gauge")
	b = appendInt(b, "loopgate_upstream_connections", c.UpstreamActive, "state", "active")
	b = appendInt(b, "loopgate_upstream_connections", c.UpstreamIdle, "state", "idle")
	b = appendType(b, "loopgate_tunnels_open", "gauge")
	b = appendInt(b, "loopgate_tunnels_open", c.Tunnels)
	b = p.tunnels.appendDuration(b)

	b = appendType(b, "loopgate_backend_in_flight", "gauge")
	for _, r := range rows {
		var n int64
		if r.bs != nil {
			n = r.bs.InFlight.Load()
		}
		b = appendInt(b, "loopgate_backend_in_flight", n, "pool", r.pool, "backend", r.b.Addr)
	}
	b = appendType(b, "loopgate_backend_up", "gauge")
	for _, r := range rows {
		var up int64
		if available(r.b) {
			up = 1
		}
		b = appendInt(b, "loopgate_backend_up", up, "pool", r.pool, "backend", r.b.Addr)
	}
	b = appendType(b, "loopgate_backend_state", "gauge")
	for _, r := range rows {
		for _, st := range backendStates {
			var on int64
			if r.b.State == st {
				on = 1
			}
			b = appendInt(b, "loopgate_backend_state", on, "pool", r.pool, "backend", r.b.Addr, "state", st)
		}
	}
	b = appendType(b, "loopgate_backend_weight", "gauge")
	for _, r := range rows {
		b = appendInt(b, "loopgate_backend_weight", int64(r.b.Current), "pool", r.pool, "backend", r.b.Addr)
	}

	al := p.accessLog()
	b = appendType(b, "loopgate_access_log_lines_total", "counter")
	b = appendUint(b, "loopgate_access_log_lines_total", al.Written, "result", "written")
	b = appendUint(b, "loopgate_access_log_lines_total", al.Dropped, "result", "dropped")
	w.Write(b)

	metrics.WriteProcessMetrics(w)
}
