package engine_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/health"
)

// restartable is a backend that can be stopped and started on the same port.
type restartable struct {
	addr string
	name string
	mu   sync.Mutex
	srv  *http.Server
	hits atomic.Int64
}

func (b *restartable) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly after a stop
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			b.hits.Add(1)
		}
		io.WriteString(w, b.name)
	})}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

func (b *restartable) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srv.Close()
}

// Under steady GETs over three backends, stopping one produces no client
// error (failed connects and resets before a response are retried elsewhere;
// probes then take it out), and traffic returns to it after it restarts.
func TestFailoverZeroErrorsE2E(t *testing.T) {
	bs := []*restartable{{addr: "127.0.0.1:0", name: "a"}, {addr: "127.0.0.1:0", name: "b"}, {addr: "127.0.0.1:0", name: "c"}}
	for _, b := range bs {
		b.start(t)
		defer b.stop()
	}
	cfg := poolOf(bs[0].addr, bs[1].addr, bs[2].addr)
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].Health = &health.Config{Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 2, Fall: 2}
	cfg.EventLoops = 2
	_, px := startProxy(t, cfg)

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 3 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := hc.Get("http://" + px + "/")
				if err != nil {
					failed.Add(1)
					t.Log(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					t.Logf("status %d", resp.StatusCode)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	bs[1].stop()
	time.Sleep(700 * time.Millisecond) // well past fall x interval
	before := bs[1].hits.Load()
	bs[1].start(t)
	restarted := time.Now()
	for bs[1].hits.Load() == before && time.Since(restarted) < 3*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	back := time.Since(restarted)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed while a backend stopped", failed.Load(), failed.Load()+ok.Load())
	}
	if bs[1].hits.Load() == before {
		t.Fatalf("no traffic returned to the restarted backend within 3s")
	}
	// rise (2) x interval (100ms) plus the first probe's jitter and a tick.
	if back > time.Second {
		t.Errorf("traffic returned %v after the restart; want about rise x interval", back)
	}
	t.Logf("%d requests, 0 failed; traffic back %v after the restart", ok.Load(), back)
}

// A POST that may have reached a backend is never replayed on another one:
// the backend that took it resets, and the client gets 502.
func TestPostNotReplayedE2E(t *testing.T) {
	var posts atomic.Int64
	healthy := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			posts.Add(1)
		}
		io.WriteString(w, "ok")
	}))
	dies := startRawBackend(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf) // takes the request, then dies
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	cfg := poolOf(dies.addr(), healthy)
	cfg.Pools[0].Algorithm = "round_robin"
	_, px := startProxy(t, cfg)
	// Round robin starts at the dying backend: the first POST goes there.
	c := dial(t, px)
	r := c.roundTrip("POST", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
	wantStatus(t, r, 502)
	if n := posts.Load(); n != 0 {
		t.Fatalf("the POST was replayed: the other backend got %d", n)
	}
	// Idempotent GETs that meet the same failure (every other one, by round
	// robin) move on to the healthy backend.
	for range 4 {
		c = dial(t, px)
		r = c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		wantStatus(t, r, 200)
	}
}

