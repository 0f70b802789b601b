package engine

// Zero-downtime upgrade (issue 7, docs/UPGRADE.md): two processes share the
// listening port through an SO_REUSEPORT group, and a classic BPF program
// attached to the group decides which of its sockets each new connection
// goes to.
//
// Kernel facts this relies on (net/core/sock_reuseport.c; the handoff tests
// check each of them on the running kernel):
//   - the group keeps its listening sockets in an array, in the order they
//     joined it (listen());
//   - a program attached with SO_ATTACH_REUSEPORT_CBPF returns an index into
//     that array; an index past its end falls back to the 4-tuple hash over
//     every socket of the group;
//   - a socket that leaves (close) is replaced in its slot by the array's
//     last socket: socks[i] = socks[--num];
//   - closing a listener resets the connections waiting in its accept queue,
//     and those whose handshake it started (unless net.ipv4.tcp_migrate_req).
//
// The invariant kept between upgrades: the live process's N sockets are the
// whole group, and the group's program is "rand % N". A successor's M sockets
// join at [N, N+M), so they get nothing until it calls Steer(N), which sends
// every new connection to them. The retiring process then serves what is
// already queued on its sockets, and leaves the group one socket at a time,
// re-aiming the program before each step at slots that stay the successor's
// through that step (detachListeners). No step can route a connection to a
// socket that is about to close, and after the last one the successor's
// sockets are the whole group again, so it calls Steer(0).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Timing of a handoff.
const (
	// handoffSettle is how long a retiring server keeps its sockets in the
	// group after the successor steered: handshakes that one of them began
	// before complete and are accepted meanwhile (a round trip, plus a
	// retransmission for a lost ACK).
	handoffSettle = time.Second
	// handoffIdle: a retiring server closes a client connection that has
	// been idle this long. A client busier than that gets "Connection: close"
	// on its next response instead, so it never races the close.
	handoffIdle = time.Second
	// gnetMaxLoops is gnet's cap on event loops (gfd.EventLoopIndexMax).
	gnetMaxLoops = 256
)

// handoff is the Server's part in an upgrade.
type handoff struct {
	mu     sync.Mutex
	groups []lnGroup // per listener, in Config.Listeners order; see Listeners

	retiring  atomic.Bool
	successor int       // the successor's sockets, after ours in the group
	steered   time.Time // when the successor took the new connections
	detached  func()    // called once our sockets have left the group
}

// lnGroup is one listener's sockets: each listener address is an
// SO_REUSEPORT group of its own, and every group is handed over the same
// way. The first listener's is the one the upgrade protocol counts
// (GroupPeers); the others follow it.
type lnGroup struct {
	addr   *net.TCPAddr
	fds    []int           // listening sockets, one per event loop
	inodes map[uint64]bool // their inode numbers, as /proc/net/tcp shows them
	inet6  bool            // they are AF_INET6
}

// Listeners waits until every event loop has bound its listening sockets and
// returns how many there are per listener (with reuse_port, one per loop).
// gnet shows no listener but the first, so they are found in /proc/self/fd:
// the sockets that listen on each listener's address. That is exact as long
// as one process runs one Server per address, as loopgate does. The result
// is kept for Steer, GroupPeers and Retire, and returned at once by later
// calls. Cold path: a few syscalls per open descriptor per try.
func (s *Server) Listeners(ctx context.Context) (int, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	want := s.loopCount()
	s.ho.mu.Lock()
	found := len(s.ho.groups) > 0
	s.ho.mu.Unlock()
	if found {
		return want, nil
	}
	groups := make([]lnGroup, len(s.lns))
	for i, ln := range s.lns {
		if ln.bound == nil {
			return 0, fmt.Errorf("cannot find the listeners: %s did not bind", ln.Address)
		}
		groups[i].addr = ln.bound
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for i := 0; i < len(groups); {
		g := &groups[i]
		fds, inodes, inet6, err := listenerFDs(g.addr)
		if err != nil {
			return 0, err
		}
		if len(fds) == want {
			g.fds, g.inodes, g.inet6 = fds, inodes, inet6
			i++
			continue
		}
		if len(fds) > want {
			return 0, fmt.Errorf("cannot tell the listeners apart: %d sockets in this process listen on %s, want %d", len(fds), g.addr, want)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("cannot find the listeners: %d of %d bound on %s: %w", len(fds), want, g.addr, ctx.Err())
		case <-t.C:
		}
	}
	s.ho.mu.Lock()
	s.ho.groups = groups
	s.ho.mu.Unlock()
	return want, nil
}

// loopCount is the number of listening sockets gnet binds: one per event loop
// with reuse_port, else one.
func (s *Server) loopCount() int {
	if !s.cfg.ReusePort {
		return 1
	}
	return s.cfg.Loops()
}

// handoffGroups returns the groups Listeners found.
func (s *Server) handoffGroups() ([]lnGroup, error) {
	s.ho.mu.Lock()
	defer s.ho.mu.Unlock()
	if len(s.ho.groups) == 0 {
		return nil, errors.New("BUG: Listeners has not run")
	}
	return s.ho.groups, nil
}

// GroupPeers counts the sockets listening on Addr (the first listener's
// address) that are not this server's: the other members of its
// SO_REUSEPORT group, such as a previous process still leaving it or a
// successor. It reads /proc/net/tcp (or tcp6), which lists every TCP socket
// of the network namespace: call it on the cold path only, after
// Listeners.
func (s *Server) GroupPeers() (int, error) {
	groups, err := s.handoffGroups()
	if err != nil {
		return 0, err
	}
	return groups[0].peers()
}

// peers counts the members of g's SO_REUSEPORT group that are not ours.
func (g *lnGroup) peers() (int, error) {
	file := "/proc/net/tcp"
	if g.inet6 {
		file = "/proc/net/tcp6"
	}
	// Read as a stream: on a busy host the table runs to megabytes (every
	// TIME_WAIT socket has a line), which a start should not hold in memory.
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("cannot count the listeners on %s: %w", g.addr, err)
	}
	defer f.Close()
	listening, err := listeningInodes(f, g.addr)
	if err != nil {
		return 0, fmt.Errorf("cannot count the listeners on %s: %w", g.addr, err)
	}
	n := 0
	for _, ino := range listening {
		if !g.inodes[ino] {
			n++
		}
	}
	return n, nil
}

