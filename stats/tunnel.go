package stats

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// TunnelKind says what opened a tunnel.
type TunnelKind uint8

const (
	TunnelNone    TunnelKind = iota
	TunnelUpgrade            // a 101 answering an Upgrade request (WebSocket and others)
	TunnelConnect            // a 2xx answering CONNECT
	numTunnelKinds
)

// String is the kind's label value.
func (k TunnelKind) String() string { return tunnelKindNames[k] }

var tunnelKindNames = [numTunnelKinds]string{"", "upgrade", "connect"}

// tunnelBounds are the buckets of loopgate_tunnel_duration_seconds. Tunnels
// live for seconds to days, far past the 100 s top of the request
// histograms, so they get coarse bounds of their own.
var tunnelBounds = [...]float64{0.1, 1, 10, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600}

// tunnelStats counts closed tunnels. Tunnels close rarely next to requests,
// so plain atomics (one bucket search of nine) are cheap enough.
type tunnelStats struct {
	total  [numTunnelKinds]*metrics.Counter // loopgate_tunnels_total{kind}
	toUp   *metrics.Counter                 // loopgate_tunnel_bytes_total{direction="client_to_backend"}
	toDown *metrics.Counter                 // loopgate_tunnel_bytes_total{direction="backend_to_client"}
	counts [len(tunnelBounds) + 1]atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

func (t *tunnelStats) init(set *metrics.Set) {
	for k := TunnelUpgrade; k < numTunnelKinds; k++ {
		t.total[k] = set.NewCounter(`loopgate_tunnels_total{kind="` + k.String() + `"}`)
	}
	t.toUp = set.NewCounter(`loopgate_tunnel_bytes_total{direction="client_to_backend"}`)
	t.toDown = set.NewCounter(`loopgate_tunnel_bytes_total{direction="backend_to_client"}`)
}

// done counts the tunnel r describes, at its close.
func (t *tunnelStats) done(r *Record) {
	if r.Tunnel < numTunnelKinds {
		t.total[r.Tunnel].Inc()
	}
	t.toUp.AddInt64(r.TunnelIn)
	t.toDown.AddInt64(r.TunnelOut)
	s := r.Total.Seconds()
	i := 0
	for i < len(tunnelBounds) && s > tunnelBounds[i] {
		i++
	}
	t.counts[i].Add(1)
	t.count.Add(1)
	t.sum.Add(int64(r.Total))
}

// appendDuration writes loopgate_tunnel_duration_seconds. Cold path.
func (t *tunnelStats) appendDuration(b []byte) []byte {
	const name = "loopgate_tunnel_duration_seconds"
	b = appendType(b, name, "histogram")
	var cum uint64
	for i, le := range tunnelBounds {
		cum += t.counts[i].Load()
		b = appendUint(b, name+"_bucket", cum, "le", strconv.FormatFloat(le, 'g', -1, 64))
	}
	b = appendUint(b, name+"_bucket", t.count.Load(), "le", "+Inf")
	b = appendFloat(b, name+"_sum", time.Duration(t.sum.Load()).Seconds())
	return appendUint(b, name+"_count", t.count.Load())
}

// TunnelsClosed is the number of tunnels of kind k closed so far.
func (p *Proxy) TunnelsClosed(k TunnelKind) uint64 {
	if k == TunnelNone || k >= numTunnelKinds {
		return 0
	}
	return p.tunnels.total[k].Get()
}

// TunnelBytes is the number of bytes tunnels carried from clients to backends
// (up) and back (down), counted when each tunnel closed.
func (p *Proxy) TunnelBytes() (up, down uint64) { return p.tunnels.toUp.Get(), p.tunnels.toDown.Get() }
