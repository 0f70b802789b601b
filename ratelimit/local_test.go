package ratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

func TestLocalDecisions(t *testing.T) {
	// 100/s, burst 10: T = 10ms, the TAT may run 100ms ahead of now.
	l := NewLocal(Rule{Rate: 100, Burst: 10}, 64)
	const key = 42
	f := func(now int64, allow bool, want Decision) {
		t.Helper()
		var got Decision
		if allow {
			got = l.Allow(key, now)
		} else {
			got = l.Peek(key, now)
		}
		if got != want {
			t.Fatalf("at %dms allow=%v: got %+v; want %+v", now/ms, allow, got, want)
		}
	}
	d := time.Millisecond
	f(0, false, Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 10 * d})
	f(0, true, Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 10 * d})
	for i := 2; i <= 10; i++ {
		f(0, true, Decision{Allowed: true, Limit: 10, Remaining: 10 - i, Reset: time.Duration(i) * 10 * d})
	}
	// The bucket is empty: refused, nothing recorded, one more in 10ms.
	f(0, true, Decision{Limit: 10, Reset: 100 * d, RetryAfter: 10 * d})
	f(4*ms, true, Decision{Limit: 10, Reset: 96 * d, RetryAfter: 6 * d})
	f(4*ms, false, Decision{Limit: 10, Reset: 96 * d, RetryAfter: 6 * d})
	f(10*ms, true, Decision{Allowed: true, Limit: 10, Remaining: 0, Reset: 100 * d})
	f(10*ms, true, Decision{Limit: 10, Reset: 100 * d, RetryAfter: 10 * d})
	// 35ms later 3.5 intervals have passed: 3 admitted, then refused for 5ms.
	for i := 0; i < 3; i++ {
		f(45*ms, true, Decision{Allowed: true, Limit: 10, Remaining: 2 - i, Reset: time.Duration(75+10*i) * d})
	}
	f(45*ms, true, Decision{Limit: 10, Reset: 95 * d, RetryAfter: 5 * d})
	// Idle past Reset: a fresh key again.
	f(1000*ms, true, Decision{Allowed: true, Limit: 10, Remaining: 9, Reset: 10 * d})
}

func TestLocalRuleDefaults(t *testing.T) {
	f := func(r Rule, wantT, wantLimit int64, wantBurst int) {
		t.Helper()
		l := NewLocal(r, 0)
		if l.t != wantT || l.limit != wantLimit || l.burst != wantBurst {
			t.Fatalf("NewLocal(%+v): T=%dµs limit=%dµs burst=%d; want %d %d %d", r, l.t, l.limit, l.burst, wantT, wantLimit, wantBurst)
		}
		if l.Bytes() != 8<<20 {
			t.Fatalf("Bytes() = %d; want %d", l.Bytes(), 8<<20)
		}
	}
	f(Rule{Rate: 100}, 10000, 1000000, 100)
	f(Rule{Rate: 3, Burst: 1}, 333333, 333333, 1)
	f(Rule{Rate: 2, Period: time.Minute, Burst: 5}, 30000000, 150000000, 5)
	f(Rule{Rate: 10000000}, 1, 10000000, 10000000) // capped at 1e6/s
}

func TestTableShape(t *testing.T) {
	f := func(maxKeys, wantSlots int) {
		t.Helper()
		n, shift := tableShape(maxKeys)
		if n != wantSlots {
			t.Fatalf("tableShape(%d) = %d slots; want %d", maxKeys, n, wantSlots)
		}
		// Every mixed key must land in a bucket of the table.
		for _, h := range []uint64{0, 1, 1 << 63, ^uint64(0)} {
			if b := int(h>>shift) * slotsPerBucket; b+slotsPerBucket > n {
				t.Fatalf("tableShape(%d): h=%x lands at slot %d of %d", maxKeys, h, b, n)
			}
		}
	}
	f(0, 1<<20)
	f(1, 8)
	f(8, 8)
	f(9, 16)
	f(1000, 1024)
	f(1<<20, 1<<20)
}

