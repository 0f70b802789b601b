package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"loopgate/engine"
	"loopgate/health"
)

func TestFdReserve(t *testing.T) {
	on := health.Config{}.WithDefaults()
	off := health.Config{Disabled: true}.WithDefaults()
	backends := func(n int) []engine.Backend { return make([]engine.Backend, n) }
	f := func(loops int, pools []engine.Pool, want int) {
		t.Helper()
		if got := fdReserve(engine.Config{EventLoops: loops, Pools: pools}); got != want {
			t.Fatalf("fdReserve(loops %d, %d pools): got %d; want %d", loops, len(pools), got, want)
		}
	}
	f(1, nil, 64+3)
	f(4, nil, 64+12)
	f(0, nil, 64+3*runtime.NumCPU())                                     // one loop per core
	f(2, []engine.Pool{{Backends: backends(5)}}, 70)                     // no probes
	f(2, []engine.Pool{{Backends: backends(5), Health: &on}}, 75)        // one per probed backend
	f(2, []engine.Pool{{Backends: backends(5), Health: &off}}, 70)       // disabled
	f(2, []engine.Pool{{Backends: backends(1000), Health: &on}}, 70+256) // at most 256 per pool
	f(2, []engine.Pool{{Backends: backends(3), Health: &on}, {Backends: backends(2), Health: &on}}, 75)
}

func TestAutoMaxConnections(t *testing.T) {
	f := func(limit uint64, reserve, want int) {
		t.Helper()
		got := autoMaxConnections(limit, reserve)
		if got != want {
			t.Fatalf("autoMaxConnections(%d, %d): got %d; want %d", limit, reserve, got, want)
		}
		if got > 1 && fdNeeded(got, reserve) > limit {
			t.Fatalf("autoMaxConnections(%d, %d) = %d needs %d descriptors", limit, reserve, got, fdNeeded(got, reserve))
		}
	}
	f(1024, 67, 478)
	f(1025, 67, 479)
	f(65536, 70, 32733)
	f(1048576, 64+3*16, 524232)
	f(256, 67, 94)
	f(70, 67, 1)               // room for one descriptor: a warning, and at least one connection
	f(67, 67, 1)               // no room at all
	f(10, 67, 1)               // a limit below the reserve
	f(^uint64(0), 67, 1<<31-1) // RLIM_INFINITY: what the key accepts at most
}

