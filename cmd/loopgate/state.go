package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"loopgate/engine"
)

// The state file keeps what the admin API changed, as differences from the
// config file: backends added and removed, weights changed, backends
// drained, routes added and removed (admin_routes.go). It is replayed over the config file at start and on every
// reload, so an edit of config.toml and a change made at runtime both hold;
// config.toml itself is never rewritten (its comments and layout stay the
// operator's). Deleting the state file (with the proxy stopped, or followed
// by a reload) forgets the runtime changes.

// stateVersion is the state file's format.
const stateVersion = 1

// savedState is the state file.
type savedState struct {
	Version int                     `json:"version"`
	Saved   time.Time               `json:"saved"`
	Pools   map[string]*poolChanges `json:"pools"`
	Routes  *routeChanges           `json:"routes,omitempty"`
}

// poolChanges are one pool's differences from the config file.
type poolChanges struct {
	Added   []backendBody  `json:"added,omitempty"`   // backends the config file lacks
	Removed []string       `json:"removed,omitempty"` // config file backends removed
	Weights map[string]int `json:"weights,omitempty"` // config file backends with another weight
	Drained []string       `json:"drained,omitempty"` // backends taking no new requests
}

// statePath is where the state of the config file at path lives.
func statePath(cfg *Config, path string) string {
	if cfg.Admin.StateFile != "" {
		return cfg.Admin.StateFile
	}
	return path + ".state.json"
}

// loadState reads the state file at path; a missing file is no changes.
func loadState(path string) (*savedState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &savedState{Version: stateVersion, Pools: map[string]*poolChanges{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read state file: %w", err)
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("cannot parse state file %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("cannot use state file %s: version %d, want %d", path, st.Version, stateVersion)
	}
	if st.Pools == nil {
		st.Pools = map[string]*poolChanges{}
	}
	return &st, nil
}

// apply replays st over pools (the config file's), returning the pools to
// run. A change that no longer fits the file (its pool is gone, or it would
// empty a pool) is skipped with a warning rather than refusing to start.
func (st *savedState) apply(pools []engine.Pool, log *slog.Logger) []engine.Pool {
	out := make([]engine.Pool, len(pools))
	for i, p := range pools {
		p.Backends = slices.Clone(p.Backends)
		ch := st.Pools[p.Name]
		if ch == nil {
			out[i] = p
			continue
		}
		for _, addr := range ch.Removed {
			j := slices.IndexFunc(p.Backends, func(b engine.Backend) bool { return b.Address == addr })
			switch {
			case j < 0:
			case len(p.Backends) == 1:
				log.Warn("state file: removal skipped: it would leave the pool without backends", "pool", p.Name, "backend", addr)
			default:
				p.Backends = slices.Delete(p.Backends, j, j+1)
			}
		}
		for _, b := range ch.Added {
			if slices.ContainsFunc(p.Backends, func(x engine.Backend) bool { return x.Address == b.Address }) {
				continue // the config file has it now
			}
			p.Backends = append(p.Backends, engine.Backend{Address: b.Address, Weight: b.Weight, Backup: b.Backup})
		}
		for j := range p.Backends {
			b := &p.Backends[j]
			if w, ok := ch.Weights[b.Address]; ok {
				b.Weight = &w
			}
			b.Drained = slices.Contains(ch.Drained, b.Address)
		}
		out[i] = p
	}
	for name := range st.Pools {
		if !slices.ContainsFunc(pools, func(p engine.Pool) bool { return p.Name == name }) {
			log.Warn("state file: changes kept for a pool the config file no longer has", "pool", name)
		}
	}
	return out
}

// diffState computes the changes of running from base (the config file's
// pools). Pools the config file lacks keep their earlier changes in prev.
func diffState(base, running []engine.Pool, prev *savedState) *savedState {
	st := &savedState{Version: stateVersion, Saved: time.Now().UTC(), Pools: map[string]*poolChanges{}}
	for name, ch := range prev.Pools {
		if !slices.ContainsFunc(base, func(p engine.Pool) bool { return p.Name == name }) {
			st.Pools[name] = ch
		}
	}
	for _, rp := range running {
		bi := slices.IndexFunc(base, func(p engine.Pool) bool { return p.Name == rp.Name })
		if bi < 0 {
			continue
		}
		bp := base[bi]
		ch := &poolChanges{}
		for _, b := range bp.Backends {
			j := slices.IndexFunc(rp.Backends, func(x engine.Backend) bool { return x.Address == b.Address })
			if j < 0 {
				ch.Removed = append(ch.Removed, b.Address)
				continue
			}
			if w := rp.Backends[j].WeightOf(); w != b.WeightOf() {
				if ch.Weights == nil {
					ch.Weights = map[string]int{}
				}
				ch.Weights[b.Address] = w
			}
		}
		for _, b := range rp.Backends {
			if !slices.ContainsFunc(bp.Backends, func(x engine.Backend) bool { return x.Address == b.Address }) {
				w := b.WeightOf()
				ch.Added = append(ch.Added, backendBody{Address: b.Address, Weight: &w, Backup: b.Backup})
			}
			if b.Drained {
				ch.Drained = append(ch.Drained, b.Address)
			}
		}
		if len(ch.Added)+len(ch.Removed)+len(ch.Weights)+len(ch.Drained) > 0 {
			st.Pools[rp.Name] = ch
		}
	}
	return st
}

// save writes st to path atomically: a crash leaves the old file or the new
// one, never half of one.
func (st *savedState) save(path string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write state file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write state file: %w", err)
	}
	return nil
}
