package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"loopgate/engine"
)

// The admin API (docs/ADMIN.md): JSON in, JSON out, on the admin listener
// beside /metrics and the dashboard. Every change is validated by the engine
// before anything moves, applied as one new backend Set, logged with who,
// what and when, and saved to the state file so that it survives a restart.

// maxAdminBody bounds a request body of the admin API.
const maxAdminBody = 64 << 10

// maxDrainWait bounds ?wait= on a drain.
const maxDrainWait = 10 * time.Minute

// routes registers the admin API on a.mux.
func (a *app) routes() {
	m := a.mux
	m.HandleFunc("GET /api/pools", a.read(a.getPools))
	m.HandleFunc("GET /api/config", a.read(a.getConfig))
	m.HandleFunc("GET /api/routes", a.read(a.getRoutes))
	m.HandleFunc("POST /api/routes", a.write(a.addRoute))
	m.HandleFunc("DELETE /api/routes/{name}", a.write(a.removeRoute))
	m.HandleFunc("DELETE /api/cache", a.write(a.purgeCache))
	m.HandleFunc("GET /api/tls", a.read(a.serveTLSStatus))
	m.HandleFunc("POST /api/pools/{pool}/backends", a.write(a.addBackend))
	m.HandleFunc("DELETE /api/pools/{pool}/backends/{addr}", a.write(a.removeBackend))
	m.HandleFunc("PATCH /api/pools/{pool}/backends/{addr}", a.write(a.patchBackend))
	m.HandleFunc("POST /api/pools/{pool}/backends/{addr}/drain", a.write(a.drain))
	m.HandleFunc("GET /api/pools/{pool}/backends/{addr}/drain", a.read(a.drainStatus))
	m.HandleFunc("POST /api/pools/{pool}/backends/{addr}/undrain", a.write(a.undrain))
	m.HandleFunc("POST /api/reload", a.write(a.reloadHandler))
	// The seed balancers' aliases (docs/ADMIN.md#seed-aliases).
	m.HandleFunc("POST /upload_server", a.write(a.seedUpload))
	m.HandleFunc("DELETE /delete_server", a.write(a.seedDelete))
}

// apiError is the body of every refusal.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, apiError{Error: fmt.Sprintf(format, args...)})
}

// statusOf maps an engine refusal to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, engine.ErrUnknownPool), errors.Is(err, engine.ErrUnknownBackend):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrDuplicate), errors.Is(err, engine.ErrLastBackend):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// authorized reports whether r carries the admin token. Without a token
// configured only loopback listeners exist (checked at startup), and then
// everything is allowed.
func (a *app) authorized(r *http.Request) bool {
	tok := a.token
	if tok == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(h, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1
}

// write wraps a mutating handler: the token is required when one is
// configured, failures are counted and logged.
func (a *app) write(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			a.denied(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
		h(w, r)
	}
}

// read wraps a read-only handler: open on loopback, or when [admin]
// public_read is set; otherwise it needs the token too.
func (a *app) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.cfg.Admin.PublicRead && !a.authorized(r) {
			a.denied(w, r)
			return
		}
		h(w, r)
	}
}

func (a *app) denied(w http.ResponseWriter, r *http.Request) {
	a.authFailures.Inc()
	a.log.Warn("admin: authorization failed", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
	w.Header().Set("WWW-Authenticate", `Bearer realm="loopgate admin"`)
	fail(w, http.StatusUnauthorized, "a bearer token is required: Authorization: Bearer <[admin] token>")
}

// changed logs a change and saves the state file.
func (a *app) changed(r *http.Request, what string, attrs ...any) {
	a.log.Info("admin: "+what, append([]any{"remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path}, attrs...)...)
	if err := a.saveState(); err != nil {
		a.log.Error("admin: cannot save the state file; the change is live but will not survive a restart", "err", err)
	}
}

func (a *app) getPools(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(a.st.AppendAPIStatus(nil, a.srv.Status()))
}

// getRoutes lists the routes and rate limits with their counters
// (docs/ROUTING.md); routes change with the config, through POST /api/reload.
func (a *app) getRoutes(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(a.st.AppendAPIRoutes(nil), '\n'))
}

// backendBody is a backend as the API takes and returns it.
type backendBody struct {
	Address string `json:"address"`
	Weight  *int   `json:"weight,omitempty"`
	Backup  bool   `json:"backup,omitempty"`
}

// decode reads a JSON body into v, refusing unknown fields and trailing
// garbage, so a typo is an error rather than a silent default.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("cannot decode the body: it is empty; want a JSON object")
		}
		return fmt.Errorf("cannot decode the body: %w", err)
	}
	if dec.More() {
		return errors.New("cannot decode the body: more than one JSON value")
	}
	return nil
}

