package main

import (
	"time"

	"loopgate/certs"
)

// decodeTLS decodes [tls] (docs/TLS.md): the certificates TLS listeners
// serve, chosen by SNI, their protocol profile, session tickets and ACME.
// Certificate files are read here, so that -check and a reload refuse a
// broken pair before anything changes.
func decodeTLS(root *table, c *Config) {
	src := root.src
	t := root.table("tls")
	x := &c.TLS
	t.str("min_version", &x.MinVersion)
	t.strList("ciphers", func(_, s string) { x.Ciphers = append(x.Ciphers, s) })
	t.str("client_ca", &x.ClientCA)
	t.str("client_auth", &x.ClientAuth)
	x.ReloadCheck = 5 * time.Second
	var rc string
	if t.str("reload_check", &rc) {
		// Negative is allowed here: certificates then reload on SIGHUP only.
		d, err := time.ParseDuration(rc)
		if err != nil {
			src.errorf(t.key("reload_check"), ErrValue, `cannot parse %q as a duration; write it like "5s", or "-1s" for SIGHUP only`, rc)
		}
		x.ReloadCheck = d
	}
	t.boolean("session_tickets_disabled", &x.Disabled)
	t.duration("session_ticket_rotate", &x.Rotate)
	t.setInt("session_ticket_keys", &x.Keys, 0, 64)
	t.str("session_ticket_key_file", &x.KeyFile)
	t.strList("acme_domains", func(_, s string) { x.Domains = append(x.Domains, s) })
	t.str("acme_email", &x.Email)
	t.str("acme_directory", &x.Directory)
	t.str("acme_directory_ca", &x.DirectoryCA)
	t.str("acme_dir", &x.Dir)
	t.strList("acme_challenges", func(_, s string) { x.Challenges = append(x.Challenges, s) })
	t.str("acme_key_type", &x.KeyType)
	t.str("acme_profile", &x.CAProfile)
	if f, ok := t.number("acme_renew_at"); ok {
		x.RenewAt = f
	}
	t.duration("acme_retry_min", &x.RetryMin)
	t.duration("acme_retry_max", &x.RetryMax)
	t.duration("acme_timeout", &x.Timeout)
	pts, _ := t.tables("cert")
	for _, pt := range pts {
		var p certs.Pair
		if pt.bad {
			continue
		}
		if pt.required("cert") {
			pt.str("cert", &p.Cert)
		}
		if pt.required("key") {
			pt.str("key", &p.Key)
		}
		pt.boolean("default", &p.Default)
		pt.finish()
		x.Certs = append(x.Certs, p)
		c.certKeys = append(c.certKeys, pt.key("cert"))
	}
	t.finish()

	if _, err := certs.NewTLSConfig(x.Profile, nil); err != nil {
		src.errorf(t.path, ErrValue, "%v", err)
	}
	if _, err := certs.NewTickets(x.TicketConfig); err != nil {
		src.errorf(t.path, ErrValue, "%v", err)
	}
	if x.ACMEEnabled() {
		if err := x.ACMEConfig.Check(); err != nil {
			src.errorf(t.path, ErrValue, "%v", err)
		}
	}
}

// checkCertificates loads every certificate pair ([[tls.cert]] and the
// listeners' cert_file and key_file) as the store will, so that a broken
// one is refused with its file named before anything starts or reloads.
func checkCertificates(src *source, c *Config) {
	for i, p := range c.TLS.Certs {
		if p.Cert == "" || p.Key == "" {
			continue // reported as missing
		}
		if _, _, err := certs.NewStore([]certs.Pair{p}); err != nil {
			src.errorf(c.certKeys[i], ErrValue, "%v", err)
		}
	}
}

// decodePoolTLS decodes [pool.tls] (docs/TLS.md, "Backends over TLS"): the
// section's presence turns TLS to the pool's backends on, so an empty one
// means every default; tls = true says the same in one line, and tls =
// false is off, as no section is. File paths are used as written, relative
// to loopgate's working directory, like [[tls.cert]]'s.
func decodePoolTLS(pt *table) *certs.Client {
	const k = "tls"
	v, present := pt.get(k)
	st := &table{src: pt.src, path: pt.key(k)}
	switch x := v.(type) {
	case bool:
		if !x {
			return nil
		}
	case map[string]any:
		st.m = x
	default:
		if present {
			pt.wrong(k, "a table, true or false", v)
		}
		return nil
	}
	c := &certs.Client{}
	st.str("server_name", &c.ServerName)
	st.str("ca", &c.CA)
	c.Verify = st.optBool("verify")
	st.str("cert", &c.Cert)
	st.str("key", &c.Key)
	st.str("min_version", &c.MinVersion)
	c.SessionReuse = st.optBool("session_reuse")
	st.finish()
	checkPoolTLS(st, *c)
	return c
}

// checkPoolTLS builds the pool's TLS client config as the engine will,
// files read, so that -check and a reload refuse a missing CA or a broken
// pair before anything changes. Each key (cert and key together) is built
// alone first, so that every problem is reported, each at its own key.
func checkPoolTLS(st *table, c certs.Client) {
	pair, pairKind := "cert", ErrValue
	if (c.Cert == "") != (c.Key == "") {
		pairKind = ErrMissing
		if c.Cert == "" {
			pair = "key" // the one set, which the message names
		}
	}
	parts := []struct {
		key  string
		kind error
		c    certs.Client
	}{
		{"server_name", ErrValue, certs.Client{ServerName: c.ServerName}},
		{"ca", ErrValue, certs.Client{CA: c.CA, Verify: c.Verify}},
		{pair, pairKind, certs.Client{Cert: c.Cert, Key: c.Key}},
		{"min_version", ErrValue, certs.Client{MinVersion: c.MinVersion}},
	}
	failed := false
	for _, p := range parts {
		if _, err := certs.NewClientConfig(p.c); err != nil {
			st.src.errorf(st.key(p.key), p.kind, "%v", err)
			failed = true
		}
	}
	if !failed {
		// Whatever only the keys together refuse.
		if _, err := certs.NewClientConfig(c); err != nil {
			st.src.errorf(st.path, ErrValue, "%v", err)
		}
	}
}
