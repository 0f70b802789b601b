package engine

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"loopgate/upstream"
)

// countingAlg wraps round robin and counts Picks and Dones per backend, to
// check the Picker contract the engine promises: every index Pick returns
// gets exactly one Done, however the exchange ends.
type countingAlg struct {
	mu          sync.Mutex
	picks, done map[int]int
}

func (a *countingAlg) Name() string { return "counting" }

func (a *countingAlg) Prepare(*upstream.Set) {}

func (a *countingAlg) NewPicker(s *upstream.Set, seed uint64) upstream.Picker {
	rr, _ := upstream.Lookup("round_robin")
	return &countingPicker{a: a, p: rr.NewPicker(s, seed)}
}

type countingPicker struct {
	a *countingAlg
	p upstream.Picker
}

func (p *countingPicker) Pick(key uint64, up upstream.Mask, avoid int) int {
	i := p.p.Pick(key, up, avoid)
	if i >= 0 {
		p.a.mu.Lock()
		p.a.picks[i]++
		p.a.mu.Unlock()
	}
	return i
}

func (p *countingPicker) Assign(i int) {
	p.p.Assign(i)
	p.a.mu.Lock()
	p.a.picks[i]++
	p.a.mu.Unlock()
}

func (p *countingPicker) Done(i int, rtt time.Duration, ok bool) {
	p.p.Done(i, rtt, ok)
	p.a.mu.Lock()
	p.a.done[i]++
	p.a.mu.Unlock()
}

// startCounting runs a server for cfg on 127.0.0.1:0 whose first pool counts
// its picks and dones; it shuts down at the end of the test.
func startCounting(t *testing.T, cfg Config) (*Server, *countingAlg) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	alg := &countingAlg{picks: map[int]int{}, done: map[int]int{}}
	p := s.pools[0]
	p.alg = alg
	p.publish(p.state.Load().set, upstream.NewMask(len(cfg.Pools[0].Backends)))
	go s.Run()
	<-s.Ready()
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s, alg
}

func (a *countingAlg) balanced() (picks, dones int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok = true
	for i, n := range a.picks {
		picks += n
		dones += a.done[i]
		ok = ok && a.done[i] == n
	}
	for i, n := range a.done {
		ok = ok && a.picks[i] >= n
	}
	return picks, dones, ok
}

func TestEveryPickGetsOneDone(t *testing.T) {
	// Backend 0 answers, slowly for /slow; backend 1 refuses connections;
	// backend 2 resets every connection after reading the head.
	good := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			w.Header().Set("Content-Length", "1000000")
			w.WriteHeader(200)
			w.Write(make([]byte, 1000))
			time.Sleep(300 * time.Millisecond)
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})}
	gl, _ := net.Listen("tcp", "127.0.0.1:0")
	go good.Serve(gl)
	defer good.Close()
	refused, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedAddr := refused.Addr().String()
	refused.Close()
	rl, _ := net.Listen("tcp", "127.0.0.1:0")
	defer rl.Close()
	go func() {
		for {
			c, err := rl.Accept()
			if err != nil {
				return
			}
			go func() {
				bufio.NewReader(c).ReadString('\n')
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}()
		}
	}()

	s, alg := startCounting(t, Config{EventLoops: 2, Pools: []Pool{{Name: "p", Algorithm: "round_robin",
		StickyCookie: &StickyCookie{Name: "s"}, Backends: []Backend{
			{Address: gl.Addr().String()}, {Address: refusedAddr}, {Address: rl.Addr().String()},
		}}}})
	addr := s.Addr().String()

	do := func(req string, readAll bool) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, req)
		if readAll {
			io.Copy(io.Discard, c)
		} else {
			c.Read(make([]byte, 1))
		}
	}
	for range 6 { // every backend twice: success, 502 on dial, 502 on reset
		do("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", true)
		do("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", true)
	}
	// Requests routed by the sticky cookie are assigned, and done, too.
	var cookie string
	for range 3 { // until round robin reaches the backend that answers
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if c := resp.Header.Get("Set-Cookie"); c != "" {
			cookie = strings.SplitN(c, ";", 2)[0]
			break
		}
	}
	if cookie == "" {
		t.Fatal("no response set the sticky cookie")
	}
	for range 4 {
		do("GET / HTTP/1.1\r\nHost: a\r\nCookie: "+cookie+"\r\nConnection: close\r\n\r\n", true)
	}
	for range 3 { // the client leaves mid-response
		do("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n", false)
	}
	for range 3 { // a body that turns out malformed after the head went upstream
		c, _ := net.Dial("tcp", addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, "zz\r\n")
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.Copy(io.Discard, c)
		c.Close()
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		picks, dones, ok := alg.balanced()
		if ok && picks > 0 {
			t.Logf("%d picks, %d dones", picks, dones)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("picks %v, dones %v: every pick must get exactly one Done", alg.picks, alg.done)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The 503 path picks nothing, so it must report nothing.
func TestNoPickNoDone(t *testing.T) {
	zero := 0
	s, alg := startCounting(t, Config{EventLoops: 1, Pools: []Pool{{Name: "p", Algorithm: "round_robin", Backends: []Backend{
		{Address: "127.0.0.1:1", Weight: &zero},
	}}}})
	resp, err := http.Get("http://" + s.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || len(alg.done) != 0 || !strings.Contains(resp.Header.Get("Retry-After"), "1") {
		t.Fatalf("status %d, dones %v", resp.StatusCode, alg.done)
	}
}
