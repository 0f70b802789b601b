package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/health"
	"loopgate/upstream"
)

// ctlBackend answers its name; /health answers health (200 unless set).
// Requests other than /health are counted in hits when they arrive, and
// sleep for delay first.
type ctlBackend struct {
	name   string
	addr   string
	hits   atomic.Int64
	delay  atomic.Int64 // ns
	health atomic.Int64
}

func startCtlBackend(t *testing.T, name string) *ctlBackend {
	t.Helper()
	b := &ctlBackend{name: name}
	b.health.Store(200)
	b.addr = startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(int(b.health.Load()))
			return
		}
		b.hits.Add(1)
		if d := time.Duration(b.delay.Load()); d > 0 {
			time.Sleep(d)
		}
		io.WriteString(w, b.name)
	}))
	return b
}

// ctlLoad is a steady load of keep-alive clients, each on its own connection,
// counting answers by the backend that gave them. It stops at stop or after
// max, whichever comes first.
type ctlLoad struct {
	t     *testing.T
	url   string
	stop  chan struct{}
	wg    sync.WaitGroup
	ok    atomic.Int64
	errs  atomic.Int64
	mu    sync.Mutex
	by    map[string]int64
	first error
}

func startCtlLoad(t *testing.T, px string, clients int, max time.Duration) *ctlLoad {
	l := &ctlLoad{t: t, url: "http://" + px + "/", stop: make(chan struct{}), by: map[string]int64{}}
	deadline := time.Now().Add(max)
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: ioTimeout}
			for time.Now().Before(deadline) {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := hc.Get(l.url)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d: %q", resp.StatusCode, b)
					}
					if err == nil {
						l.ok.Add(1)
						l.mu.Lock()
						l.by[string(b)]++
						l.mu.Unlock()
						continue
					}
				}
				l.errs.Add(1)
				l.mu.Lock()
				if l.first == nil {
					l.first = err
				}
				l.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(l.finish)
	return l
}

// finish stops the load and fails the test if any request failed.
func (l *ctlLoad) finish() {
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	l.wg.Wait()
	if n := l.errs.Load(); n > 0 {
		l.t.Errorf("%d of %d requests failed; the first: %v", n, n+l.ok.Load(), l.first)
	}
}

// counts returns the answers by backend name so far, and clears them.
func (l *ctlLoad) counts() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.by
	l.by = map[string]int64{}
	return c
}

