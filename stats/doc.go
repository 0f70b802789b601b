// Package stats counts what the proxy does and shows it: metric handles
// (VictoriaMetrics/metrics) created at startup and bumped from the event
// loops without allocating or locking, latency histograms, the access log
// (formatted into per-loop buffers, written by one goroutine), the JSON
// renderers shared by the admin listener and the seed endpoints on the proxy
// port, and the embedded dashboard.
//
// Ownership: a Proxy is shared by every loop (atomics only); a LogBuffer
// belongs to one loop; the AccessLog writer and the Sampler are goroutines.
//
//	p := stats.New(stats.Options{})
//	bs := p.Pool("web").Backend("127.0.0.1:8001") // cold: at Set change
//	p.Done(&rec)                                   // hot: once per exchange
package stats
