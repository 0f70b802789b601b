package engine

import (
	"net/netip"
	"sync"
	"testing"
)

// open returns the connections counted for a.
func (cs *clientCounts) open(a netip.Addr) int {
	s := &cs.shards[cs.shard(a)]
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.m[a])
}

// Counts from several loops at once add up, and an address leaves the map
// with its last connection, so the map never holds more than the open
// connections.
func TestClientCounts(t *testing.T) {
	var cs clientCounts
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.2")}
	// Four loops each count 1,000 connections of every address.
	fromLoops := func(count func(netip.Addr)) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 1000 {
					for _, a := range addrs {
						count(a)
					}
				}
			})
		}
		wg.Wait()
	}
	fromLoops(func(a netip.Addr) { cs.add(a) })
	for _, a := range addrs {
		if n := cs.open(a); n != 4000 {
			t.Fatalf("%s: %d open; want 4000", a, n)
		}
	}
	fromLoops(cs.remove)
	for i := range cs.shards {
		if n := len(cs.shards[i].m); n != 0 {
			t.Fatalf("shard %d keeps %d addresses with no connection", i, n)
		}
	}
	if cs.add(addrs[0]) != 1 {
		t.Fatal("a new address does not start at 1")
	}
}