// ctlWait polls cond every 5ms for up to d.
func ctlWait(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// backendStatus returns the Status of addr in pool, or nil.
func backendStatus(srv *engine.Server, pool, addr string) *upstream.BackendStatus {
	for _, p := range srv.Status() {
		if p.Name != pool {
			continue
		}
		for i := range p.Backends {
			if p.Backends[i].Addr == addr {
				return &p.Backends[i]
			}
		}
	}
	return nil
}

// Every refused call names its reason with the right sentinel and changes
// nothing.
func TestControlRefusalsE2E(t *testing.T) {
	a, b := startCtlBackend(t, "a"), startCtlBackend(t, "b")
	cfg := poolOf(a.addr, b.addr)
	cfg.Pools = append(cfg.Pools,
		engine.Pool{Name: "solo", Backends: []engine.Backend{{Address: a.addr}}},
		engine.Pool{Name: "pair", Backends: []engine.Backend{{Address: a.addr}, {Address: b.addr, Backup: true}}},
		engine.Pool{Name: "zero", Backends: []engine.Backend{{Address: a.addr, Weight: intPtr(2)}, {Address: b.addr, Weight: intPtr(0)}}},
	)
	srv, _ := startProxy(t, cfg)
	pools, status := srv.Pools(), srv.Status()
	unknown := "127.0.0.1:1"

	f := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v; want %v", what, err, want)
		}
		if got := srv.Pools(); !reflect.DeepEqual(got, pools) {
			t.Fatalf("%s changed the pools:\n%+v\nwant\n%+v", what, got, pools)
		}
		got := srv.Status()
		for i := range got {
			for j := range got[i].Backends {
				g, w := got[i].Backends[j], status[i].Backends[j]
				if g.State != w.State || g.Weight != w.Weight || g.Current != w.Current || len(g.Transitions) != len(w.Transitions) {
					t.Fatalf("%s changed %s/%s: %+v; was %+v", what, got[i].Name, g.Addr, g, w)
				}
			}
		}
	}
	add := func(pool, addr string, w *int) error {
		return srv.AddBackend(pool, engine.Backend{Address: addr, Weight: w})
	}
	f("add to an unknown pool", add("nope", unknown, nil), engine.ErrUnknownPool)
	f("add a duplicate", add("web", a.addr, nil), engine.ErrDuplicate)
	f("add a duplicate in capitals", add("web", strings.ToUpper(a.addr), nil), engine.ErrDuplicate)
	for _, bad := range []string{"", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", ":8080",
		"bad host:80", "-a.example:80", "a..b:80", "http://127.0.0.1:80", "[::1]", "127.0.0.1:80:90"} {
		f(fmt.Sprintf("add %q", bad), add("web", bad, nil), engine.ErrInvalid)
	}
	f("add weight -1", add("web", unknown, intPtr(-1)), engine.ErrInvalid)
	f("add weight 1001", add("web", unknown, intPtr(1001)), engine.ErrInvalid)

	f("remove from an unknown pool", srv.RemoveBackend("nope", a.addr), engine.ErrUnknownPool)
	f("remove an unknown backend", srv.RemoveBackend("web", unknown), engine.ErrUnknownBackend)
	f("remove the last backend", srv.RemoveBackend("solo", a.addr), engine.ErrLastBackend)
	f("remove the last primary", srv.RemoveBackend("pair", a.addr), engine.ErrLastBackend)
	f("remove the last weighted backend", srv.RemoveBackend("zero", a.addr), engine.ErrLastBackend)

	f("weight in an unknown pool", srv.SetWeight("nope", a.addr, 2), engine.ErrUnknownPool)
	f("weight of an unknown backend", srv.SetWeight("web", unknown, 2), engine.ErrUnknownBackend)
	f("weight -1", srv.SetWeight("web", a.addr, -1), engine.ErrInvalid)
	f("weight 1001", srv.SetWeight("web", a.addr, 1001), engine.ErrInvalid)
	f("weight 0 of the last weighted backend", srv.SetWeight("zero", a.addr, 0), engine.ErrLastBackend)

	f("drain in an unknown pool", srv.Drain("nope", a.addr), engine.ErrUnknownPool)
	f("drain an unknown backend", srv.Drain("web", unknown), engine.ErrUnknownBackend)
	f("undrain in an unknown pool", srv.Undrain("nope", a.addr), engine.ErrUnknownPool)
	f("undrain an unknown backend", srv.Undrain("web", unknown), engine.ErrUnknownBackend)
	_, err := srv.InFlight("nope", a.addr)
	f("in flight in an unknown pool", err, engine.ErrUnknownPool)
	_, err = srv.InFlight("web", unknown)
	f("in flight of an unknown backend", err, engine.ErrUnknownBackend)
	_, err = srv.WaitDrained(context.Background(), "web", unknown)
	f("wait for an unknown backend", err, engine.ErrUnknownBackend)

	// Calls that change nothing succeed: undrain what is not drained, set
	// the weight it has.
	f("undrain a backend in rotation", srv.Undrain("web", a.addr), nil)
	f("set the same weight", srv.SetWeight("zero", a.addr, 2), nil)

	// The effective configuration follows accepted changes; a drained
	// backend is still in it, and a second drain changes nothing.
	if err := srv.AddBackend("web", engine.Backend{Address: "localhost:1", Weight: intPtr(7), Backup: true}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := srv.Drain("web", b.addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.SetWeight("web", a.addr, 3); err != nil {
		t.Fatal(err)
	}
	web := pools[0]
	pools, status = srv.Pools(), srv.Status()
	f("add localhost in capitals", add("web", "LOCALHOST:1", nil), engine.ErrDuplicate)
	web.Backends = []engine.Backend{{Address: a.addr, Weight: intPtr(3)}, {Address: b.addr, Weight: intPtr(1), Drained: true},
		{Address: "localhost:1", Weight: intPtr(7), Backup: true}}
	if got := srv.Pools()[0]; !reflect.DeepEqual(got, web) {
		t.Fatalf("effective config %+v; want %+v", got, web)
	}
	if st := backendStatus(srv, "web", b.addr); len(st.Transitions) != 1 {
		t.Fatalf("two drains made transitions %+v; want one", st.Transitions)
	}
}

// A backend added under load takes its share at once, and no request fails.
func TestControlAddUnderLoadE2E(t *testing.T) {
	bs := []*ctlBackend{startCtlBackend(t, "a"), startCtlBackend(t, "b"), startCtlBackend(t, "c")}
	cfg := poolOf(bs[0].addr, bs[1].addr)
	cfg.EventLoops = 2
	cfg.Pools[0].Algorithm = "round_robin"
	srv, px := startProxy(t, cfg)
	l := startCtlLoad(t, px, 8, 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := srv.AddBackend("web", engine.Backend{Address: bs[2].addr}); err != nil {
		t.Fatal(err)
	}
	l.counts()
	time.Sleep(time.Second)
	got := l.counts()
	l.finish()
	total := got["a"] + got["b"] + got["c"]
	t.Logf("after the add: %v", got)
	if total < 100 || float64(got["c"]) < 0.25*float64(total) {
		t.Fatalf("after the add: %v; want the new backend to take about a third", got)
	}
	if st := backendStatus(srv, "web", bs[2].addr); st == nil || st.State != upstream.StateUp {
		t.Fatalf("status of the new backend: %+v", st)
	}
}

// A drained backend takes no new request while its slow requests in flight
// finish with 200; WaitDrained sees it empty; it can then be removed, all
// under load with no failed request.
func TestControlDrainUnderLoadE2E(t *testing.T) {
	a, b, slow := startCtlBackend(t, "a"), startCtlBackend(t, "b"), startCtlBackend(t, "slow")
	slow.delay.Store(int64(300 * time.Millisecond))
	cfg := poolOf(slow.addr, a.addr, b.addr)
	cfg.EventLoops = 2
	cfg.Pools[0].Algorithm = "round_robin"
	srv, px := startProxy(t, cfg)
	l := startCtlLoad(t, px, 8, 6*time.Second)

	ctlWait(t, 2*time.Second, "two requests in flight to the slow backend", func() bool {
		n, err := srv.InFlight("web", slow.addr)
		return err == nil && n >= 2
	})
	if err := srv.Drain("web", slow.addr); err != nil {
		t.Fatal(err)
	}
	drained := time.Now()
	st := backendStatus(srv, "web", slow.addr)
	inflight, _ := srv.InFlight("web", slow.addr) // read before hits: see below
	hits := slow.hits.Load()
	if st.State != upstream.StateDraining || st.Reason != "drained by admin" || st.Since.IsZero() || st.InFlight < 1 {
		t.Fatalf("status right after the drain: %+v; want draining with requests in flight", st)
	}
	l.counts()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	n, err := srv.WaitDrained(ctx, "web", slow.addr)
	if err != nil || n != 0 {
		t.Fatalf("WaitDrained: %d, %v; want 0, nil", n, err)
	}
	t.Logf("%d in flight at the drain, empty after %v", inflight, time.Since(drained).Round(time.Millisecond))
	// The backend is empty once its answers are complete; the clients read
	// them a moment later.
	var slowAnswers int64
	ctlWait(t, time.Second, "the slow requests in flight to finish with 200", func() bool {
		slowAnswers += l.counts()["slow"]
		return slowAnswers >= 1
	})
	// The others' answers are written too (the backend is empty): let their
	// clients read them, so that none is counted below as an answer while
	// drained (seen under load: slow:3).
	time.Sleep(200 * time.Millisecond)
	l.counts()
	// A request picked before the drain was in flight when inflight was
	// read, or had arrived when hits was read.
	if h := slow.hits.Load(); h > hits+inflight {
		t.Fatalf("the drained backend got %d requests after the drain; at most %d were picked before it", h-hits, inflight)
	}
	h := slow.hits.Load()
	time.Sleep(500 * time.Millisecond)
	if got := slow.hits.Load(); got != h {
		t.Fatalf("the drained backend got %d new requests", got-h)
	}
	if got := l.counts(); got["slow"] != 0 || got["a"]+got["b"] < 50 {
		t.Fatalf("answers while drained: %v; want a and b only", got)
	}

	if err := srv.RemoveBackend("web", slow.addr); err != nil {
		t.Fatal(err)
	}
	if st := backendStatus(srv, "web", slow.addr); st != nil {
		t.Fatalf("removed backend still in the status: %+v", st)
	}
	time.Sleep(300 * time.Millisecond)
	l.finish()
	if got := slow.hits.Load(); got != h {
		t.Fatalf("the removed backend got %d new requests", got-h)
	}
	if n := len(srv.Pools()[0].Backends); n != 2 {
		t.Fatalf("%d backends after the removal; want 2", n)
	}
}

// Removing a backend with requests in flight lets them finish; the others
// take the load.
func TestControlRemoveInFlightE2E(t *testing.T) {
	a, slow := startCtlBackend(t, "a"), startCtlBackend(t, "slow")
	slow.delay.Store(int64(300 * time.Millisecond))
	cfg := poolOf(slow.addr, a.addr)
	cfg.Pools[0].Algorithm = "round_robin"
	srv, px := startProxy(t, cfg)
	l := startCtlLoad(t, px, 6, 4*time.Second)
	ctlWait(t, 2*time.Second, "a request in flight to the slow backend", func() bool {
		n, _ := srv.InFlight("web", slow.addr)
		return n >= 1
	})
	if err := srv.RemoveBackend("web", slow.addr); err != nil {
		t.Fatal(err)
	}
	l.counts()
	time.Sleep(600 * time.Millisecond) // every request in flight to it is over
	h := slow.hits.Load()
	got := l.counts()
	time.Sleep(300 * time.Millisecond)
	l.finish()
	if got["slow"] < 1 || slow.hits.Load() != h {
		t.Fatalf("after the removal: answers %v, %d new hits; want the requests in flight answered and no new ones",
			got, slow.hits.Load()-h)
	}
}

// SetWeight shifts the share under load.
func TestControlSetWeightUnderLoadE2E(t *testing.T) {
	a, b := startCtlBackend(t, "a"), startCtlBackend(t, "b")
	cfg := poolOf(a.addr, b.addr)
	cfg.EventLoops = 2
	cfg.Pools[0].Algorithm = "round_robin"
	srv, px := startProxy(t, cfg)
	l := startCtlLoad(t, px, 8, 5*time.Second)
	share := func() float64 {
		l.counts()
		time.Sleep(700 * time.Millisecond)
		got := l.counts()
		return float64(got["b"]) / float64(got["a"]+got["b"])
	}
	before := share()
	if err := srv.SetWeight("web", b.addr, 4); err != nil {
		t.Fatal(err)
	}
	after := share()
	l.finish()
	t.Logf("b's share: %.2f at weight 1, %.2f at weight 4", before, after)
	if before < 0.4 || before > 0.6 || after < 0.72 || after > 0.88 {
		t.Fatalf("b's share %.2f at weight 1:1, %.2f at 1:4; want about 0.5 and 0.8", before, after)
	}
	if st := backendStatus(srv, "web", b.addr); st.Weight != 4 || st.Current != 4 {
		t.Fatalf("status after SetWeight: %+v", st)
	}
}

// A weight set during a slow start is what the ramp scales.
func TestControlSetWeightDuringSlowStartE2E(t *testing.T) {
	a, b := startCtlBackend(t, "a"), startCtlBackend(t, "b")
	cfg := poolOf(a.addr, b.addr)
	cfg.Pools[0].SlowStart = 800 * time.Millisecond
	srv, _ := startProxy(t, cfg)
	if err := srv.Drain("web", b.addr); err != nil {
		t.Fatal(err)
	}
	if err := srv.Undrain("web", b.addr); err != nil {
		t.Fatal(err)
	}
	st := backendStatus(srv, "web", b.addr)
	if st.State != upstream.StateSlowStart {
		t.Fatalf("after undrain: %+v; want slow-start", st)
	}
	if err := srv.SetWeight("web", b.addr, 5); err != nil {
		t.Fatal(err)
	}
	// While a ramp runs every weight is scaled by ten: b ramps towards 50.
	st = backendStatus(srv, "web", b.addr)
	if st.Weight != 5 || st.Current < 5 || st.Current >= 50 {
		t.Fatalf("weight 5 during the ramp: %+v; want current in [5, 50)", st)
	}
	ctlWait(t, 3*time.Second, "the end of the ramp", func() bool {
		st := backendStatus(srv, "web", b.addr)
		return st.State == upstream.StateUp && st.Current == 5
	})
	var tr []string
	for _, x := range backendStatus(srv, "web", b.addr).Transitions {
		tr = append(tr, x.From+">"+x.To)
	}
	if want := "up>draining draining>up up>slow-start slow-start>up"; strings.Join(tr, " ") != want {
		t.Fatalf("transitions %v; want %s", tr, want)
	}
}

// A drained backend is re-picked for a sticky cookie naming it and for a
// hash key mapping to it; neither comes back to it while drained.
func TestControlDrainStickyAndHashE2E(t *testing.T) {
	a, b := startCtlBackend(t, "a"), startCtlBackend(t, "b")
	addrOf := map[string]string{"a": a.addr, "b": b.addr}

	cfg := poolOf(a.addr, b.addr)
	cfg.Pools[0].StickyCookie = &engine.StickyCookie{Name: "lb"}
	srv, px := startProxy(t, cfg)
	first, set := getFrom(t, px, nil, "")
	cookie := strings.SplitN(set, ";", 2)[0]
	if err := srv.Drain("web", addrOf[first]); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		got, again := getFrom(t, px, nil, "Cookie: "+cookie+"\r\n")
		if got == first || !strings.HasPrefix(again, "lb=") {
			t.Fatalf("cookie for drained %q: answered by %q with Set-Cookie %q; want the other backend and a new cookie", first, got, again)
		}
	}
	if err := srv.Undrain("web", addrOf[first]); err != nil {
		t.Fatal(err)
	}
	if got, _ := getFrom(t, px, nil, "Cookie: "+cookie+"\r\n"); got != first {
		t.Fatalf("cookie after the undrain went to %q; want %q", got, first)
	}

	cfg = poolOf(a.addr, b.addr)
	cfg.Pools[0].Algorithm = "hash"
	cfg.Pools[0].HashKey = "header:X-User"
	srv, px = startProxy(t, cfg)
	owner, _ := getFrom(t, px, nil, "X-User: u1\r\n")
	if err := srv.Drain("web", addrOf[owner]); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if got, _ := getFrom(t, px, nil, "X-User: u1\r\n"); got == owner {
			t.Fatalf("key u1 still went to the drained %q", owner)
		}
	}
}

