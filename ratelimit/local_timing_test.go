package ratelimit

import (
	"fmt"
	"sync/atomic"
	"testing"
)

var sink atomic.Int64 // so results are not optimised away

// BenchmarkLocalOneKey: every goroutine (GOMAXPROCS of them) on one key, the
// worst case for the CAS loop: all writes go to one cache line.
func BenchmarkLocalOneKey(b *testing.B) {
	l := NewLocal(Rule{Rate: 1000000, Burst: 1000}, 0)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		now, n := int64(0), 0
		for pb.Next() {
			now += 100 // each goroutine its own clock: contend on the key only
			if l.Allow(1, now).Allowed {
				n++
			}
		}
		sink.Add(int64(n))
	})
}

// BenchmarkLocalRandomKeys: keys drawn at random from 1M over a 1M-key table,
// mostly cache misses: the cost of one bucket fetch.
func BenchmarkLocalRandomKeys(b *testing.B) {
	l := NewLocal(Rule{Rate: 100, Burst: 10}, 1<<20)
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		x := seed.Add(0x9e3779b97f4a7c15)
		now, n := int64(0), 0
		for pb.Next() {
			x = x*6364136223846793005 + 1442695040888963407
			now += 100
			if l.Allow(x>>44, now).Allowed { // 20 bits: 1M keys
				n++
			}
		}
		sink.Add(int64(n))
	})
}

func BenchmarkGaugeOneKey(b *testing.B) {
	g := NewGauge(0)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if g.Acquire(1, 1<<30) {
				g.Release(1)
			}
		}
	})
}

func BenchmarkGaugeRandomKeys(b *testing.B) {
	g := NewGauge(1 << 20)
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		x := seed.Add(0x9e3779b97f4a7c15)
		for pb.Next() {
			x = x*6364136223846793005 + 1442695040888963407
			if g.Acquire(x>>44, 4) {
				g.Release(x >> 44)
			}
		}
	})
}

// BenchmarkSharedAllow: random keys on a Shared limit syncing with a real
// Redis (on the same machine, so its CPU shows here) every 20ms. Every distinct
// key admitted in a sync interval costs one script step in Redis.
func BenchmarkSharedAllow(b *testing.B) {
	rd := startRedis(b)
	for _, bits := range []uint{10, 16} {
		b.Run(fmt.Sprintf("keys=%d", 1<<bits), func(b *testing.B) {
			s := NewShared("bench", Rule{Rate: 100, Burst: 10}, RedisConfig{Address: rd.addr}, FailLocal, 1<<16, testLog)
			defer s.Close()
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				x := seed.Add(0x9e3779b97f4a7c15)
				now, n := int64(0), 0
				for pb.Next() {
					x = x*6364136223846793005 + 1442695040888963407
					now += 100
					if s.Allow(x>>(64-bits), now).Allowed {
						n++
					}
				}
				sink.Add(int64(n))
			})
		})
	}
}