// TestBudgetConnections: an auto max_connections is sized from the limit and
// never warns while it fits; an explicit one is kept and warns, at its key,
// when it does not fit.
func TestBudgetConnections(t *testing.T) {
	f := func(name, in string, limit uint64, wantMax int, wantWarn string) {
		t.Helper()
		c, err := parse(name, []byte(in))
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		w := budgetConnections(c, limit)
		if c.Engine.MaxConnections != wantMax {
			t.Fatalf("%s with limit %d: max_connections %d; want %d", in, limit, c.Engine.MaxConnections, wantMax)
		}
		got := ""
		if w != nil {
			got = w.Error()
			if !errors.Is(w, ErrDescriptors) {
				t.Fatalf("warning %q is not ErrDescriptors", got)
			}
		}
		if got != wantWarn {
			t.Fatalf("%s with limit %d:\ngot  %q\nwant %q", in, limit, got, wantWarn)
		}
	}
	loops2 := "[server]\nevent_loops = 2\n"

	// auto: absent or 0.
	f("c.toml", loops2+minimal, 1024, 477, "")
	f("c.toml", "[server]\nevent_loops = 2\nmax_connections = 0\n"+minimal, 65536, 32733, "")
	f("c.toml", loops2+minimal+"  [pool.health]\n", 1024, 476, "")   // the probed backend is in the reserve
	f("c.toml", loops2+minimal, 0, engine.DefaultMaxConnections, "") // limit unknown: the engine's default
	f("c.toml", loops2+minimal, 70, 1,
		"c.toml:1: server.max_connections: warning: the file descriptor limit (RLIMIT_NOFILE) is 70 and 70 are kept in reserve, "+
			"which leaves no room for 1 connections at 2 descriptors each; raise it to at least 72 (ulimit -n, or LimitNOFILE= in the systemd unit)")

	// Explicit values are kept; a fit is silent, including an exact one.
	f("c.toml", loops2+"max_connections = 477\n"+minimal, 1024, 477, "")
	f("c.toml", loops2+"max_connections = 100\n"+minimal, 1024, 100, "")
	f("c.toml", loops2+"max_connections = 478\n"+minimal, 1024, 478,
		"c.toml:3: server.max_connections: warning: 478 connections need up to 1026 file descriptors (2 each + 70 in reserve) "+
			"but the limit (RLIMIT_NOFILE) is 1024; raise it to at least 1026 (ulimit -n, or LimitNOFILE= in the systemd unit), "+
			"or lower max_connections to 477, or remove it (auto fits the limit)")
	// The README's example.
	f("big.toml", "# loopgate\n\n[server]\nmax_connections = 100000\nevent_loops = 2\n"+minimal, 65536, 100000,
		"big.toml:4: server.max_connections: warning: 100000 connections need up to 200070 file descriptors (2 each + 70 in reserve) "+
			"but the limit (RLIMIT_NOFILE) is 65536; raise it to at least 200070 (ulimit -n, or LimitNOFILE= in the systemd unit), "+
			"or lower max_connections to 32733, or remove it (auto fits the limit)")
	// A limit that holds not even the reserve has no smaller value to offer.
	f("c.toml", loops2+"max_connections = 10\n"+minimal, 60, 10,
		"c.toml:3: server.max_connections: warning: the file descriptor limit (RLIMIT_NOFILE) is 60 and 70 are kept in reserve, "+
			"which leaves no room for 10 connections at 2 descriptors each; raise it to at least 90 (ulimit -n, or LimitNOFILE= in the systemd unit)")

	// The seed's config.json names the key at the top level.
	servers := `"backend_servers": [{"host": "127.0.0.1", "port": 8001}]`
	f("c.json", "{\n"+servers+",\n\"max_connections\": 1000\n}", 1024, 1000,
		fmt.Sprintf("c.json:3: max_connections: warning: 1000 connections need up to %d file descriptors (2 each + %d in reserve) "+
			"but the limit (RLIMIT_NOFILE) is 1024; raise it to at least %[1]d (ulimit -n, or LimitNOFILE= in the systemd unit), "+
			"or lower max_connections to %[3]d, or remove it (auto fits the limit)",
			2000+fdReserve(engine.Config{}), fdReserve(engine.Config{}), (1024-fdReserve(engine.Config{}))/2))
}

