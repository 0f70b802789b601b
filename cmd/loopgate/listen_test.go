package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// reusePortListener listens on addr with SO_REUSEPORT, as a running
// loopgate does: the socket a second one would otherwise join.
func reusePortListener(t *testing.T, ip [4]byte, port int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: ip}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	return sa.(*unix.SockaddrInet4).Port
}

func TestEnsurePortFree(t *testing.T) {
	addr := freeAddr(t)
	if err := ensurePortFree(addr); err != nil {
		t.Fatalf("free %s: %v", addr, err)
	}
	if err := ensurePortFree("127.0.0.1:0"); err != nil {
		t.Fatalf("port 0: %v", err)
	}

	port := reusePortListener(t, [4]byte{127, 0, 0, 1}, 0)
	taken := "127.0.0.1:" + strconv.Itoa(port)
	if err := ensurePortFree(taken); !errors.Is(err, errPortTaken) {
		t.Fatalf("%s with a SO_REUSEPORT listener: got %v; want errPortTaken", taken, err)
	}
	if err := ensurePortFree(":" + strconv.Itoa(port)); !errors.Is(err, errPortTaken) {
		t.Fatalf("the wildcard address over a listener on 127.0.0.1: got %v; want errPortTaken", err)
	}

	wild := reusePortListener(t, [4]byte{}, 0)
	if err := ensurePortFree("127.0.0.1:" + strconv.Itoa(wild)); !errors.Is(err, errPortTaken) {
		t.Fatalf("127.0.0.1 under a wildcard listener: got %v; want errPortTaken", err)
	}
}

// Connections the last process left in TIME_WAIT do not hold the port: a
// restart right after a stop must work.
func TestEnsurePortFreeAfterTimeWait(t *testing.T) {
	ln, err := net.Listen("tcp", freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // the server closes first: its side goes to TIME_WAIT
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Read(make([]byte, 1))
	c.Close()
	ln.Close()
	if err := ensurePortFree(addr); err != nil {
		t.Fatalf("%s with a connection in TIME_WAIT: %v", addr, err)
	}
}

// A second loopgate started on a port another process serves exits with
// an error that says so, instead of joining its SO_REUSEPORT group.
func TestRunRefusesTakenPort(t *testing.T) {
	port := reusePortListener(t, [4]byte{127, 0, 0, 1}, 0)
	path := filepath.Join(t.TempDir(), "c.toml")
	conf := "[server]\nlisten = \"127.0.0.1:" + strconv.Itoa(port) + "\"\n\n[admin]\nlisten = \"\"\n\n" +
		"[[pool]]\nname = \"web\"\n  [[pool.backend]]\n  address = \"127.0.0.1:1\"\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"-config", path}, &bytes.Buffer{}, &stderr) }()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(stderr.String(), "another process already listens there") ||
			!strings.Contains(stderr.String(), "-upgrade") {
			t.Fatalf("run: exit %d, stderr:\n%s\nwant 1 and the reason", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run started serving on a port another process listens on")
	}
}
