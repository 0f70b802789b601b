package engine

import (
	"testing"
	"time"
)

// TestWarnTLSSpacing: failed handshakes are warned about once per
// tlsWarnEvery per pool, whatever their number.
func TestWarnTLSSpacing(t *testing.T) {
	var p pool
	t0 := time.Unix(1_000_000, 0)
	if !p.warnTLS(t0) {
		t.Fatal("the first failure was not warned about")
	}
	for _, d := range []time.Duration{0, time.Millisecond, tlsWarnEvery - 1} {
		if p.warnTLS(t0.Add(d)) {
			t.Fatalf("warned again %v after the last warning", d)
		}
	}
	if !p.warnTLS(t0.Add(tlsWarnEvery)) {
		t.Fatalf("no warning %v after the last one", tlsWarnEvery)
	}
}
