package engine

import (
	"net/netip"
	"sync"
)

// clientCounts counts the open connections of each peer address, across
// the loops, for max_connections_per_client (nginx's limit_conn on the
// remote address). It is touched at accept and close, never per request;
// the shards keep loops that accept at once from waiting on each other. An
// address leaves the map with its last connection, so the map holds at most
// one entry per open connection.
type clientCounts struct {
	shards [64]struct {
		mu sync.Mutex
		m  map[netip.Addr]int32
	}
}

func (cs *clientCounts) shard(a netip.Addr) int {
	b := a.As16()
	return int(b[15]^b[14]^b[13]^b[12]) % len(cs.shards)
}

// add counts one more connection of a and returns how many it now has.
func (cs *clientCounts) add(a netip.Addr) int {
	s := &cs.shards[cs.shard(a)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[netip.Addr]int32)
	}
	s.m[a]++
	return int(s.m[a])
}

// remove counts one connection of a less.
func (cs *clientCounts) remove(a netip.Addr) {
	s := &cs.shards[cs.shard(a)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[a] <= 1 {
		delete(s.m, a)
		return
	}
	s.m[a]--
}
