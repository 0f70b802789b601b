package main

// Zero-downtime upgrade (docs/UPGRADE.md). On SIGUSR2 (or `loopgate -upgrade
// -pidfile PATH`, which sends it) the running process starts its binary again
// (os.Executable, so a replaced file is picked up) with the same arguments and
// a handshake socket. The successor binds the port into the same SO_REUSEPORT
// group, steers every new connection to its own sockets and says "ready"; the
// parent then retires (engine.Server.Retire): it serves what it has, leaves
// the group, says "detached", drains and exits. If the successor fails to
// start, the parent logs why and serves on as if nothing had happened.
//
// Handshake, one line each way on the inherited socket (fd 3):
//
//	successor -> parent   "ready <sockets>" | "fail <reason>"
//	parent -> successor   "detached"

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"loopgate/engine"
)

// What a successor finds in its environment.
const (
	envUpgradeFD      = "LOOPGATE_UPGRADE_FD"      // the handshake socket's descriptor
	envUpgradeParent  = "LOOPGATE_UPGRADE_PARENT"  // the parent's pid
	envUpgradeSockets = "LOOPGATE_UPGRADE_SOCKETS" // the parent's listening sockets
	envUpgradeListen  = "LOOPGATE_UPGRADE_LISTEN"  // the parent's [server] listen
)

// Bounds of an upgrade.
const (
	successorTimeout = 30 * time.Second // for the successor to start and steer
	groupTimeout     = 10 * time.Second // for a departing process's sockets to leave the group
	upgradeWait      = 60 * time.Second // -upgrade waits this long for the outcome
)

// upgradeSetup is what run learned before serve: the pidfile, and in a
// successor the link to its parent.
var upgradeSetup struct {
	pidfile string
	parent  *parentLink
	note    string // for the log: the event loops were raised
}

// parentLink is a successor's side of the handshake.
type parentLink struct {
	pid     int
	sockets int // the parent's listening sockets: ours come after them in the group
	conn    net.Conn
	// moved: our listen address differs from the parent's, so there is no
	// group to share: we take over the traffic by its clients moving to the
	// new address, and the parent leaves its port once it has drained.
	moved bool
}

// setupUpgrade records the pidfile and, when this process was started by
// an upgrade, takes the handshake from the environment. A successor runs at
// least as many event loops as its parent has listening sockets (one each),
// because every socket the parent takes out of the group uses up one of the
// successor's slots (engine.Server.Retire).
func setupUpgrade(cfg *Config, pidfile string) error {
	upgradeSetup.pidfile = pidfile
	fdStr := os.Getenv(envUpgradeFD)
	if fdStr == "" {
		return nil
	}
	pidStr, socksStr := os.Getenv(envUpgradeParent), os.Getenv(envUpgradeSockets)
	parentListen := os.Getenv(envUpgradeListen)
	for _, k := range []string{envUpgradeFD, envUpgradeParent, envUpgradeSockets, envUpgradeListen} {
		os.Unsetenv(k) // not for our own successor
	}
	fd, err1 := strconv.Atoi(fdStr)
	pid, err2 := strconv.Atoi(pidStr)
	socks, err3 := strconv.Atoi(socksStr)
	if err := errors.Join(err1, err2, err3); err != nil || socks < 1 {
		return fmt.Errorf("cannot take over: bad %s environment: %v", envUpgradeFD, err)
	}
	f := os.NewFile(uintptr(fd), "upgrade")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("cannot take over from pid %d: no handshake socket: %w", pid, err)
	}
	p := &parentLink{pid: pid, sockets: socks, conn: conn, moved: parentListen != "" && parentListen != cfg.Engine.Listen}
	if !cfg.Engine.ReusePort {
		err := fmt.Errorf("cannot take over from pid %d: [server] reuse_port is false in the config; both processes must share the port", pid)
		p.send("fail " + err.Error())
		conn.Close()
		return err
	}
	loops := cfg.Engine.Loops()
	if loops < socks && !p.moved {
		cfg.Engine.EventLoops = socks
		upgradeSetup.note = fmt.Sprintf("event_loops raised from %d to the %d of the process taken over", loops, socks)
	}
	upgradeSetup.parent = p
	return nil
}

