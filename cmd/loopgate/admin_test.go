package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// testBackend is a loopback backend that names itself in X-Backend and
// counts what it served; delay slows every answer.
type testBackend struct {
	name   string
	addr   string
	served atomic.Int64
	delay  time.Duration
}

func startTestBackend(t *testing.T, name string, delay time.Duration) *testBackend {
	t.Helper()
	b := &testBackend{name: name, delay: delay}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.served.Add(1)
		if b.delay > 0 {
			time.Sleep(b.delay)
		}
		w.Header().Set("X-Backend", b.name)
		io.WriteString(w, b.name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

// adminPorts keeps one admin port per config directory, so that a config
// rewritten for a reload keeps its admin listener.
var adminPorts = portsByDir{m: map[string]string{}}

type portsByDir struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *portsByDir) get(t *testing.T, dir string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[dir] == "" {
		p.m[dir] = freeAddr(t)
	}
	return p.m[dir]
}

// adminConfig writes a config file with one pool "web" of backends and
// returns its path. extra is appended (more sections).
func adminConfig(t *testing.T, dir, listen, alg string, extra string, backends ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nlisten = %q\nevent_loops = 1\naccess_log = false\nshutdown_grace = \"2s\"\n\n", listen)
	fmt.Fprintf(&b, "[[pool]]\nname = \"web\"\nalgorithm = %q\n", alg)
	for _, a := range backends {
		fmt.Fprintf(&b, "  [[pool.backend]]\n  address = %q\n", a)
	}
	b.WriteString(extra)
	if !strings.Contains(extra, "[admin]") {
		fmt.Fprintf(&b, "\n[admin]\nlisten = %q\n", adminPorts.get(t, dir))
	}
	path := filepath.Join(dir, "loopgate.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runningApp is a loopgate started in-process the way serve starts it,
// with the admin listener on a free loopback port.
type runningApp struct {
	*app
	proxy string // host:port
	admin string // http://host:port
	stop  func()
}

func startApp(t *testing.T, path string) *runningApp {
	t.Helper()
	return startAppWith(t, path, nil)
}

// startAppWith is startApp with adjust applied to the loaded config, as
// run applies the command line's flags.
func startAppWith(t *testing.T, path string, adjust func(*Config)) *runningApp {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(cfg)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("LOOPGATE_E2E_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	a, err := newApp(cfg, path, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.srv.Run() }()
	<-a.srv.Ready()
	if a.srv.Addr() == nil {
		t.Fatalf("proxy did not start: %v", <-errc)
	}
	if err := a.listenAdmin(); err != nil {
		t.Fatal(err)
	}
	a.st.Start()
	a.tls.run(log, cfg.TLS)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			a.tls.stop()
			a.stopAdmin()
			a.st.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a.srv.Shutdown(ctx)
			<-errc
			a.closeLog()
		})
	}
	t.Cleanup(stop)
	admin := ""
	if a.adminAddr != nil {
		admin = "http://" + a.adminAddr.String()
	}
	return &runningApp{app: a, proxy: a.srv.Addr().String(), admin: admin, stop: stop}
}

// call makes an admin request and decodes the JSON answer into a map.
func (r *runningApp) call(t *testing.T, method, path, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, r.admin+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(data)) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, m
}

// load runs keep-alive clients against the proxy until stop is closed and
// counts every answer per backend and every failure.
type load struct {
	mu       sync.Mutex
	byName   map[string]int
	failures []string
	total    atomic.Int64
	wg       sync.WaitGroup
	stop     chan struct{}
}

func startLoad(t *testing.T, proxy string, clients int) *load {
	l := &load{byName: map[string]int{}, stop: make(chan struct{})}
	deadline := time.Now().Add(30 * time.Second) // a bound even if the test forgets to stop it
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			for time.Now().Before(deadline) {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := c.Get("http://" + proxy + "/")
				l.total.Add(1)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					l.fail(fmt.Sprintf("status %d body %q err %v", resp.StatusCode, body, err))
					continue
				}
				l.mu.Lock()
				l.byName[resp.Header.Get("X-Backend")]++
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) fail(s string) {
	l.mu.Lock()
	l.failures = append(l.failures, s)
	l.mu.Unlock()
}

