package stats

import "github.com/VictoriaMetrics/metrics"

// TLSStats counts TLS handshakes on the proxy's TLS listeners by outcome
// (loopgate_tls_handshakes_total{result}): full and resumed handshakes, those
// that failed (a bad ClientHello, no common version or cipher, no
// certificate), those that ran out of tls_handshake, and connections closed
// at once because max_tls_handshakes were running.
type TLSStats struct {
	Full, Resumed, Failed, Timeout, Refused *metrics.Counter
}

// NewTLSStats returns p's TLS counters; calling it again returns the same
// series. Cold path.
func NewTLSStats(p *Proxy) *TLSStats {
	c := func(result string) *metrics.Counter {
		return p.set.GetOrCreateCounter(`loopgate_tls_handshakes_total{result="` + result + `"}`)
	}
	return &TLSStats{Full: c("full"), Resumed: c("resumed"), Failed: c("failed"), Timeout: c("timeout"), Refused: c("refused")}
}
