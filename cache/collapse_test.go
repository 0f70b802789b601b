package cache

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestFlightsOneLeaderPerKey(t *testing.T) {
	fs := NewFlights()
	a, lead := fs.Join([]byte("h/a"))
	if !lead {
		t.Fatal("first Join does not lead")
	}
	b, lead := fs.Join([]byte("h/a"))
	if lead || b != a {
		t.Fatalf("second Join: leader=%v same=%v; want a waiter on the same flight", lead, b == a)
	}
	if _, lead := fs.Join([]byte("h/b")); !lead {
		t.Fatal("another key does not get its own flight")
	}
	if a.Done() {
		t.Fatal("done before Finish")
	}
	fs.Finish([]byte("h/a"), a)
	fs.Finish([]byte("h/a"), a) // twice: no effect
	if !a.Done() || !b.Done() {
		t.Fatal("waiters not woken by Finish")
	}
	if c, lead := fs.Join([]byte("h/a")); !lead || c == a {
		t.Fatal("a finished flight is joined again")
	}
	if n := fs.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2 (h/a again, h/b)", n)
	}
}

// A stale Finish (a leader whose key was taken over by a new flight) must
// not remove the new flight.
func TestFlightsStaleFinishKeepsNewFlight(t *testing.T) {
	fs := NewFlights()
	old, _ := fs.Join([]byte("k"))
	fs.Finish([]byte("k"), old)
	cur, _ := fs.Join([]byte("k"))
	fs.Finish([]byte("k"), old)
	if w, lead := fs.Join([]byte("k")); lead || w != cur {
		t.Fatal("a finished flight's Finish removed its successor")
	}
}

func TestFlightsConcurrentJoin(t *testing.T) {
	fs := NewFlights()
	var leaders atomic.Int32
	var wg sync.WaitGroup
	flights := make([]*Flight, 64)
	for i := range flights {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, lead := fs.Join([]byte("same"))
			if lead {
				leaders.Add(1)
			}
			flights[i] = f
		}()
	}
	wg.Wait()
	if leaders.Load() != 1 {
		t.Fatalf("%d leaders for one key, want 1", leaders.Load())
	}
	for _, f := range flights {
		if f != flights[0] {
			t.Fatal("joiners got different flights")
		}
	}
}