// Panic mode spreads traffic over backends the probes call down, never over
// a drained one; a pool whose backends are all drained answers 503.
func TestControlDrainPanicModeE2E(t *testing.T) {
	fine, sick := startCtlBackend(t, "fine"), startCtlBackend(t, "sick")
	sick.health.Store(503)
	cfg := poolOf(fine.addr, sick.addr)
	cfg.Pools[0].PanicMode = true
	cfg.Pools[0].Health = &health.Config{Interval: 50 * time.Millisecond, Timeout: 30 * time.Millisecond, Rise: 1, Fall: 1, Jitter: -1}
	srv, px := startProxy(t, cfg)
	ctlWait(t, 3*time.Second, "sick down", func() bool { return backendStatus(srv, "web", sick.addr).State == upstream.StateDown })
	if err := srv.Drain("web", fine.addr); err != nil {
		t.Fatal(err)
	}
	h := fine.hits.Load()
	for range 5 {
		if got, _ := getFrom(t, px, nil, ""); got != "sick" {
			t.Fatalf("panic mode with fine drained and sick down: answered by %q; want sick", got)
		}
	}
	if err := srv.Drain("web", sick.addr); err != nil {
		t.Fatal(err)
	}
	c := dial(t, px)
	wantStatus(t, c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 503)
	if fine.hits.Load() != h {
		t.Fatal("a drained backend got requests in panic mode")
	}
	// Drained and down: draining wins, the reason keeps the rest.
	st := backendStatus(srv, "web", sick.addr)
	if st.State != upstream.StateDraining || !strings.HasPrefix(st.Reason, "drained by admin; also down: ") || !strings.Contains(st.Reason, "HTTP 503") {
		t.Fatalf("drained and down: %+v", st)
	}
}

