//go:build !race

package stats

import (
	"testing"
	"time"
)

func TestObserveAllocs(t *testing.T) {
	var h Histogram
	d := 1234 * time.Microsecond
	if n := testing.AllocsPerRun(1000, func() { h.Observe(d) }); n != 0 {
		t.Fatalf("Observe allocates %v times; want 0", n)
	}
}

func TestDoneAllocs(t *testing.T) {
	p := New(Options{})
	r := benchRecord(p)
	if n := testing.AllocsPerRun(1000, func() { p.Done(&r) }); n != 0 {
		t.Fatalf("Done allocates %v times; want 0", n)
	}
	r.Status, r.Reason = 0, ReasonReset
	if n := testing.AllocsPerRun(1000, func() { p.Done(&r) }); n != 0 {
		t.Fatalf("Done of a cut exchange allocates %v times; want 0", n)
	}
}
