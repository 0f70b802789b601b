package main

import (
	"loopgate/certs"
	"loopgate/engine"
)

// decodeListeners decodes the [[listener]] tables: the addresses clients
// connect to, plain or TLS, all feeding the same routes and pools. Without
// any, [server] listen is the one plain listener, as before. listenSet says
// whether the file set [server] listen itself.
//
// A TLS listener's cert_file and key_file join [tls]'s certificates: every
// TLS listener serves from one store, chosen by SNI (tls.go), so they reload
// with the rest.
func decodeListeners(root *table, c *Config, listenSet bool) {
	src := root.src
	e := &c.Engine
	lts, isArray := root.tables("listener")
	if !isArray {
		return
	}
	if listenSet {
		src.errorf("server.listen", ErrValue, "cannot use [server] listen with [[listener]]: give every address its own [[listener]]")
	}
	if len(lts) == 0 {
		src.errorf("listener", ErrMissing, "no listener: at least one [[listener]] with an address is required")
	}
	seen := map[string]int{}
	for i, t := range lts {
		if t.bad {
			continue
		}
		var l engine.Listener
		if t.required("address") && t.str("address", &l.Address) {
			checkHostPort(src, t.key("address"), l.Address, true)
			if j, dup := seen[l.Address]; dup {
				src.errorf(t.key("address"), ErrDuplicate, "duplicate listener address %q (also listener[%d])", l.Address, j)
			}
			seen[l.Address] = i
		}
		var on bool
		t.boolean("tls", &on)
		var certFile, keyFile string
		t.str("cert_file", &certFile)
		t.str("key_file", &keyFile)
		t.boolean("redirect_https", &l.RedirectHTTPS)
		t.setInt("https_port", &l.HTTPSPort, 1, 65535)
		// mTLS for this listener only; without these it follows [tls].
		var mtls listenerMTLS
		mtls.set = t.str("client_ca", &mtls.ClientCA)
		if t.str("client_auth", &mtls.ClientAuth) {
			mtls.set = true
		}
		t.finish()
		if mtls.set {
			if !on {
				src.errorf(t.key("client_ca"), ErrValue, "client certificates need tls = true")
			} else if _, err := certs.NewTLSConfig(certs.Profile{ClientCA: mtls.ClientCA, ClientAuth: mtls.ClientAuth}, nil); err != nil {
				src.errorf(t.key("client_ca"), ErrValue, "%v", err)
			}
		}
		switch {
		case on:
			if l.RedirectHTTPS {
				src.errorf(t.key("redirect_https"), ErrValue, "cannot redirect a TLS listener to https: it is https already")
			}
			if (certFile == "") != (keyFile == "") {
				src.errorf(t.key("cert_file"), ErrMissing, "cert_file and key_file go together (PEM files)")
				break
			}
			if certFile != "" {
				c.TLS.Certs = append(c.TLS.Certs, certs.Pair{Cert: certFile, Key: keyFile})
				c.certKeys = append(c.certKeys, t.key("cert_file"))
			} else if len(c.TLS.Certs) == 0 && !c.TLS.ACMEEnabled() {
				src.errorf(t.key("tls"), ErrMissing, "a TLS listener needs certificates: cert_file and key_file here, [[tls.cert]], or [tls] acme_domains")
			}
		case certFile != "" || keyFile != "":
			src.errorf(t.key("tls"), ErrValue, "cert_file and key_file are set but tls is not: set tls = true, or remove them")
		}
		if _, ok := t.get("https_port"); ok && !l.RedirectHTTPS {
			src.errorf(t.key("https_port"), ErrValue, "only used with redirect_https = true")
		}
		e.Listeners = append(e.Listeners, l)
		c.listenerTLS = append(c.listenerTLS, on)
		c.listenerMTLS = append(c.listenerMTLS, mtls)
	}
	if len(e.Listeners) > 0 {
		// The first listener is the one upgrades hand over and logs name.
		e.Listen = e.Listeners[0].Address
	}
}

// listenerMTLS is a [[listener]]'s own client certificate settings, which
// replace [tls] client_ca and client_auth for it.
type listenerMTLS struct {
	set        bool
	ClientCA   string
	ClientAuth string
}