// A membership change with active checks keeps the other backends' states:
// a down backend stays down after an add, its history intact. A new backend
// starts down and takes traffic after its first passing probe; one whose
// probes fail never gets a request.
func TestControlHealthKeepsStatesE2E(t *testing.T) {
	good, bad, added, sick := startCtlBackend(t, "good"), startCtlBackend(t, "bad"), startCtlBackend(t, "added"), startCtlBackend(t, "sick")
	bad.health.Store(503)
	sick.health.Store(503)
	cfg := poolOf(good.addr, bad.addr)
	cfg.Pools[0].Health = &health.Config{Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 2, Fall: 2, Jitter: -1}
	srv, px := startProxy(t, cfg)
	ctlWait(t, 3*time.Second, "bad down", func() bool { return backendStatus(srv, "web", bad.addr).State == upstream.StateDown })
	before := backendStatus(srv, "web", bad.addr)
	l := startCtlLoad(t, px, 4, 5*time.Second)

	if err := srv.AddBackend("web", engine.Backend{Address: added.addr}); err != nil {
		t.Fatal(err)
	}
	after := backendStatus(srv, "web", bad.addr)
	if after.State != upstream.StateDown || len(after.Transitions) != len(before.Transitions) ||
		!after.Transitions[0].At.Equal(before.Transitions[0].At) || len(after.Probes) < len(before.Probes) {
		t.Fatalf("the down backend after an add:\n%+v\nbefore:\n%+v", after, before)
	}
	if st := backendStatus(srv, "web", good.addr); st.State != upstream.StateUp || len(st.Probes) == 0 {
		t.Fatalf("the good backend after an add: %+v; want up with its probes kept", st)
	}
	ctlWait(t, 2*time.Second, "the new backend up", func() bool {
		return backendStatus(srv, "web", added.addr).State == upstream.StateUp
	})
	st := backendStatus(srv, "web", added.addr)
	if len(st.Transitions) != 1 || st.Transitions[0].From != "down" || st.Transitions[0].Reason != "first probe passed" {
		t.Fatalf("the new backend's transitions: %+v", st.Transitions)
	}
	ctlWait(t, 2*time.Second, "traffic to the new backend", func() bool { return added.hits.Load() > 0 })

	if err := srv.AddBackend("web", engine.Backend{Address: sick.addr}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if st := backendStatus(srv, "web", sick.addr); st.State != upstream.StateDown || sick.hits.Load() != 0 {
		t.Fatalf("a new backend failing its probes: %+v, %d requests; want down and none", st, sick.hits.Load())
	}
	if st := backendStatus(srv, "web", bad.addr); st.State != upstream.StateDown || bad.hits.Load() != 0 {
		t.Fatalf("the down backend after two adds: %+v, %d requests", st, bad.hits.Load())
	}

	// Removing the down backend leaves the others as they were.
	if err := srv.RemoveBackend("web", bad.addr); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	l.finish()
	for addr, want := range map[string]string{good.addr: "up", added.addr: "up", sick.addr: "down"} {
		if st := backendStatus(srv, "web", addr); st.State != want {
			t.Fatalf("%s after the removal: %+v; want %s", addr, st, want)
		}
	}
}

// A backend configured as drained (cmd/loopgate keeps drains in its state
// file) starts drained; one added drained too.
func TestControlDrainedAtStartE2E(t *testing.T) {
	a, b, c := startCtlBackend(t, "a"), startCtlBackend(t, "b"), startCtlBackend(t, "c")
	cfg := poolOf(a.addr, b.addr)
	cfg.Pools[0].Backends[1].Drained = true
	cfg.Pools[0].Algorithm = "round_robin"
	srv, px := startProxy(t, cfg)
	if err := srv.AddBackend("web", engine.Backend{Address: c.addr, Drained: true}); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if got, _ := getFrom(t, px, nil, ""); got != "a" {
			t.Fatalf("answered by %q; want a, the only backend not drained", got)
		}
	}
	for _, addr := range []string{b.addr, c.addr} {
		if st := backendStatus(srv, "web", addr); st.State != upstream.StateDraining || st.Reason != "drained by admin" {
			t.Fatalf("status of %s: %+v; want draining", addr, st)
		}
	}
	if bs := srv.Pools()[0].Backends; bs[0].Drained || !bs[1].Drained || !bs[2].Drained {
		t.Fatalf("effective config %+v; want b and c drained", bs)
	}
	if err := srv.Undrain("web", c.addr); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 6 {
		got, _ := getFrom(t, px, nil, "")
		seen[got] = true
	}
	if !seen["c"] || seen["b"] {
		t.Fatalf("after undraining c, answers from %v; want c and never b", seen)
	}
}

