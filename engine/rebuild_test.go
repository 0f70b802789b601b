package engine

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/upstream"
)

// Publishing new backend sets while requests are in flight drops none of
// them, sends none to a backend no longer in the set once the swap is seen,
// and every pick still gets its Done (on the picker that made it).
func TestRebuildUnderLoad(t *testing.T) {
	var addrs []string
	for i := range 4 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprint("b", i)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * time.Millisecond)
			io.WriteString(w, name)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		addrs = append(addrs, ln.Addr().String())
	}
	backends := func(idx ...int) []upstream.Backend {
		var bs []upstream.Backend
		for _, i := range idx {
			bs = append(bs, upstream.Backend{Addr: addrs[i], Weight: 1})
		}
		return bs
	}
	s, alg := startCounting(t, Config{EventLoops: 2, Pools: []Pool{{Name: "p", Algorithm: "least_connections",
		Backends: []Backend{{Address: addrs[0]}, {Address: addrs[1]}}}}})
	p := s.pools[0]
	url := "http://" + s.Addr().String() + "/"

	var served sync.Map // backend name -> count
	var failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := hc.Get(url)
				if err != nil {
					failed.Add(1)
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					t.Errorf("status %d: %s", resp.StatusCode, b)
				}
				n, _ := served.LoadOrStore(string(b), new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		}()
	}
	// Grow, shrink, replace: each publish is a new generation.
	gens := [][]int{{0, 1, 2}, {1, 2}, {2, 3}, {3}}
	for g, idx := range gens {
		time.Sleep(200 * time.Millisecond)
		prev := p.state.Load().set
		p.publish(upstream.NewSet(uint64(g+2), backends(idx...), prev), upstream.NewMask(len(idx)))
	}
	time.Sleep(200 * time.Millisecond)
	// After the last swap has settled, only b3 may answer.
	served.Range(func(k, _ any) bool { served.Delete(k); return true })
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	var names []string
	served.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
	if len(names) != 1 || names[0] != "b3" {
		t.Fatalf("after the last swap requests reached %v; want only b3", names)
	}
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed across the swaps", failed.Load())
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		picks, dones, ok := alg.balanced()
		if ok {
			t.Logf("%d picks, %d dones across %d generations", picks, dones, len(gens)+1)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("picks %v dones %v", alg.picks, alg.done)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
