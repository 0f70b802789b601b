package upstream

import (
	"fmt"
	"sort"
	"time"
)

// Algorithm makes Pickers. It holds no per-request state.
type Algorithm interface {
	Name() string
	// NewPicker compiles s into a Picker for one event loop. It is called once
	// per loop per Set generation, off the request path.
	NewPicker(s *Set, seed uint64) Picker
}

// Picker chooses a backend for one request. A Picker is owned by a single
// event loop: it takes no locks, does not block and does not allocate.
type Picker interface {
	// Pick returns the index of a backend that may take traffic, or -1 if none
	// may. key is the request hash (0 for algorithms that ignore it). avoid is
	// the index that just failed, or -1; Pick returns it only if nothing else
	// may take traffic.
	Pick(key uint64, up Mask, avoid int) int
	// Done reports the outcome of a request that Pick routed to idx.
	Done(idx int, rtt time.Duration, ok bool)
}

var registry = map[string]Algorithm{}

// register adds an algorithm under name; each pick_<name>.go calls it from init.
func register(name string, a Algorithm) {
	if _, dup := registry[name]; dup {
		panic("BUG: algorithm registered twice: " + name)
	}
	registry[name] = a
}

// Lookup returns the algorithm registered under name.
func Lookup(name string) (Algorithm, error) {
	if a, ok := registry[name]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("unknown algorithm %q (known: %v)", name, Names())
}

// Names lists the registered algorithms in sorted order.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
