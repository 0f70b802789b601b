package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"reflect"
	"slices"

	"loopgate/certs"
	"loopgate/engine"
)

// tlsRuntime is what [tls] and the TLS listeners run (docs/TLS.md): one
// certificate store chosen by SNI for every TLS listener, their shared
// tls.Config, the session ticket keys, and the ACME manager when names are
// listed. Certificates reload with the config; the rest needs a new process.
type tlsRuntime struct {
	store   *certs.Store
	config  *tls.Config
	tickets *certs.Tickets
	acme    *certs.ACME // nil without acme_domains
	cancel  context.CancelFunc
}

// newTLSRuntime builds the TLS side of cfg, or returns nil when no listener
// speaks TLS. The listeners of ec with TLS on get its config, and ec's
// ACMEChallenge answers HTTP-01 on the plain ones.
func newTLSRuntime(cfg *Config, ec *engine.Config, log *slog.Logger) (*tlsRuntime, error) {
	if !slices.Contains(cfg.listenerTLS, true) {
		return nil, nil
	}
	x := cfg.TLS
	store, warn, err := certs.NewStore(x.Certs)
	if err != nil {
		return nil, err
	}
	for _, w := range warn {
		log.Warn("tls: " + w)
	}
	t := &tlsRuntime{store: store}
	if t.config, err = certs.NewTLSConfig(x.Profile, store); err != nil {
		return nil, err
	}
	if t.tickets, err = certs.NewTickets(x.TicketConfig); err != nil {
		return nil, err
	}
	t.tickets.Attach(t.config)
	if x.ACMEEnabled() {
		if t.acme, err = certs.NewACME(x.ACMEConfig, store, nil); err != nil {
			return nil, err
		}
		t.acme.Report = func(domain string, _ *certs.CertInfo, err error) {
			if err != nil {
				log.Warn("acme: cannot obtain a certificate; retrying with backoff", "domain", domain, "err", err)
			} else {
				log.Info("acme: certificate obtained", "domain", domain)
			}
		}
		ec.ACMEChallenge = t.acme.HTTPChallenge
	}
	ec.Listeners = slices.Clone(ec.Listeners) // cfg keeps its own, without TLS configs
	for i, on := range cfg.listenerTLS {
		if on {
			ec.Listeners[i].TLS = t.config
		}
	}
	return t, nil
}

// run starts the background work: file checks, ticket rotation, ACME.
func (t *tlsRuntime) run(log *slog.Logger, check certs.Config) {
	if t == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	if check.ReloadCheck > 0 {
		go t.store.Watch(ctx, check.ReloadCheck, func(warn []string, err error) {
			if err != nil {
				log.Error("tls: certificate files changed but cannot be loaded; the old ones stay in service", "err", err)
				return
			}
			for _, w := range warn {
				log.Warn("tls: " + w)
			}
			log.Info("tls: certificates reloaded")
		})
	}
	go t.tickets.Run(ctx, check.ReloadCheck, func(err error) { log.Warn("tls: session ticket keys", "err", err) })
	if t.acme != nil {
		go t.acme.Run(ctx)
	}
}

func (t *tlsRuntime) stop() {
	if t != nil && t.cancel != nil {
		t.cancel()
	}
}

// reload swaps the certificates for those of cfg, or refuses with the
// files' problems and keeps the old ones.
func (t *tlsRuntime) reload(cfg *Config, log *slog.Logger) error {
	if t == nil {
		return nil
	}
	warn, err := t.store.Reload(cfg.TLS.Certs)
	if err != nil {
		return err
	}
	for _, w := range warn {
		log.Warn("tls: " + w)
	}
	if cfg.TLS.KeyFile != "" {
		return t.tickets.Rotate()
	}
	return nil
}

// tlsRestartKeys names what changed in [tls] that only a new process
// applies: everything but the certificate pairs.
func tlsRestartKeys(a, b *Config) []string {
	x, y := a.TLS, b.TLS
	x.Certs, y.Certs = nil, nil
	if !reflect.DeepEqual(x, y) {
		return []string{"tls"}
	}
	return nil
}

// serveTLSStatus is GET /api/tls: every loaded certificate (names, issuer,
// expiry, key, where it came from) and, with ACME, each name's state.
func (a *app) serveTLSStatus(w http.ResponseWriter, _ *http.Request) {
	out := struct {
		Certificates []certs.CertInfo     `json:"certificates"`
		ACME         []certs.DomainStatus `json:"acme,omitempty"`
	}{Certificates: []certs.CertInfo{}}
	if t := a.tls; t != nil {
		out.Certificates = t.store.Info()
		if t.acme != nil {
			out.ACME = t.acme.Status()
		}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}
