// Package perf is loopgate's load generator and its end-to-end benchmark harness. It treats
// the proxy as a black box reached over sockets: it imports only codec and the standard
// library (STYLE.md §1).
//
// The load generator (Run) keeps one goroutine and one TCP connection per unit of
// concurrency, writes prebuilt requests and parses responses in place with codec. In closed
// loop each connection sends its next request when the last one is answered; with a rate it
// sends on a fixed schedule and measures latency from the intended send time, so a stalled
// server shows in the percentiles instead of being hidden (coordinated omission, as wrk2).
// cmd/loadgen is its command line.
//
//	rep, err := perf.Run(ctx, perf.Config{URL: "http://127.0.0.1:8080/", Concurrency: 20, Requests: 1000})
//
// The harness (Bench, run by `make perf` through perf/harness) starts backends and proxies,
// loads each with wrk or Run, and reports req/s, latency, CPU per request and memory per idle
// connection as a table, JSON and an SVG chart. Everything it starts, it stops.
package perf