// send writes one handshake line.
func (p *parentLink) send(line string) error {
	p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(p.conn, strings.ReplaceAll(line, "\n", "; ")+"\n")
	return err
}

// upgrader runs a process's part in upgrades: taking over from a parent,
// and on SIGUSR2 starting a successor and handing over to it.
type upgrader struct {
	a         *app
	srv       *engine.Server
	log       *slog.Logger
	reusePort bool
	pidfile   string
	parent    *parentLink // set in a successor until it has taken over

	ctx       context.Context    // serve's: ends on SIGINT or SIGTERM
	handOver  context.CancelFunc // ends serve's wait: a successor took over, or taking over failed
	sig       chan os.Signal
	life      context.Context // ends when stop begins
	quit      <-chan struct{} // life.Done()
	end       context.CancelFunc
	done      chan struct{}
	successor net.Conn // the handshake with the successor that took over; closed at exit
}

// watchUpgrades starts the process's upgrade handling. The context it
// returns ends like ctx, and also when a successor has taken over (serve then
// shuts down, and Shutdown hands the port over) or when this process, a
// successor, could not take over.
func watchUpgrades(ctx context.Context, a *app, log *slog.Logger) (context.Context, *upgrader) {
	sctx, cancel := context.WithCancel(ctx)
	life, end := context.WithCancel(context.Background())
	u := &upgrader{
		a: a, srv: a.srv, log: log, reusePort: a.cfg.Engine.ReusePort,
		pidfile: upgradeSetup.pidfile, parent: upgradeSetup.parent,
		ctx: ctx, handOver: cancel,
		sig: make(chan os.Signal, 1), life: life, quit: life.Done(), end: end, done: make(chan struct{}),
	}
	upgradeSetup.parent = nil
	if upgradeSetup.note != "" {
		log.Info("taking over", "from_pid", u.parent.pid, "note", upgradeSetup.note)
	}
	signal.Notify(u.sig, syscall.SIGUSR2)
	go u.run()
	return sctx, u
}

// stop ends the upgrade handling at exit: it kills a successor still
// starting, and removes the pidfile if it still names this process.
func (u *upgrader) stop() {
	signal.Stop(u.sig)
	u.end()
	<-u.done
	if u.successor != nil {
		u.successor.Close()
	}
	if u.pidfile != "" {
		if pid, _, err := readPidfile(u.pidfile); err == nil && pid == os.Getpid() {
			os.Remove(u.pidfile)
		}
	}
}

func (u *upgrader) run() {
	defer close(u.done)
	select {
	case <-u.srv.Ready():
	case <-u.quit:
		return
	case <-u.ctx.Done():
		return
	}
	if u.srv.Addr() == nil {
		return // Run failed; serve reports it
	}
	if u.parent != nil {
		err := u.takeOver()
		u.parent.conn.Close()
		u.parent = nil
		if err != nil {
			u.log.Error("cannot take over; stopping", "err", err)
			u.handOver()
			return
		}
	} else {
		u.claim()
	}
	for {
		select {
		case <-u.quit:
			return
		case <-u.ctx.Done():
			return
		case <-u.sig:
			if err := u.upgrade(); err != nil {
				u.log.Error("upgrade failed; still serving", "err", err)
				if u.pidfile != "" {
					if err := writePidfile(u.pidfile); err != nil { // a new file tells -upgrade
						u.log.Error("cannot write the pidfile", "err", err)
					}
				}
				continue
			}
			u.handOver()
			return
		}
	}
}