func (a *app) addBackend(w http.ResponseWriter, r *http.Request) {
	pool := r.PathValue("pool")
	var b backendBody
	if err := decode(r, &b); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if b.Address == "" {
		fail(w, http.StatusBadRequest, "address is required (host:port)")
		return
	}
	nb := engine.Backend{Address: b.Address, Weight: b.Weight, Backup: b.Backup}
	if err := a.srv.AddBackend(pool, nb); err != nil {
		fail(w, statusOf(err), "%v", err)
		return
	}
	a.changed(r, "backend added", "pool", pool, "backend", b.Address, "weight", nb.WeightOf(), "backup", b.Backup)
	writeJSON(w, http.StatusCreated, a.backendView(pool, b.Address))
}

func (a *app) removeBackend(w http.ResponseWriter, r *http.Request) {
	pool, addr := r.PathValue("pool"), r.PathValue("addr")
	inflight, _ := a.srv.InFlight(pool, addr)
	if err := a.srv.RemoveBackend(pool, addr); err != nil {
		fail(w, statusOf(err), "%v", err)
		return
	}
	a.changed(r, "backend removed", "pool", pool, "backend", addr, "in_flight", inflight)
	writeJSON(w, http.StatusOK, map[string]any{"pool": pool, "address": addr, "removed": true, "in_flight": inflight})
}

func (a *app) patchBackend(w http.ResponseWriter, r *http.Request) {
	pool, addr := r.PathValue("pool"), r.PathValue("addr")
	var body struct {
		Weight *int `json:"weight"`
	}
	if err := decode(r, &body); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if body.Weight == nil {
		fail(w, http.StatusBadRequest, "weight is required (0..1000)")
		return
	}
	if err := a.srv.SetWeight(pool, addr, *body.Weight); err != nil {
		fail(w, statusOf(err), "%v", err)
		return
	}
	a.changed(r, "backend weight changed", "pool", pool, "backend", addr, "weight", *body.Weight)
	writeJSON(w, http.StatusOK, a.backendView(pool, addr))
}

// drainReply tells whether a drained backend still has requests in flight.
type drainReply struct {
	Pool     string `json:"pool"`
	Address  string `json:"address"`
	Draining bool   `json:"draining"`
	InFlight int64  `json:"in_flight"`
	Empty    bool   `json:"empty"` // no request in flight: it can be stopped or removed
}