func (l *load) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byName[name]
}

func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if len(l.failures) > 0 {
		t.Fatalf("%d of %d requests failed; first: %s", len(l.failures), l.total.Load(), l.failures[0])
	}
	if l.total.Load() == 0 {
		t.Fatal("no request was made")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestAdminUnderLoad adds a backend, drains one with requests in flight,
// removes it, all under steady load with zero client errors.
func TestAdminUnderLoad(t *testing.T) {
	b1 := startTestBackend(t, "b1", 50*time.Millisecond) // slow: drains with requests in flight
	b2 := startTestBackend(t, "b2", 0)
	b3 := startTestBackend(t, "b3", 0)
	b4 := startTestBackend(t, "b4", 0)
	r := startApp(t, adminConfig(t, t.TempDir(), freeAddr(t), "round_robin", "", b1.addr, b2.addr, b3.addr))
	l := startLoad(t, r.proxy, 6)
	waitUntil(t, "traffic on b1", func() bool { return l.count("b1") > 3 })

	code, m := r.call(t, "POST", "/api/pools/web/backends", `{"address": "`+b4.addr+`", "weight": 2}`)
	if code != 201 || m["address"] != b4.addr {
		t.Fatalf("add: %d %v", code, m)
	}
	waitUntil(t, "traffic on the added backend", func() bool { return l.count("b4") > 10 })

	code, m = r.call(t, "POST", "/api/pools/web/backends/"+b1.addr+"/drain?wait=5s", "")
	if code != 200 || m["empty"] != true || m["in_flight"] != float64(0) || m["draining"] != true {
		t.Fatalf("drain: %d %v", code, m)
	}
	servedAtDrain := b1.served.Load()
	time.Sleep(300 * time.Millisecond)
	if n := b1.served.Load(); n != servedAtDrain {
		t.Fatalf("drained backend got %d new requests", n-servedAtDrain)
	}
	_, status := r.call(t, "GET", "/api/status", "")
	if s := backendField(t, status, b1.addr, "state"); s != "draining" {
		t.Fatalf("drained backend state %v; want draining", s)
	}

	code, m = r.call(t, "DELETE", "/api/pools/web/backends/"+b1.addr, "")
	if code != 200 || m["removed"] != true {
		t.Fatalf("remove: %d %v", code, m)
	}
	before := l.count("b2")
	waitUntil(t, "traffic after the removal", func() bool { return l.count("b2") > before+10 })
	l.finish(t)
}

// backendField finds the backend at addr in an /api/status answer.
func backendField(t *testing.T, status map[string]any, addr, field string) any {
	t.Helper()
	for _, p := range status["pools"].([]any) {
		for _, b := range p.(map[string]any)["backends"].([]any) {
			if bm := b.(map[string]any); bm["address"] == addr {
				return bm[field]
			}
		}
	}
	t.Fatalf("backend %s not in status", addr)
	return nil
}

func TestAdminRefusesBadInput(t *testing.T) {
	b1 := startTestBackend(t, "b1", 0)
	b2 := startTestBackend(t, "b2", 0)
	r := startApp(t, adminConfig(t, t.TempDir(), freeAddr(t), "round_robin", "", b1.addr))
	f := func(method, path, body string, want int, wantErr string) {
		t.Helper()
		code, m := r.call(t, method, path, body)
		msg, _ := m["error"].(string)
		if code != want || !strings.Contains(msg, wantErr) {
			t.Fatalf("%s %s %s: %d %q; want %d with %q", method, path, body, code, msg, want, wantErr)
		}
	}
	f("POST", "/api/pools/nope/backends", `{"address": "`+b2.addr+`"}`, 404, "unknown pool")
	f("POST", "/api/pools/web/backends", `{"address": "`+b1.addr+`"}`, 409, "already in pool")
	f("POST", "/api/pools/web/backends", `{"address": "127.0.0.1"}`, 400, "invalid backend")
	f("POST", "/api/pools/web/backends", `{"address": "127.0.0.1:0"}`, 400, "invalid backend")
	f("POST", "/api/pools/web/backends", `{"address": "`+b2.addr+`", "weight": 1001}`, 400, "weight")
	f("POST", "/api/pools/web/backends", `{"address": "`+b2.addr+`", "weight": -1}`, 400, "weight")
	f("POST", "/api/pools/web/backends", `{"address": "`+b2.addr+`", "wieght": 2}`, 400, "unknown field")
	f("POST", "/api/pools/web/backends", `{"address": `, 400, "cannot decode")
	f("POST", "/api/pools/web/backends", ``, 400, "empty")
	f("DELETE", "/api/pools/web/backends/127.0.0.1:1", "", 404, "unknown backend")
	f("DELETE", "/api/pools/web/backends/"+b1.addr, "", 409, "last backend")
	f("PATCH", "/api/pools/web/backends/"+b1.addr, `{"weight": 5000}`, 400, "weight")
	f("PATCH", "/api/pools/web/backends/"+b1.addr, `{}`, 400, "weight is required")
	f("POST", "/api/pools/web/backends/127.0.0.1:1/drain", "", 404, "unknown backend")
	f("POST", "/api/pools/web/backends/"+b1.addr+"/drain?wait=forever", "", 400, "wait")
	// Nothing changed.
	pools := r.srv.Pools()
	if len(pools) != 1 || len(pools[0].Backends) != 1 || pools[0].Backends[0].Address != b1.addr ||
		pools[0].Backends[0].WeightOf() != 1 || pools[0].Backends[0].Drained {
		t.Fatalf("after refused calls: %+v", pools)
	}
	if _, err := os.Stat(statePath(r.cfg, r.path)); err == nil {
		t.Fatal("refused calls wrote a state file")
	}

	// The good ones.
	if code, m := r.call(t, "PATCH", "/api/pools/web/backends/"+b1.addr, `{"weight": 7}`); code != 200 || m["weight"] != float64(7) {
		t.Fatalf("patch: %d %v", code, m)
	}
	if code, m := r.call(t, "POST", "/upload_server", `{"server": "http://`+b2.addr+`"}`); code != 201 || m["server"] != b2.addr {
		t.Fatalf("seed upload: %d %v", code, m)
	}
	if code, _ := r.call(t, "POST", "/upload_server", `{"server": "https://`+b2.addr+`"}`); code != 400 {
		t.Fatalf("seed upload of https: %d; want 400", code)
	}
	if code, m := r.call(t, "DELETE", "/delete_server", `{"server": "http://`+b2.addr+`"}`); code != 200 || m["server"] != b2.addr {
		t.Fatalf("seed delete: %d %v", code, m)
	}
	if code, _ := r.call(t, "DELETE", "/delete_server?server="+b2.addr, ""); code != 404 {
		t.Fatalf("seed delete of a removed server: %d; want 404", code)
	}
}

// TestAdminAuth: with a token, mutating calls need it; reads too unless
// public_read; failures are counted.
func TestAdminAuth(t *testing.T) {
	b1 := startTestBackend(t, "b1", 0)
	b2 := startTestBackend(t, "b2", 0)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	r := startApp(t, adminConfig(t, dir, freeAddr(t), "round_robin",
		"\n[admin]\nlisten = \""+freeAddr(t)+"\"\ntoken_file = \""+tokenFile+"\"\n", b1.addr))
	add := `{"address": "` + b2.addr + `"}`
	if code, _ := r.call(t, "POST", "/api/pools/web/backends", add); code != 401 {
		t.Fatalf("no token: %d; want 401", code)
	}
	if code, _ := r.call(t, "POST", "/api/pools/web/backends", add, "Authorization", "Bearer wrong"); code != 401 {
		t.Fatalf("wrong token: %d; want 401", code)
	}
	if code, _ := r.call(t, "GET", "/api/status", ""); code != 401 {
		t.Fatalf("read without token, public_read off: %d; want 401", code)
	}
	if code, _ := r.call(t, "POST", "/api/pools/web/backends", add, "Authorization", "Bearer s3cret"); code != 201 {
		t.Fatalf("right token: %d; want 201", code)
	}
	if code, _ := r.call(t, "GET", "/api/status", "", "Authorization", "Bearer s3cret"); code != 200 {
		t.Fatalf("read with token: %d", code)
	}
	var prom bytes.Buffer
	r.st.WritePrometheus(&prom, nil)
	if !strings.Contains(prom.String(), "loopgate_admin_auth_failures_total 3\n") {
		t.Fatalf("auth failures not counted:\n%s", prom.String())
	}
}

// TestAdminChangesSurviveRestart: add, reweight, drain, remove; a new
// process on the same config file runs with all of it.
func TestAdminChangesSurviveRestart(t *testing.T) {
	b1 := startTestBackend(t, "b1", 0)
	b2 := startTestBackend(t, "b2", 0)
	b3 := startTestBackend(t, "b3", 0)
	dir := t.TempDir()
	path := adminConfig(t, dir, freeAddr(t), "round_robin", "", b1.addr, b2.addr)
	r := startApp(t, path)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/pools/web/backends", `{"address": "` + b3.addr + `", "weight": 3}`},
		{"PATCH", "/api/pools/web/backends/" + b2.addr, `{"weight": 5}`},
		{"POST", "/api/pools/web/backends/" + b2.addr + "/drain", ``},
		{"DELETE", "/api/pools/web/backends/" + b1.addr, ``},
	} {
		if code, m := r.call(t, c.method, c.path, c.body); code >= 300 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, code, m)
		}
	}
	want := r.srv.Pools()[0].Backends
	r.stop()

	r2 := startApp(t, path)
	got := r2.srv.Pools()[0].Backends
	if len(got) != 2 || got[0].Address != b2.addr || got[0].WeightOf() != 5 || !got[0].Drained ||
		got[1].Address != b3.addr || got[1].WeightOf() != 3 || got[1].Drained {
		t.Fatalf("after restart: %+v; before: %+v", got, want)
	}
	// Undrain is a change too, and the config file was never touched.
	if code, _ := r2.call(t, "POST", "/api/pools/web/backends/"+b2.addr+"/undrain", ""); code != 200 {
		t.Fatalf("undrain: %d", code)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), b3.addr) {
		t.Fatal("the config file was rewritten")
	}
	_, cfg := r2.call(t, "GET", "/api/config", "")
	pools := cfg["pools"].([]any)
	bs := pools[0].(map[string]any)["backends"].([]any)
	if len(bs) != 2 || bs[0].(map[string]any)["drained"] != false || bs[1].(map[string]any)["weight"] != float64(3) {
		t.Fatalf("/api/config backends: %v", bs)
	}
}

