package engine

import "loopgate/upstream"

// Status returns a snapshot of every pool and backend: its state (up, down by
// its probes, ejected, in slow start), why, since when, and its requests in
// flight. It is safe from any goroutine and does not touch the event loops.
func (s *Server) Status() []upstream.PoolStatus {
	out := make([]upstream.PoolStatus, 0, len(s.pools))
	for _, p := range s.pools {
		st := p.state.Load()
		ps := upstream.PoolStatus{Name: p.name, Algorithm: p.alg.Name()}
		for i, b := range st.set.Backends {
			ps.Backends = append(ps.Backends, upstream.BackendStatus{
				Addr: b.Addr, Weight: b.Weight, Current: b.Weight, Backup: b.Backup,
				State: upstream.StateUp, InFlight: st.set.InFlight(i),
			})
		}
		if p.checker != nil {
			for i, h := range p.checker.States() {
				if i < len(ps.Backends) {
					b := &ps.Backends[i]
					if h.State != "up" {
						b.State = upstream.StateDown
					}
					b.Reason, b.Since = h.Reason, h.Since
					for _, tr := range h.Transitions {
						b.Transitions = append(b.Transitions, upstream.Transition{At: tr.At, From: string(tr.From), To: string(tr.To), Reason: tr.Reason})
					}
					for _, pr := range h.Recent {
						b.Probes = append(b.Probes, upstream.Probe{At: pr.At, OK: pr.OK, Latency: pr.Latency, Status: pr.Status, Err: pr.Err})
					}
				}
			}
		}
		p.ej.status(ps.Backends)
		out = append(out, ps)
	}
	return out
}