// Steer attaches to the server's SO_REUSEPORT group a program that sends
// every new connection to one of this server's sockets, assuming they hold
// slots [first, first+n) of the group: first = 0 when they are the whole
// group, the number of sockets before them when this server is a successor.
// It replaces whatever program the group had. The other listeners' groups
// are steered the same way, each with its own count of sockets before ours
// (none for an address the previous process did not listen on). Requires
// reuse_port and Listeners.
func (s *Server) Steer(first int) error {
	if !s.cfg.ReusePort {
		return errors.New("cannot steer connections: reuse_port is off")
	}
	groups, err := s.handoffGroups()
	if err != nil {
		return err
	}
	for i, g := range groups {
		at := first
		if i > 0 {
			if at, err = g.peers(); err != nil {
				return err
			}
		}
		if err := attachSteering(g.fds[0], at, len(g.fds)); err != nil {
			return fmt.Errorf("cannot steer connections on %s: %w", g.addr, err)
		}
	}
	return nil
}

// Retire makes the next Shutdown hand the port over to a successor rather
// than close it: successor is its number of sockets, which joined the group
// after this server's and which it has just steered to (Steer). Shutdown then
// serves every connection that still reaches this server (answering with
// "Connection: close"), closes keep-alive connections once idle, keeps its
// sockets in the group for a settle time so that handshakes already begun are
// accepted, leaves the group without routing any connection to a closing
// socket, calls detached, and stops within its context as usual.
//
// successor must be at least this server's number of sockets (an upgrading
// process runs at least as many event loops as the one it replaces): each
// socket that leaves takes a slot from the successor's range. successor 0
// means the successor listens on another address (a reload moved the
// listener): this server's sockets are the whole group, and after the
// settle time they simply close.
func (s *Server) Retire(successor int, detached func()) error {
	groups, err := s.handoffGroups()
	if err != nil {
		return err
	}
	fds := groups[0].fds
	if !s.cfg.ReusePort {
		return errors.New("cannot hand over: reuse_port is off")
	}
	if successor != 0 && successor < len(fds) {
		return fmt.Errorf("cannot hand over to %d sockets: they must be at least our %d", successor, len(fds))
	}
	s.ho.mu.Lock()
	s.ho.successor, s.ho.steered, s.ho.detached = successor, time.Now(), detached
	s.ho.mu.Unlock()
	s.ho.retiring.Store(true)
	return nil
}

// handOver is Shutdown's first step when Retire was called; otherwise it does
// nothing. The listeners leave the group once the settle time is over (the
// connections already accepted do not need them); handOver returns when
// every connection has finished too, or when ctx ends.
func (s *Server) handOver(ctx context.Context) {
	if !s.ho.retiring.Load() {
		return
	}
	s.ho.mu.Lock()
	settle, detached := s.ho.steered.Add(handoffSettle), s.ho.detached
	s.ho.mu.Unlock()
	s.drainForHandoff(ctx, settle, false)
	if err := s.detachListeners(); err != nil {
		s.log.Warn("cannot leave the listening group cleanly", "err", err)
	}
	if detached != nil {
		detached()
	}
	s.drainForHandoff(ctx, time.Time{}, true)
}

