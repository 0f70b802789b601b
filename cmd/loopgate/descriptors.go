package main

import (
	"fmt"
	"log/slog"
	"math"

	"golang.org/x/sys/unix"

	"loopgate/engine"
)

// The file descriptor budget. A client connection holds up to two
// descriptors while its request is in flight (its socket and the upstream's),
// and the process needs a reserve besides, so max_connections must fit in
//
//	2 × max_connections + reserve ≤ RLIMIT_NOFILE
//	reserve = 64 + 3 per event loop + 1 per actively probed backend (at most 256 per pool)
//
// Left unset (or 0), max_connections is "auto": (limit − reserve) / 2, the
// most that fits, as HAProxy derives maxconn from ulimit-n. An explicit value
// that does not fit is kept, with a warning: past the limit, accept fails and
// backs off (loopgate_accept_errors_total), and the process goes on.
//
// Idle keep-alive upstream connections whose client has left are not in the
// budget; if they push the process to the limit, the same accept back-off
// applies.
const (
	fdPerConn = 2 // the client's socket and its upstream's
	// fdBase covers the standard streams, the Go runtime's poller, the access
	// log and state files, the admin listener and its clients, and an
	// upgrade's handshake socket.
	fdBase = 64
	// fdPerLoop is a gnet event loop's epoll and eventfd, and its own
	// listening socket with reuse_port.
	fdPerLoop = 3
	// fdProbesPerPool bounds the probes of one pool in flight at once
	// (health's maxInFlight).
	fdProbesPerPool = 256
)

// fdReserve returns the descriptors that e needs besides client and upstream
// connections, with event_loops 0 counted as the engine runs it.
func fdReserve(e engine.Config) int {
	n := fdBase + fdPerLoop*e.Loops()
	for _, p := range e.Pools {
		if p.Health != nil && !p.Health.Disabled {
			n += min(len(p.Backends), fdProbesPerPool)
		}
	}
	return n
}

// fdNeeded returns the descriptors that maxConns client connections and the
// reserve can hold at once.
func fdNeeded(maxConns, reserve int) uint64 {
	return fdPerConn*uint64(maxConns) + uint64(reserve)
}

// autoMaxConnections returns the most client connections that fit in limit
// descriptors beside reserve: (limit − reserve) / 2, at least 1 (a limit that
// leaves no room still gets a warning from budgetConnections) and at most
// what the max_connections key accepts.
func autoMaxConnections(limit uint64, reserve int) int {
	if limit <= uint64(reserve)+fdPerConn {
		return 1
	}
	return int(min((limit-uint64(reserve))/fdPerConn, math.MaxInt32))
}

// budgetConnections fits cfg's max_connections into limit descriptors: an
// auto one becomes autoMaxConnections; an explicit one stays as it is. It
// returns a warning, located at the key, when the result does not fit, else
// nil; the warning does not stop loopgate. limit 0 means unknown: cfg keeps
// the engine's default and nothing is checked.
func budgetConnections(cfg *Config, limit uint64) *Error {
	if limit == 0 {
		return nil
	}
	reserve := fdReserve(cfg.Engine)
	if cfg.maxConnAuto {
		cfg.Engine.MaxConnections = autoMaxConnections(limit, reserve)
	}
	n := cfg.Engine.MaxConnections
	need := fdNeeded(n, reserve)
	if need <= limit {
		return nil
	}
	w := Error{Key: "server.max_connections"} // a Config that parse did not make
	if cfg.maxConnAt != nil {
		w = *cfg.maxConnAt
	}
	w.Kind, w.Warning = ErrDescriptors, true
	raise := fmt.Sprintf("raise it to at least %d (ulimit -n, or LimitNOFILE= in the systemd unit)", need)
	a := autoMaxConnections(limit, reserve)
	switch {
	case cfg.maxConnAuto || fdNeeded(a, reserve) > limit:
		w.Msg = fmt.Sprintf("the file descriptor limit (RLIMIT_NOFILE) is %d and %d are kept in reserve, which leaves no room for %d connections at %d descriptors each; %s",
			limit, reserve, n, fdPerConn, raise)
	default:
		w.Msg = fmt.Sprintf("%d connections need up to %d file descriptors (%d each + %d in reserve) but the limit (RLIMIT_NOFILE) is %d; "+
			"%s, or lower max_connections to %d, or remove it (auto fits the limit)",
			n, need, fdPerConn, reserve, limit, raise, a)
	}
	return &w
}

// nofile returns the process's RLIMIT_NOFILE.
func nofile() (soft, hard uint64, err error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("cannot read the file descriptor limit: %w", err)
	}
	return r.Cur, r.Max, nil
}

// raiseNofile raises the soft RLIMIT_NOFILE to the hard limit and returns
// both as they are afterwards; err is set when the raise failed (soft is then
// what it was). The Go runtime already raises it at start on Linux; this
// makes it explicit, and a failure visible. Runs once, at start.
func raiseNofile() (soft, hard uint64, err error) {
	soft, hard, err = nofile()
	if err != nil || soft >= hard {
		return soft, hard, err
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: hard, Max: hard}); err != nil {
		return soft, hard, fmt.Errorf("cannot raise the file descriptor limit from %d to %d: %w", soft, hard, err)
	}
	return nofile()
}

// applyBudget fits cfg into the process's current descriptor limit (the soft
// one, which start raised to the hard one) and logs the outcome: the auto
// max_connections chosen, or the warning. Start and reload both run it, so
// the engine never sees a max_connections of 0 (auto) from the binary.
func applyBudget(log *slog.Logger, cfg *Config) {
	soft, _, err := nofile()
	if err != nil {
		log.Warn("cannot check max_connections against the descriptor limit", "err", err, "max_connections", cfg.Engine.MaxConnections)
		return
	}
	w := budgetConnections(cfg, soft)
	if cfg.maxConnAuto {
		log.Info("max_connections auto: (descriptor limit - reserve) / 2", "max_connections", cfg.Engine.MaxConnections,
			"descriptor_limit", soft, "reserve", fdReserve(cfg.Engine))
	}
	if w != nil {
		log.Warn("max_connections does not fit in the file descriptor limit", "at", fmt.Sprintf("%s:%d", w.File, w.Line), "key", w.Key, "problem", w.Msg)
	}
}
