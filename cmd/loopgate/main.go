// Command loopgate is the load balancer: it reads config.toml (or a seed
// balancer's config.json), starts the engine and serves until SIGINT or
// SIGTERM, then drains for up to server.shutdown_grace.
//
//	loopgate [-config config.toml] [-check] [-verbose] [-version] [-pidfile PATH]
//	loopgate -upgrade -pidfile PATH   (or kill -USR2; docs/UPGRADE.md)
//
// Config decoding and validation live in config*.go; this file only wires.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"loopgate/health"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	// go-redis prints each failed dial to the standard logger; the rate
	// limiter already logs Redis going away and coming back, once each.
	redis.SetLogger(quietRedis{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its inputs and outputs passed in; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loopgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.toml", "config file: .toml, or a seed balancer's .json")
	check := fs.Bool("check", false, "validate the config file, print every problem found and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	verbose := fs.Bool("verbose", false, "log at debug level")
	pidfile := fs.String("pidfile", "", "write the process id to this file (rewritten by an upgrade's new process)")
	admin := fs.String("admin", "", "admin listener address, in place of the config's; \"\" turns it off")
	upgrade := fs.Bool("upgrade", false, "upgrade the loopgate named by -pidfile in place (as kill -USR2 does), wait for the outcome, exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loopgate: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "loopgate %s\n", version)
		return 0
	}
	if *upgrade {
		return requestUpgrade(*pidfile, stdout, stderr) // upgrade.go
	}

	cfg, err := Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err) // one "file:line: key: problem" per line
		return 1
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "admin" {
			cfg.overrideAdmin(admin)
		}
	})
	if *check {
		for _, w := range cfg.warnings {
			fmt.Fprintln(stderr, w) // a warning: the config is still OK
		}
		// The hard limit: the one a started loopgate raises its own to.
		if _, hard, err := nofile(); err != nil {
			fmt.Fprintln(stderr, err)
		} else if w := budgetConnections(cfg, hard); w != nil {
			fmt.Fprintln(stderr, w) // a warning: the config is still OK
		}
		fmt.Fprintf(stdout, "config OK: %s\n", *path)
		return 0
	}
	if err := setupUpgrade(cfg, *pidfile); err != nil { // a process started by an upgrade: the handshake
		fmt.Fprintln(stderr, err)
		return 1
	}
	// A successor shares its parent's port by design; anything else must
	// find the port free (listen.go).
	if p := upgradeSetup.parent; p == nil || p.moved {
		if err := ensurePortsFree(cfg.Engine); err != nil {
			if p != nil {
				p.send("fail " + err.Error())
				p.conn.Close()
				upgradeSetup.parent = nil
			}
			fmt.Fprintln(stderr, err)
			return 1
		}
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	soft, hard, err := raiseNofile()
	if err != nil {
		log.Warn("cannot raise the file descriptor limit; going on with it", "err", err)
	}
	if hard > 0 {
		log.Info("file descriptor limit", "soft", soft, "hard", hard)
	}
	applyBudget(log, cfg)
	logWarnings(log, cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, *path, log, stdout, stop); err != nil {
		log.Error("loopgate stopped", "err", err)
		return 1
	}
	return 0
}

// serve runs the engine until ctx is done, then shuts it down within
// cfg.Engine.ShutdownGrace. onSignal runs once ctx is done (main uses it to
// restore default signal handling, so a second Ctrl-C kills at once). A
// shutdown that had to cut connections is logged, not returned: the process
// still stops as asked.
func serve(ctx context.Context, cfg *Config, path string, log *slog.Logger, stdout io.Writer, onSignal func()) error {
	a, err := newApp(cfg, path, log, stdout)
	if err != nil {
		return err
	}
	defer a.closeLog()
	a.tls.run(log, cfg.TLS)
	defer a.tls.stop()
	srv := a.srv
	logConfig(log, cfg)
	if err := a.listenAdmin(); err != nil {
		return err
	}
	defer a.stopAdmin()
	ctx, up := watchUpgrades(ctx, a, log) // SIGUSR2; ctx also ends when a new process has taken over
	a.upgrades.Store(true)
	defer up.stop()
	a.st.Start()
	defer a.st.Stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go a.handleSignals(sigs)
	errc := make(chan error, 1)
	go func() { errc <- srv.Run() }()

	select {
	case err := <-errc:
		return fmt.Errorf("cannot serve on %s: %w", cfg.Engine.Listen, orStopped(err))
	case <-srv.Ready():
		if a := srv.Addr(); a != nil {
			log.Info("listening", "addr", a.String())
		}
	case <-ctx.Done():
	}
	select {
	case err := <-errc:
		return fmt.Errorf("cannot serve on %s: %w", cfg.Engine.Listen, orStopped(err))
	case <-ctx.Done():
	}
	onSignal()

	log.Info("shutting down", "grace", cfg.Engine.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Engine.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown was not clean", "err", err)
	}
	if err := <-errc; err != nil {
		log.Warn("engine stopped with an error", "err", err)
	}
	log.Info("stopped")
	return nil
}

