package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// upgradeGrace is shutdown_grace in these tests: the old process must be
// gone within it.
const upgradeGrace = 5 * time.Second

// chain is a loopgate binary built for the test and the files of one
// running chain of processes (the first one and its successors).
type chain struct {
	t       *testing.T
	bin     string
	dir     string
	config  string
	pidfile string
	log     *os.File
	addr    string // the proxy's listen address
	admin   string
	first   *exec.Cmd
	exited  chan error // the first process's Wait
}

// buildUpgradeBinary builds this package's binary into a temporary directory.
func buildUpgradeBinary(t *testing.T) (bin, dir string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, "loopgate")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin, dir
}

// startOKBackends starts n loopback backends that answer "ok".
func startOKBackends(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		addrs = append(addrs, startTestBackend(t, "ok", 0).addr)
	}
	return addrs
}

// upgradeConfig is a loopgate config for the backends on addr.
func upgradeConfig(addr, admin string, reusePort bool, backends []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[server]\nlisten = %q\nevent_loops = 2\nreuse_port = %v\nshutdown_grace = %q\naccess_log = false\nmetrics = false\n\n",
		addr, reusePort, upgradeGrace.String())
	fmt.Fprintf(&b, "[admin]\nlisten = %q\n\n[[pool]]\nname = \"web\"\nalgorithm = \"round_robin\"\n", admin)
	for _, be := range backends {
		fmt.Fprintf(&b, "  [[pool.backend]]\n  address = %q\n", be)
	}
	return b.String()
}

// startChain writes a config and starts the first process of a chain,
// waiting until it answers and has written its pidfile.
func startChain(t *testing.T, reusePort bool) *chain {
	t.Helper()
	bin, dir := buildUpgradeBinary(t)
	p := &chain{t: t, bin: bin, dir: dir, config: filepath.Join(dir, "config.toml"), pidfile: filepath.Join(dir, "loopgate.pid"),
		addr: freeAddr(t), admin: freeAddr(t), exited: make(chan error, 1)}
	if err := os.WriteFile(p.config, []byte(upgradeConfig(p.addr, p.admin, reusePort, startOKBackends(t, 3))), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if p.log, err = os.Create(filepath.Join(dir, "loopgate.log")); err != nil {
		t.Fatal(err)
	}
	p.first = exec.Command(bin, "-config", p.config, "-pidfile", p.pidfile)
	p.first.Stdout, p.first.Stderr = p.log, p.log // files, so successors share them and Wait does not wait for them
	if err := p.first.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.first.Wait() }()
	t.Cleanup(p.stop)
	pid := p.waitPid(func(pid int) bool { return pid == p.first.Process.Pid }, 10*time.Second)
	if pid == 0 {
		t.Fatal("loopgate did not write its pidfile")
	}
	if err := getOnce(p.addr); err != nil {
		t.Fatalf("loopgate does not answer: %v", err)
	}
	return p
}

// stop ends the chain: SIGTERM to the process the pidfile names, then to
// the first one if it is still there; SIGKILL after 10s. On failure it
// shows the processes' log.
func (p *chain) stop() {
	var pids []int
	if pid, _, err := readPidfile(p.pidfile); err == nil {
		pids = append(pids, pid)
	}
	pids = append(pids, p.first.Process.Pid)
	for _, pid := range pids {
		if running(pid) {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	for _, pid := range pids {
		if !waitExited(pid, 10*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if p.t.Failed() || testing.Verbose() {
		b, _ := os.ReadFile(p.log.Name())
		p.t.Logf("loopgate log:\n%s", b)
	}
	p.log.Close()
}

// waitPid polls the pidfile until ok accepts the pid in it, and returns it
// (0 on timeout).
func (p *chain) waitPid(ok func(int) bool, d time.Duration) int {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if pid, _, err := readPidfile(p.pidfile); err == nil && ok(pid) {
			return pid
		}
	}
	return 0
}

// waitExited waits until pid has exited (or is a zombie).
func waitExited(pid int, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if !running(pid) {
			return true
		}
	}
	return false
}

// requestOnce is one GET on c; it reports whether the server closes after it.
func requestOnce(c net.Conn, r *bufio.Reader) (closeAfter bool, err error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: loopgate\r\n\r\n"); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return false, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != 200 || string(body) != "ok" {
		return false, fmt.Errorf("got %d %q", resp.StatusCode, body)
	}
	return resp.Close, nil
}

// getOnce makes one request on a new connection.
func getOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = requestOnce(c, bufio.NewReader(c))
	return err
}

