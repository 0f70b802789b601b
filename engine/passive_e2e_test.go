package engine_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"loopgate/engine"
)

// A backend that answers 503 to real traffic is ejected after
// consecutive_failures, gets no request while ejected, and is back after
// base_ejection_time.
func TestPassiveEjectionE2E(t *testing.T) {
	var bad atomic.Int64
	good := named(t, "good", 0)
	failing := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad.Add(1)
		w.WriteHeader(503)
	}))
	cfg := poolOf(good, failing)
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].Passive = &engine.Passive{ConsecutiveFailures: 3, Statuses: []int{503},
		BaseEjectionTime: 400 * time.Millisecond, MaxEjectionPercent: 50}
	srv, px := startProxy(t, cfg)
	get := func() int {
		resp, err := http.Get("http://" + px + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 6 { // round robin: three 503s from the failing backend
		get()
	}
	time.Sleep(50 * time.Millisecond) // the ejection runs off the loop
	ejectedAt := bad.Load()
	if ejectedAt != 3 {
		t.Fatalf("the failing backend got %d requests before its ejection; want 3", ejectedAt)
	}
	for range 10 {
		if s := get(); s != 200 {
			t.Fatalf("status %d while the failing backend is ejected", s)
		}
	}
	if n := bad.Load(); n != ejectedAt {
		t.Fatalf("an ejected backend got %d requests", n-ejectedAt)
	}
	// The status view explains it.
	st := srv.Status()[0].Backends
	if st[1].State != "ejected" || st[1].Reason != "3 consecutive failures: status 503" || st[1].Since.IsZero() || st[0].State != "up" {
		t.Fatalf("status while ejected: %+v", st)
	}
	if tr := st[1].Transitions; len(tr) != 1 || tr[0].From != "up" || tr[0].To != "ejected" || tr[0].At.IsZero() {
		t.Fatalf("transitions while ejected: %+v", tr)
	}
	time.Sleep(500 * time.Millisecond)
	for range 4 {
		get()
	}
	if bad.Load() == ejectedAt {
		t.Fatalf("the backend did not come back after base_ejection_time")
	}
}

// With max_ejection_percent 50, at most one of three failing backends is
// ever ejected: one bad deploy cannot empty the pool.
func TestPassiveMaxEjectionPercentE2E(t *testing.T) {
	var hits [3]atomic.Int64
	var addrs []string
	for i := range 3 {
		addrs = append(addrs, startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			w.WriteHeader(503)
		})))
	}
	cfg := poolOf(addrs...)
	cfg.Pools[0].Algorithm = "round_robin"
	cfg.Pools[0].Passive = &engine.Passive{ConsecutiveFailures: 2, Statuses: []int{503},
		BaseEjectionTime: 5 * time.Second, MaxEjectionPercent: 50}
	_, px := startProxy(t, cfg)
	for range 30 {
		resp, err := http.Get("http://" + px + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(5 * time.Millisecond)
	}
	var before [3]int64
	for i := range hits {
		before[i] = hits[i].Load()
	}
	for range 12 {
		resp, err := http.Get("http://" + px + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	serving := 0
	for i := range hits {
		if hits[i].Load() > before[i] {
			serving++
		}
	}
	if serving < 2 {
		t.Fatalf("only %d of 3 backends still take traffic; max_ejection_percent 50 allows one ejection", serving)
	}
}
