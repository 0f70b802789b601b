package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"

	"loopgate/engine"
)

// reload re-reads the config file and the state file and applies them to
// the running proxy. A file that fails validation is refused with every
// problem found, and the running configuration stays. Settings that need new
// sockets (listen, event_loops, reuse_port, read_buffer) return
// engine.ErrNeedsRestart; the caller upgrades the process for them.
func (a *app) reload() error {
	cfg, err := Load(a.path)
	if err != nil {
		return err
	}
	cfg.overrideAdmin(a.cfg.adminFlag)
	a.mu.Lock()
	defer a.mu.Unlock()
	st, err := loadState(statePath(cfg, a.path))
	if err != nil {
		return err
	}
	ec := cfg.Engine
	ec.Pools = st.apply(cfg.Engine.Pools, a.log)
	ec.Routes = st.Routes.applyRoutes(cfg.Engine.Routes, a.log)
	if keys := processKeys(a.cfg, cfg); len(keys) > 0 {
		e := a.cfg.Engine
		return &restartError{keys: keys, upgradable: e.ReusePort && cfg.Engine.ReusePort}
	}
	applyBudget(a.log, cfg) // auto max_connections, or a warning, as at start
	logWarnings(a.log, cfg)
	ec.MaxConnections = cfg.Engine.MaxConnections
	ec.Listeners = a.listeners // the same addresses (processKeys), with their running TLS configs
	if err := a.tls.reload(cfg, a.log); err != nil {
		return err // the old certificates and config stay
	}
	if err := a.srv.Reload(ec); err != nil {
		return err
	}
	tok, err := readToken(cfg.Admin)
	if err != nil {
		a.log.Warn("reload: keeping the old admin token", "err", err)
		tok = a.token
	}
	a.cfg, a.base, a.state, a.token = cfg, cfg.Engine.Pools, st, tok
	return nil
}

// processKeys names the settings that only a new process applies: the
// listening socket and event loops, the access log's destination and
// format, the admin listener.
func processKeys(a, b *Config) []string {
	keys := engine.RestartKeys(a.Engine, b.Engine)
	for _, k := range []struct {
		name    string
		changed bool
	}{
		{"access_log", a.AccessLog != b.AccessLog || a.Log != b.Log},
		{"metrics", a.Metrics != b.Metrics},
		{"admin.listen", a.Admin.Listen != b.Admin.Listen},
		{"admin.tls", a.Admin.TLSCertFile != b.Admin.TLSCertFile || a.Admin.TLSKeyFile != b.Admin.TLSKeyFile ||
			a.Admin.ClientCA != b.Admin.ClientCA || a.Admin.ClientAuth != b.Admin.ClientAuth},
		{"tls", len(tlsRestartKeys(a, b)) > 0 || !slices.Equal(a.listenerTLS, b.listenerTLS) || !slices.Equal(a.listenerMTLS, b.listenerMTLS)},
	} {
		if k.changed {
			keys = append(keys, k.name)
		}
	}
	return keys
}

// restartError refuses a reload whose changes need a new process. When the
// running process and the file both have reuse_port, an upgrade
// (docs/UPGRADE.md) applies them without dropping a connection, a new listen
// address included.
type restartError struct {
	keys       []string
	upgradable bool
}

func (e *restartError) Error() string {
	msg := fmt.Sprintf("cannot reload %s in place: it needs a new process", strings.Join(e.keys, ", "))
	if e.upgradable {
		return msg + "; an upgrade applies it (loopgate -upgrade, or kill -USR2)"
	}
	return msg + "; with reuse_port off, start a new loopgate with the new file, then stop this one"
}

func (e *restartError) Unwrap() error { return engine.ErrNeedsRestart }

// reloadOrUpgrade reloads, and when the file changes what only a new process
// can apply and an upgrade can, starts one (as SIGUSR2 does). It reports
// whether an upgrade was started.
func (a *app) reloadOrUpgrade() (bool, error) {
	err := a.reload()
	var re *restartError
	if errors.As(err, &re) && re.upgradable && a.upgrades.Load() {
		a.log.Info("reload: these settings need a new process; upgrading", "keys", strings.Join(re.keys, ", "))
		return true, syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	}
	return false, err
}

// handleSignals serves SIGUSR1 (reopen the access log, for log rotation)
// and SIGHUP (reload the config file) until sigs is closed.
func (a *app) handleSignals(sigs <-chan os.Signal) {
	for sig := range sigs {
		switch sig {
		case syscall.SIGUSR1:
			if a.alog == nil {
				continue
			}
			if err := a.alog.Reopen(); err != nil {
				a.log.Error("cannot reopen the access log", "err", err)
			} else {
				a.log.Info("access log reopened", "path", a.cfg.Log.Path)
			}
		case syscall.SIGHUP:
			upgrading, err := a.reloadOrUpgrade()
			if err != nil {
				a.log.Error("reload refused; the running configuration stays", "file", a.path, "err", err)
				continue
			}
			if !upgrading {
				a.log.Info("configuration reloaded", "file", a.path)
			}
		}
	}
}

