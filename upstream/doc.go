// Package upstream holds the backends of a pool and the per-loop machinery that
// routes requests to them: immutable Set snapshots, the Mask of backends that may
// take traffic (Set.Eligible), balancing algorithms as per-loop Pickers (see
// docs/ALGORITHMS.md), and per-loop Idle lists of keep-alive connections.
//
// The control plane builds a Set with NewSet, calls Algorithm.Prepare and
// publishes both by atomic swap; each event loop makes its own Picker of the Set
// and uses it without locks. What the loops share lives in the Set as atomics:
//
//	p := alg.NewPicker(set, seed) // once per loop per Set generation
//	i := p.Pick(key, up, -1)      // per request; -1: no backend may take it
//	p.Done(i, rtt, ok)            // exactly once per i >= 0, on the same Picker
package upstream
