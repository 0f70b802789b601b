package engine

import (
	"loopgate/health"
	"loopgate/upstream"
)

// Status returns a snapshot of every pool and backend: its state (up, down by
// its probes, ejected, in slow start, draining), why, since when, and its
// exchanges in flight. It is safe from any goroutine and does not touch the
// event loops.
func (s *Server) Status() []upstream.PoolStatus {
	pools := s.gen.Load().pools
	out := make([]upstream.PoolStatus, 0, len(pools))
	for _, p := range pools {
		// The checker's view is matched by address: during a membership
		// change it may list the backends of the next Set or the last one.
		var checked map[string]*health.BackendState
		if p.checker != nil {
			hs := p.checker.States()
			checked = make(map[string]*health.BackendState, len(hs))
			for i := range hs {
				checked[hs[i].Addr] = &hs[i]
			}
		}
		ps := upstream.PoolStatus{Name: p.name, Algorithm: p.alg.Name()}
		// Under the ejector's mutex the published state is the ejector's:
		// every publish happens under it.
		p.ej.mu.Lock()
		st := p.state.Load()
		for i, b := range st.set.Backends {
			bs := upstream.BackendStatus{
				Addr: b.Addr, Weight: b.Weight, Current: b.Weight, Backup: b.Backup,
				State: upstream.StateUp, InFlight: st.stats[i].InFlight.Load(),
			}
			if h := checked[b.Addr]; h != nil {
				if h.State != health.StateUp {
					bs.State = upstream.StateDown
				}
				bs.Reason, bs.Since = h.Reason, h.Since
				for _, tr := range h.Transitions {
					bs.Transitions = append(bs.Transitions, upstream.Transition{At: tr.At, From: string(tr.From), To: string(tr.To), Reason: tr.Reason})
				}
				for _, pr := range h.Recent {
					bs.Probes = append(bs.Probes, upstream.Probe{At: pr.At, OK: pr.OK, Latency: pr.Latency, Status: pr.Status, Err: pr.Err})
				}
			}
			ps.Backends = append(ps.Backends, bs)
		}
		p.ej.status(ps.Backends)
		p.ej.mu.Unlock()
		out = append(out, ps)
	}
	return out
}
