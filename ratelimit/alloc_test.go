//go:build !race

package ratelimit

import "testing"

func TestAllocs(t *testing.T) {
	l := NewLocal(Rule{Rate: 100, Burst: 10}, 1024)
	g := NewGauge(1024)
	now, key := int64(0), uint64(0)
	f := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Fatalf("%s: %v allocs per call; want 0", name, n)
		}
	}
	f("Local.Allow", func() { now += 1e5; key++; l.Allow(key%2000, now) })
	f("Local.Peek", func() { key++; l.Peek(key%2000, now) })
	f("Gauge", func() {
		key++
		if g.Acquire(key%2000, 2) {
			g.Release(key % 2000)
		}
	})
}