// reloadHandler is POST /api/reload.
func (a *app) reloadHandler(w http.ResponseWriter, r *http.Request) {
	upgrading, err := a.reloadOrUpgrade()
	if upgrading && err == nil {
		a.log.Info("admin: reload needs a new process; upgrading", "remote", r.RemoteAddr, "file", a.path)
		writeJSON(w, http.StatusAccepted, map[string]any{"reloaded": false, "upgrading": true, "file": a.path})
		return
	}
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, engine.ErrNeedsRestart) {
			status = http.StatusConflict
		}
		a.log.Warn("admin: reload refused; the running configuration stays", "remote", r.RemoteAddr, "err", err)
		fail(w, status, "%v", err)
		return
	}
	a.log.Info("admin: configuration reloaded", "remote", r.RemoteAddr, "file", a.path)
	writeJSON(w, http.StatusOK, map[string]any{"reloaded": true, "file": a.path})
}

// effectiveConfig is GET /api/config: what runs now, the state file's
// changes included, and where they are kept.
type effectiveConfig struct {
	File      string      `json:"file"`
	StateFile string      `json:"state_file"`
	Server    serverView  `json:"server"`
	Limits    any         `json:"limits"`
	Timeouts  any         `json:"timeouts"`
	Pools     []poolView  `json:"pools"`
	Changes   *savedState `json:"changes"`
}

type serverView struct {
	Listen          string   `json:"listen"`
	EventLoops      int      `json:"event_loops"`
	ReusePort       bool     `json:"reuse_port"`
	MaxConnections  int      `json:"max_connections"`
	MaxPerClient    int      `json:"max_connections_per_client"`
	ShutdownGrace   string   `json:"shutdown_grace"`
	AccessLog       bool     `json:"access_log"`
	Metrics         bool     `json:"metrics"`
	SeedEndpoints   bool     `json:"seed_endpoints"`
	SeedAllow       []string `json:"seed_endpoints_allow"` // null: every client
	RequestIDHeader string   `json:"request_id_header"`
	TrustedProxies  []string `json:"trusted_proxies"`
	ClientAllow     []string `json:"client_allow"`
	ClientDeny      []string `json:"client_deny"`
	ConnectPorts    []int    `json:"connect_ports"`
	Admin           string   `json:"admin"`
}

type poolView struct {
	Name      string        `json:"name"`
	Algorithm string        `json:"algorithm"`
	Retries   int           `json:"retries"`
	TLS       *poolTLSView  `json:"tls,omitempty"` // absent: plain HTTP to the backends
	Backends  []backendView `json:"backends"`
}

// poolTLSView is a pool's [pool.tls] (files by name, not content).
type poolTLSView struct {
	ServerName   string `json:"server_name"`
	CA           string `json:"ca"`
	Verify       bool   `json:"verify"`
	Cert         string `json:"cert"`
	MinVersion   string `json:"min_version"`
	SessionReuse bool   `json:"session_reuse"`
}

type backendView struct {
	Address string `json:"address"`
	Weight  int    `json:"weight"`
	Backup  bool   `json:"backup"`
	Drained bool   `json:"drained"`
}

func (a *app) getConfig(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	c, st := a.cfg, a.state
	a.mu.Unlock()
	e := c.Engine
	out := effectiveConfig{
		File: a.path, StateFile: statePath(c, a.path),
		Server: serverView{Listen: e.Listen, EventLoops: e.EventLoops, ReusePort: e.ReusePort,
			MaxConnections: e.MaxConnections, MaxPerClient: e.MaxConnectionsPerClient, ShutdownGrace: e.ShutdownGrace.String(), AccessLog: c.AccessLog,
			Metrics: c.Metrics, SeedEndpoints: e.SeedEndpoints, SeedAllow: e.SeedEndpointsAllow, RequestIDHeader: e.RequestIDHeader,
			TrustedProxies: e.TrustedProxies, ClientAllow: e.ClientAllow, ClientDeny: e.ClientDeny, ConnectPorts: e.ConnectPorts,
			Admin: c.Admin.Listen},
		Limits: e.Limits, Timeouts: e.Timeouts, Changes: st,
	}
	for _, p := range a.srv.Pools() {
		pv := poolView{Name: p.Name, Algorithm: p.Algorithm, Retries: p.Retries}
		if x := p.TLS; x != nil {
			pv.TLS = &poolTLSView{ServerName: x.ServerName, CA: x.CA, Verify: x.Verifies(), Cert: x.Cert,
				MinVersion: x.MinVersion, SessionReuse: x.SessionReuse == nil || *x.SessionReuse}
		}
		for _, b := range p.Backends {
			pv.Backends = append(pv.Backends, backendView{Address: b.Address, Weight: b.WeightOf(), Backup: b.Backup, Drained: b.Drained})
		}
		out.Pools = append(out.Pools, pv)
	}
	writeJSON(w, http.StatusOK, out)
}