// With every backend down, clients get 503 with Retry-After; service resumes
// once one recovers.
func TestAllBackendsDownE2E(t *testing.T) {
	bs := []*restartable{{addr: "127.0.0.1:0", name: "a"}, {addr: "127.0.0.1:0", name: "b"}}
	for _, b := range bs {
		b.start(t)
		defer b.stop()
	}
	cfg := poolOf(bs[0].addr, bs[1].addr)
	cfg.Pools[0].Health = &health.Config{Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 2, Fall: 2}
	srv, px := startProxy(t, cfg)
	get := func() *http.Response {
		resp, err := http.Get("http://" + px + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get(); r.StatusCode != 200 {
		t.Fatalf("status %d before the outage", r.StatusCode)
	}
	bs[0].stop()
	bs[1].stop()
	deadline := time.Now().Add(3 * time.Second)
	for {
		r := get()
		if r.StatusCode == 503 {
			if r.Header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After")
			}
			for _, b := range srv.Status()[0].Backends {
				if b.State != "down" || !strings.Contains(b.Reason, "connect") {
					t.Fatalf("status with every backend down: %+v", b)
				}
				last := b.Transitions[len(b.Transitions)-1]
				if last.To != "down" || len(b.Probes) == 0 || b.Probes[len(b.Probes)-1].OK {
					t.Fatalf("transitions %+v, probes %+v: want the move to down and the failing probes", b.Transitions, b.Probes)
				}
			}
			break
		}
		if r.StatusCode != 502 || time.Now().After(deadline) {
			t.Fatalf("status %d while every backend is down; want 502 until the probes notice, then 503", r.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bs[1].start(t)
	deadline = time.Now().Add(3 * time.Second)
	for get().StatusCode != 200 {
		if time.Now().After(deadline) {
			t.Fatal("no service 3s after a backend recovered")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A backend back in rotation ramps its share over slow_start.
func TestSlowStartE2E(t *testing.T) {
	bs := []*restartable{{addr: "127.0.0.1:0", name: "a"}, {addr: "127.0.0.1:0", name: "b"}}
	for _, b := range bs {
		b.start(t)
		defer b.stop()
	}
	cfg := poolOf(bs[0].addr, bs[1].addr) // weight 1 each: ramping scales every weight by ten
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].SlowStart = 3 * time.Second // long beside the windows below, so a loaded machine's delays do not blur them
	cfg.Pools[0].Health = &health.Config{Interval: 50 * time.Millisecond, Timeout: 30 * time.Millisecond, Rise: 1, Fall: 1, Jitter: -1}
	_, px := startProxy(t, cfg)
	hc := &http.Client{Timeout: 2 * time.Second}
	get := func() {
		resp, err := hc.Get("http://" + px + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	bs[1].stop()
	time.Sleep(300 * time.Millisecond) // probes take b out
	bs[1].start(t)
	for bs[1].hits.Load() == 0 { // b is back: its ramp began
		get()
	}
	share := func(d time.Duration) float64 {
		a0, b0 := bs[0].hits.Load(), bs[1].hits.Load()
		for end := time.Now().Add(d); time.Now().Before(end); {
			get()
		}
		a, b := bs[0].hits.Load()-a0, bs[1].hits.Load()-b0
		return float64(b) / float64(a+b)
	}
	early := share(400 * time.Millisecond)
	time.Sleep(2800 * time.Millisecond) // past the 3 s ramp
	late := share(400 * time.Millisecond)
	t.Logf("b's share: %.2f in the first 400ms of slow start, %.2f after it", early, late)
	if early > 0.35 || late < 0.4 || early >= late {
		t.Fatalf("b's share %.2f early, %.2f late; want it to ramp from a small share to about half", early, late)
	}
}

// With every backend down by its probes, panic mode still spreads requests
// over them; without it the answer is 503.
func TestPanicModeE2E(t *testing.T) {
	sick := func() string {
		return startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				w.WriteHeader(503)
				return
			}
			io.WriteString(w, "served")
		}))
	}
	for _, panicMode := range []bool{false, true} {
		cfg := poolOf(sick(), sick())
		cfg.Pools[0].PanicMode = panicMode
		cfg.Pools[0].Health = &health.Config{Interval: 50 * time.Millisecond, Timeout: 30 * time.Millisecond, Rise: 1, Fall: 1}
		_, px := startProxy(t, cfg)
		want := 503
		if panicMode {
			want = 200
		}
		time.Sleep(400 * time.Millisecond) // well past fall x interval: every backend is down
		for range 5 {
			resp, err := http.Get("http://" + px + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("panic_mode=%v with every backend down by its probes: status %d; want %d", panicMode, resp.StatusCode, want)
			}
		}
	}
}

// A slow but healthy pool under load keeps every backend up: probes that
// answer late but within the timeout pass, so load never takes the pool down.
func TestSlowHealthyPoolStaysUpE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("bounded load run")
	}
	var hits [3]atomic.Int64
	var addrs []string
	for i := range 3 {
		addrs = append(addrs, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(30 * time.Millisecond) // busy: every answer, probes included, is slow
			if r.URL.Path != "/health" {
				hits[i].Add(1)
			}
			io.WriteString(w, "ok")
		})))
	}
	cfg := poolOf(addrs...)
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].Health = &health.Config{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, Rise: 2, Fall: 2}
	_, px := startProxy(t, cfg)
	var failed atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(2 * time.Second)
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 3 * time.Second}
			for time.Now().Before(stop) {
				resp, err := hc.Get("http://" + px + "/")
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	// Every backend keeps taking traffic in the last half of the run.
	time.Sleep(time.Second)
	var mid [3]int64
	for i := range hits {
		mid[i] = hits[i].Load()
	}
	wg.Wait()
	for i := range hits {
		if hits[i].Load() == mid[i] {
			t.Fatalf("backend %d took no traffic in the second half: its probes took it down under load", i)
		}
	}
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	t.Logf("hits %d/%d/%d, 0 failed", hits[0].Load(), hits[1].Load(), hits[2].Load())
}