// upgradeLoad sends requests from several goroutines until stopped: keep-alive
// clients that open a new connection only when the server closes theirs
// after a response, and clients that open one per request. Nothing is
// retried: every connection error, reset, early close or non-200 counts as
// a failure.
type upgradeLoad struct {
	sent, failed, conns atomic.Int64
	mu                  sync.Mutex
	errs                []string
	stop                chan struct{}
	wg                  sync.WaitGroup
}

func startUpgradeLoad(addr string) *upgradeLoad {
	l := &upgradeLoad{stop: make(chan struct{})}
	deadline := time.Now().Add(40 * time.Second) // bounds every client even if stop is never called
	fail := func(err error) {
		l.failed.Add(1)
		l.mu.Lock()
		if len(l.errs) < 10 {
			l.errs = append(l.errs, err.Error())
		}
		l.mu.Unlock()
	}
	for i := range 6 {
		keepAlive := i%2 == 0
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var c net.Conn
			var r *bufio.Reader
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for time.Now().Before(deadline) {
				select {
				case <-l.stop:
					return
				default:
				}
				if c == nil {
					var err error
					if c, err = net.DialTimeout("tcp", addr, 5*time.Second); err != nil {
						l.sent.Add(1)
						fail(err)
						c = nil
						time.Sleep(10 * time.Millisecond)
						continue
					}
					l.conns.Add(1)
					r = bufio.NewReader(c)
				}
				l.sent.Add(1)
				closeAfter, err := requestOnce(c, r)
				if err != nil {
					fail(err)
				}
				if err != nil || closeAfter || !keepAlive {
					c.Close()
					c = nil
				}
				if keepAlive {
					time.Sleep(500 * time.Microsecond)
				} else {
					time.Sleep(2 * time.Millisecond) // spare the ephemeral ports
				}
			}
		}()
	}
	return l
}

// finishOnce is finish unless it has run: a test defers it so that a
// Fatal between start and finish still stops the load.
func (l *upgradeLoad) finishOnce(t *testing.T) {
	select {
	case <-l.stop:
	default:
		l.finish(t)
	}
}

// finish stops the load and fails t if any request failed.
func (l *upgradeLoad) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("load: %d requests on %d connections, %d failed", l.sent.Load(), l.conns.Load(), l.failed.Load())
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed; first errors: %q", n, l.sent.Load(), l.errs)
	}
	if l.sent.Load() < 500 {
		t.Errorf("only %d requests were sent", l.sent.Load())
	}
}

