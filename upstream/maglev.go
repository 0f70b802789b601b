package upstream

// maglevSize is the number of entries of a Maglev table: a prime, so that
// every backend's preference list is a permutation of the table, and large
// enough for shares within 1/65537 of the weights (Google's Maglev paper
// recommends at least 100 entries per backend).
const maglevSize = 65537

// maglevTable builds the Set's Maglev table on first use: entry k holds the
// backend of keys that hash to k. It is nil when no backend has a weight.
func (st *state) maglevTable() []uint16 {
	st.maglevOnce.Do(func() { st.maglev = newMaglev(st) })
	return st.maglev
}

// newMaglev fills the table as in the Maglev paper (Eisenbud et al., NSDI
// 2016, §3.4): backends take turns claiming the next free entry of their own
// permutation (offset + j×skip mod size, both from the address hash), so each
// ends up with a share of entries and a change of backends moves few entries.
// Weights set how many turns a backend gets per round: a backend of the
// largest weight claims one entry each round, a lighter one proportionally
// fewer. Turns go in address order, so the table does not depend on indexes.
func newMaglev(st *state) []uint16 {
	var wmax uint64
	for _, w := range st.weight {
		wmax = max(wmax, uint64(w))
	}
	if wmax == 0 {
		return nil
	}
	const empty = 0xffff // MaxBackends keeps it from being an index
	table := make([]uint16, maglevSize)
	for k := range table {
		table[k] = empty
	}
	n := len(st.weight)
	next := make([]uint64, n) // position in the permutation, as an entry
	skip := make([]uint64, n)
	credit := make([]uint64, n)
	for i, h := range st.addrHash {
		next[i] = h % maglevSize
		skip[i] = mix(h)%(maglevSize-1) + 1
	}
	for filled := 0; filled < maglevSize; {
		for _, i := range st.order {
			credit[i] += uint64(st.weight[i])
			for credit[i] >= wmax && filled < maglevSize {
				credit[i] -= wmax
				for table[next[i]] != empty {
					if next[i] += skip[i]; next[i] >= maglevSize {
						next[i] -= maglevSize
					}
				}
				table[next[i]] = i
				filled++
			}
		}
	}
	return table
}
