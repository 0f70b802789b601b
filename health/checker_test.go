package health

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/upstream"
)

// knob is a backend whose answer the test turns: status to send and delay
// before answering.
type knob struct {
	srv    *httptest.Server
	status atomic.Int64
	delay  atomic.Int64 // ns
	hits   atomic.Int64
}

func newKnob(t *testing.T) *knob {
	k := &knob{}
	k.status.Store(200)
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.hits.Add(1)
		select {
		case <-time.After(time.Duration(k.delay.Load())):
		case <-r.Context().Done():
		}
		w.WriteHeader(int(k.status.Load()))
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *knob) addr() string { return k.srv.Listener.Addr().String() }

// recorder collects published masks.
type recorder struct {
	ch chan upstream.Mask
	n  atomic.Int64
}

func newRecorder() *recorder { return &recorder{ch: make(chan upstream.Mask, 100)} }

func (r *recorder) publish(m upstream.Mask) { r.n.Add(1); r.ch <- m }

func (r *recorder) next(t *testing.T, within time.Duration) upstream.Mask {
	t.Helper()
	select {
	case m := <-r.ch:
		return m
	case <-time.After(within):
		t.Fatalf("no mask published within %s", within)
		return nil
	}
}

// syncBuf is a log destination safe for the scheduler and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func fast() Config {
	return Config{Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, FastInterval: 50 * time.Millisecond, Jitter: -1}
}

func start(t *testing.T, c Config, addrs []string, log *slog.Logger, publish func(upstream.Mask)) *Checker {
	t.Helper()
	ch, err := New(c, addrs, log, publish)
	if err != nil {
		t.Fatal(err)
	}
	ch.Start()
	t.Cleanup(ch.Stop)
	return ch
}

// waitFor polls cond every 10ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// trailing counts the probes of s that started by at, from the last one back,
// whose OK equals ok.
func trailing(s BackendState, at time.Time, ok bool) int {
	n := 0
	for i := len(s.Recent) - 1; i >= 0; i-- {
		p := s.Recent[i]
		if p.At.After(at) {
			continue
		}
		if p.OK != ok {
			break
		}
		n++
	}
	return n
}

func TestRiseFall(t *testing.T) {
	k, other := newKnob(t), newKnob(t)
	rec := newRecorder()
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c := start(t, fast(), []string{other.addr(), k.addr()}, log, rec.publish)

	if m := c.Mask(); m.Count() != 2 {
		t.Fatalf("initial mask %b; want both up", m)
	}
	waitFor(t, 2*time.Second, "two passing probes", func() bool { return k.hits.Load() >= 2 })

	k.status.Store(503)
	m := rec.next(t, 2*time.Second)
	if m.Has(1) || !m.Has(0) || !c.Mask().Has(0) || c.Mask().Has(1) {
		t.Fatalf("after failures: published %b, Mask %b; want only backend 0 up", m, c.Mask())
	}
	s := c.States()[1]
	if s.State != StateDown || len(s.Transitions) != 1 {
		t.Fatalf("after failures: %+v; want down with one transition", s)
	}
	tr := s.Transitions[0]
	if tr.From != StateUp || tr.To != StateDown || tr.Reason != "3 consecutive failures: HTTP 503 not in 200-399" || s.Reason != tr.Reason {
		t.Fatalf("transition %+v, reason %q", tr, s.Reason)
	}
	if n := trailing(s, tr.At, false); n != 3 {
		t.Fatalf("went down after %d failures; want exactly 3 (fall). Recent: %+v", n, s.Recent)
	}

	k.status.Store(204)
	m = rec.next(t, 2*time.Second)
	if m.Count() != 2 {
		t.Fatalf("after passes: published %b; want both up", m)
	}
	s = c.States()[1]
	if s.State != StateUp || len(s.Transitions) != 2 || s.Transitions[1].Reason != "2 consecutive passes" {
		t.Fatalf("after passes: %+v", s)
	}
	if n := trailing(s, s.Transitions[1].At, true); n != 2 {
		t.Fatalf("came up after %d passes; want exactly 2 (rise). Recent: %+v", n, s.Recent)
	}
	if !s.Since.Equal(s.Transitions[1].At) {
		t.Fatalf("Since %v; want the last transition's time %v", s.Since, s.Transitions[1].At)
	}

	time.Sleep(200 * time.Millisecond) // a few more passing probes publish nothing
	if n := rec.n.Load(); n != 2 {
		t.Fatalf("publish called %d times; want 2 (one per flip)", n)
	}
	if s := c.States()[0]; s.State != StateUp || len(s.Transitions) != 0 || len(s.Recent) == 0 {
		t.Fatalf("steady backend: %+v; want up, no transitions, some probes", s)
	}
	c.Stop()
	out := logs.String()
	if n := strings.Count(out, "backend state changed"); n != 2 {
		t.Fatalf("logged %d transitions; want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "from=up to=down reason=\"3 consecutive failures: HTTP 503 not in 200-399\"") ||
		!strings.Contains(out, "backend="+k.addr()) {
		t.Fatalf("log lacks the transition:\n%s", out)
	}
}

func TestDownWhileRefused(t *testing.T) {
	rec := newRecorder()
	addr := closedAddr(t)
	c := start(t, fast(), []string{addr}, nil, rec.publish)
	if m := rec.next(t, 2*time.Second); m.Has(0) {
		t.Fatalf("published %b; want backend 0 down", m)
	}
	s := c.States()[0]
	if !strings.HasPrefix(s.Transitions[0].Reason, "3 consecutive failures: ") || !strings.Contains(s.Transitions[0].Reason, "connection refused") {
		t.Fatalf("reason %q; want 3 consecutive failures: ... connection refused", s.Transitions[0].Reason)
	}

	// The backend comes back on the same address.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	if m := rec.next(t, 2*time.Second); !m.Has(0) {
		t.Fatalf("published %b; want backend 0 up again", m)
	}
}

