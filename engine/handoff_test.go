package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSteeringProgram(t *testing.T) {
	f := func(first, n int, want []unix.SockFilter) {
		t.Helper()
		got := steeringProgram(first, n)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("steeringProgram(%d, %d) = %v; want %v", first, n, got, want)
		}
	}
	f(4, 1, []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 4}})
	f(2, 3, []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0xfffff038},
		{Code: unix.BPF_ALU | unix.BPF_MOD | unix.BPF_K, K: 3},
		{Code: unix.BPF_ALU | unix.BPF_ADD | unix.BPF_K, K: 2},
		{Code: unix.BPF_RET | unix.BPF_A},
	})
}

// procHex writes ip as /proc/net/tcp does: 32-bit words in host byte order.
func procHex(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	var b strings.Builder
	for i := 0; i < len(ip); i += 4 {
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(ip[i:]))
	}
	return b.String()
}

func TestListeningInodes(t *testing.T) {
	line := func(ip string, port int, st string, ino int) string {
		return fmt.Sprintf("   0: %s:%04X 00000000:0000 %s 00000000:00000000 00:00000000 00000000  1000        0 %d 1 0000000000000000 100 0 0 10 0\n",
			procHex(net.ParseIP(ip)), port, st, ino)
	}
	head := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	data := head +
		line("127.0.0.1", 8080, "0A", 11) +
		line("127.0.0.1", 8080, "0A", 12) +
		line("127.0.0.1", 8080, "01", 13) + // an accepted connection
		line("127.0.0.1", 8081, "0A", 14) +
		line("0.0.0.0", 8080, "0A", 15) +
		line("127.0.0.2", 8080, "0A", 16)
	f := func(ip string, port int, want string) {
		t.Helper()
		got := fmt.Sprint(inodesOf(t, data, &net.TCPAddr{IP: net.ParseIP(ip), Port: port}))
		if got != want {
			t.Fatalf("listeningInodes(%s:%d) = %s; want %s", ip, port, got, want)
		}
	}
	f("127.0.0.1", 8080, "[11 12]")
	f("0.0.0.0", 8080, "[15]")
	f("127.0.0.1", 8082, "[]")

	data6 := head + line("::1", 443, "0A", 21) + line("::", 443, "0A", 22) + line("fe80::1", 443, "0A", 23)
	got := fmt.Sprint(inodesOf(t, data6, &net.TCPAddr{IP: net.ParseIP("::1"), Port: 443}))
	if got != "[21]" {
		t.Fatalf("IPv6: got %s; want [21]", got)
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 { // the kernel's own spelling on little-endian machines
		got := fmt.Sprint(inodesOf(t, head+"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 31 1\n",
			&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
		if got != "[31]" {
			t.Fatalf("little-endian line: got %s; want [31]", got)
		}
	}
}

// inodesOf is listeningInodes of a table given as text.
func inodesOf(t *testing.T, table string, addr *net.TCPAddr) []uint64 {
	t.Helper()
	got, err := listeningInodes(strings.NewReader(table), addr)
	if err != nil {
		t.Fatalf("listeningInodes: %v", err)
	}
	return got
}

// rawListener binds a non-blocking SO_REUSEPORT listener on 127.0.0.1:port.
func rawListener(t *testing.T, port int) (fd, boundPort int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port
}

// landing connects to port and reports which of fds accepted the
// connection: its index, or -1 if none did within a second.
func landing(t *testing.T, port int, fds []int) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(100 * time.Microsecond) {
		for i, fd := range fds {
			if fd < 0 {
				continue
			}
			if nfd, _, err := unix.Accept(fd); err == nil {
				unix.Close(nfd)
				return i
			}
		}
	}
	return -1
}

// TestHandoffSteps checks, on the running kernel, that a successor steered
// with attachSteering gets every new connection while the retiring sockets
// leave the group one detachStep at a time, and that none reaches a retiring
// socket that is still open. n is the retiring server's sockets, m the
// successor's.
func TestHandoffSteps(t *testing.T) {
	for _, tc := range []struct{ n, m int }{{1, 1}, {2, 2}, {3, 3}, {1, 3}, {2, 4}} {
		t.Run(fmt.Sprintf("%d_to_%d", tc.n, tc.m), func(t *testing.T) {
			var fds []int // the retiring sockets, then the successor's
			a0, port := rawListener(t, 0)
			fds = append(fds, a0)
			for len(fds) < tc.n {
				fd, _ := rawListener(t, port)
				fds = append(fds, fd)
			}
			if err := attachSteering(fds[0], 0, tc.n); err != nil {
				t.Fatalf("attachSteering: %v", err)
			}
			for len(fds) < tc.n+tc.m {
				fd, _ := rawListener(t, port)
				fds = append(fds, fd)
			}
			// Steady steering keeps the newcomers out until they steer.
			probe := func(step string, lo, hi int) {
				t.Helper()
				for range 30 {
					if i := landing(t, port, fds); i < lo || i >= hi {
						t.Fatalf("%s: a connection landed on socket %d; want one of [%d, %d)", step, i, lo, hi)
					}
				}
			}
			probe("before steering", 0, tc.n)
			if err := attachSteering(fds[tc.n], tc.n, tc.m); err != nil {
				t.Fatalf("attachSteering: %v", err)
			}
			probe("after steering", tc.n, tc.n+tc.m)

			dummy, err := inertListener()
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(dummy)
			for k := range tc.n {
				if err := detachStep(fds[k], k, tc.n, tc.m, dummy); err != nil {
					t.Fatalf("detachStep %d: %v", k, err)
				}
				fds[k] = -1 // closed: its descriptor now holds the placeholder
				probe(fmt.Sprintf("after step %d", k), tc.n, tc.n+tc.m)
			}
			if err := attachSteering(fds[tc.n], 0, tc.m); err != nil {
				t.Fatalf("attachSteering: %v", err)
			}
			got := make([]int, tc.n+tc.m)
			for range 40 * tc.m {
				i := landing(t, port, fds)
				if i < tc.n {
					t.Fatalf("after the handoff: a connection landed on socket %d", i)
				}
				got[i]++
			}
			for i := tc.n; i < tc.n+tc.m; i++ {
				if got[i] == 0 {
					t.Fatalf("after the handoff, socket %d got no connection: %v", i, got)
				}
			}
		})
	}
}

// TestPlainCloseMisroutes is why detachStep re-aims the group first: with
// the successor's program alone, closing one retiring socket moves the
// group's last socket into its slot, the program's top index falls past the
// end, and the hash fallback sends connections to the other retiring socket,
// which would reset them when it closes in turn.
func TestPlainCloseMisroutes(t *testing.T) {
	a0, port := rawListener(t, 0)
	a1, _ := rawListener(t, port)
	b0, _ := rawListener(t, port)
	b1, _ := rawListener(t, port)
	fds := []int{a0, a1, b0, b1}
	if err := attachSteering(b0, 2, 2); err != nil {
		t.Fatal(err)
	}
	dummy, err := inertListener()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dummy)
	if err := unix.Dup3(dummy, a0, unix.O_CLOEXEC); err != nil { // close a0 without re-aiming
		t.Fatal(err)
	}
	fds[0] = -1
	for range 200 {
		if landing(t, port, fds) == 1 {
			return // a1, still open, got a connection
		}
	}
	t.Fatal("no connection reached the other retiring socket; the kernel no longer moves the last socket into a closed one's slot")
}

// TestInertListener: a stray accept on the placeholder says EAGAIN, which
// gnet's accept treats as "nothing queued".
func TestInertListener(t *testing.T) {
	fd, err := inertListener()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, _, err := unix.Accept(fd); err != unix.EAGAIN {
		t.Fatalf("accept on the placeholder: %v; want EAGAIN", err)
	}
}

// startReusePort runs a Server with reuse_port and loops event loops on a
// free port of 127.0.0.1 in front of backend. Not port 0: gnet binds each
// loop's socket from the configured address, so with port 0 every loop would
// get a port of its own.
func startReusePort(t *testing.T, loops int, backend string) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	cfg := Config{Listen: listen, EventLoops: loops, ReusePort: true,
		Pools: []Pool{{Name: "web", Backends: []Backend{{Address: backend}}}}}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("LOOPGATE_E2E_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run() }()
	<-s.Ready()
	if s.Addr() == nil {
		t.Fatalf("Run: %v", <-errc)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

// TestRetire runs a retiring Server in front of a successor made of raw
// sockets: a connection accepted before the steering whose request comes
// only after Retire is answered (with Connection: close), a keep-alive
// client is told to close, the server leaves the group, calls detached and
// stops, and the successor's sockets are the group's only ones.
func TestRetire(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer be.Close()
	s := startReusePort(t, 2, be.Listener.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := s.Listeners(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Listeners: %d, %v; want 2", n, err)
	}
	if err := s.Steer(0); err != nil {
		t.Fatal(err)
	}
	port := s.Addr().(*net.TCPAddr).Port
	addr := s.Addr().String()

	// Connections to the retiring server: one keep-alive client that has
	// made a request, one that has sent nothing yet.
	ka, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Close()
	kar := bufio.NewReader(ka)
	get := func(c net.Conn, r *bufio.Reader) (*http.Response, error) {
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
			return nil, err
		}
		resp, err := http.ReadResponse(r, nil)
		if err == nil {
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	if resp, err := get(ka, kar); err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("keep-alive request before the handoff: %v, %v", resp, err)
	}
	fresh, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()

	// The successor: two raw sockets, steered to.
	b0, _ := rawListener(t, port)
	b1, _ := rawListener(t, port)
	if peers, err := s.GroupPeers(); err != nil || peers != 2 {
		t.Fatalf("GroupPeers with a successor: %d, %v; want 2", peers, err)
	}
	if err := attachSteering(b0, 2, 2); err != nil {
		t.Fatal(err)
	}
	var detached atomic.Bool
	if err := s.Retire(2, func() { detached.Store(true) }); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()

	time.Sleep(300 * time.Millisecond) // several drain rounds
	if resp, err := get(fresh, bufio.NewReader(fresh)); err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("request on a connection accepted before the handoff: %v, %v; want 200 with Connection: close", resp, err)
	}
	if resp, err := get(ka, kar); err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("keep-alive request during the handoff: %v, %v; want 200 with Connection: close", resp, err)
	}
	fresh.Close() // as clients do after Connection: close; the server lingers until then
	ka.Close()
	// New connections go to the successor meanwhile.
	for range 10 {
		if i := landing(t, port, []int{b0, b1}); i < 0 {
			t.Fatal("a new connection did not reach the successor")
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(t0); d < handoffSettle-100*time.Millisecond || d > handoffSettle+time.Second {
		t.Fatalf("the handoff took %v; want about %v", d, handoffSettle)
	}
	if !detached.Load() {
		t.Fatal("detached was not called")
	}
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	if got := inodesOf(t, string(data), s.Addr().(*net.TCPAddr)); len(got) != 2 {
		t.Fatalf("after the handoff %d sockets listen on %s; want the successor's 2", len(got), addr)
	}
	for range 10 {
		if i := landing(t, port, []int{b0, b1}); i < 0 {
			t.Fatal("a new connection did not reach the successor")
		}
	}
}

// TestListenersCount: Listeners finds one socket per event loop, and
// GroupPeers counts the group's other members.
func TestListenersCount(t *testing.T) {
	s := startReusePort(t, 3, "127.0.0.1:1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := s.Listeners(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Listeners: %d, %v; want 3", n, err)
	}
	if peers, err := s.GroupPeers(); err != nil || peers != 0 {
		t.Fatalf("GroupPeers: %d, %v; want 0", peers, err)
	}
	fd, _ := rawListener(t, s.Addr().(*net.TCPAddr).Port)
	if peers, err := s.GroupPeers(); err != nil || peers != 1 {
		t.Fatalf("GroupPeers with another socket: %d, %v; want 1", peers, err)
	}
	unix.Shutdown(fd, unix.SHUT_RDWR) // stops listening; the cleanup closes it
	if peers, err := s.GroupPeers(); err != nil || peers != 0 {
		t.Fatalf("GroupPeers after it stopped: %d, %v; want 0", peers, err)
	}
}

// TestRetireMidResponse: a response whose head went out without
// "Connection: close" before the server started retiring, and whose body
// ends after, leaves the connection open. The client was told it may send
// its next request there, and does: that request is answered (with
// Connection: close), not met with a close.
func TestRetireMidResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	release := make(chan struct{})
	var released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	var first atomic.Bool
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					if first.CompareAndSwap(false, true) {
						// The head and the first body byte, then the rest once the server retires.
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no")
						<-release
						io.WriteString(c, "k")
						continue
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	s := startReusePort(t, 1, ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Listeners(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Steer(0); err != nil {
		t.Fatal(err)
	}

	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.Close {
		t.Fatalf("response head before the handoff: %v, %v; want one that keeps the connection", resp, err)
	}

	succ, _ := rawListener(t, s.Addr().(*net.TCPAddr).Port)
	if err := attachSteering(succ, 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Retire(1, nil); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	for !s.draining.Load() {
		time.Sleep(time.Millisecond)
	}
	unblock()
	if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "ok" {
		t.Fatalf("body: %q, %v", body, err)
	}

	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("next request on the kept connection: %v; want an answer", err)
	}
	io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("next request on the kept connection: %d, close %v; want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	c.Close()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestUnreadInput: the peek sees bytes the kernel holds, and nothing at EOF.
func TestUnreadInput(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	f := func(want bool) {
		t.Helper()
		if got := unreadInput(fds[0]); got != want {
			t.Fatalf("unreadInput = %v; want %v", got, want)
		}
	}
	f(false)
	unix.Write(fds[1], []byte("GET"))
	f(true)
	f(true) // a peek leaves the bytes there
	unix.Read(fds[0], make([]byte, 8))
	f(false)
	unix.Close(fds[1])
	f(false)
}

// TestHandoffEveryListener: a server with two listeners (the second one TLS)
// steers both groups to its sockets and, retiring, hands both over: each
// group's sockets leave without a new connection reaching one of them, and
// afterwards each address is served by the successor's sockets alone.
func TestHandoffEveryListener(t *testing.T) {
	free := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	p1, p2 := free(), free()
	cfg := Config{EventLoops: 2, ReusePort: true,
		Pools: []Pool{{Name: "web", Backends: []Backend{{Address: "127.0.0.1:1"}}}},
		Listeners: []Listener{{Address: fmt.Sprintf("127.0.0.1:%d", p1)},
			{Address: fmt.Sprintf("127.0.0.1:%d", p2), TLS: &tls.Config{Certificates: []tls.Certificate{{}}}}}}
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run() }()
	<-s.Ready()
	if s.Addr() == nil {
		t.Fatalf("Run: %v", <-errc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer s.Shutdown(ctx)
	if n, err := s.Listeners(ctx); err != nil || n != 2 {
		t.Fatalf("Listeners: %d, %v; want 2", n, err)
	}
	if peers, err := s.GroupPeers(); err != nil || peers != 0 {
		t.Fatalf("GroupPeers: %d, %v; want 0", peers, err)
	}
	if err := s.Steer(0); err != nil {
		t.Fatal(err)
	}
	// Both groups are steered to our sockets: a socket that joins the
	// second group later gets nothing (without a program the kernel would
	// hash a share of the connections to it).
	intruder, _ := rawListener(t, p2)
	var conns []net.Conn
	for range 30 { // unsteered, a third would reach it; all 30 missing it: 1 in 190,000
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p2), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond)
	if nfd, _, err := unix.Accept(intruder); err == nil {
		unix.Close(nfd)
		t.Fatal("a connection to the second listener reached a socket outside our steering")
	}
	for _, c := range conns {
		c.Close()
	}
	unix.Shutdown(intruder, unix.SHUT_RDWR) // stops listening; the cleanup closes it

	// Now a successor (raw sockets, two per address) takes both over.
	var succ [2][2]int
	for i, p := range []int{p1, p2} {
		succ[i][0], _ = rawListener(t, p)
		succ[i][1], _ = rawListener(t, p)
		if err := attachSteering(succ[i][0], 2, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Retire(2, nil); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	for range 10 {
		for i, p := range []int{p1, p2} {
			if landing(t, p, succ[i][:]) < 0 {
				t.Fatalf("a new connection to port %d did not reach the successor during the handoff", p)
			}
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []int{p1, p2} {
		if got := inodesOf(t, string(data), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}); len(got) != 2 {
			t.Fatalf("after the handoff %d sockets listen on port %d; want the successor's 2", len(got), p)
		}
		for range 10 {
			if landing(t, p, succ[i][:]) < 0 {
				t.Fatalf("a new connection to port %d did not reach the successor", p)
			}
		}
	}
}