// drainForHandoff closes idle connections until is past and, with all, no
// client is left; or until ctx ends.
func (s *Server) drainForHandoff(ctx context.Context, until time.Time, all bool) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		s.forEachLoop(func(l *loop) { l.execute(l.dropIdleForHandoff) })
		if !time.Now().Before(until) && (!all || s.clients.Load() == 0) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dropIdleForHandoff is drainIdle for a retiring server: a client connection
// that has sent nothing yet may be one the kernel queued just before the
// successor steered, whose request is on its way, so it and keep-alive
// connections are closed only after handoffIdle without a byte, and not while
// the socket holds bytes the loop has yet to read (a request that has just
// arrived is answered, not closed). Idleness is measured on the coarse clock
// the timers were armed with: monoNow would count the clock's lag at arming
// as idleness. Runs on the loop.
func (l *loop) dropIdleForHandoff() {
	for t := l.timers[timerUpIdle].head; t != nil; t = l.timers[timerUpIdle].head {
		t.stop()
		t.owner.onTimeout(timerUpIdle)
	}
	old := now() - int64(handoffIdle)
	for t := l.timers[timerClientIdle].head; t != nil && t.armed <= old; {
		next := t.next
		if cc := t.owner.(*clientConn); cc.closed || !unreadInput(cc.c.Fd()) {
			t.stop()
			cc.closeIdle()
		}
		t = next
	}
	for t := l.timers[timerClientHeader].head; t != nil; {
		next := t.next
		if cc := t.owner.(*clientConn); t.armed <= old && !cc.closed && cc.inboundBuffered() == 0 && !unreadInput(cc.c.Fd()) {
			t.stop()
			cc.closeNow()
		}
		t = next
	}
}

// unreadInput reports whether the socket fd holds bytes that gnet has not
// read yet. One non-blocking MSG_PEEK: for retirement only, not the request
// path.
func unreadInput(fd int) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == nil && n > 0
}

// detachListeners takes this server's sockets out of the group one at a
// time. Before step k (k sockets gone) the successor's slots that no step
// has moved yet are [n, n+m-k) (n ours, m the successor's): a leaving socket's
// slot is filled by the group's last one, which is always the successor's
// since ours all sit below n. The program for step k picks from
// [n, n+m-k-1), which stays the successor's and in range after the step; on
// the last step with m = n it is [n, n+1), past the end afterwards, where the
// hash fallback sees only the successor's sockets.
//
// A socket leaves by dup3-ing a listening AF_UNIX socket over its
// descriptor: the TCP socket closes (epoll forgets it), while the gnet loop
// that polls the descriptor number keeps a valid one, on which a stray
// accept gets EAGAIN instead of the EBADF or ENOTSOCK that would stop the
// engine (ErrAcceptSocket); gnet closes it at shutdown.
func (s *Server) detachListeners() error {
	s.ho.mu.Lock()
	groups, m := s.ho.groups, s.ho.successor
	s.ho.groups = nil
	s.ho.mu.Unlock()
	if len(groups) == 0 {
		return nil
	}
	dummy, err := inertListener()
	if err != nil {
		return err
	}
	defer unix.Close(dummy)
	var errs []error
	for i, g := range groups {
		gm := m
		if i > 0 {
			// The successor's sockets in this listener's group, whether or
			// not the first listener moved: none when it does not listen
			// there, or too few to take each step's slots; then ours
			// simply close.
			var err error
			if gm, err = g.peers(); err != nil {
				errs = append(errs, err)
			}
			if gm < len(g.fds) {
				gm = 0
			}
		}
		for k, fd := range g.fds {
			if gm == 0 { // no successor in the group (the listener moved): just close
				if err := unix.Dup3(dummy, fd, unix.O_CLOEXEC); err != nil {
					errs = append(errs, fmt.Errorf("cannot close listener %d: %w", fd, err))
				}
				continue
			}
			if err := detachStep(fd, k, len(g.fds), gm, dummy); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// detachStep is step k of detachListeners: re-aim the group, then close fd.
func detachStep(fd, k, n, m, dummy int) error {
	var err error
	if aerr := attachSteering(fd, n, max(m-k-1, 1)); aerr != nil {
		err = fmt.Errorf("cannot steer before step %d: %w", k, aerr)
	}
	if derr := unix.Dup3(dummy, fd, unix.O_CLOEXEC); derr != nil {
		err = errors.Join(err, fmt.Errorf("cannot close listener %d: %w", fd, derr))
	}
	return err
}

// inertListener returns a non-blocking AF_UNIX socket listening on an
// autobound abstract address: nothing connects to it, so accept on it says
// EAGAIN.
func inertListener() (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("cannot make a placeholder socket: %w", err)
	}
	if err = unix.Bind(fd, &unix.SockaddrUnix{}); err == nil { // an empty name autobinds
		err = unix.Listen(fd, 1)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("cannot make a placeholder socket: %w", err)
	}
	return fd, nil
}

// ldRandK is the k of "ld rand", classic BPF's ancillary load of a random
// number: SKF_AD_OFF (-0x1000) + SKF_AD_RANDOM (56), as 32 bits
// (linux/filter.h; x/sys/unix lacks them).
const ldRandK = 1<<32 - 0x1000 + 56

// steeringProgram returns a classic BPF program for SO_ATTACH_REUSEPORT_CBPF
// that picks a slot of the group uniformly from [first, first+n):
//
//	ld rand; mod #n; add #first; ret a
func steeringProgram(first, n int) []unix.SockFilter {
	if n <= 1 {
		return []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: uint32(first)}}
	}
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: ldRandK},
		{Code: unix.BPF_ALU | unix.BPF_MOD | unix.BPF_K, K: uint32(n)},
		{Code: unix.BPF_ALU | unix.BPF_ADD | unix.BPF_K, K: uint32(first)},
		{Code: unix.BPF_RET | unix.BPF_A},
	}
}

