package upstream

import "time"

// PoolStatus is a read-only snapshot of one pool for status pages and
// metrics. It is a copy: holding it keeps nothing alive and changes nothing.
type PoolStatus struct {
	Name      string
	Algorithm string
	Backends  []BackendStatus
}

// BackendStatus explains one backend: whether it takes traffic and why.
type BackendStatus struct {
	Addr     string
	Weight   int  // configured weight
	Current  int  // weight in use now (lower during slow start)
	Backup   bool // takes traffic only when no primary can
	State    string
	Reason   string    // why it is in State, e.g. "3 consecutive failures: HTTP 503 not in 200-399"
	Since    time.Time // when it entered State; zero if it never left "up"
	InFlight int64     // exchanges sent to it and not finished, whatever the algorithm (a draining backend's count falls to 0)

	Transitions []Transition // every state change kept, oldest first (probes, ejections, slow start)
	Probes      []Probe      // the last active probes, oldest first
}

// Transition is one change of a backend's state.
type Transition struct {
	At       time.Time
	From, To string
	Reason   string
}

// Probe is one active health probe's result.
type Probe struct {
	At      time.Time
	OK      bool
	Latency time.Duration
	Status  int    // HTTP status; 0 for TCP probes and failures before a status
	Err     string // why it failed
}

// Backend states, as BackendStatus.State reports them.
const (
	StateUp        = "up"
	StateDown      = "down"       // its active probes fail
	StateEjected   = "ejected"    // passive ejection after failures of real traffic
	StateSlowStart = "slow-start" // back in rotation, weight ramping up
	StateDraining  = "draining"   // drained by the admin: no new requests, those in flight finish
)
