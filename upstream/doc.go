// Package upstream holds the backends of a pool and the per-loop machinery that
// routes requests to them: immutable Set snapshots, the Mask of backends that may
// take traffic, balancing algorithms as per-loop Pickers, and per-loop Idle lists
// of keep-alive connections.
//
// A Set is built on the control plane and published by atomic swap; each event
// loop makes its own Picker from it and uses it without locks:
//
//	p := alg.NewPicker(set, seed) // once per loop per Set generation
//	i := p.Pick(key, mask, -1)    // per request; -1 means no backend may take traffic
package upstream
