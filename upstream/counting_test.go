package upstream

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Cross-loop counting: least_connections, p2c, least_time and bounded hash
// keep one atomic in-flight count per backend in the Set, shared by every
// loop, rather than plain per-loop counts. The tests and benchmarks here are
// the measurement behind that choice: what the global view buys (better
// picks when each loop has few requests in flight) and what it costs (atomic
// adds on cache lines that other cores also write).

// countingModes gives each loop a Picker of one shared Set (the global view)
// or of a Set of its own (per-loop counts, blind to the other loops).
var countingModes = []string{"global", "per-loop"}

func countingSets(mode string, loops int, weights ...int) []*Set {
	s := backends(weights...)
	sets := make([]*Set, loops)
	for l := range sets {
		sets[l] = s
		if mode == "per-loop" {
			sets[l] = backends(weights...)
		}
	}
	return sets
}

func TestCrossLoopCounting(t *testing.T) {
	// Eight loops; requests land on a random loop. "slow": three backends,
	// one 10x slower, where a good pick avoids it; mean response time is the
	// measure. "equal": four equal backends; the measure is the share of picks
	// that went to a backend with more requests in flight (counted over all
	// loops) than another had.
	const loops = 8
	type result struct{ meanMs, slowShare, worse float64 }
	run := func(name, mode string, rps int, slow bool) result {
		weights := []int{1, 1, 1, 1}
		rtt := func(int, time.Duration) time.Duration { return time.Millisecond }
		if slow {
			weights = weights[:3]
			rtt = func(i int, _ time.Duration) time.Duration {
				if i == 2 {
					return 10 * time.Millisecond
				}
				return time.Millisecond
			}
		}
		sm := newSimSets(t, name, countingSets(mode, loops, weights...), time.Second/time.Duration(rps), rtt)
		sm.loop = rand.New(rand.NewPCG(1, 1))
		var res result
		var n, nslow int
		var sumRtt time.Duration
		var worse int
		held := make([]int, len(weights)) // the truth, whatever the Pickers count
		sm.done = func(i int) { held[i]-- }
		sm.run(0, 40000, func(i int, at time.Duration) {
			if held[i] > slices.Min(held) {
				worse++
			}
			held[i]++
			n++
			sumRtt += rtt(i, at)
			if i == 2 {
				nslow++
			}
		})
		res.meanMs = float64(sumRtt) / float64(n) / 1e6
		res.slowShare = float64(nslow) / float64(n)
		res.worse = float64(worse) / float64(n)
		return res
	}
	for _, name := range []string{"least_connections", "p2c"} {
		for _, rps := range []int{2000, 50000} {
			var slow, equal [2]result
			for m, mode := range countingModes {
				slow[m] = run(name, mode, rps, true)
				equal[m] = run(name, mode, rps, false)
				t.Logf("%-17s %6d req/s %-8s  slow: mean %.2f ms, %4.1f%% to the slow one;  equal: %4.1f%% to a busier one",
					name, rps, mode, slow[m].meanMs, 100*slow[m].slowShare, 100*equal[m].worse)
			}
			if slow[0].meanMs > slow[1].meanMs*1.02 {
				t.Errorf("%s at %d req/s: global counts gave a mean of %.2f ms; per-loop %.2f", name, rps, slow[0].meanMs, slow[1].meanMs)
			}
		}
	}
}

// localLeastConn is least_connections with plain per-loop counts: the same
// scan and tie-break as leastConnPicker, on memory no other core writes.
type localLeastConn struct {
	_        cacheLinePad
	st       *state
	inflight []int64
	cur      []int64
	_        cacheLinePad
}

func (p *localLeastConn) Pick(_ uint64, up Mask, avoid int) int {
	st := p.st
	best, ties := -1, 0
	var bl, bw int64
	for w := range st.positive {
		for word := st.word(up, w); word != 0; word &= word - 1 {
			i := w*64 + bits.TrailingZeros64(word)
			l, wt := p.inflight[i], int64(st.weight[i])
			switch {
			case best < 0 || l*bw < bl*wt:
				best, bl, bw, ties = i, l, wt, 1
			case l*bw == bl*wt:
				ties++
			}
		}
	}
	if ties > 1 {
		chosen, total := -1, int64(0)
		for w := best / 64; w < len(st.positive); w++ {
			for word := st.word(up, w); word != 0; word &= word - 1 {
				i := w*64 + bits.TrailingZeros64(word)
				if i < best || p.inflight[i]*bw != bl*int64(st.weight[i]) {
					continue
				}
				p.cur[i] += int64(st.weight[i])
				total += int64(st.weight[i])
				if chosen < 0 || p.cur[i] > p.cur[chosen] {
					chosen = i
				}
			}
		}
		p.cur[chosen] -= total
		best = chosen
	}
	p.inflight[best]++
	return best
}

func (p *localLeastConn) Assign(i int)                        { p.inflight[i]++ }
func (p *localLeastConn) Done(i int, _ time.Duration, _ bool) { p.inflight[i]-- }

// localP2C is p2c with plain per-loop counts.
type localP2C struct {
	_        cacheLinePad
	st       *state
	rng      rng
	inflight []int64
	_        cacheLinePad
}

func (p *localP2C) Pick(_ uint64, up Mask, avoid int) int {
	a := p.st.draw(&p.rng, up, avoid, -1)
	b := p.st.draw(&p.rng, up, avoid, a)
	if b >= 0 && p.inflight[b]*int64(p.st.weight[a]) < p.inflight[a]*int64(p.st.weight[b]) {
		a = b
	}
	p.inflight[a]++
	return a
}

func (p *localP2C) Assign(i int)                        { p.inflight[i]++ }
func (p *localP2C) Done(i int, _ time.Duration, _ bool) { p.inflight[i]-- }

// BenchmarkCounting runs Pick+Done on every core at once (one goroutine per
// core stands for one loop), with the shared atomics of the real pickers and
// with plain per-loop counts. Run it with -cpu 1,2,4... to see contention.
func BenchmarkCounting(b *testing.B) {
	for _, name := range []string{"least_connections", "p2c"} {
		for _, n := range []int{3, 30, 300} {
			for _, mode := range countingModes {
				b.Run(fmt.Sprintf("%s/%d/%s", name, n, mode), func(b *testing.B) {
					s := benchSet(n)
					alg := mustNew(b, name, Options{})
					var seed atomic.Uint64
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						var p Picker
						switch {
						case mode == "global":
							p = alg.NewPicker(s, seed.Add(1))
						case name == "p2c":
							p = &localP2C{st: s.state(), rng: rng{seed.Add(1)}, inflight: padded(n)}
							s.state().aliasTable()
						default:
							p = &localLeastConn{st: s.state(), inflight: padded(n), cur: padded(n)}
						}
						up := NewMask(n)
						// Keep 8 requests in flight per loop, as a loop
						// serving several connections does.
						var held [8]int
						for k := range held {
							held[k] = p.Pick(0, up, -1)
						}
						k := 0
						for pb.Next() {
							p.Done(held[k], time.Millisecond, true)
							held[k] = p.Pick(0, up, -1)
							k = (k + 1) % len(held)
						}
						for _, i := range held {
							p.Done(i, time.Millisecond, true)
						}
					})
				})
			}
		}
	}
}
