package main

import "loopgate/certs"

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
	x.ReloadCheck = 5e9
	if _, set := t.m["reload_check"]; set {
		x.ReloadCheck = 0
		t.duration("reload_check", &x.ReloadCheck)
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
	if len(x.Certs) > 0 {
		if _, _, err := certs.NewStore(x.Certs); err != nil {
			src.errorf(t.key("cert"), ErrValue, "%v", err)
		}
	}
}