// distinctKeys returns n keys whose fingerprints differ, all in one bucket of a
// table of the given shape.
func distinctKeys(n int, shift uint, bucket uint64) []uint64 {
	seen := map[uint64]bool{}
	var keys []uint64
	for k := uint64(1); len(keys) < n; k++ {
		h := mix(k)
		if h>>shift != bucket || seen[fingerprint(h)] {
			continue
		}
		seen[fingerprint(h)] = true
		keys = append(keys, k)
	}
	return keys
}

// TestLocalExactUnderContention hammers keys from many goroutines on a shared
// simulated clock: every attempt advances it by 10µs, so attempts are dense and
// interleave out of order across goroutines. Each key must admit exactly
// Burst + elapsed/T.
func TestLocalExactUnderContention(t *testing.T) {
	for _, nkeys := range []int{1, 8} {
		// One bucket: with 8 keys the bucket is full, so it also checks that keys
		// sharing a cache line never lose or borrow each other's history.
		l := NewLocal(Rule{Rate: 1000, Burst: 20}, 8)
		keys := distinctKeys(nkeys, l.shift, 0)
		const (
			start   = 5 * int64(time.Second) // any origin
			elapsed = 1*int64(time.Second) + ms/2
			step    = 10 * int64(time.Microsecond)
		)
		var clock atomic.Int64
		clock.Store(start)
		admitted := make([]atomic.Int64, nkeys)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; ; i++ {
					now := clock.Add(step)
					if now > start+elapsed {
						return
					}
					k := i % nkeys
					if l.Allow(keys[k], now).Allowed {
						admitted[k].Add(1)
					}
				}
			}()
		}
		wg.Wait()
		want := int64(20 + 1000) // Burst + elapsed/T, T = 1ms
		for k := range admitted {
			if got := admitted[k].Load(); got != want {
				t.Errorf("%d keys: key %d admitted %d; want %d", nkeys, k, got, want)
			}
		}
	}
}

func TestLocalIdleKeysEvictFree(t *testing.T) {
	// T = 1ms: a key touched once is idle (its TAT passed) 1ms later.
	r := Rule{Rate: 1000, Burst: 5}
	l := NewLocal(r, 64)
	ref := NewLocal(r, 64) // sees only the active key
	const active = 7
	var got, want int
	// 100 times the table's size in distinct keys, one per ms, while the active
	// key asks three times per ms: the new keys take free slots and evict
	// nothing live, so the active key is judged exactly as if it were alone.
	for i := 0; i < 6400; i++ {
		now := int64(i) * ms
		k := uint64(1000 + i)
		if d := l.Allow(k, now); !d.Allowed || d.Remaining != 4 {
			t.Fatalf("fresh key %d at %dms: %+v", k, i, d)
		}
		for j := 0; j < 3; j++ {
			if l.Allow(active, now).Allowed {
				got++
			}
			if ref.Allow(active, now).Allowed {
				want++
			}
		}
	}
	if got != want || want != 5+6399 {
		t.Fatalf("active key admitted %d; alone %d; want %d", got, want, 5+6399)
	}
}

func TestLocalEvictsClosestToIdle(t *testing.T) {
	l := NewLocal(Rule{Rate: 10, Burst: 10}, 8) // one bucket of 8 slots
	keys := distinctKeys(9, l.shift, 0)
	// Key i spends i+1 requests at 0: its TAT is (i+1)·100ms ahead.
	for i, k := range keys[:8] {
		for j := 0; j <= i; j++ {
			l.Allow(k, 0)
		}
	}
	// A ninth live key evicts the one with the smallest TAT: keys[0].
	if d := l.Allow(keys[8], 0); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("ninth key: %+v", d)
	}
	if d := l.Peek(keys[0], 0); d.Remaining != 9 {
		t.Fatalf("keys[0] should have been evicted (fresh): %+v", d)
	}
	for i, k := range keys[1:8] {
		if d := l.Peek(k, 0); d.Remaining != 10-(i+2)-1 {
			t.Fatalf("keys[%d] lost its state: %+v", i+1, d)
		}
	}
}
