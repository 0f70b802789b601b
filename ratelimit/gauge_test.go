package ratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestGaugeSequence(t *testing.T) {
	g := NewGauge(64)
	const a, b = 1, 2
	for i := 0; i < 3; i++ {
		if !g.Acquire(a, 3) {
			t.Fatalf("acquire %d of 3 refused", i+1)
		}
	}
	if g.Acquire(a, 3) {
		t.Fatal("fourth acquire admitted with max 3")
	}
	if !g.Acquire(b, 1) || g.Acquire(b, 1) {
		t.Fatal("other key not counted on its own")
	}
	g.Release(a)
	if !g.Acquire(a, 3) {
		t.Fatal("acquire after release refused")
	}
	if g.Acquire(a, 0) {
		t.Fatal("max 0 admitted")
	}
	for i := 0; i < 3; i++ {
		g.Release(a)
	}
	g.Release(b)
	g.Release(a) // unmatched: must not underflow or touch another key
	if n := g.used(); n != 0 {
		t.Fatalf("%d slots still counted after every release", n)
	}
}

// used is the number of slots with a count, for tests.
func (g *Gauge) used() int {
	n := 0
	for i := range g.slots {
		if g.slots[i].Load()&valueMask != 0 {
			n++
		}
	}
	return n
}

func TestGaugeFullBucketFailsOpen(t *testing.T) {
	g := NewGauge(8) // one bucket
	keys := distinctKeys(10, g.shift, 0)
	for _, k := range keys[:8] {
		if !g.Acquire(k, 1) {
			t.Fatal("acquire refused in a bucket with room")
		}
	}
	// keys[8] finds no room: admitted uncounted, twice (fail open).
	if !g.Acquire(keys[8], 1) || !g.Acquire(keys[8], 1) {
		t.Fatal("full bucket did not fail open")
	}
	// Room again: keys[8] is now counted; its two uncounted releases and one
	// counted one bring everything back to zero, never below.
	g.Release(keys[0])
	if !g.Acquire(keys[8], 3) {
		t.Fatal("acquire refused after room was made")
	}
	for i := 0; i < 3; i++ {
		g.Release(keys[8])
	}
	for _, k := range keys[1:8] {
		g.Release(k)
	}
	if n := g.used(); n != 0 {
		t.Fatalf("%d slots still counted after every release", n)
	}
}

// TestGaugeConcurrent runs many goroutines that acquire and release a few keys
// (some forced to share a bucket) and checks that no key is ever over its max
// and that every count returns to zero.
func TestGaugeConcurrent(t *testing.T) {
	g := NewGauge(16)
	keys := append(distinctKeys(6, g.shift, 0), distinctKeys(2, g.shift, 1)...)
	const max = 3
	inflight := make([]atomic.Int32, len(keys))
	var wg sync.WaitGroup
	var over atomic.Int32
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4000; i++ {
				k := (w + i) % len(keys)
				if !g.Acquire(keys[k], max) {
					continue
				}
				if inflight[k].Add(1) > max {
					over.Add(1)
				}
				inflight[k].Add(-1)
				g.Release(keys[k])
			}
		}()
	}
	wg.Wait()
	if over.Load() != 0 {
		t.Fatalf("a key held more than %d requests %d times", max, over.Load())
	}
	if n := g.used(); n != 0 {
		t.Fatalf("%d slots still counted after every release", n)
	}
}