func TestFlappingNeverFlips(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	rec := newRecorder()
	c := start(t, fast(), []string{srv.Listener.Addr().String()}, nil, rec.publish)
	waitFor(t, 3*time.Second, "12 probes", func() bool { return n.Load() >= 12 })
	if rec.n.Load() != 0 || c.States()[0].State != StateUp || !c.Mask().Has(0) {
		t.Fatalf("alternating pass/fail with rise 2, fall 3: %d publishes, state %+v; want none, up", rec.n.Load(), c.States()[0])
	}
}

func TestSlowBackend(t *testing.T) {
	slow, tooSlow := newKnob(t), newKnob(t)
	slow.delay.Store(int64(80 * time.Millisecond)) // loaded, but answers within the timeout
	tooSlow.delay.Store(int64(time.Second))
	rec := newRecorder()
	cfg := Config{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, Jitter: -1}
	c := start(t, cfg, []string{slow.addr(), tooSlow.addr()}, nil, rec.publish)
	m := rec.next(t, 3*time.Second)
	if !m.Has(0) || m.Has(1) {
		t.Fatalf("published %b; want the slow backend up and the too slow one down", m)
	}
	waitFor(t, 3*time.Second, "5 probes of the slow backend", func() bool { return slow.hits.Load() >= 5 })
	s := c.States()
	if s[0].State != StateUp || len(s[0].Transitions) != 0 || rec.n.Load() != 1 {
		t.Fatalf("slow backend: %+v, %d publishes; want up throughout", s[0], rec.n.Load())
	}
	for _, p := range s[0].Recent {
		if !p.OK || p.Latency < 80*time.Millisecond || p.Status != 200 {
			t.Fatalf("slow backend probe %+v; want OK, 200, latency >= 80ms", p)
		}
	}
	if r := s[1].Transitions[0].Reason; !strings.Contains(r, "within the 150ms timeout") {
		t.Fatalf("too slow backend went down for %q; want a timeout", r)
	}
}

func TestTCPChecker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := fast()
	cfg.Type = "tcp"
	rec := newRecorder()
	c := start(t, cfg, []string{ln.Addr().String(), closedAddr(t)}, nil, rec.publish)
	if m := rec.next(t, 2*time.Second); !m.Has(0) || m.Has(1) {
		t.Fatalf("published %b; want the listener up and the closed port down", m)
	}
	if p := c.States()[0].Recent[0]; !p.OK || p.Status != 0 {
		t.Fatalf("TCP probe %+v; want OK with status 0", p)
	}
}

func TestRecentProbes(t *testing.T) {
	k := newKnob(t)
	cfg := fast()
	cfg.Interval, cfg.Timeout = 20*time.Millisecond, 15*time.Millisecond
	c := start(t, cfg, []string{k.addr()}, nil, nil)
	waitFor(t, 3*time.Second, "15 probes", func() bool { return k.hits.Load() >= 15 })
	s := c.States()[0]
	if len(s.Recent) != RecentProbes {
		t.Fatalf("%d recent probes; want %d", len(s.Recent), RecentProbes)
	}
	for i, p := range s.Recent {
		if !p.OK || p.Status != 200 || p.Latency <= 0 || p.Err != "" || (i > 0 && !p.At.After(s.Recent[i-1].At)) {
			t.Fatalf("recent[%d] = %+v; want OK probes, oldest first", i, p)
		}
	}
}

func TestJitter(t *testing.T) {
	c, err := New(Config{Jitter: 0.2}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := time.Hour, time.Duration(0)
	for range 10000 {
		d := c.jitter(time.Second)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 800*time.Millisecond || hi > 1200*time.Millisecond || lo > 820*time.Millisecond || hi < 1180*time.Millisecond {
		t.Fatalf("jitter 0.2 of 1s spans [%s, %s]; want within and near [800ms, 1.2s]", lo, hi)
	}
	c, _ = New(Config{Jitter: -1}, nil, nil, nil)
	if d := c.jitter(time.Second); d != time.Second {
		t.Fatalf("jitter off: %s; want 1s", d)
	}
}

func TestStopIsPrompt(t *testing.T) {
	// A backend that accepts and never answers: the probe is in flight for
	// its whole 5s timeout unless Stop aborts it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	c, err := New(Config{Interval: 10 * time.Second, Timeout: 5 * time.Second, Jitter: -1}, []string{ln.Addr().String()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	select {
	case conn := <-accepted:
		defer conn.Close()
	case <-time.After(2 * time.Second):
		t.Fatal("no probe arrived")
	}
	start := time.Now()
	c.Stop()
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Stop took %s with a probe in flight; want it prompt", d)
	}
	if s := c.States()[0]; len(s.Recent) != 0 || s.State != StateUp {
		t.Fatalf("aborted probe was counted: %+v", s)
	}
	c.Stop() // idempotent

	n, _ := New(Config{}, []string{"127.0.0.1:1"}, nil, nil)
	n.Stop() // before Start
	n.Start()
}

func TestDisabled(t *testing.T) {
	rec := newRecorder()
	c := start(t, Config{Disabled: true}, []string{closedAddr(t)}, nil, rec.publish)
	time.Sleep(100 * time.Millisecond)
	if rec.n.Load() != 0 || !c.Mask().Has(0) || c.States()[0].Reason != "active checks disabled" {
		t.Fatalf("disabled checks: %d publishes, mask %b, %+v", rec.n.Load(), c.Mask(), c.States()[0])
	}
	if _, err := New(Config{Type: "udp"}, nil, nil, nil); err == nil {
		t.Fatal("New accepted an invalid Config")
	}
}
