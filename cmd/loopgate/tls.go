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
	acme    *certs.ACME      // nil without acme_domains
	own     []*certs.Tickets // the ticket keys of listeners with their own client_ca
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
		if !on {
			continue
		}
		ec.Listeners[i].TLS = t.config
		if m := cfg.listenerMTLS[i]; m.set {
			// Its own client certificate rules, and its own ticket keys: a
			// session from a listener with other rules never resumes here.
			p := x.Profile
			p.ClientCA, p.ClientAuth = m.ClientCA, m.ClientAuth
			own, err := certs.NewTLSConfig(p, store)
			if err != nil {
				return nil, err
			}
			tk, err := certs.NewTickets(certs.TicketConfig{Disabled: x.Disabled, Rotate: x.Rotate, Keys: x.Keys})
			if err != nil {
				return nil, err
			}
			tk.Attach(own)
			t.own = append(t.own, tk)
			ec.Listeners[i].TLS = own
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
	for _, tk := range append([]*certs.Tickets{t.tickets}, t.own...) {
		go tk.Run(ctx, check.ReloadCheck, func(err error) { log.Warn("tls: session ticket keys", "err", err) })
	}
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

// checkAdminTLS checks [admin]'s https and client certificate keys.
func checkAdminTLS(src *source, ad *table, c *AdminConfig) {
	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		src.errorf(ad.key("tls_cert_file"), ErrMissing, "tls_cert_file and tls_key_file go together (PEM files)")
		return
	case c.TLSCertFile == "":
		if c.ClientCA != "" || c.ClientAuth != "" {
			src.errorf(ad.key("client_ca"), ErrValue, "client certificates need https: set tls_cert_file and tls_key_file")
		}
		return
	}
	if _, err := c.tlsConfig(); err != nil {
		src.errorf(ad.key("tls_cert_file"), ErrValue, "%v", err)
	}
}

// requiresClientCerts reports whether every admin client must show a
// certificate the client CA signed.
func (c *AdminConfig) requiresClientCerts() bool {
	return c.TLSCertFile != "" && c.ClientCA != "" && (c.ClientAuth == "" || c.ClientAuth == certs.ClientAuthRequire)
}

// tlsConfig is the admin listener's https config, nil without one. It has
// its own ticket keys: no session crosses from a proxy listener.
func (c *AdminConfig) tlsConfig() (*tls.Config, error) {
	if c.TLSCertFile == "" {
		return nil, nil
	}
	store, _, err := certs.NewStore([]certs.Pair{{Cert: c.TLSCertFile, Key: c.TLSKeyFile}})
	if err != nil {
		return nil, err
	}
	cfg, err := certs.NewTLSConfig(certs.Profile{ClientCA: c.ClientCA, ClientAuth: c.ClientAuth}, store)
	if err != nil {
		return nil, err
	}
	tk, err := certs.NewTickets(certs.TicketConfig{})
	if err != nil {
		return nil, err
	}
	tk.Attach(cfg)
	return cfg, nil
}