// attachSteering sets the program of fd's reuseport group (any member will
// do); the group's previous program, stale or not, is replaced.
func attachSteering(fd, first, n int) error {
	p := steeringProgram(first, n)
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF,
		&unix.SockFprog{Len: uint16(len(p)), Filter: &p[0]})
}

// listenerFDs returns this process's TCP sockets that listen on addr, in
// descriptor order, with their inode numbers, and whether they are AF_INET6.
func listenerFDs(addr *net.TCPAddr) (fds []int, inodes map[uint64]bool, inet6 bool, err error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, nil, false, fmt.Errorf("cannot list descriptors: %w", err)
	}
	inodes = map[uint64]bool{}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			continue
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || v != unix.IPPROTO_TCP {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		a := sockaddrToTCP(sa)
		if a == nil || a.Port != addr.Port || !a.IP.Equal(addr.IP) {
			continue
		}
		_, inet6 = sa.(*unix.SockaddrInet6)
		fds = append(fds, fd)
		inodes[st.Ino] = true
	}
	slices.Sort(fds)
	return fds, inodes, inet6, nil
}

// listeningInodes parses /proc/net/tcp or /proc/net/tcp6 and returns the
// inodes of the sockets in state LISTEN (0A) bound to addr. Addresses there
// are hex words in host byte order, ports hex numbers:
//
//	sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
//	 0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 1000 0 41231 ...
func listeningInodes(r io.Reader, addr *net.TCPAddr) ([]uint64, error) {
	var out []uint64
	sc := bufio.NewScanner(r)
	var f [10][]byte
	for sc.Scan() {
		if splitFields(sc.Bytes(), f[:]) < len(f) || string(f[3]) != "0A" {
			continue
		}
		host, port, ok := bytes.Cut(f[1], []byte{':'})
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(string(port), 16, 16)
		if err != nil || int(p) != addr.Port {
			continue
		}
		ip := parseProcIP(host)
		if ip == nil || !ip.Equal(addr.IP) {
			continue
		}
		if ino, err := strconv.ParseUint(string(f[9]), 10, 64); err == nil {
			out = append(out, ino)
		}
	}
	return out, sc.Err()
}

// splitFields stores the first len(dst) space-separated fields of line in
// dst and returns how many it found, without allocating.
func splitFields(line []byte, dst [][]byte) int {
	n := 0
	for n < len(dst) {
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 {
			break
		}
		end := bytes.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		dst[n], line = line[:end], line[end:]
		n++
	}
	return n
}

// parseProcIP decodes /proc/net/tcp's address: 8 or 32 hex digits, each
// group of 8 a 32-bit word in host byte order.
func parseProcIP(h []byte) net.IP {
	if len(h) != 8 && len(h) != 32 {
		return nil
	}
	ip := make(net.IP, len(h)/2)
	for i := 0; i < len(h); i += 8 {
		w, err := strconv.ParseUint(string(h[i:i+8]), 16, 32)
		if err != nil {
			return nil
		}
		binary.NativeEndian.PutUint32(ip[i/2:], uint32(w))
	}
	return ip
}
