package stats

import (
	"sync"
	"time"
)

const (
	ringSize  = 120 // samples kept: two minutes at one per second
	seriesLen = 60  // points in the dashboard's charts
)

// window is the sampler's recent history: a ring of the last ringSize
// samples, recorded by the sampler goroutine and read by the renderers.
// Cold code, so a mutex guards it.
type window struct {
	// tick is the sampling interval (default 1s). Tests shorten it; set it
	// before Start.
	tick time.Duration

	mu         sync.Mutex
	ring       [ringSize]sample
	n          int // samples recorded so far; the newest is ring[(n-1)%ringSize]
	stop, done chan struct{}
}

// sample is the state of the counters at one instant.
type sample struct {
	at       time.Time
	requests uint64
	errors   uint64
	total    HistSnapshot
	backends map[*BackendStats]backendSample // reused from one lap of the ring to the next
}

type backendSample struct{ requests, errors uint64 }

func (w *window) interval() time.Duration {
	if w.tick <= 0 {
		return time.Second
	}
	return w.tick
}

// Start starts the sampler: a goroutine that records the counters once a
// second (and once right away) so that rates and recent quantiles can be
// computed. It keeps the last 120 samples. Calling Start again while it
// runs does nothing.
func (p *Proxy) Start() {
	w := &p.win
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		return
	}
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	go p.sampleLoop(w.interval(), w.stop, w.done)
}

// Stop stops the sampler and waits for it to exit, which takes at most
// one sample's work. It does nothing if the sampler is not running.
func (p *Proxy) Stop() {
	w := &p.win
	w.mu.Lock()
	stop, done := w.stop, w.done
	w.stop, w.done = nil, nil
	w.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
}

func (p *Proxy) sampleLoop(every time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	p.record(time.Now())
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.record(time.Now())
		}
	}
}

// record appends a sample taken at now to the ring.
func (p *Proxy) record(now time.Time) {
	bs := p.backends()
	total := p.total.Snapshot()
	w := &p.win
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.ring[w.n%ringSize]
	s.at, s.requests, s.errors, s.total = now, p.Requests(), p.Errors(), total
	if s.backends == nil {
		s.backends = make(map[*BackendStats]backendSample, len(bs))
	}
	clear(s.backends)
	for _, b := range bs {
		s.backends[b] = backendSample{requests: b.Requests(), errors: b.Errors()}
	}
	w.n++
}

// rates is what happened over the recent window.
type rates struct {
	secs     float64 // the span covered
	requests uint64
	errors   uint64
	hist     HistSnapshot             // total durations over the span
	backends map[*BackendStats]uint64 // requests per backend over the span; nil: use lifetime counts
}

// rates computes the rates over Options.Window from the newest sample and
// the oldest one at most Window (plus half a tick of jitter) older, or
// over at least the last interval if the window is shorter than a tick.
// The ring bounds the window to 119 ticks. Before two samples exist it
// covers the whole uptime with lifetime counts.
func (p *Proxy) rates() rates {
	w := &p.win
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n < 2 {
		return rates{secs: p.Uptime().Seconds(), requests: p.Requests(), errors: p.Errors(), hist: p.total.Snapshot()}
	}
	cur := &w.ring[(w.n-1)%ringSize]
	old := &w.ring[(w.n-2)%ringSize]
	limit := p.opts.Window + w.interval()/2
	for i := w.n - 3; i >= 0 && i > w.n-1-ringSize; i-- {
		s := &w.ring[i%ringSize]
		if cur.at.Sub(s.at) > limit {
			break
		}
		old = s
	}
	r := rates{
		secs:     cur.at.Sub(old.at).Seconds(),
		requests: cur.requests - old.requests,
		errors:   cur.errors - old.errors,
		hist:     cur.total.Sub(old.total),
		backends: make(map[*BackendStats]uint64, len(cur.backends)),
	}
	for b, c := range cur.backends {
		// A backend missing from old was created within the window, at 0.
		r.backends[b] = c.requests - old.backends[b].requests
	}
	return r
}

// rps is the rate of requests over the span.
func (r *rates) rps() float64 { return perSecond(r.requests, r.secs) }

// backend returns b's requests per second over the span and its share of
// the span's requests in percent. Requests that reached no backend count in
// the whole, so the shares of a pool may add up to less than 100.
func (r *rates) backend(b *BackendStats) (rps, share float64) {
	if b == nil {
		return 0, 0
	}
	var n uint64
	if r.backends == nil {
		n = b.Requests()
	} else {
		n = r.backends[b]
	}
	return perSecond(n, r.secs), percent(n, r.requests)
}

// point is one step of the dashboard's charts.
type point struct {
	T     int64   `json:"t"` // unix seconds at the end of the step
	RPS   float64 `json:"rps"`
	EPS   float64 `json:"errors_per_second"`
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	P99MS float64 `json:"p99_ms"`
}

// series returns one point per tick between consecutive samples, the last
// seriesLen of them, oldest first. It is empty before two samples exist.
func (p *Proxy) series() []point {
	w := &p.win
	w.mu.Lock()
	defer w.mu.Unlock()
	first := max(w.n-seriesLen, w.n-ringSize+1, 1)
	out := make([]point, 0, max(w.n-first, 0))
	for i := first; i < w.n; i++ {
		prev, cur := &w.ring[(i-1)%ringSize], &w.ring[i%ringSize]
		secs := cur.at.Sub(prev.at).Seconds()
		h := cur.total.Sub(prev.total)
		out = append(out, point{
			T:     cur.at.Unix(),
			RPS:   round3(perSecond(cur.requests-prev.requests, secs)),
			EPS:   round3(perSecond(cur.errors-prev.errors, secs)),
			P50MS: ms(h.Quantile(0.50)),
			P95MS: ms(h.Quantile(0.95)),
			P99MS: ms(h.Quantile(0.99)),
		})
	}
	return out
}
