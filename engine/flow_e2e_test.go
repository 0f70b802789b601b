package engine_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	flowSize     = 256 << 20        // bytes through the proxy per transfer
	flowStep     = 64 << 10         // the slow side moves this much...
	flowPause    = time.Millisecond // ...then sleeps this long
	flowDeadline = 30 * time.Second
	flowMaxGrow  = 32 << 20 // memory growth allowed during a transfer
)

// memUse is one sample of this process's memory.
type memUse struct{ rss, heap uint64 }

func sampleMem() memUse {
	var m memUse
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			m.rss = pages * uint64(os.Getpagesize())
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heap = ms.HeapInuse + ms.StackInuse
	return m
}

// watchMem samples memory every 20ms until stop is called, which returns
// the largest growth over the baseline taken at the start.
func watchMem() (stop func() (base, peak memUse)) {
	runtime.GC()
	debug.FreeOSMemory()
	base := sampleMem()
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			m := sampleMem()
			peak.rss, peak.heap = max(peak.rss, m.rss), max(peak.heap, m.heap)
		}
	}()
	return func() (memUse, memUse) {
		close(done)
		wg.Wait()
		return base, peak
	}
}

func checkGrowth(t *testing.T, base, peak memUse) {
	t.Helper()
	grow := func(a, b uint64) int64 { return int64(b) - int64(a) }
	t.Logf("memory: RSS %d MiB -> peak %d MiB; heap+stack %d MiB -> peak %d MiB",
		base.rss>>20, peak.rss>>20, base.heap>>20, peak.heap>>20)
	if g := grow(base.heap, peak.heap); g > flowMaxGrow {
		t.Errorf("heap+stack grew by %d MiB during the transfer, want under %d MiB", g>>20, flowMaxGrow>>20)
	}
	if g := grow(base.rss, peak.rss); base.rss > 0 && g > flowMaxGrow {
		t.Errorf("RSS grew by %d MiB during the transfer, want under %d MiB", g>>20, flowMaxGrow>>20)
	}
}

// slowVerify reads n bytes from r flowStep at a time with a pause between
// steps, checking them against the pattern. It returns the bytes read.
func slowVerify(r io.Reader, n int64, deadline time.Time) (int64, error) {
	buf := make([]byte, flowStep)
	exp := make([]byte, flowStep)
	var off int64
	for off < n {
		if time.Now().After(deadline) {
			return off, fmt.Errorf("too slow: %d of %d bytes by the deadline", off, n)
		}
		k, err := io.ReadFull(r, buf[:min(int64(len(buf)), n-off)])
		p := pattern{off: off, n: n}
		p.Read(exp[:k])
		if !bytes.Equal(buf[:k], exp[:k]) {
			return off, fmt.Errorf("corrupt data in [%d, %d)", off, off+int64(k))
		}
		off += int64(k)
		if err != nil {
			return off, err
		}
		time.Sleep(flowPause)
	}
	return off, nil
}

// A backend sends 256 MiB as fast as it can to a client that reads slowly:
// the proxy must hold it back instead of buffering it.
func TestFlowControlSlowClientE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB through a slow client")
	}
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cl" {
			w.Header().Set("Content-Length", strconv.Itoa(flowSize))
		} // else net/http chunks it
		io.Copy(w, &pattern{n: flowSize})
	}))
	px := startProxyTo(t, be)
	for _, path := range []string{"/cl", "/chunked"} {
		t.Run(path[1:], func(t *testing.T) {
			deadline := time.Now().Add(flowDeadline)
			c := dial(t, px)
			c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
			c.c.SetReadDeadline(deadline)
			stop := watchMem()
			start := time.Now()
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				stop()
				t.Fatal(err)
			}
			n, err := slowVerify(resp.Body, flowSize, deadline)
			base, peak := stop()
			t.Logf("%d MiB in %v", n>>20, time.Since(start))
			if err != nil || n != flowSize {
				t.Fatalf("read %d of %d bytes: %v", n, flowSize, err)
			}
			if path == "/chunked" {
				if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
					t.Fatalf("after the body: %d bytes, %v", len(rest), err)
				}
			}
			checkGrowth(t, base, peak)
		})
	}
}

// A client sends 256 MiB as fast as it can to a backend that reads slowly.
func TestFlowControlSlowBackendE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB to a slow backend")
	}
	be := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := slowVerify(r.Body, flowSize, time.Now().Add(flowDeadline))
		if err == nil {
			var extra [1]byte
			if k, _ := r.Body.Read(extra[:]); k > 0 {
				err = fmt.Errorf("body longer than %d bytes", flowSize)
			}
		}
		fmt.Fprintf(w, "%d %v", n, err)
	}))
	px := startProxyTo(t, be)
	for _, chunked := range []bool{false, true} {
		name := "cl"
		if chunked {
			name = "chunked"
		}
		t.Run(name, func(t *testing.T) {
			deadline := time.Now().Add(flowDeadline)
			c := dial(t, px)
			head := "POST / HTTP/1.1\r\nHost: a\r\n"
			if chunked {
				head += "Transfer-Encoding: chunked\r\n\r\n"
			} else {
				head += "Content-Length: " + strconv.Itoa(flowSize) + "\r\n\r\n"
			}
			stop := watchMem()
			start := time.Now()
			errc := make(chan error, 1)
			go func() {
				c.c.SetWriteDeadline(deadline)
				w := bufio.NewWriterSize(c.c, 128<<10)
				w.WriteString(head)
				p := &pattern{n: flowSize}
				if !chunked {
					io.Copy(w, p)
				} else {
					buf := make([]byte, 100<<10)
					for {
						k, _ := p.Read(buf)
						if k == 0 {
							break
						}
						fmt.Fprintf(w, "%x\r\n", k)
						w.Write(buf[:k])
						w.WriteString("\r\n")
					}
					w.WriteString("0\r\n\r\n")
				}
				errc <- w.Flush()
			}()
			r, err := c.readErr("POST", time.Until(deadline))
			base, peak := stop()
			t.Logf("%d MiB in %v", flowSize>>20, time.Since(start))
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("writing the body: %v", err)
			}
			if want := fmt.Sprintf("%d <nil>", flowSize); r.body != want {
				t.Fatalf("backend says %q, want %q", r.body, want)
			}
			checkGrowth(t, base, peak)
		})
	}
}
