package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"loopgate/engine"
	"loopgate/stats"
)

// app is one running loopgate: the engine, its metrics and access log, and
// the admin listener. start builds it; stop takes it down in order.
type app struct {
	path string // the config file, re-read on reload
	log  *slog.Logger

	mu    sync.Mutex    // guards cfg, base and state; held by changes and reloads
	cfg   *Config       // the running configuration (after the state file)
	base  []engine.Pool // the pools as the config file has them, before the state file
	state *savedState   // the runtime changes, kept in the state file
	token string        // the admin bearer token; "" = none
	srv   *engine.Server
	tls   *tlsRuntime // nil without a TLS listener (tls.go)
	// listeners are the engine's, TLS configs included: a reload passes
	// them on (the config file's have none).
	listeners []engine.Listener
	st        *stats.Proxy
	alog      *stats.AccessLog // nil when the access log is off

	admin        *http.Server // nil when [admin] listen is ""
	adminAddr    net.Addr
	mux          *http.ServeMux
	authFailures *metrics.Counter
	upgrades     atomic.Bool // SIGUSR2 starts an upgrade (serve's upgrader runs)
}

// newApp builds everything cfg asks for, without starting the engine. The
// access log goes to stdout when its path is "-".
//
// The state file's changes (state.go) are replayed over the config file's
// pools first; path is the config file's path, which names the state file.
func newApp(cfg *Config, path string, log *slog.Logger, stdout io.Writer) (*app, error) {
	a := &app{cfg: cfg, path: path, log: log, st: stats.New(stats.Options{}), base: cfg.Engine.Pools}
	st, err := loadState(statePath(cfg, path))
	if err != nil {
		return nil, err
	}
	a.state = st
	if a.token, err = readToken(cfg.Admin); err != nil {
		return nil, err
	}
	a.authFailures = a.st.Metrics().NewCounter("loopgate_admin_auth_failures_total")
	ec := cfg.Engine
	ec.Pools = st.apply(cfg.Engine.Pools, log)
	ec.Routes = st.Routes.applyRoutes(cfg.Engine.Routes, log)
	ec.Stats = a.st
	if cfg.AccessLog {
		alog, err := stats.OpenAccessLog(stats.AccessLogOptions{
			Path: cfg.Log.Path, Format: cfg.Log.Format, BufferSize: cfg.Log.Buffer, Queue: cfg.Log.Queue,
			Stdout: stdout, Log: log,
		})
		if err != nil {
			return nil, err
		}
		a.alog = alog
		ec.AccessLog = alog
		a.st.SetAccessLog(alog)
	}
	if a.tls, err = newTLSRuntime(cfg, &ec, log); err != nil {
		a.closeLog()
		return nil, err
	}
	if a.tls != nil {
		a.st.AddMetricsWriter(a.tls.store.WriteMetrics) // loopgate_tls_cert_expiry_seconds
	}
	a.listeners = ec.Listeners
	srv, err := engine.New(ec, log)
	if err != nil {
		a.closeLog()
		return nil, err
	}
	a.srv = srv
	if cfg.Admin.Listen != "" {
		a.mux = http.NewServeMux()
		// Everything the admin API does not route goes to the read-only
		// views of stats (/metrics, /api/status, /api/metrics, /dashboard),
		// behind the read check: open on loopback or with public_read, the
		// token otherwise.
		views := stats.NewHandler(a.st, srv.Status)
		a.mux.HandleFunc("/", a.read(views.ServeHTTP))
		if !cfg.Metrics { // enable_metrics = false: no /metrics
			a.mux.Handle("/metrics", http.NotFoundHandler())
		}
		a.routes()
	}
	return a, nil
}

// readToken returns the admin token from the config or its token file.
func readToken(c AdminConfig) (string, error) {
	if c.TokenFile == "" {
		return c.Token, nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("cannot read admin token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("cannot use admin token_file %s: it is empty", c.TokenFile)
	}
	return tok, nil
}

// saveState records the running pools' differences from the config file in
// the state file. Callers hold no lock; it takes a.mu.
func (a *app) saveState() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := diffState(a.base, a.srv.Pools(), a.state)
	st.Routes = a.state.Routes
	if err := st.save(statePath(a.cfg, a.path)); err != nil {
		return err
	}
	a.state = st
	return nil
}

// listenAdmin binds the admin listener and serves it in a goroutine.
func (a *app) listenAdmin() error {
	if a.mux == nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.Admin.Listen)
	if err != nil && a.cfg.Admin.Optional {
		a.log.Warn("no admin listener: its address is taken (another loopgate on this machine?); "+
			"-admin ADDR chooses another, -admin '' turns it off", "addr", a.cfg.Admin.Listen, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot listen for admin on %s: %w", a.cfg.Admin.Listen, err)
	}
	scheme := "http"
	if tc, err := a.cfg.Admin.tlsConfig(); err != nil {
		ln.Close()
		return fmt.Errorf("cannot serve the admin listener over https: %w", err)
	} else if tc != nil {
		ln, scheme = tls.NewListener(ln, tc), "https"
	}
	a.adminAddr = ln.Addr()
	a.admin = &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	go func() {
		if err := a.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin listener stopped", "err", err)
		}
	}()
	a.log.Info("admin listening", "addr", a.adminAddr.String(), "dashboard", scheme+"://"+a.adminAddr.String()+"/dashboard")
	return nil
}

// stopAdmin closes the admin listener; its requests get a second to finish.
func (a *app) stopAdmin() {
	if a.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.admin.Shutdown(ctx)
}

// closeLog writes what the access log holds and closes it.
func (a *app) closeLog() {
	if a.alog == nil {
		return
	}
	if err := a.alog.Close(); err != nil {
		a.log.Warn("cannot close the access log", "err", err)
	}
}
