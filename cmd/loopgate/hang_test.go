package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestHelperBackendProcess is not a test: run as a child process with
// LOOPGATE_HELPER_BACKEND=addr, it serves "ok" there until killed, so that a
// test can stop it with SIGSTOP as a hung backend would be.
func TestHelperBackendProcess(t *testing.T) {
	addr := os.Getenv("LOOPGATE_HELPER_BACKEND")
	if addr == "" {
		t.Skip("a helper process, not a test")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Exit(3)
	}
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
}

// A backend that hangs (SIGSTOP: the kernel still accepts connections and
// takes requests, nothing answers) costs a bounded number of requests with
// the default config: passive ejection is on and counts response timeouts,
// so each client meets the hung backend about once, and once it is out
// every request succeeds.
func TestHungBackendIsEjectedByDefault(t *testing.T) {
	addr := freeAddr(t)
	child := exec.Command(os.Args[0], "-test.run=^TestHelperBackendProcess$")
	child.Env = append(os.Environ(), "LOOPGATE_HELPER_BACKEND="+addr)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Signal(syscall.SIGCONT)
		child.Process.Kill()
		child.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper backend did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b1, b2 := startTestBackend(t, "b1", 0), startTestBackend(t, "b2", 0)
	// No [pool.passive]: the defaults. A short response timeout keeps the test short.
	path := adminConfig(t, t.TempDir(), freeAddr(t), "round_robin", "\n[timeouts]\nupstream_response = \"1s\"", b1.addr, b2.addr, addr)
	r := startApp(t, path)
	get := func(c *http.Client) (int, time.Duration) {
		start := time.Now()
		resp, err := c.Get("http://" + r.proxy + "/")
		if err != nil {
			return 0, time.Since(start)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	warm := &http.Client{Timeout: 5 * time.Second}
	for range 6 {
		if code, _ := get(warm); code != 200 {
			t.Fatalf("before the hang: %d", code)
		}
	}

	if err := child.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	const clients = 8
	var failed, late, ok atomic.Int64 // failed: not 200, or slow
	end := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
			for time.Now().Before(end) {
				// A request that waited out the response timeout cost its
				// client a second even when a retry then answered it.
				if code, took := get(c); code != 200 || took > 900*time.Millisecond {
					failed.Add(1)
					if time.Until(end) < 2*time.Second {
						late.Add(1) // the backend should be out by now
					}
				} else {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("hung backend: %d requests failed, %d succeeded, %d failed in the last 2s", failed.Load(), ok.Load(), late.Load())
	// Each client can wait on the hung backend once before it is ejected
	// (about five response timeouts in a row take it out); allow twice that.
	if failed.Load() > 2*clients || late.Load() > 0 {
		t.Fatalf("a hung backend cost %d requests (%d in the last 2s); want at most %d, none once it is out",
			failed.Load(), late.Load(), 2*clients)
	}
	if ok.Load() < 100 {
		t.Fatalf("only %d requests succeeded around the hung backend", ok.Load())
	}
}
