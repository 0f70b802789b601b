package stats

import (
	"testing"
	"time"
)

// benchRecord is a typical proxied exchange: a fresh connection, a 200.
func benchRecord(p *Proxy) Record {
	return Record{
		Status: 200, Backend: p.Pool("web").Backend("10.0.0.1:80"),
		Total: 1800 * time.Microsecond, Connect: 120 * time.Microsecond,
		TTFB: 1200 * time.Microsecond, Upstream: 1500 * time.Microsecond,
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		var h Histogram
		d := 1234 * time.Microsecond
		b.ReportAllocs()
		for b.Loop() {
			h.Observe(d)
			d ^= 1 // keep the compiler from hoisting the bucket search
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var h Histogram
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			d := 1234 * time.Microsecond
			for pb.Next() {
				h.Observe(d)
				d ^= 1
			}
		})
	})
}

func BenchmarkProxyDone(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		p := New(Options{})
		r := benchRecord(p)
		b.ReportAllocs()
		for b.Loop() {
			p.Done(&r)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		p := New(Options{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := benchRecord(p)
			for pb.Next() {
				p.Done(&r)
			}
		})
	})
}