// writeConfig writes in as dir/name and returns its path.
func writeConfig(t *testing.T, dir, name, in string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckWarnsMaxConnections: -check prints a max_connections that does
// not fit the hard limit as a warning line, located like an error, and
// still says the config is OK and exits 0.
func TestCheckWarnsMaxConnections(t *testing.T) {
	dir := t.TempDir()
	f := func(name, in string, wantErr string) {
		t.Helper()
		path := writeConfig(t, dir, name, in)
		var stdout, stderr bytes.Buffer
		code := run([]string{"-check", "-config", path}, &stdout, &stderr)
		if code != 0 || stdout.String() != "config OK: "+path+"\n" {
			t.Fatalf("-check %s: exit %d, stdout %q, stderr %q", in, code, stdout.String(), stderr.String())
		}
		if wantErr == "" && stderr.Len() != 0 || !strings.HasPrefix(stderr.String(), wantErr) || strings.Count(stderr.String(), "\n") > 1 {
			t.Fatalf("-check %s: stderr %q; want one line starting %q", in, stderr.String(), wantErr)
		}
	}
	// No hard limit holds 2^31-1 connections (Linux caps it at fs.nr_open, at most 2^30).
	f("big.toml", "[server]\nmax_connections = 2147483647\n"+minimal, filepath.Join(dir, "big.toml")+":2: server.max_connections: warning: 2147483647 connections need up to ")
	f("big.json", `{"max_connections": 2147483647, "backend_servers": [{"host": "127.0.0.1", "port": 8001}]}`,
		filepath.Join(dir, "big.json")+":1: max_connections: warning: 2147483647 connections need up to ")
	f("one.toml", "[server]\nmax_connections = 1\n"+minimal, "")
	f("auto.toml", minimal, "")
}

// TestApplyBudgetLogs: start and reload log the auto value, and the warning
// with where the key is.
func TestApplyBudgetLogs(t *testing.T) {
	soft, _, err := nofile()
	if err != nil {
		t.Fatal(err)
	}
	f := func(in string, wantMax int, want ...string) {
		t.Helper()
		c, err := parse("c.toml", []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		applyBudget(slog.New(slog.NewTextHandler(&logs, nil)), c)
		if c.Engine.MaxConnections != wantMax {
			t.Fatalf("max_connections %d; want %d", c.Engine.MaxConnections, wantMax)
		}
		for _, w := range want {
			if !strings.Contains(logs.String(), w) {
				t.Fatalf("logs lack %q:\n%s", w, logs.String())
			}
		}
	}
	auto := autoMaxConnections(soft, 67)
	f("[server]\nevent_loops = 1\n"+minimal, auto, "level=INFO", "max_connections auto",
		fmt.Sprintf("max_connections=%d descriptor_limit=%d reserve=67", auto, soft))
	f("[server]\nevent_loops = 1\nmax_connections = 2147483647\n"+minimal, 1<<31-1,
		"level=WARN", `"max_connections does not fit in the file descriptor limit" at=c.toml:3 key=server.max_connections problem="2147483647 connections need up to`)
}

// TestReloadSizesMaxConnections: a reload sizes an auto max_connections as
// start does and keeps an explicit one.
func TestReloadSizesMaxConnections(t *testing.T) {
	soft, _, err := nofile()
	if err != nil {
		t.Fatal(err)
	}
	b := startTestBackend(t, "b1", 0)
	dir := t.TempDir()
	listen := freeAddr(t)
	path := adminConfig(t, dir, listen, "round_robin", "", b.addr)
	r := startApp(t, path)
	f := func(server string, want int) {
		t.Helper()
		adminConfig(t, dir, listen, "round_robin", "", b.addr)
		in, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out := strings.Replace(string(in), "[server]\n", "[server]\n"+server, 1)
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, m := r.call(t, "POST", "/api/reload", ""); code != 200 {
			t.Fatalf("reload: %d %v", code, m)
		}
		_, m := r.call(t, "GET", "/api/config", "")
		srv, _ := m["server"].(map[string]any)
		if got, _ := srv["max_connections"].(float64); int(got) != want {
			t.Fatalf("after a reload with %q: max_connections %v; want %d", server, srv["max_connections"], want)
		}
	}
	f("max_connections = 7\n", 7)
	f("", autoMaxConnections(soft, 67)) // adminConfig sets event_loops = 1
	f("max_connections = 0\n", autoMaxConnections(soft, 67))
}

// TestDescriptorExhaustion runs the binary under prlimit --nofile=256:256
// with a max_connections of 1000, which needs about 2,070 descriptors, in
// front of a slow backend, and opens 1,000 client connections at once, each
// sending a request. Every client must get a response (200, or 503 at
// max_connections) or a refused or closed connection; none may hang. The
// process must still run afterwards, serve a fresh request with 200, and
// have counted the refused accepts in loopgate_accept_errors_total.
//
// The budget: about 240 free descriptors hold some 115 exchanges in flight,
// so 1,000 requests of 1.5s each take about 13s if loopgate serves at its
// limit; clients give up after 14s.
func TestDescriptorExhaustion(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	if testing.Short() {
		t.Skip("opens 1,000 connections for about 15s")
	}
	bin, dir := buildUpgradeBinary(t)
	backend := startTestBackend(t, "slow", 1500*time.Millisecond)
	proxy, admin := freeAddr(t), freeAddr(t)
	cfg := writeConfig(t, dir, "loopgate.toml", fmt.Sprintf("[server]\nlisten = %q\nevent_loops = 1\nmax_connections = 1000\n"+
		"access_log = false\nshutdown_grace = \"2s\"\n\n[admin]\nlisten = %q\n\n[[pool]]\nname = \"web\"\nalgorithm = \"round_robin\"\n"+
		"  [[pool.backend]]\n  address = %q\n", proxy, admin, backend.addr))
	limited := func(args ...string) *exec.Cmd {
		return exec.Command(prlimit, append([]string{"--nofile=256:256", bin}, args...)...)
	}

	// -check sees the same limit: a warning, and exit 0.
	out, err := limited("-check", "-config", cfg).CombinedOutput()
	warn := cfg + ":4: server.max_connections: warning: 1000 connections need up to 2067 file descriptors (2 each + 67 in reserve) " +
		"but the limit (RLIMIT_NOFILE) is 256; raise it to at least 2067 (ulimit -n, or LimitNOFILE= in the systemd unit), " +
		"or lower max_connections to 94, or remove it (auto fits the limit)\n"
	if err != nil || string(out) != warn+"config OK: "+cfg+"\n" {
		t.Errorf("loopgate -check under prlimit: %v\n%s\nwant:\n%sconfig OK: %s", err, out, warn, cfg)
	}

	logPath := filepath.Join(dir, "loopgate.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := limited("-config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		if t.Failed() || testing.Verbose() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = append(b[:4000:4000], append([]byte("\n...\n"), b[len(b)-4000:]...)...)
			}
			t.Logf("loopgate log:\n%s", b)
		}
	})
	metrics := func() (string, error) {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + admin + "/metrics")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("GET /metrics: %d %q", resp.StatusCode, b)
		}
		return string(b), err
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("loopgate exited at start: %v", waitErr)
		default:
		}
		if _, err := metrics(); err == nil {
			break
		} else if time.Now().After(end) {
			t.Fatalf("loopgate's admin listener does not answer: %v", err)
		}
	}
	logs, _ := os.ReadFile(logPath)
	for _, want := range []string{`msg="file descriptor limit" soft=256 hard=256`,
		`msg="max_connections does not fit in the file descriptor limit" at=` + cfg + `:4 key=server.max_connections`} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("the start log lacks %q", want)
		}
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid)); err == nil {
		t.Logf("loopgate holds %d descriptors at rest (limit 256)", len(fds))
	}

	// The burst: every client connects and sends its request at once.
	const clients = 1000
	results := make([]string, clients)
	var ready, done sync.WaitGroup
	startBurst := make(chan struct{})
	deadline := time.Now().Add(time.Hour) // set before startBurst is closed
	for i := range clients {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-startBurst
			results[i] = burstClient(proxy, deadline)
		}()
	}
	ready.Wait()
	began := time.Now()
	deadline = began.Add(14 * time.Second)
	close(startBurst)
	done.Wait()
	tally := map[string]int{}
	for _, r := range results {
		tally[r]++
	}
	t.Logf("%d clients in %v: %v", clients, time.Since(began).Round(time.Millisecond), tally)
	for r, n := range tally {
		switch r {
		case "200", "503", "refused", "closed":
		default:
			t.Errorf("%d of %d clients: %s; want a 200 or 503 response, or a refused or closed connection", n, clients, r)
		}
	}
	if tally["200"] == 0 {
		t.Errorf("no client got a 200: %v", tally)
	}

	select {
	case <-exited:
		t.Fatalf("loopgate exited under the burst (%v); it must back off instead", waitErr)
	default:
	}

	// The load is gone: a fresh request is served.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for end := time.Now().Add(8 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := c.Get("http://" + proxy + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(end) {
			t.Fatalf("a fresh request after the burst: %v", err)
		}
	}

	m, err := metrics()
	if err != nil {
		t.Fatalf("admin /metrics after the burst: %v", err)
	}
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "loopgate_errors_total{") {
			t.Logf("%s", line) // which error answers the burst got, by reason
		}
	}
	n, found := metricValue(m, "loopgate_accept_errors_total")
	switch {
	case !found:
		t.Errorf("/metrics has no loopgate_accept_errors_total: the engine's accept back-off counter has not landed yet")
	case n <= 0:
		t.Errorf("loopgate_accept_errors_total = %v after the burst; want > 0", n)
	default:
		t.Logf("loopgate_accept_errors_total = %v", n)
	}
}

// burstClient sends one request on a new connection and says what became of
// it: the response's status code, "refused", "closed" (by the server, before
// a complete response), "timeout", or another error.
func burstClient(addr string, deadline time.Time) string {
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return "refused"
		}
		return connOutcome("dial", err)
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: loopgate\r\nConnection: close\r\n\r\n"); err != nil {
		return connOutcome("write", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return connOutcome("read", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Sprintf("%d with a cut body (%v)", resp.StatusCode, err)
	}
	return strconv.Itoa(resp.StatusCode)
}

// connOutcome names what err did to a connection in burstClient.
func connOutcome(op string, err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout (" + op + ")"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "closed"
	}
	return op + ": " + err.Error()
}

// metricValue finds a metric in a Prometheus text exposition, summing its
// series, and reports whether it is there.
func metricValue(text, name string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name) || len(line) == len(name) || line[len(name)] != ' ' && line[len(name)] != '{' {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		sum, found = sum+v, true
	}
	return sum, found
}