// claim is a process's start when no upgrade started it: find the
// listeners and, when they are alone on the port, steer the group to them,
// so that a successor's sockets get nothing before it steers.
func (u *upgrader) claim() {
	if u.reusePort {
		if _, err := u.steerAlone(); err != nil {
			u.log.Warn("upgrades are not possible for now", "err", err)
		}
	}
	if u.pidfile != "" {
		if err := writePidfile(u.pidfile); err != nil {
			u.log.Error("cannot write the pidfile", "err", err)
		}
	}
}

// steerAlone finds the listeners, checks that no other socket listens on the
// port, and steers the group to ours; this replaces any program a previous
// upgrade left. It returns the number of our sockets.
func (u *upgrader) steerAlone() (int, error) {
	ctx, cancel := context.WithTimeout(u.life, groupTimeout)
	defer cancel()
	n, err := u.srv.Listeners(ctx)
	if err != nil {
		return 0, err
	}
	peers, err := u.srv.GroupPeers()
	if err != nil {
		return 0, err
	}
	if peers > 0 {
		return 0, fmt.Errorf("cannot upgrade yet: %d sockets of another process listen on %s (a previous process still leaving, or a foreign one)", peers, u.srv.Addr())
	}
	return n, u.srv.Steer(0)
}

// takeOver is a successor's start: steer the group to our sockets, take the
// pidfile, tell the parent, and once the parent's sockets are gone, steer
// the group as its only member. An error before the steering leaves the
// parent serving as before; nothing after it fails.
func (u *upgrader) takeOver() error {
	p := u.parent
	fail := func(err error) error {
		p.send("fail " + err.Error())
		return err
	}
	if p.moved {
		return u.takeOverMoved()
	}
	ctx, cancel := context.WithTimeout(u.life, groupTimeout)
	defer cancel()
	n, err := u.srv.Listeners(ctx)
	if err != nil {
		return fail(err)
	}
	peers, err := u.srv.GroupPeers()
	if err != nil {
		return fail(err)
	}
	if peers != p.sockets || n < p.sockets {
		return fail(fmt.Errorf("cannot take over: %d other sockets listen on %s, want the %d of pid %d; and we have %d", peers, u.srv.Addr(), p.sockets, p.pid, n))
	}
	if err := u.srv.Steer(p.sockets); err != nil {
		return fail(err)
	}
	if u.pidfile != "" {
		if err := writePidfile(u.pidfile); err != nil {
			u.log.Error("cannot write the pidfile", "err", err)
		}
	}
	if err := p.send(fmt.Sprintf("ready %d", n)); err != nil {
		u.log.Warn("cannot tell the old process", "pid", p.pid, "err", err)
	}
	u.log.Info("took over the port; the old process finishes its requests", "from_pid", p.pid, "sockets", n)

	// Wait for "detached" (or the parent's end), then for its sockets to go.
	got := make(chan struct{})
	go func() {
		p.conn.SetReadDeadline(time.Time{})
		bufio.NewReader(p.conn).ReadString('\n')
		close(got)
	}()
	select {
	case <-got:
	case <-u.quit:
		return nil
	case <-u.ctx.Done():
		return nil
	}
	if err := u.waitAlone(); err != nil {
		u.log.Warn("upgrades are not possible for now", "err", err)
	}
	return nil
}

// takeOverMoved is takeOver when the listen address changed: our port is
// ours alone (steered to our sockets as at any start), and the parent,
// told "ready 0", serves what reaches its old port until it has drained,
// then leaves it.
func (u *upgrader) takeOverMoved() error {
	p := u.parent
	if _, err := u.steerAlone(); err != nil {
		p.send("fail " + err.Error())
		return err
	}
	if u.pidfile != "" {
		if err := writePidfile(u.pidfile); err != nil {
			u.log.Error("cannot write the pidfile", "err", err)
		}
	}
	if err := p.send("ready 0"); err != nil {
		u.log.Warn("cannot tell the old process", "pid", p.pid, "err", err)
	}
	u.log.Info("took over on a new listen address; the old process drains its port and exits",
		"from_pid", p.pid, "listen", u.a.cfg.Engine.Listen)
	return nil
}