// TestReloadUnderLoad changes the algorithm and the pool's members with a
// reload under load: zero client errors; a broken file is refused and
// nothing changes.
func TestReloadUnderLoad(t *testing.T) {
	b1 := startTestBackend(t, "b1", 0)
	b2 := startTestBackend(t, "b2", 0)
	b3 := startTestBackend(t, "b3", 0)
	dir := t.TempDir()
	listen := freeAddr(t)
	path := adminConfig(t, dir, listen, "round_robin", "", b1.addr, b2.addr)
	r := startApp(t, path)
	l := startLoad(t, r.proxy, 6)
	waitUntil(t, "traffic", func() bool { return l.count("b2") > 10 })

	adminConfig(t, dir, listen, "least_connections", "\n[timeouts]\nupstream_response = \"5s\"\n", b2.addr, b3.addr)
	if code, m := r.call(t, "POST", "/api/reload", ""); code != 200 {
		t.Fatalf("reload: %d %v", code, m)
	}
	if alg := r.srv.Status()[0].Algorithm; alg != "least_connections" {
		t.Fatalf("algorithm after reload %q", alg)
	}
	waitUntil(t, "traffic on the new member", func() bool { return l.count("b3") > 10 })
	servedB1 := b1.served.Load()
	time.Sleep(200 * time.Millisecond)
	if n := b1.served.Load(); n != servedB1 {
		t.Fatalf("the removed backend got %d requests after the reload", n-servedB1)
	}

	// A broken file: refused with its line, nothing changes.
	os.WriteFile(path, []byte("[server]\nlisten = \""+listen+"\"\n[[pool]]\nname = \"web\"\nalgorithm = \"fastest\"\n"), 0o644)
	code, m := r.call(t, "POST", "/api/reload", "")
	if msg, _ := m["error"].(string); code != 400 || !strings.Contains(msg, "loopgate.toml:5: pool[0].algorithm") {
		t.Fatalf("broken reload: %d %v", code, m)
	}
	if st := r.srv.Status()[0]; st.Algorithm != "least_connections" || len(st.Backends) != 2 {
		t.Fatalf("after a refused reload: %+v", st)
	}
	l.finish(t)
}

