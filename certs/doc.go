// Package certs is everything about server certificates for loopgate's TLS
// listeners: a Store that picks a certificate per handshake by SNI (exact,
// one-label wildcard, default; ECDSA or RSA by client capability) and swaps in
// reloaded pairs atomically; NewTLSConfig with Mozilla's intermediate defaults,
// ALPN and optional client certificates; Tickets, which rotates session ticket
// keys (optionally shared through a key file); and ACME, which obtains and
// renews certificates (RFC 8555) and answers HTTP-01 and TLS-ALPN-01.
//
// Ownership: handshakes on any goroutine or event loop read the Store without
// a lock; Reload, Watch, Tickets.Run and ACME.Run are control-plane
// goroutines. It knows nothing of gnet or the engine.
//
//	store, warn, err := certs.NewStore(pairs)
//	cfg, err := certs.NewTLSConfig(certs.Profile{}, store)
//	tickets, err := certs.NewTickets(certs.TicketConfig{})
//	tickets.Attach(cfg)
//	go store.Watch(ctx, 0, report)
//	go tickets.Run(ctx, 0, reportErr)
package certs
