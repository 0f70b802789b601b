// Command backend is the demo and test backend that loopgate balances in
// `make run` and in end-to-end tests. It is a plain net/http server: each
// request runs on its own goroutine and nothing here is on loopgate's hot path.
//
//	backend -port 8001 -name backend-1 [-host 127.0.0.1] [-latency 20ms] [-fail-rate 0.1] [-unhealthy] [-quiet]
//	        [-tls-cert cert.pem -tls-key key.pem]
//
// With -tls-cert and -tls-key it serves HTTPS (net/http's ServeTLS: HTTP/1.1, and HTTP/2
// to clients that offer h2) instead of HTTP, with the same handlers: a backend for
// loopgate's [pool.tls] pools and perf's "https backend" rows.
//
// Endpoints (see handler.go): / (any other path) reports what arrived, /health,
// /health/fail, /info, /delay?ms=N, /status?code=N, /bytes?n=N[&chunked=1][&max_age=S], /echo,
// /cache?max_age=N[&etag=1][&vary=H][&name=L], /text?kb=N and /ws (a WebSocket echo).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// shutdownGrace is how long in-flight requests get after SIGINT/SIGTERM.
// It covers the longest /delay (60s) only partly on purpose: a demo backend
// should stop promptly.
const shutdownGrace = 10 * time.Second

func main() {
	var (
		host      = flag.String("host", "127.0.0.1", "address to listen on")
		port      = flag.Int("port", 8001, "port to listen on (0 picks a free one)")
		name      = flag.String("name", "", `name reported in every response (default "backend-<port>")`)
		latency   = flag.Duration("latency", 0, "delay added to every request, e.g. 20ms")
		failRate  = flag.Float64("fail-rate", 0, "fraction of requests answered 500, 0..1 (not /health, /info)")
		unhealthy = flag.Bool("unhealthy", false, "start with /health answering 503 (toggle with POST/DELETE /health/fail)")
		quiet     = flag.Bool("quiet", false, "do not log each request")
		tlsCert   = flag.String("tls-cert", "", "PEM certificate (chain) file: serve HTTPS instead of HTTP (needs -tls-key)")
		tlsKey    = flag.String("tls-key", "", "PEM private key file of -tls-cert (may be the same file)")
	)
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := checkFlags(*port, *latency, *failRate); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(2)
	}
	cert, err := loadCert(*tlsCert, *tlsKey)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "backend: cannot listen: %v\n", err)
		os.Exit(1)
	}
	actual := ln.Addr().(*net.TCPAddr).Port
	if *name == "" {
		*name = "backend-" + strconv.Itoa(actual)
	}
	b := newBackend(*name, actual)
	b.Latency, b.FailRate = *latency, *failRate
	if !*quiet {
		b.Log = log
	}
	b.SetFailing(*unhealthy)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("backend listening", "name", b.Name, "addr", ln.Addr().String(), "tls", cert != nil,
		"latency", b.Latency, "fail_rate", b.FailRate, "unhealthy", *unhealthy)
	if err := serve(ctx, ln, b, cert, shutdownGrace); err != nil {
		log.Error("backend stopped", "err", err)
		os.Exit(1)
	}
	log.Info("backend stopped", "name", b.Name, "requests", b.served.Load())
}

// checkFlags rejects flag values that make no sense.
func checkFlags(port int, latency time.Duration, failRate float64) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("cannot use -port %d: want 0..65535", port)
	}
	if latency < 0 {
		return fmt.Errorf("cannot use -latency %s: want >= 0", latency)
	}
	if !(failRate >= 0 && failRate <= 1) { // also rejects NaN
		return fmt.Errorf("cannot use -fail-rate %v: want 0..1", failRate)
	}
	return nil
}

// loadCert loads the -tls-cert and -tls-key pair: nil without either, an error with only
// one or with files that do not make a pair. It runs before listening, so a bad file
// fails the start rather than the first request.
func loadCert(certFile, keyFile string) (*tls.Certificate, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("cannot serve HTTPS: -tls-cert and -tls-key go together")
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load -tls-cert %q and -tls-key %q: %w", certFile, keyFile, err)
	}
	return &c, nil
}

// serve answers requests on ln with b until ctx is done, then stops accepting
// and gives in-flight requests up to grace to finish. It owns ln. With cert it
// serves HTTPS (ServeTLS), otherwise plain HTTP.
func serve(ctx context.Context, ln net.Listener, b *Backend, cert *tls.Certificate, grace time.Duration) error {
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	if cert != nil {
		// ServeTLS with the pair already in TLSConfig: it adds h2 to the ALPN list itself.
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("cannot serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("cannot shut down gracefully: %w", err)
	}
	return nil
}
