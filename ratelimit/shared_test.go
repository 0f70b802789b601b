package ratelimit

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testRedis is a redis-server of the test's own on 127.0.0.1, killed at the
// end of the test.
type testRedis struct {
	t    testing.TB
	bin  string
	addr string
	cmd  *exec.Cmd
}

func startRedis(t testing.TB) *testRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("LOOPGATE_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server not installed and LOOPGATE_REQUIRE_REDIS is set (.ci/run installs it)")
		}
		t.Skip("redis-server not installed (apt-get install redis-server): skipping the shared-limit tests")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &testRedis{t: t, bin: bin, addr: addr}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *testRedis) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("cannot start redis-server: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ping(r.addr) {
			return
		}
		if time.Now().After(deadline) {
			r.kill()
			r.t.Fatalf("redis-server on %s did not answer PING within 5s", r.addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *testRedis) kill() {
	if r.cmd != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// clock is a caller's clock: monotonic nanoseconds from an origin of its own.
type clock struct {
	base   time.Time
	offset int64
}

func (c clock) now() int64 { return int64(time.Since(c.base)) + c.offset }

// admissions records when requests were admitted, across instances.
type admissions struct {
	mu    sync.Mutex
	start time.Time
	at    []time.Duration
}

func (a *admissions) add(t time.Time) {
	a.mu.Lock()
	a.at = append(a.at, t.Sub(a.start))
	a.mu.Unlock()
}

// over returns, for a window length w, the most admissions in any window of
// that length minus what one ideal GCRA would admit in it, Burst + floor(w/T).
func (a *admissions) over(w time.Duration, r Rule) int {
	at := slices.Clone(a.at)
	slices.Sort(at)
	most := 0
	for i, j := 0, 0; i < len(at); i++ {
		for j < len(at) && at[j]-at[i] <= w {
			j++
		}
		most = max(most, j-i)
	}
	return most - (r.Burst + int(w/(time.Second/time.Duration(r.Rate))))
}

// hammer asks for key on s from 2 goroutines, each about every 200µs, for d,
// and returns what was admitted and what was asked. rec (may be nil) records
// when.
func hammer(s *Shared, key uint64, c clock, d time.Duration, rec *admissions) (admitted, asked int64) {
	var a, n atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				n.Add(1)
				if s.Allow(key, c.now()).Allowed {
					a.Add(1)
					if rec != nil {
						rec.add(time.Now())
					}
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	return a.Load(), n.Load()
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

var testLog = slog.New(slog.DiscardHandler)

// sharedBound is the over-admission bound of the package doc for n instances,
// with ε = 5ms for the round trip and scheduling on a loaded test machine.
func sharedBound(n int, r Rule, sync time.Duration) float64 {
	const eps = 5 * time.Millisecond
	return float64(n-1) * (float64(r.Burst) + 2*float64(sync+eps)*float64(r.Rate)/float64(time.Second))
}

func TestSharedTwoInstances(t *testing.T) {
	rd := startRedis(t)
	before := runtime.NumGoroutine()
	r := Rule{Rate: 100, Burst: 10}
	cfg := RedisConfig{Address: rd.addr}
	a := NewShared("api", r, cfg, FailLocal, 1024, testLog)
	b := NewShared("api", r, cfg, FailLocal, 1024, testLog)
	other := NewShared("other", r, cfg, FailLocal, 1024, testLog) // another name: its own limit

	// Different clock origins: instances never compare clocks.
	ca, cb := clock{time.Now(), 0}, clock{time.Now(), 7 * int64(time.Hour)}
	const d = 3 * time.Second
	var na, nb, no, asked int64
	rec := &admissions{start: time.Now()}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); na, asked = hammer(a, 1, ca, d, rec) }()
	go func() { defer wg.Done(); nb, _ = hammer(b, 1, cb, d, rec) }()
	go func() { defer wg.Done(); no, _ = hammer(other, 1, ca, d, nil) }()
	wg.Wait()

	ideal := 300 + 10.0
	bound := sharedBound(2, r, 20*time.Millisecond)
	total := float64(na + nb)
	t.Logf("two instances admitted %d + %d = %.0f of ~%d asked each; ideal %.0f; over-admission %.0f (bound %.1f); dropped %d+%d",
		na, nb, total, asked, ideal, total-ideal, bound, a.Dropped(), b.Dropped())
	if total > ideal+bound || total < ideal-3 {
		t.Errorf("two instances admitted %.0f; want %.0f, at most %.1f more", total, ideal, bound)
	}
	// The bound holds in every window, not only over the whole run; +1 for
	// the edges of a window.
	worst := 0
	for _, w := range []time.Duration{10, 20, 50, 100, 200, 500, 1000, 3000} {
		o := rec.over(w*time.Millisecond, r)
		worst = max(worst, o)
		t.Logf("window %4dms: over-admission %d", w, o)
	}
	if float64(worst) > bound+1 {
		t.Errorf("over-admission %d in some window; bound %.1f", worst, bound)
	}
	if float64(no) > ideal+1 || float64(no) < ideal-3 {
		t.Errorf("an instance alone on its name admitted %d; want %.0f", no, ideal)
	}
	if !a.Healthy() || !b.Healthy() {
		t.Error("unhealthy with redis up")
	}
	a.Close()
	b.Close()
	other.Close()
	waitFor(t, "goroutines back after Close", 3*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}

func TestSharedRedisDown(t *testing.T) {
	for _, mode := range []OnError{FailLocal, FailOpen, FailClosed} {
		t.Run(mode.String(), func(t *testing.T) { testRedisDown(t, mode) })
	}
}

func testRedisDown(t *testing.T, mode OnError) {
	rd := startRedis(t)
	before := runtime.NumGoroutine()
	r := Rule{Rate: 100, Burst: 10}
	cfg := RedisConfig{Address: rd.addr}
	a := NewShared("api", r, cfg, mode, 1024, testLog)
	b := NewShared("api", r, cfg, mode, 1024, testLog)
	defer b.Close()
	defer a.Close()
	ca, cb := clock{time.Now(), 0}, clock{time.Now(), 0}
	both := func(d time.Duration) (na, nb, asked int64) {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); na, asked = hammer(a, 1, ca, d, nil) }()
		go func() { defer wg.Done(); nb, _ = hammer(b, 1, cb, d, nil) }()
		wg.Wait()
		return na, nb, asked
	}
	both(500 * time.Millisecond) // shared, key busy

	rd.kill()
	took := waitFor(t, "Healthy() false after redis died", time.Second, func() bool { return !a.Healthy() && !b.Healthy() })
	t.Logf("unhealthy %v after redis died", took.Round(time.Millisecond))
	na, nb, asked := both(time.Second)
	t.Logf("redis down, on_error=%s: admitted %d and %d of ~%d asked each in 1s", mode, na, nb, asked)
	switch mode {
	case FailLocal: // each alone at the full rate: about 100 each, not 100 together
		for _, n := range []int64{na, nb} {
			if n < 80 || n > 100+10+5 {
				t.Errorf("on_error=local: an instance admitted %d in 1s; want about 100 (its own full rate)", n)
			}
		}
	case FailOpen:
		if na < asked*9/10 || nb < asked*9/10 {
			t.Errorf("on_error=open: admitted %d and %d of ~%d", na, nb, asked)
		}
	case FailClosed:
		if na != 0 || nb != 0 {
			t.Errorf("on_error=closed: admitted %d and %d; want none", na, nb)
		}
	}

	rd.start()
	took = waitFor(t, "Healthy() true after redis came back", 3*time.Second, func() bool { return a.Healthy() && b.Healthy() })
	t.Logf("healthy %v after redis came back", took.Round(time.Millisecond))
	if mode == FailLocal {
		// Sharing resumes: after the backlog of the outage drains, about 100/s
		// together again.
		both(300 * time.Millisecond)
		na, nb, _ = both(2 * time.Second)
		t.Logf("after restart: admitted %d + %d = %d in 2s", na, nb, na+nb)
		if float64(na+nb) > 200+sharedBound(2, r, 20*time.Millisecond)+10 || na+nb < 180 {
			t.Errorf("after restart two instances admitted %d in 2s; want about 200", na+nb)
		}
	}
	a.Close()
	b.Close()
	waitFor(t, "goroutines back after Close", 3*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}

func TestOnErrorText(t *testing.T) {
	for _, want := range []OnError{FailLocal, FailOpen, FailClosed} {
		var got OnError
		if err := got.UnmarshalText([]byte(want.String())); err != nil || got != want {
			t.Fatalf("UnmarshalText(%q) = %v, %v", want.String(), got, err)
		}
	}
	var e OnError
	if err := e.UnmarshalText([]byte("fail")); err == nil {
		t.Fatal("UnmarshalText(fail): no error")
	}
	if s := OnError(7).String(); s != "OnError("+strconv.Itoa(7)+")" {
		t.Fatalf("OnError(7).String() = %q", s)
	}
}