func (a *app) drain(w http.ResponseWriter, r *http.Request) {
	pool, addr := r.PathValue("pool"), r.PathValue("addr")
	wait, err := waitParam(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err := a.srv.Drain(pool, addr); err != nil {
		fail(w, statusOf(err), "%v", err)
		return
	}
	a.changed(r, "backend draining", "pool", pool, "backend", addr)
	a.replyDrain(w, r, pool, addr, wait)
}

func (a *app) drainStatus(w http.ResponseWriter, r *http.Request) {
	pool, addr := r.PathValue("pool"), r.PathValue("addr")
	wait, err := waitParam(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if _, err := a.srv.InFlight(pool, addr); err != nil {
		fail(w, statusOf(err), "%v", err)
		return
	}
	a.replyDrain(w, r, pool, addr, wait)
}

// replyDrain answers with the backend's in-flight count, after waiting up
// to wait for it to reach zero (a long poll).
func (a *app) replyDrain(w http.ResponseWriter, r *http.Request, pool, addr string, wait time.Duration) {
	var n int64
	var err error
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		n, err = a.srv.WaitDrained(ctx, pool, addr)
		cancel()
	} else {
		n, err = a.srv.InFlight(pool, addr)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		fail(w, statusOf(err), "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, drainReply{Pool: pool, Address: addr, Draining: a.draining(pool, addr), InFlight: n, Empty: n == 0})
}

func waitParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		if s, serr := strconv.Atoi(v); serr == nil {
			d, err = time.Duration(s)*time.Second, nil
		}
	}
	if err != nil || d < 0 || d > maxDrainWait {
		return 0, fmt.Errorf("cannot use wait=%q: want a duration such as 30s, at most %v", v, maxDrainWait)
	}
	return d, nil
}

func (a *app) undrain(w http.ResponseWriter, r *http.Request) {
	pool, addr := r.PathValue("pool"), r.PathValue("addr")
	if err := a.srv.Undrain(pool, addr); err != nil {
		fail(w, statusOf(err), "%v", err)
		return
	}
	a.changed(r, "backend undrained", "pool", pool, "backend", addr)
	writeJSON(w, http.StatusOK, a.backendView(pool, addr))
}

// draining reports whether addr of pool is drained now.
func (a *app) draining(pool, addr string) bool {
	for _, p := range a.srv.Pools() {
		if p.Name != pool {
			continue
		}
		for _, b := range p.Backends {
			if b.Address == addr {
				return b.Drained
			}
		}
	}
	return false
}

// backendView is one backend as /api/status shows it, or a minimal view if
// it is gone.
func (a *app) backendView(pool, addr string) any {
	for _, p := range a.srv.Status() {
		if p.Name != pool {
			continue
		}
		for _, b := range p.Backends {
			if b.Addr == addr {
				return map[string]any{"pool": pool, "address": b.Addr, "weight": b.Weight, "backup": b.Backup,
					"state": b.State, "reason": b.Reason, "in_flight": b.InFlight}
			}
		}
	}
	return map[string]any{"pool": pool, "address": addr}
}

// Seed aliases. The seed balancer kept a list of server URLs; its
// POST /upload_server and DELETE /delete_server take the server as JSON
// ({"server": "http://host:port"}; "url" and "address", or "host" and
// "port", are accepted too), as a form or query value server=..., and act
// on the first pool unless ?pool= names another.

func (a *app) seedUpload(w http.ResponseWriter, r *http.Request) {
	pool, addr, weight, err := a.seedTarget(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	nb := engine.Backend{Address: addr, Weight: weight}
	if err := a.srv.AddBackend(pool, nb); err != nil {
		fail(w, statusOf(err), "%v", err)
		return
	}
	a.changed(r, "backend added", "pool", pool, "backend", addr, "weight", nb.WeightOf())
	writeJSON(w, http.StatusCreated, map[string]any{"message": "server added", "server": addr, "pool": pool})
}

func (a *app) seedDelete(w http.ResponseWriter, r *http.Request) {
	pool, addr, _, err := a.seedTarget(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err := a.srv.RemoveBackend(pool, addr); err != nil {
		fail(w, statusOf(err), "%v", err)
		return
	}
	a.changed(r, "backend removed", "pool", pool, "backend", addr)
	writeJSON(w, http.StatusOK, map[string]any{"message": "server deleted", "server": addr, "pool": pool})
}

// seedTarget reads the pool and backend address of a seed alias call.
func (a *app) seedTarget(r *http.Request) (pool, addr string, weight *int, err error) {
	pool = r.URL.Query().Get("pool")
	if pool == "" {
		pool = a.srv.Pools()[0].Name
	}
	var body struct {
		Server  string `json:"server"`
		URL     string `json:"url"`
		Address string `json:"address"`
		Host    string `json:"host"`
		Port    int    `json:"port"`
		Weight  *int   `json:"weight"`
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		if err := r.ParseForm(); err != nil {
			return "", "", nil, fmt.Errorf("cannot parse the form: %w", err)
		}
		body.Server = r.Form.Get("server")
	case r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody:
		if err := decode(r, &body); err != nil && r.URL.Query().Get("server") == "" {
			return "", "", nil, err
		}
	}
	if body.Server == "" {
		body.Server = r.URL.Query().Get("server")
	}
	raw := firstNonEmpty(body.Server, body.URL, body.Address)
	if raw == "" && body.Host != "" {
		raw = net.JoinHostPort(body.Host, strconv.Itoa(body.Port))
	}
	if raw == "" {
		return "", "", nil, errors.New(`the server is required: {"server": "http://host:port"}`)
	}
	tls := false
	for _, p := range a.srv.Pools() {
		if p.Name == pool {
			tls = p.TLS != nil
		}
	}
	addr, err = seedAddress(raw, tls)
	return pool, addr, body.Weight, err
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// seedAddress turns a seed server URL ("http://localhost:5001/") or a
// host:port into host:port. The scheme must be the pool's: https:// for a
// pool with [pool.tls], http:// for the others.
func seedAddress(raw string, tls bool) (string, error) {
	if !strings.Contains(raw, "://") {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("cannot parse server %q: %w", raw, err)
	}
	want, port := "http", "80"
	if tls {
		want, port = "https", "443"
	}
	if u.Scheme != want {
		return "", fmt.Errorf("cannot use server %q: this pool's backends are %s:// ([pool.tls] decides)", raw, want)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), port), nil
	}
	return u.Host, nil
}

// isLoopback reports whether the admin listen address binds only loopback.
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