// waitAlone waits for the other sockets on the port to leave, then steers
// the group to ours.
func (u *upgrader) waitAlone() error {
	end := time.Now().Add(groupTimeout)
	for {
		_, err := u.steerAlone()
		if err == nil || time.Now().After(end) {
			return err
		}
		select {
		case <-u.quit:
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// upgrade starts a successor and, once it has steered the new connections
// to itself, makes the engine retire. On error the successor is gone, this
// process steers the group again and serves as before.
func (u *upgrader) upgrade() error {
	if !u.reusePort {
		return errors.New("cannot upgrade: [server] reuse_port is false in the running config, so two processes cannot share the port; set reuse_port = true and restart loopgate once")
	}
	n, err := u.steerAlone()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot upgrade: cannot find the executable: %w", err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot upgrade: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "upgrade"), os.NewFile(uintptr(pair[1]), "upgrade")
	conn, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		theirs.Close()
		return fmt.Errorf("cannot upgrade: %w", err)
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd.Env = append(withoutUpgradeEnv(os.Environ()),
		envUpgradeFD+"=3", envUpgradeParent+"="+strconv.Itoa(os.Getpid()), envUpgradeSockets+"="+strconv.Itoa(n),
		envUpgradeListen+"="+u.a.cfg.Engine.Listen)
	u.a.stopAdmin() // the successor binds the admin port; plain net/http cannot share it
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		conn.Close()
		u.restore()
		return fmt.Errorf("cannot start %s: %w", exe, err)
	}
	pid := cmd.Process.Pid
	u.log.Info("upgrade: started a new process", "pid", pid, "exe", exe)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	timer := time.NewTimer(successorTimeout)
	defer timer.Stop()

	var cause error
	select {
	case line := <-lines:
		if m, ok := strings.CutPrefix(line, "ready "); ok {
			socks, err := strconv.Atoi(m)
			if err == nil {
				err = u.srv.Retire(socks, func() {
					u.log.Info("upgrade: left the port to the new process; finishing the requests in flight", "pid", pid)
					conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
					io.WriteString(conn, "detached\n")
				})
			}
			if err == nil {
				u.successor = conn
				u.log.Info("upgrade: the new process took over; handing over", "pid", pid, "sockets", socks)
				return nil
			}
			cause = fmt.Errorf("new process %d: %q: %w", pid, line, err)
		} else if r, ok := strings.CutPrefix(line, "fail "); ok {
			cause = fmt.Errorf("new process %d: %s", pid, r)
		} else {
			select { // it closed the socket: it is exiting, say how
			case err := <-exited:
				exited <- err
				cause = fmt.Errorf("new process %d exited before taking over: %v", pid, orExit(err))
			case <-time.After(time.Second):
				cause = fmt.Errorf("new process %d closed the handshake before taking over", pid)
			}
		}
	case err := <-exited:
		exited <- err
		cause = fmt.Errorf("new process %d exited before taking over: %v", pid, orExit(err))
	case <-timer.C:
		cause = fmt.Errorf("new process %d did not take over within %v", pid, successorTimeout)
	case <-u.quit:
		cause = errors.New("stopping")
	case <-u.ctx.Done():
		cause = errors.New("stopping")
	}
	cmd.Process.Kill() // the process we started, by its pid; an error means it has exited
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
	conn.Close()
	select {
	case <-u.quit:
	case <-u.ctx.Done():
	default:
		u.restore()
	}
	return cause
}

// orExit names a nil Wait error.
func orExit(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// restore undoes an upgrade that did not happen: the admin listener comes
// back, and once the successor's sockets are gone the group is steered to
// ours again (it may have steered before dying).
func (u *upgrader) restore() {
	if err := u.a.listenAdmin(); err != nil {
		u.log.Error("cannot listen for admin again", "err", err)
	}
	if err := u.waitAlone(); err != nil {
		u.log.Error("cannot steer the port's connections again", "err", err)
	}
}

// withoutUpgradeEnv drops a handshake's variables from env.
func withoutUpgradeEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k != envUpgradeFD && k != envUpgradeParent && k != envUpgradeSockets && k != envUpgradeListen {
			out = append(out, kv)
		}
	}
	return out
}

// writePidfile writes this process's pid to path, atomically (a new file
// renamed over the old one).
func writePidfile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(tmp, "%d\n", os.Getpid())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot write pidfile %s: %w", path, err)
	}
	return nil
}