// healthAttrs describes a pool's active health checks for the startup log:
// whether probes are on and, if so, what they ask and how often.
func healthAttrs(h *health.Config) []any {
	switch {
	case h == nil:
		return []any{"health_checks", "off"}
	case h.Disabled:
		return []any{"health_checks", "off (disabled)"}
	case h.Type == "tcp":
		return []any{"health_checks", "tcp", "health_interval", h.Interval, "health_timeout", h.Timeout}
	}
	return []any{"health_checks", h.Type, "health_probe", h.Method + " " + h.Path,
		"health_interval", h.Interval, "health_timeout", h.Timeout}
}

// orStopped turns the nil that Run returns when it stops on its own into an
// error, since only Shutdown should stop it.
func orStopped(err error) error {
	if err == nil {
		return errors.New("engine stopped unexpectedly")
	}
	return err
}

// logWarnings logs what Load adjusted in the file rather than refusing it,
// located as applyBudget locates its warning. Start and reload both run it.
func logWarnings(log *slog.Logger, cfg *Config) {
	for _, w := range cfg.warnings {
		log.Warn("config value adjusted", "at", fmt.Sprintf("%s:%d", w.File, w.Line), "key", w.Key, "problem", w.Msg)
	}
}

// logConfig logs what is about to run: listener, event loops, pools and their
// backends.
func logConfig(log *slog.Logger, cfg *Config) {
	e := cfg.Engine
	loops := fmt.Sprint(e.EventLoops)
	if e.EventLoops == 0 {
		loops = fmt.Sprintf("%d (GOMAXPROCS)", e.Loops())
	}
	log.Info("loopgate starting", "version", version, "listen", e.Listen, "event_loops", loops,
		"reuse_port", e.ReusePort, "max_connections", e.MaxConnections, "trusted_proxies", e.TrustedProxies)
	for i, l := range e.Listeners {
		log.Info("listener", "address", l.Address, "tls", i < len(cfg.listenerTLS) && cfg.listenerTLS[i], "redirect_https", l.RedirectHTTPS)
	}
	for _, p := range e.Pools {
		backends := make([]string, len(p.Backends))
		for j, b := range p.Backends {
			backup := ""
			if b.Backup {
				backup = ", backup"
			}
			backends[j] = fmt.Sprintf("%s (weight %d%s)", b.Address, b.WeightOf(), backup)
		}
		attrs := []any{"name", p.Name, "algorithm", p.Algorithm}
		if p.HashKey != "" { // withPoolDefaults sets these only where they apply
			attrs = append(attrs, "hash_key", p.HashKey, "hash_method", p.HashMethod, "hash_balance_factor", p.HashBalanceFactor)
		}
		if p.Fallback != "" {
			attrs = append(attrs, "fallback", p.Fallback)
		}
		if sc := p.StickyCookie; sc != nil {
			attrs = append(attrs, "sticky_cookie", sc.Name, "sticky_secret", sc.Secret != "")
		}
		if c := p.TLS; c != nil {
			// Without verification the pool is encrypted but not authenticated: say so at start.
			attrs = append(attrs, "tls", true, "tls_verify", c.Verifies(), "tls_server_name", c.ServerName, "tls_ca", c.CA, "tls_client_cert", c.Cert != "")
		}
		attrs = append(attrs, healthAttrs(p.Health)...)
		log.Info("pool", append(attrs, "backends", backends)...)
	}
	log.Debug("limits", "limits", fmt.Sprintf("%+v", e.Limits))
	log.Debug("timeouts", "timeouts", fmt.Sprintf("%+v", e.Timeouts))
	log.Debug("flow", "high_watermark", e.Flow.HighWatermark, "low_watermark", e.Flow.LowWatermark)
	log.Info("observability", "access_log", cfg.AccessLog, "access_log_path", cfg.Log.Path, "access_log_format", cfg.Log.Format,
		"metrics", cfg.Metrics, "seed_endpoints", e.SeedEndpoints, "request_id_header", e.RequestIDHeader,
		"admin", cfg.Admin.Listen)
}

// quietRedis drops go-redis's own log lines.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
