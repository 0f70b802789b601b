package stats

import (
	"math"
	"testing"
	"time"
)

func TestDoneClass(t *testing.T) {
	f := func(status int, wantClass int, wantErr bool) {
		t.Helper()
		p := New(Options{})
		b := p.Pool("web").Backend("a:1")
		p.Done(&Record{Status: status, Backend: b})
		for i, c := range b.byClass {
			want := uint64(0)
			if i == wantClass {
				want = 1
			}
			if c.Get() != want {
				t.Fatalf("status %d: class %s = %d; want %d", status, classNames[i], c.Get(), want)
			}
		}
		wantErrs := uint64(0)
		if wantErr {
			wantErrs = 1
		}
		if b.Errors() != wantErrs || p.Errors() != wantErrs {
			t.Fatalf("status %d: errors backend %d proxy %d; want %d", status, b.Errors(), p.Errors(), wantErrs)
		}
		if b.Requests() != 1 || p.Requests() != 1 {
			t.Fatalf("status %d: requests backend %d proxy %d; want 1", status, b.Requests(), p.Requests())
		}
	}
	f(100, 0, false)
	f(200, 1, false)
	f(204, 1, false)
	f(301, 2, false)
	f(404, 3, false)
	f(499, 3, false)
	f(500, 4, true)
	f(503, 4, true)
	f(599, 4, true)
	f(0, 5, true)
	f(600, 5, true) // out of range: no class, but >= 500
	f(99, 5, false)
}

func TestDoneCounts(t *testing.T) {
	p := New(Options{})
	web := p.Pool("web")
	a, b := web.Backend("10.0.0.1:80"), web.Backend("10.0.0.2:80")
	recs := []Record{
		{Status: 200, Backend: a, Total: 2 * time.Millisecond, Connect: time.Millisecond, TTFB: time.Millisecond, Upstream: 1500 * time.Microsecond},
		{Status: 200, Backend: a, Total: 3 * time.Millisecond, TTFB: 2 * time.Millisecond, Upstream: 2500 * time.Microsecond},
		{Status: 404, Backend: b, Total: time.Millisecond, TTFB: 500 * time.Microsecond, Upstream: 800 * time.Microsecond},
		{Status: 502, Backend: b, Total: 5 * time.Millisecond, Reason: ReasonConnect},
		{Status: 400, Total: 10 * time.Microsecond, Reason: ReasonParse},
		{Status: 503, Total: 20 * time.Microsecond, Reason: ReasonNoBackend},
		{Status: 0, Backend: a, Total: 7 * time.Millisecond, Connect: 2 * time.Millisecond, Reason: ReasonClientGone},
		{Status: 504, Backend: a, Total: 9 * time.Millisecond, Reason: ReasonTimeout},
	}
	for i := range recs {
		p.Done(&recs[i])
	}
	if p.Requests() != 8 {
		t.Fatalf("Requests = %d; want 8", p.Requests())
	}
	if p.Errors() != 4 { // 502, 503, 0, 504
		t.Fatalf("Errors = %d; want 4", p.Errors())
	}
	wantCodes := map[int]uint64{200: 2, 404: 1, 502: 1, 400: 1, 503: 1, 504: 1}
	for c := range p.codes {
		if got := p.codes[c].Load(); got != wantCodes[c] {
			t.Fatalf("codes[%d] = %d; want %d", c, got, wantCodes[c])
		}
	}
	wantReasons := map[Reason]uint64{ReasonConnect: 1, ReasonParse: 1, ReasonNoBackend: 1, ReasonClientGone: 1, ReasonTimeout: 1}
	for r := ReasonParse; r < numReasons; r++ {
		if got := p.byReason[r].Get(); got != wantReasons[r] {
			t.Fatalf("errors_total{reason=%q} = %d; want %d", r, got, wantReasons[r])
		}
	}
	f := func(name string, bs *BackendStats, classes [6]uint64, errs uint64, latencies uint64) {
		t.Helper()
		var got [6]uint64
		for i, c := range bs.byClass {
			got[i] = c.Get()
		}
		var sum uint64
		for _, n := range classes {
			sum += n
		}
		if got != classes || bs.Requests() != sum || bs.Errors() != errs || bs.Latency().Count != latencies {
			t.Fatalf("%s: classes %v requests %d errors %d latencies %d; want %v %d %d %d",
				name, got, bs.Requests(), bs.Errors(), bs.Latency().Count, classes, sum, errs, latencies)
		}
	}
	f("a", a, [6]uint64{0, 2, 0, 0, 1, 1}, 2, 2)
	f("b", b, [6]uint64{0, 0, 0, 1, 1, 0}, 1, 1)

	tot := p.Total()
	if tot.Count != 8 || tot.Min != 10*time.Microsecond || tot.Max != 9*time.Millisecond {
		t.Fatalf("Total: Count %d Min %v Max %v; want 8, 10µs, 9ms", tot.Count, tot.Min, tot.Max)
	}
	if want := 27*time.Millisecond + 30*time.Microsecond; tot.Sum != want {
		t.Fatalf("Total: Sum %v; want %v", tot.Sum, want)
	}
	if c := p.connect.Snapshot(); c.Count != 2 || c.Sum != 3*time.Millisecond {
		t.Fatalf("connect: Count %d Sum %v; want 2, 3ms", c.Count, c.Sum)
	}
	if c := p.ttfb.Snapshot(); c.Count != 3 || c.Sum != 3500*time.Microsecond {
		t.Fatalf("ttfb: Count %d Sum %v; want 3, 3.5ms", c.Count, c.Sum)
	}
	if l := a.Latency(); l.Min != 1500*time.Microsecond || l.Max != 2500*time.Microsecond {
		t.Fatalf("a latency: Min %v Max %v; want 1.5ms, 2.5ms", l.Min, l.Max)
	}
}