// readPidfile returns the pid in path and the file's identity.
func readPidfile(path string) (int, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read pidfile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read pidfile: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return 0, nil, fmt.Errorf("cannot read pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, nil, fmt.Errorf("cannot read pidfile %s: no pid in %q", path, b)
	}
	return pid, st, nil
}

// running reports whether pid is a live process (not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}

// requestUpgrade is `loopgate -upgrade -pidfile PATH`: it checks the
// config file the running process was started with, sends it SIGUSR2 and
// waits for the outcome: the pidfile names a new process (exit 0), or it is
// rewritten with the same pid, which a failed upgrade does (exit 1).
func requestUpgrade(pidfile string, stdout, stderr io.Writer) int {
	if pidfile == "" {
		fmt.Fprintln(stderr, "loopgate: -upgrade needs -pidfile PATH, the running loopgate's -pidfile")
		return 2
	}
	pid, before, err := readPidfile(pidfile)
	if err != nil {
		fmt.Fprintf(stderr, "loopgate: cannot upgrade: %v\n", err)
		return 1
	}
	if !running(pid) {
		fmt.Fprintf(stderr, "loopgate: cannot upgrade: no process %d is running (pidfile %s)\n", pid, pidfile)
		return 1
	}
	if err := checkSuccessorConfig(pid); err != nil {
		fmt.Fprintf(stderr, "loopgate: cannot upgrade: %v\n", err)
		return 1
	}
	if err := unix.Kill(pid, unix.SIGUSR2); err != nil {
		fmt.Fprintf(stderr, "loopgate: cannot upgrade: cannot signal process %d: %v\n", pid, err)
		return 1
	}
	for end := time.Now().Add(upgradeWait); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		now, st, err := readPidfile(pidfile)
		switch {
		case err == nil && now != pid && running(now):
			fmt.Fprintf(stdout, "loopgate: process %d took over from process %d, which finishes its requests and exits\n", now, pid)
			return 0
		case err == nil && now == pid && !os.SameFile(before, st):
			fmt.Fprintf(stderr, "loopgate: upgrade failed: process %d keeps serving; its log says why\n", pid)
			return 1
		case !running(pid) && (err != nil || now == pid):
			fmt.Fprintf(stderr, "loopgate: process %d exited without a successor\n", pid)
			return 1
		}
	}
	fmt.Fprintf(stderr, "loopgate: no new process took over from process %d within %v; its log says why\n", pid, upgradeWait)
	return 1
}

// checkSuccessorConfig loads the config file that process pid was started
// with, which its successor will read, and refuses what cannot work: a file
// that does not load, or reuse_port off. It checks nothing when /proc does
// not tell (another user's process).
func checkSuccessorConfig(pid int) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	path := "config.toml"
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "config="); ok { // -config=x, --config=x
			path = v
		} else if (a == "-config" || a == "--config") && i+1 < len(args) {
			path = args[i+1]
			i++
		}
	}
	if !filepath.IsAbs(path) {
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err != nil {
			return nil
		}
		path = filepath.Join(cwd, path)
	}
	cfg, err := Load(path)
	if err != nil {
		return fmt.Errorf("the new process would not start:\n%v", err)
	}
	if !cfg.Engine.ReusePort {
		return fmt.Errorf("[server] reuse_port is false in %s: the new process could not share the port; set reuse_port = true (and restart once if the running process has it off)", path)
	}
	return nil
}
