//go:build !race

package engine_test

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// maxIdleClientHeap bounds the heap one idle keep-alive client connection
// holds after an exchange: gnet's connection (about 420 bytes with its
// addresses) and the engine's clientConn (160), not an exchange's state,
// which goes back to the loop's free list. It was 1,170 bytes when each
// connection kept its exchange.
const maxIdleClientHeap = 768

// TestIdleClientHeap opens keep-alive clients, one request each, and
// measures the proxy's heap per connection. The clients are raw sockets so
// that the test's own side allocates nothing on the heap per connection.
func TestIdleClientHeap(t *testing.T) {
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 100))
	}))
	_, addr := startProxy(t, poolOf(be))
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: ap.Port, Addr: [4]byte(ap.IP.To4())}
	const n = 2000
	fds := make([]int, 0, n)
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	exchange := func() {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		tv := unix.Timeval{Sec: 5}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		if err := unix.Connect(fd, sa); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(fd, req); err != nil {
			t.Fatal(err)
		}
		got := 0
		for !completeResponse(buf[:got]) {
			k, err := unix.Read(fd, buf[got:])
			if err != nil || k <= 0 {
				t.Fatalf("reading response %d: %v (got %q)", len(fds), err, buf[:got])
			}
			got += k
		}
	}
	exchange() // the loop's buffers and the upstream connection exist from here on
	// HeapAlloc counts live objects; HeapInuse would add the spans' free slots.
	before := memAfterGC().HeapAlloc
	for range n - 1 {
		exchange()
	}
	per := (int64(memAfterGC().HeapAlloc) - int64(before)) / (n - 1)
	t.Logf("heap per idle keep-alive client: %d bytes (%d connections)", per, n-1)
	if per > maxIdleClientHeap {
		t.Fatalf("an idle keep-alive client holds %d bytes of heap; want at most %d", per, maxIdleClientHeap)
	}
}

// completeResponse reports whether b holds a whole response with a
// Content-Length body.
func completeResponse(b []byte) bool {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return false
	}
	head := string(b[:i])
	j := bytes.Index(bytes.ToLower(b[:i]), []byte("content-length: "))
	if j < 0 {
		return false
	}
	end := j + len("content-length: ")
	k := end
	for k < len(head) && head[k] >= '0' && head[k] <= '9' {
		k++
	}
	cl, _ := strconv.Atoi(head[end:k])
	return len(b) >= i+4+cl
}