func TestPoolBackendHandles(t *testing.T) {
	p := New(Options{})
	if p.opts.Window != DefaultWindow {
		t.Fatalf("default window = %v", p.opts.Window)
	}
	a := p.Pool("web").Backend("a:1")
	if p.Pool("web").Backend("a:1") != a {
		t.Fatal("Backend returned a new handle for the same address")
	}
	if p.Pool("api").Backend("a:1") == a {
		t.Fatal("two pools share a handle")
	}
	if p.lookup("web", "a:1") != a || p.lookup("web", "b:1") != nil || p.lookup("nope", "a:1") != nil {
		t.Fatal("lookup found the wrong handle")
	}
	if p.lookup("nope", "a:1"); len(p.pools) != 2 {
		t.Fatalf("lookup created a pool: %d pools", len(p.pools))
	}
	if n := len(p.backends()); n != 2 {
		t.Fatalf("backends() = %d handles; want 2", n)
	}
}

// feed calls Done n times with status and backend b, each taking d.
func feed(p *Proxy, n int, status int, b *BackendStats, d time.Duration) {
	r := Record{Status: status, Backend: b, Total: d, Upstream: d}
	for range n {
		p.Done(&r)
	}
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

func TestRatesBeforeTwoSamples(t *testing.T) {
	p := New(Options{})
	p.start = time.Now().Add(-10 * time.Second)
	a := p.Pool("web").Backend("a:1")
	feed(p, 100, 200, a, time.Millisecond)
	feed(p, 100, 200, nil, time.Millisecond)
	for _, recorded := range []int{0, 1} {
		if recorded == 1 {
			p.record(time.Now())
		}
		r := p.rates()
		if !near(r.secs, 10, 0.01) || r.requests != 200 || !near(r.rps(), 20, 0.01) {
			t.Fatalf("%d samples: secs %v requests %d rps %v; want 10, 200, 20", recorded, r.secs, r.requests, r.rps())
		}
		if r.hist.Count != 200 || r.hist.Max != time.Millisecond {
			t.Fatalf("%d samples: hist Count %d Max %v; want lifetime", recorded, r.hist.Count, r.hist.Max)
		}
		rps, share := r.backend(a)
		if !near(rps, 10, 0.01) || share != 50 {
			t.Fatalf("%d samples: backend rps %v share %v; want 10, 50", recorded, rps, share)
		}
	}
}

func TestRatesWindow(t *testing.T) {
	p := New(Options{Window: 10 * time.Second})
	web := p.Pool("web")
	a, b := web.Backend("a:1"), web.Backend("b:1")
	t0 := time.Unix(1_700_000_000, 0)
	// 30 one-second ticks: each second 10 requests to a (1ms), 30 to b
	// (100ms, 3 of them 500s) and from second 20 on 40 more that reach no
	// backend (400s, 10µs).
	var c HistSnapshot
	for i := 0; i <= 30; i++ {
		if i > 0 {
			feed(p, 10, 200, a, time.Millisecond)
			feed(p, 27, 200, b, 100*time.Millisecond)
			feed(p, 3, 500, b, 100*time.Millisecond)
			if i > 20 {
				feed(p, 40, 400, nil, 10*time.Microsecond)
			}
		}
		if i == 20 {
			c = p.Total()
		}
		// A little jitter: the window must still span 10 ticks.
		p.record(t0.Add(time.Duration(i)*time.Second + time.Duration(i%2)*time.Millisecond))
	}
	r := p.rates()
	if !near(r.secs, 10, 0.001) || r.requests != 800 || r.errors != 30 {
		t.Fatalf("secs %v requests %d errors %d; want 10, 800, 30", r.secs, r.requests, r.errors)
	}
	if r.rps() != 80 {
		t.Fatalf("rps = %v; want 80", r.rps())
	}
	if want := p.Total().Sub(c); r.hist != want {
		t.Fatalf("window histogram = %+v; want %+v", r.hist, want)
	}
	// Half the window's requests took 10µs, the other half 1ms or 100ms.
	if p50 := r.hist.Quantile(0.4); p50 > 10*time.Microsecond {
		t.Fatalf("window p40 = %v; want <= 10µs", p50)
	}
	if p99 := r.hist.Quantile(0.99); p99 < 90*time.Millisecond || p99 > 100*time.Millisecond {
		t.Fatalf("window p99 = %v; want in [90ms, 100ms]", p99)
	}
	rps, share := r.backend(a)
	if !near(rps, 10, 0.001) || !near(share, 12.5, 1e-9) {
		t.Fatalf("a: rps %v share %v; want 10, 12.5", rps, share)
	}
	rps, share = r.backend(b)
	if !near(rps, 30, 0.001) || !near(share, 37.5, 1e-9) {
		t.Fatalf("b: rps %v share %v; want 30, 37.5", rps, share)
	}
	if rps, share := r.backend(nil); rps != 0 || share != 0 {
		t.Fatalf("nil backend: rps %v share %v; want 0, 0", rps, share)
	}

	s := p.series()
	if len(s) != 30 {
		t.Fatalf("series has %d points; want 30", len(s))
	}
	last, first := s[len(s)-1], s[0]
	if last.T != t0.Unix()+30 || first.T != t0.Unix()+1 {
		t.Fatalf("series spans t=%d..%d; want %d..%d", first.T, last.T, t0.Unix()+1, t0.Unix()+30)
	}
	if !near(first.RPS, 40, 0.01) || !near(first.EPS, 3, 0.01) || !near(last.RPS, 80, 0.01) || !near(last.EPS, 3, 0.01) {
		t.Fatalf("series: first %+v last %+v", first, last)
	}
	if first.P50MS < 90 || first.P50MS > 100 || first.P99MS < 90 || first.P99MS > 100 || last.P50MS > 0.01 {
		t.Fatalf("series quantiles: first %+v last %+v", first, last)
	}
}

// TestRatesBackendAddedInWindow: a backend created after the window's first
// sample counts from 0.
func TestRatesBackendAddedInWindow(t *testing.T) {
	p := New(Options{Window: 5 * time.Second})
	t0 := time.Unix(1_700_000_000, 0)
	p.record(t0)
	b := p.Pool("web").Backend("new:1")
	feed(p, 50, 200, b, time.Millisecond)
	p.record(t0.Add(5 * time.Second))
	r := p.rates()
	rps, share := r.backend(b)
	if rps != 10 || share != 100 {
		t.Fatalf("rps %v share %v; want 10, 100", rps, share)
	}
}

func TestRing(t *testing.T) {
	p := New(Options{Window: time.Hour}) // longer than the ring
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 * ringSize {
		feed(p, i, 200, nil, time.Millisecond) // i requests in second i
		p.record(t0.Add(time.Duration(i) * time.Second))
	}
	n := 3*ringSize - 1
	r := p.rates()
	if r.secs != ringSize-1 {
		t.Fatalf("window spans %vs; want the whole ring, %ds", r.secs, ringSize-1)
	}
	// The ring holds seconds n-119..n; requests after the oldest: n-118..n.
	var want uint64
	for i := n - ringSize + 2; i <= n; i++ {
		want += uint64(i)
	}
	if r.requests != want {
		t.Fatalf("window requests = %d; want %d", r.requests, want)
	}
	s := p.series()
	if len(s) != seriesLen {
		t.Fatalf("series has %d points; want %d", len(s), seriesLen)
	}
	for k, pt := range s {
		i := n - seriesLen + 1 + k
		if pt.T != t0.Unix()+int64(i) || pt.RPS != float64(i) {
			t.Fatalf("series[%d] = %+v; want t=%d rps=%d", k, pt, t0.Unix()+int64(i), i)
		}
	}
}

func TestWindowShorterThanTick(t *testing.T) {
	p := New(Options{Window: time.Millisecond})
	t0 := time.Unix(1_700_000_000, 0)
	p.record(t0)
	feed(p, 7, 200, nil, time.Millisecond)
	p.record(t0.Add(time.Second))
	feed(p, 3, 200, nil, time.Millisecond)
	p.record(t0.Add(2 * time.Second))
	if r := p.rates(); r.secs != 1 || r.requests != 3 {
		t.Fatalf("secs %v requests %d; want the last tick: 1, 3", r.secs, r.requests)
	}
}

func TestSeriesEmpty(t *testing.T) {
	p := New(Options{})
	if s := p.series(); s == nil || len(s) != 0 {
		t.Fatalf("series before any sample = %v; want empty, not nil", s)
	}
	p.record(time.Now())
	if s := p.series(); len(s) != 0 {
		t.Fatalf("series after one sample = %v; want empty", s)
	}
}

// TestSampler runs the real goroutine with a 20ms tick and feeds requests
// at 2000/s; the window's rate must match.
func TestSampler(t *testing.T) {
	const rate = 2000.0
	p := New(Options{Window: 200 * time.Millisecond})
	p.win.tick = 20 * time.Millisecond
	b := p.Pool("web").Backend("a:1")
	p.Start()
	p.Start() // a second Start does nothing
	start := time.Now()
	sent := 0
	for time.Since(start) < 600*time.Millisecond {
		// Catch up with the clock, so the rate holds whatever Sleep does.
		want := int(time.Since(start).Seconds() * rate)
		feed(p, want-sent, 200, b, time.Millisecond)
		sent = want
		time.Sleep(time.Millisecond)
	}
	r := p.rates()
	p.Stop()
	p.Stop() // idempotent
	if !near(r.secs, 0.2, 0.25) {
		t.Fatalf("window spans %vs; want about 0.2s", r.secs)
	}
	if !near(r.rps(), rate, 0.15) {
		t.Fatalf("rps = %v; want %v within 15%%", r.rps(), rate)
	}
	if rps, share := r.backend(b); !near(rps, rate, 0.15) || share != 100 {
		t.Fatalf("backend rps %v share %v; want %v, 100", rps, share, rate)
	}
	p.win.mu.Lock()
	n := p.win.n
	p.win.mu.Unlock()
	if n < 20 || n > 40 {
		t.Fatalf("%d samples in 600ms at a 20ms tick", n)
	}
	time.Sleep(50 * time.Millisecond)
	p.win.mu.Lock()
	after := p.win.n
	p.win.mu.Unlock()
	if after != n {
		t.Fatalf("the sampler still records after Stop: %d -> %d samples", n, after)
	}
}

func TestSamplerStopIsPrompt(t *testing.T) {
	p := New(Options{})
	p.win.tick = time.Hour
	p.Stop() // never started: nothing to do
	p.Start()
	begin := time.Now()
	p.Stop()
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("Stop took %v", d)
	}
	p.win.mu.Lock()
	n := p.win.n
	p.win.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d samples; want the one taken at Start", n)
	}
	p.Start() // restarts
	p.Stop()
}
