package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"

	"loopgate/engine"
)

// routeChanges are the admin API's changes to the config file's routes, kept
// in the state file like the pools' (state.go).
type routeChanges struct {
	Added   []json.RawMessage `json:"added,omitempty"`   // routes as posted, in order
	Removed []string          `json:"removed,omitempty"` // config file routes removed, by name
}

// parseRoute decodes a route given as a JSON object with the keys of a
// [[route]] table; every problem is reported, as -check does.
func parseRoute(data []byte) (engine.Route, error) {
	src := &source{file: "body", json: true}
	root := jsonRoot(src, data)
	var r engine.Route
	if root != nil {
		r = decodeRoute(root)
		if r.Name == "" {
			src.errorf("name", ErrMissing, "missing (required for a route added through the API)")
		}
	}
	var errs []error
	for _, e := range src.errs {
		if !e.Warning {
			errs = append(errs, fmt.Errorf("%s: %s", e.Key, e.Msg))
		}
	}
	return r, errors.Join(errs...)
}

// applyRoutes replays rc over routes (the config file's): removals by name,
// then the added routes at the end. One that no longer fits (its name is
// taken by the file now, or it does not decode) is skipped with a warning.
func (rc *routeChanges) applyRoutes(routes []engine.Route, log *slog.Logger) []engine.Route {
	if rc == nil {
		return routes
	}
	out := slices.DeleteFunc(slices.Clone(routes), func(r engine.Route) bool { return slices.Contains(rc.Removed, r.Name) })
	for _, raw := range rc.Added {
		r, err := parseRoute(raw)
		if err != nil {
			log.Warn("state file: added route skipped", "err", err)
			continue
		}
		if slices.ContainsFunc(out, func(x engine.Route) bool { return x.Name == r.Name }) {
			log.Warn("state file: added route skipped: the config file has one of that name now", "route", r.Name)
			continue
		}
		out = append(out, r)
	}
	return out
}

// runningConfig is the engine configuration running now: the config file's
// with the admin API's changes. The caller holds a.mu.
func (a *app) runningConfig() engine.Config {
	ec := a.cfg.Engine
	ec.Pools = a.srv.Pools()
	ec.Routes = a.srv.Routes()
	return ec
}

// reloadRoutes runs ec, whose routes an API call changed, and returns the
// state file's route changes for the caller to record. The caller holds a.mu.
func (a *app) reloadRoutes(ec engine.Config) (*routeChanges, error) {
	if err := a.srv.Reload(ec); err != nil {
		return nil, err
	}
	if a.state.Routes == nil {
		a.state.Routes = &routeChanges{}
	}
	return a.state.Routes, nil
}

// addRoute is POST /api/routes: the body is one route with the keys of a
// [[route]] table (docs/ROUTING.md); it is added after the others and takes
// effect as a reload does.
func (a *app) addRoute(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, http.StatusBadRequest, "cannot read the body: %v", err)
		return
	}
	rt, err := parseRoute(data)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	a.mu.Lock()
	ec := a.runningConfig()
	if slices.ContainsFunc(ec.Routes, func(x engine.Route) bool { return x.Name == rt.Name }) {
		a.mu.Unlock()
		fail(w, http.StatusConflict, "a route named %q exists; DELETE it first", rt.Name)
		return
	}
	ec.Routes = append(ec.Routes, rt)
	rc, err := a.reloadRoutes(ec)
	if err != nil {
		a.mu.Unlock()
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	rc.Added = append(rc.Added, json.RawMessage(data))
	a.mu.Unlock()
	a.changed(r, "route added", "route", rt.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"route": rt.Name, "added": true})
}

// removeRoute is DELETE /api/routes/{name}. The last route cannot be
// removed: without routes every request would go to the first pool.
func (a *app) removeRoute(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	a.mu.Lock()
	ec := a.runningConfig()
	i := slices.IndexFunc(ec.Routes, func(x engine.Route) bool { return x.Name == name })
	switch {
	case i < 0:
		a.mu.Unlock()
		fail(w, http.StatusNotFound, "no route named %q", name)
		return
	case len(ec.Routes) == 1:
		a.mu.Unlock()
		fail(w, http.StatusConflict, "cannot remove the last route: without routes every request would go to the first pool")
		return
	}
	ec.Routes = slices.Delete(ec.Routes, i, i+1)
	rc, err := a.reloadRoutes(ec)
	if err != nil {
		a.mu.Unlock()
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	added := slices.IndexFunc(rc.Added, func(raw json.RawMessage) bool {
		x, err := parseRoute(raw)
		return err == nil && x.Name == name
	})
	if added >= 0 {
		rc.Added = slices.Delete(rc.Added, added, added+1)
	} else {
		rc.Removed = append(rc.Removed, name)
	}
	a.mu.Unlock()
	a.changed(r, "route removed", "route", name)
	writeJSON(w, http.StatusOK, map[string]any{"route": name, "removed": true})
}

// purgeCache is DELETE /api/cache?key=K, ?prefix=P or ?all=1: cached
// responses go (every variant of the key; keys are the normalised host and
// target, "example.com/a?x=1"). The answer says how many.
func (a *app) purgeCache(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key, prefix, all := q.Get("key"), q.Get("prefix"), q.Get("all") == "1"
	if key == "" && prefix == "" && !all {
		fail(w, http.StatusBadRequest, "want ?key=HOST/PATH, ?prefix=HOST/PATH or ?all=1")
		return
	}
	n, err := a.srv.PurgeCache(key, prefix, all)
	if err != nil {
		fail(w, http.StatusConflict, "%v", err)
		return
	}
	a.log.Info("admin: cache purged", "remote", r.RemoteAddr, "key", key, "prefix", prefix, "all", all, "entries", n)
	writeJSON(w, http.StatusOK, map[string]any{"purged": n})
}