// TestUpgradeUnderLoad upgrades a loopgate twice under load: once with
// `loopgate -upgrade`, once with SIGUSR2 to the process that took over the
// first time (so the second upgrade meets the steering the first left). No
// request fails, each old process exits within shutdown_grace, and the
// pidfile names the process that serves.
func TestUpgradeUnderLoad(t *testing.T) {
	p := startChain(t, true)
	l := startUpgradeLoad(p.addr)
	defer l.finishOnce(t)
	time.Sleep(time.Second)

	// First upgrade, through the command line.
	old := p.first.Process.Pid
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(p.bin, "-upgrade", "-pidfile", p.pidfile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("loopgate -upgrade: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	handedOver := time.Now()
	pid1, _, err := readPidfile(p.pidfile)
	if err != nil || pid1 == old || !running(pid1) {
		t.Fatalf("after the upgrade the pidfile names %d (%v); the old process was %d", pid1, err, old)
	}
	if want := fmt.Sprintf("process %d took over from process %d", pid1, old); !strings.Contains(stdout.String(), want) {
		t.Fatalf("loopgate -upgrade said %q; want %q", stdout.String(), want)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("the old process exited with %v", err)
		}
		t.Logf("old process %d exited %v after the handover", old, time.Since(handedOver).Round(time.Millisecond))
	case <-time.After(upgradeGrace):
		t.Fatalf("the old process %d is still running %v after the handover", old, upgradeGrace)
	}
	time.Sleep(500 * time.Millisecond) // the new process alone serves the load

	// Second upgrade, by signal, of the process that took over.
	if err := syscall.Kill(pid1, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	pid2 := p.waitPid(func(pid int) bool { return pid != pid1 && running(pid) }, 10*time.Second)
	if pid2 == 0 {
		t.Fatalf("no process took over from %d", pid1)
	}
	handedOver = time.Now()
	if !waitExited(pid1, upgradeGrace) {
		t.Fatalf("the old process %d is still running %v after the handover", pid1, upgradeGrace)
	}
	t.Logf("old process %d exited %v after the handover", pid1, time.Since(handedOver).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	l.finish(t)

	// The process the pidfile names serves, on the proxy and admin ports.
	if pid, _, _ := readPidfile(p.pidfile); pid != pid2 || !running(pid2) {
		t.Fatalf("the pidfile names %d; want the running %d", pid, pid2)
	}
	if err := getOnce(p.addr); err != nil {
		t.Fatalf("after two upgrades: %v", err)
	}
	if err := adminResponds(p.admin); err != nil {
		t.Fatalf("admin listener after two upgrades: %v", err)
	}
}

// adminResponds checks that an HTTP server answers on addr.
func adminResponds(addr string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/api/status")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestUpgradeFailingSuccessor: the new process cannot start (the config
// file was broken in the meantime); the old one says so, keeps serving
// without a failed request, and can still be upgraded once the file is
// fixed.
func TestUpgradeFailingSuccessor(t *testing.T) {
	p := startChain(t, true)
	good, err := os.ReadFile(p.config)
	if err != nil {
		t.Fatal(err)
	}
	l := startUpgradeLoad(p.addr)
	time.Sleep(500 * time.Millisecond)

	if err := os.WriteFile(p.config, []byte("[server\nlisten = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pid, before, err := readPidfile(p.pidfile)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	// A failed upgrade rewrites the pidfile with the same pid.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		now, st, err := readPidfile(p.pidfile)
		if err == nil && now == pid && !os.SameFile(before, st) {
			break
		}
		if err == nil && now != pid {
			t.Fatalf("process %d took over with a broken config", now)
		}
		if time.Now().After(end) {
			t.Fatal("the failed upgrade was not reported in the pidfile")
		}
	}
	time.Sleep(time.Second)
	l.finish(t)
	if !running(pid) {
		t.Fatalf("process %d stopped", pid)
	}
	if b, _ := os.ReadFile(p.log.Name()); !bytes.Contains(b, []byte("upgrade failed; still serving")) {
		t.Fatalf("the log does not tell the failure:\n%s", b)
	}
	if err := adminResponds(p.admin); err != nil {
		t.Fatalf("admin listener after the failed upgrade: %v", err)
	}

	// With the file fixed, the same process upgrades.
	if err := os.WriteFile(p.config, good, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(p.bin, "-upgrade", "-pidfile", p.pidfile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("loopgate -upgrade after the fix: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if err := getOnce(p.addr); err != nil {
		t.Fatalf("after the upgrade: %v", err)
	}
}

// TestUpgradeRefusedWithoutReusePort: with reuse_port off, -upgrade refuses
// before signalling, and a SIGUSR2 is refused by the process itself, which
// serves on.
func TestUpgradeRefusedWithoutReusePort(t *testing.T) {
	p := startChain(t, false)
	pid, before, err := readPidfile(p.pidfile)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(p.bin, "-upgrade", "-pidfile", p.pidfile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "reuse_port is false") {
		t.Fatalf("loopgate -upgrade: %v, stderr %q; want exit 1 naming reuse_port", err, stderr.String())
	}

	if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if now, st, err := readPidfile(p.pidfile); err == nil && now == pid && !os.SameFile(before, st) {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the refused upgrade was not reported in the pidfile")
		}
	}
	if b, _ := os.ReadFile(p.log.Name()); !bytes.Contains(b, []byte("reuse_port is false in the running config")) {
		t.Fatalf("the log does not tell why:\n%s", b)
	}
	if err := getOnce(p.addr); err != nil || !running(pid) {
		t.Fatalf("after the refused upgrade: %v (running: %v)", err, running(pid))
	}
}

// TestHangupReloadsOrUpgrades: SIGHUP applies a pool change in place (same
// process), and a change only a new process can apply (the access log) by
// an upgrade, under load with zero failures either way.
func TestHangupReloadsOrUpgrades(t *testing.T) {
	p := startChain(t, true)
	l := startUpgradeLoad(p.addr)
	defer l.finishOnce(t)
	time.Sleep(300 * time.Millisecond)
	first := p.first.Process.Pid
	conf, err := os.ReadFile(p.config)
	if err != nil {
		t.Fatal(err)
	}

	// In place: another algorithm.
	edited := strings.Replace(string(conf), `algorithm = "round_robin"`, `algorithm = "least_connections"`, 1)
	os.WriteFile(p.config, []byte(edited), 0o644)
	syscall.Kill(first, syscall.SIGHUP)
	waitLog(t, p, "configuration reloaded")
	if pid, _, _ := readPidfile(p.pidfile); pid != first {
		t.Fatalf("an in-place reload changed the process: pidfile %d, first %d", pid, first)
	}

	// A new process: the access log goes to a file now.
	logPath := filepath.Join(p.dir, "access.log")
	edited = strings.Replace(edited, "access_log = false", "access_log = true", 1) + fmt.Sprintf("\n[access_log]\npath = %q\n", logPath)
	os.WriteFile(p.config, []byte(edited), 0o644)
	syscall.Kill(first, syscall.SIGHUP)
	next := p.waitPid(func(pid int) bool { return pid != first && running(pid) }, 10*time.Second)
	if next == 0 {
		t.Fatal("SIGHUP with an access log change started no new process")
	}
	if !waitExited(first, upgradeGrace) {
		t.Fatalf("the old process %d still runs %v after the handover", first, upgradeGrace)
	}
	time.Sleep(300 * time.Millisecond)
	l.finish(t)
	if err := getOnce(p.addr); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "access log lines from the new process", func() bool {
		b, _ := os.ReadFile(logPath)
		return bytes.Contains(b, []byte(`"status":200`))
	})
}

func waitLog(t *testing.T, p *chain, want string) {
	t.Helper()
	waitUntil(t, "log line "+want, func() bool {
		b, _ := os.ReadFile(p.log.Name())
		return bytes.Contains(b, []byte(want))
	})
}

// TestHangupMovesListener: a reload with a new listen address starts a new
// process on it; the old one finishes what reached its address and exits.
// Requests in flight at the move are not lost.
func TestHangupMovesListener(t *testing.T) {
	p := startChain(t, true)
	l := startUpgradeLoad(p.addr)
	defer l.finishOnce(t)
	time.Sleep(300 * time.Millisecond)
	first := p.first.Process.Pid
	conf, _ := os.ReadFile(p.config)
	moved := freeAddr(t)
	os.WriteFile(p.config, []byte(strings.Replace(string(conf), p.addr, moved, 1)), 0o644)
	syscall.Kill(first, syscall.SIGHUP)
	next := p.waitPid(func(pid int) bool { return pid != first && running(pid) }, 10*time.Second)
	if next == 0 {
		t.Fatal("SIGHUP with a new listen address started no new process")
	}
	l.finish(t) // everything sent to the old address until now was answered
	if err := getOnce(moved); err != nil {
		t.Fatalf("the new address: %v", err)
	}
	if !waitExited(first, upgradeGrace+2*time.Second) {
		t.Fatalf("the old process %d still runs", first)
	}
	if err := getOnce(moved); err != nil {
		t.Fatalf("the new address after the old process left: %v", err)
	}
	if err := adminResponds(p.admin); err != nil {
		t.Fatalf("admin after the move: %v", err)
	}
}

// TestUpgradeTwoListeners upgrades a loopgate with two [[listener]]s under
// load on both: the second listener's sockets are handed over like the
// first's, so no request on either fails.
func TestUpgradeTwoListeners(t *testing.T) {
	bin, dir := buildUpgradeBinary(t)
	p := &chain{t: t, bin: bin, dir: dir, config: filepath.Join(dir, "config.toml"), pidfile: filepath.Join(dir, "loopgate.pid"),
		addr: freeAddr(t), admin: freeAddr(t), exited: make(chan error, 1)}
	second := freeAddr(t)
	conf := upgradeConfig(p.addr, p.admin, true, startOKBackends(t, 2))
	conf = strings.Replace(conf, fmt.Sprintf("listen = %q\n", p.addr), "", 1)
	conf += fmt.Sprintf("\n[[listener]]\naddress = %q\n\n[[listener]]\naddress = %q\n", p.addr, second)
	if err := os.WriteFile(p.config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if p.log, err = os.Create(filepath.Join(dir, "loopgate.log")); err != nil {
		t.Fatal(err)
	}
	p.first = exec.Command(bin, "-config", p.config, "-pidfile", p.pidfile)
	p.first.Stdout, p.first.Stderr = p.log, p.log
	if err := p.first.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.first.Wait() }()
	t.Cleanup(p.stop)
	if p.waitPid(func(pid int) bool { return pid == p.first.Process.Pid }, 10*time.Second) == 0 {
		t.Fatal("loopgate did not write its pidfile")
	}
	for _, a := range []string{p.addr, second} {
		if err := getOnce(a); err != nil {
			t.Fatalf("%s does not answer: %v", a, err)
		}
	}
	l1, l2 := startUpgradeLoad(p.addr), startUpgradeLoad(second)
	defer l1.finishOnce(t)
	defer l2.finishOnce(t)
	time.Sleep(time.Second)

	old := p.first.Process.Pid
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "-upgrade", "-pidfile", p.pidfile)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("loopgate -upgrade: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("the old process exited with %v", err)
		}
	case <-time.After(upgradeGrace):
		t.Fatalf("the old process %d is still running %v after the handover", old, upgradeGrace)
	}
	time.Sleep(500 * time.Millisecond) // the new process alone serves both
	l1.finish(t)
	l2.finish(t)
	for _, a := range []string{p.addr, second} {
		if err := getOnce(a); err != nil {
			t.Fatalf("%s after the upgrade: %v", a, err)
		}
	}
}
