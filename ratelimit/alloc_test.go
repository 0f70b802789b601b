//go:build !race

package ratelimit

import (
	"net"
	"testing"
	"time"
)

func TestAllocs(t *testing.T) {
	l := NewLocal(Rule{Rate: 100, Burst: 10}, 1024)
	g := NewGauge(1024)
	// The sync goroutine allocates (go-redis) and AllocsPerRun counts every
	// goroutine's allocations: give it nothing to do during the test. Allow's
	// path does not depend on Redis.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	sh := NewShared("alloc", Rule{Rate: 100, Burst: 10}, RedisConfig{Address: ln.Addr().String(), Sync: time.Hour}, FailLocal, 1024, testLog)
	defer sh.Close()
	now, key := int64(0), uint64(0)
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Fatalf("%s: %v allocs per call; want 0", name, n)
		}
	}
	f("Local.Allow", func() { now += 1e5; key++; l.Allow(key%2000, now) })
	f("Local.Peek", func() { key++; l.Peek(key%2000, now) })
	f("Shared.Allow", func() { now += 1e5; key++; sh.Allow(key%2000, now) })
	f("Gauge", func() {
		key++
		if g.Acquire(key%2000, 2) {
			g.Release(key % 2000)
		}
	})
}
