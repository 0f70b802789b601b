// Package health decides which backends of a pool may take traffic. A Checker
// probes the backends of one pool (HTTP or TCP) from one scheduler goroutine
// that starts each probe on a short-lived goroutine, never on an event loop;
// Rise consecutive passes bring a backend up, Fall consecutive failures take
// it down, and only such a flip publishes a new upstream.Mask. States gives
// the stats package a read-only view: state, reason, transitions, last probes.
// When a pool's membership changes (or a reload rebuilds it), a new Checker
// Inherits from the old one the state of every backend still checked.
//
//	c := health.New(cfg, addrs, log, func(up upstream.Mask) { pool.publish(set, up) })
//	c.Start()
//	defer c.Stop()
package health
