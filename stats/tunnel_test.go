package stats

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestTunnelMetrics: a closed tunnel counts by kind, its bytes each way and
// its life in the tunnel histogram, not in the request duration one; the
// Prometheus text has every series.
func TestTunnelMetrics(t *testing.T) {
	p := New(Options{})
	p.SetGauges(Gauges{Tunnels: func() int64 { return 2 }})
	p.Done(&Record{Status: 101, Total: 90 * time.Second, Tunnel: TunnelUpgrade, TunnelIn: 100, TunnelOut: 2000})
	p.Done(&Record{Status: 200, Total: 2 * time.Hour, Tunnel: TunnelConnect, TunnelIn: 5, TunnelOut: 7})
	p.Done(&Record{Status: 200, Total: time.Millisecond})
	if p.TunnelsClosed(TunnelUpgrade) != 1 || p.TunnelsClosed(TunnelConnect) != 1 || p.TunnelsClosed(TunnelNone) != 0 {
		t.Fatalf("closed: %d %d", p.TunnelsClosed(TunnelUpgrade), p.TunnelsClosed(TunnelConnect))
	}
	if up, down := p.TunnelBytes(); up != 105 || down != 2007 {
		t.Fatalf("bytes %d %d; want 105 2007", up, down)
	}
	if n := p.Total().Count; n != 1 {
		t.Fatalf("request duration histogram has %d observations; want 1 (tunnels are not requests' latency)", n)
	}
	var b bytes.Buffer
	p.WritePrometheus(&b, nil)
	for _, want := range []string{
		`loopgate_tunnels_total{kind="upgrade"} 1`,
		`loopgate_tunnels_total{kind="connect"} 1`,
		`loopgate_tunnel_bytes_total{direction="client_to_backend"} 105`,
		`loopgate_tunnel_bytes_total{direction="backend_to_client"} 2007`,
		"loopgate_tunnels_open 2",
		`loopgate_tunnel_duration_seconds_bucket{le="60"} 0`,
		`loopgate_tunnel_duration_seconds_bucket{le="300"} 1`,
		`loopgate_tunnel_duration_seconds_bucket{le="3600"} 1`,
		`loopgate_tunnel_duration_seconds_bucket{le="14400"} 2`,
		`loopgate_tunnel_duration_seconds_bucket{le="+Inf"} 2`,
		"loopgate_tunnel_duration_seconds_sum 7290",
		"loopgate_tunnel_duration_seconds_count 2",
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("no %q in the Prometheus text", want)
		}
	}
}