// TestMetricsOff: metrics = false (the seed's enable_metrics) turns off
// /metrics and the seed endpoints, which then reach the backends; the
// dashboard and /api stay.
func TestMetricsOff(t *testing.T) {
	b1 := startTestBackend(t, "b1", 0)
	dir := t.TempDir()
	path := adminConfig(t, dir, freeAddr(t), "round_robin", "", b1.addr)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(data), "access_log = false", "access_log = false\nmetrics = false", 1)), 0o644)
	r := startApp(t, path)
	if code, _ := r.call(t, "GET", "/metrics", ""); code != 404 {
		t.Fatalf("/metrics with metrics = false: %d; want 404", code)
	}
	if code, _ := r.call(t, "GET", "/api/metrics", ""); code != 200 {
		t.Fatalf("/api/metrics: %d; want 200", code)
	}
	resp, err := http.Get("http://" + r.proxy + "/__metrics__")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "b1" {
		t.Fatalf("/__metrics__ with metrics = false: %q; want the backend's answer", body)
	}
}

// TestAccessLogReopenOnUSR1: log rotation. The file is moved away, SIGUSR1
// makes loopgate write to a new one at the configured path.
func TestAccessLogReopenOnUSR1(t *testing.T) {
	b1 := startTestBackend(t, "b1", 0)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	path := adminConfig(t, dir, freeAddr(t), "round_robin", fmt.Sprintf("\n[access_log]\npath = %q\n", logPath), b1.addr)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(data), "access_log = false", "access_log = true", 1)), 0o644)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, path, slog.New(slog.DiscardHandler), io.Discard, func() {}) }()
	defer func() {
		cancel()
		<-done
	}()
	get := func(p string) {
		t.Helper()
		var resp *http.Response
		var err error
		for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if resp, err = http.Get("http://" + cfg.Engine.Listen + p); err == nil || time.Now().After(end) {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	has := func(file, p string) bool {
		b, _ := os.ReadFile(file)
		return bytes.Contains(b, []byte(`"target":"`+p+`"`))
	}
	get("/before")
	waitUntil(t, "the first line", func() bool { return has(logPath, "/before") })
	rotated := logPath + ".1"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	waitUntil(t, "a new file", func() bool { _, err := os.Stat(logPath); return err == nil })
	get("/after")
	waitUntil(t, "the line after the rotation", func() bool { return has(logPath, "/after") })
	if has(rotated, "/after") || !has(rotated, "/before") {
		t.Fatal("lines went to the wrong file")
	}
}

// TestSeedAddress: a seed server URL's scheme must be its pool's.
func TestSeedAddress(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		tls, ok   bool
	}{
		{"http://h:1/", "h:1", false, true},
		{"http://h", "h:80", false, true},
		{"h:1", "h:1", false, true},
		{"https://h:1", "", false, false},
		{"https://h", "h:443", true, true},
		{"https://h:8443/", "h:8443", true, true},
		{"h:1", "h:1", true, true},
		{"http://h:1", "", true, false},
		{"ftp://h:1", "", false, false},
	} {
		got, err := seedAddress(tc.raw, tc.tls)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("seedAddress(%q, tls %v) = %q, %v; want %q, ok %v", tc.raw, tc.tls, got, err, tc.want, tc.ok)
		}
	}
}