// Changes in quick succession, with probes running and Status read
// meanwhile, lose no request (run with -race: the checker swaps, the
// ejector's rebuilds and the loops' rebuilds all race here).
func TestControlConcurrentChangesE2E(t *testing.T) {
	bs := []*ctlBackend{startCtlBackend(t, "a"), startCtlBackend(t, "b"), startCtlBackend(t, "c")}
	cfg := poolOf(bs[0].addr, bs[1].addr)
	cfg.EventLoops = 2
	cfg.Pools[0].Algorithm = "least_connections"
	cfg.Pools[0].SlowStart = 200 * time.Millisecond
	cfg.Pools[0].Passive = &engine.Passive{}
	cfg.Pools[0].Health = &health.Config{Interval: 50 * time.Millisecond, Timeout: 30 * time.Millisecond, Rise: 1, Fall: 2, Jitter: -1}
	srv, px := startProxy(t, cfg)
	l := startCtlLoad(t, px, 6, 5*time.Second)

	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			srv.Status()
			srv.Pools()
			srv.InFlight("web", bs[0].addr)
			time.Sleep(time.Millisecond)
		}
	}()
	// Rotate: add the spare at the end, drain and remove the first.
	in, spare := []*ctlBackend{bs[0], bs[1]}, bs[2]
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		if err := srv.AddBackend("web", engine.Backend{Address: spare.addr, Weight: intPtr(2)}); err != nil {
			t.Fatal(err)
		}
		ctlWait(t, 2*time.Second, "the new backend up", func() bool {
			return backendStatus(srv, "web", spare.addr).State != upstream.StateDown
		})
		if err := srv.SetWeight("web", in[1].addr, 3); err != nil {
			t.Fatal(err)
		}
		if err := srv.Drain("web", in[0].addr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if err := srv.RemoveBackend("web", in[0].addr); err != nil {
			t.Fatal(err)
		}
		in, spare = []*ctlBackend{in[1], spare}, in[0]
	}
	close(stop)
	readers.Wait()
	l.finish()
	if got := srv.Pools()[0].Backends; len(got) != 2 || got[0].Address != in[0].addr || got[1].Address != in[1].addr {
		t.Fatalf("effective backends %+v; want %s and %s", got, in[0].addr, in[1].addr)
	}
	t.Logf("%d requests answered", l.ok.Load())
}
