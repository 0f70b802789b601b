package health

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// A membership change keeps every remaining backend's state, counters and
// history, indexed anew; a new backend starts down and comes up at its
// first passing probe.
func TestSuccessorKeepsStates(t *testing.T) {
	good, bad, added := newKnob(t), newKnob(t), newKnob(t)
	bad.status.Store(503)
	rec := newRecorder()
	c := start(t, fast(), []string{good.addr(), bad.addr()}, nil, rec.publish)
	if m := rec.next(t, 2*time.Second); !m.Has(0) || m.Has(1) {
		t.Fatalf("published %b; want the good backend up, the bad one down", m)
	}

	n, err := c.Successor([]string{bad.addr(), added.addr(), good.addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	old, got := c.States(), n.States() // c is stopped: its view is final
	if !reflect.DeepEqual(got[0], old[1]) || !reflect.DeepEqual(got[2], old[0]) {
		t.Fatalf("carried states differ:\nold %+v\nnew %+v", old, got)
	}
	if got[0].State != StateDown || len(got[0].Transitions) != 1 || len(got[2].Recent) == 0 {
		t.Fatalf("carried states: %+v", got)
	}
	if s := got[1]; s.State != StateDown || s.Reason != "added; waiting for its first probe" || len(s.Transitions) != 0 ||
		len(s.Recent) != 0 || s.Since.IsZero() || s.Addr != added.addr() {
		t.Fatalf("new backend before probing: %+v", s)
	}
	if m := n.Mask(); m.Has(0) || m.Has(1) || !m.Has(2) {
		t.Fatalf("successor's mask %b; want only the good backend (now index 2) up", m)
	}
	time.Sleep(100 * time.Millisecond)
	if added.hits.Load() != 0 || rec.n.Load() != 1 {
		t.Fatalf("before Start: %d probes of the new backend, %d publishes; want none and 1", added.hits.Load(), rec.n.Load())
	}

	n.Start()
	if m := rec.next(t, time.Second); m.Has(0) || !m.Has(1) || !m.Has(2) {
		t.Fatalf("published %b; want the new backend up beside the good one", m)
	}
	s := n.States()[1]
	if s.State != StateUp || len(s.Transitions) != 1 || s.Transitions[0].Reason != "first probe passed" ||
		s.Transitions[0].From != StateDown {
		t.Fatalf("new backend after its probe: %+v", s)
	}
	if k := trailing(s, s.Transitions[0].At, true); k != 1 {
		t.Fatalf("came up after %d probes; want 1. Recent: %+v", k, s.Recent)
	}
	time.Sleep(200 * time.Millisecond)
	if s := n.States()[0]; s.State != StateDown || len(s.Transitions) != 1 || rec.n.Load() != 2 {
		t.Fatalf("the bad backend after the change: %+v, %d publishes; want still down, 2 publishes", s, rec.n.Load())
	}
	if ps := c.States()[1].Recent; len(ps) != len(old[1].Recent) {
		t.Fatalf("the old checker probed after Successor: %d probes, %d before", len(ps), len(old[1].Recent))
	}

	// Removing a backend: the others move down an index, their states along.
	before := n.States()
	n2, err := n.Successor([]string{added.addr(), bad.addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n2.Stop)
	after := n2.States()
	if len(after) != 2 || !reflect.DeepEqual(after[0], before[1]) || !reflect.DeepEqual(after[1], before[0]) {
		t.Fatalf("after a removal:\nbefore %+v\nafter  %+v", before, after)
	}
	if m := n2.Mask(); !m.Has(0) || m.Has(1) {
		t.Fatalf("mask after a removal %b; want 01", m)
	}
}

// A new backend whose first probe fails is down like any other: it then
// needs rise passes.
func TestSuccessorFirstProbeFails(t *testing.T) {
	good, added := newKnob(t), newKnob(t)
	added.status.Store(500)
	rec := newRecorder()
	c := start(t, fast(), []string{good.addr()}, nil, rec.publish)
	n, err := c.Successor([]string{good.addr(), added.addr()})
	if err != nil {
		t.Fatal(err)
	}
	n.Start()
	t.Cleanup(n.Stop)
	waitFor(t, 2*time.Second, "two failing probes", func() bool { return len(n.States()[1].Recent) >= 2 })
	if s := n.States()[1]; s.State != StateDown || !strings.HasPrefix(s.Reason, "still failing: HTTP 500") || rec.n.Load() != 0 {
		t.Fatalf("failing new backend: %+v, %d publishes", s, rec.n.Load())
	}
	added.status.Store(200)
	if m := rec.next(t, 2*time.Second); !m.Has(1) {
		t.Fatalf("published %b; want the new backend up", m)
	}
	s := n.States()[1]
	if len(s.Transitions) != 1 || s.Transitions[0].Reason != "2 consecutive passes" {
		t.Fatalf("transitions %+v; want up after rise (2) passes", s.Transitions)
	}
}

// With checks disabled a new backend is up at once.
func TestSuccessorDisabled(t *testing.T) {
	addr := closedAddr(t)
	c := start(t, Config{Disabled: true}, []string{addr}, nil, nil)
	n, err := c.Successor([]string{addr, "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if m := n.Mask(); m.Count() != 2 {
		t.Fatalf("mask %b; want both up", m)
	}
	if s := n.States()[1]; s.State != StateUp || s.Reason != "active checks disabled" {
		t.Fatalf("new backend with checks disabled: %+v", s)
	}
}

// Inherit moves the view into a Checker with its own publish func: a reload
// rebuilds the pool around it.
func TestInherit(t *testing.T) {
	good, bad, added := newKnob(t), newKnob(t), newKnob(t)
	bad.status.Store(503)
	oldRec, rec := newRecorder(), newRecorder()
	from := start(t, fast(), []string{good.addr(), bad.addr()}, nil, oldRec.publish)
	if m := oldRec.next(t, 2*time.Second); m.Has(1) {
		t.Fatalf("published %b; want the bad backend down", m)
	}
	c, err := New(fast(), []string{bad.addr(), added.addr()}, nil, rec.publish)
	if err != nil {
		t.Fatal(err)
	}
	c.Inherit(from)
	if s := c.States(); !reflect.DeepEqual(s[0], from.States()[1]) || s[1].State != StateDown {
		t.Fatalf("inherited %+v; from %+v", s, from.States())
	}
	c.Start()
	t.Cleanup(c.Stop)
	if m := rec.next(t, time.Second); m.Has(0) || !m.Has(1) {
		t.Fatalf("published %b; want the new backend up, the bad one still down", m)
	}
	if n := oldRec.n.Load(); n != 1 {
		t.Fatalf("the old checker published %d times; want once, before Inherit", n)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Inherit on a started Checker did not panic")
		}
	}()
	c.Inherit(from)
}

// Inheriting from a Checker with checks disabled keeps the boot state: every
// backend up.
func TestInheritFromDisabled(t *testing.T) {
	addr := closedAddr(t)
	from := start(t, Config{Disabled: true}, []string{addr}, nil, nil)
	c, err := New(fast(), []string{addr, "127.0.0.1:1"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Inherit(from)
	if m := c.Mask(); m.Count() != 2 || c.States()[1].Reason != "initial state" {
		t.Fatalf("after inheriting from a disabled checker: mask %b, %+v", m, c.States())
	}
}
