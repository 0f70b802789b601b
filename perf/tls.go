package perf

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// The TLS scenarios of the harness (PERFFLAGS=-tls; issue 12): loopgate, HAProxy and nginx
// terminate TLS on the same certificate in the same run, each with one event loop, thread or
// worker, in front of the same cmd/backend.
//
//   - keep-alive: wrk over https, CPU per request (the proxy's user + system time from
//     /proc/PID/stat over the requests served) at each size and connection count;
//   - handshakes: new connections, one request each (Connection: close), for ECDSA P-256
//     and RSA 2048, full and resumed (session tickets), from this process with
//     TLSBenchConfig.HandshakeConns goroutines: handshakes per second of the proxy's CPU
//     (per core);
//   - idle: RSS per idle keep-alive TLS connection after one request, measured first, on
//     proxies that have served nothing else;
//   - https backend: the other side's TLS. A second process of each proxy listens in plain
//     HTTP in front of one HTTPS backend (cmd/backend -tls-cert), whose certificate it
//     verifies; wrk over http, keep-alive, at each size and connection count. Only the
//     backend side encrypts, so the rows compare what each proxy's TLS client side costs
//     per request on pooled connections. Separate processes keep the work the same for
//     every proxy: one listener, one pool, no routing, nothing else served.

// TLSBenchConfig describes a TLS run. Zero fields take the defaults in the comments.
type TLSBenchConfig struct {
	Loopgate       string        // loopgate binary; required
	Backend        string        // cmd/backend binary; required
	Proxies        []string      // subset of loopgate, haproxy, nginx (default: all installed)
	Rounds         int           // rounds per scenario, proxies interleaved (default 3)
	Duration       time.Duration // per run (default 3s)
	Conns          []int         // keep-alive connections (default 50, 256)
	Sizes          []int         // response bytes (default 100, 16384)
	HandshakeConns int           // concurrent handshaking clients (default 16)
	IdleConns      int           // idle TLS connections for the memory test (default 2000; < 0 skips)
	WorkDir        string        // configs, certificates, logs (required)
	Log            io.Writer     // progress lines (default: none)
}

func (c TLSBenchConfig) withDefaults() TLSBenchConfig {
	if c.Rounds == 0 {
		c.Rounds = 3
	}
	if c.Duration == 0 {
		c.Duration = 3 * time.Second
	}
	if len(c.Conns) == 0 {
		c.Conns = []int{50, 256}
	}
	if len(c.Sizes) == 0 {
		c.Sizes = []int{100, 16384}
	}
	if c.HandshakeConns == 0 {
		c.HandshakeConns = 16
	}
	if c.IdleConns == 0 {
		c.IdleConns = 2000
	}
	if len(c.Proxies) == 0 {
		c.Proxies = []string{proxyLoopgate, proxyHAProxy, proxyNginx}
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// TLSRow is one scenario's result for one proxy: medians over the rounds.
type TLSRow struct {
	Scenario string  `json:"scenario"` // "keepalive 100 B c50", "handshake ecdsa full", "idle 2000 conns", "https-backend 100 B c50"
	Proxy    string  `json:"proxy"`
	RPS      float64 `json:"rps"`                // requests (or handshakes) per second
	CPUus    float64 `json:"cpu_us_per_req"`     // proxy CPU µs per request (or handshake)
	PerCore  float64 `json:"per_core,omitempty"` // handshakes per second of proxy CPU
	IdleB    float64 `json:"idle_bytes,omitempty"`
	Errors   int64   `json:"errors"`
}

// TLSResult is a TLS run's rows, in table order.
type TLSResult struct {
	Rows  []TLSRow `json:"rows"`
	Notes []string `json:"notes"`
	// BackendTLS is what each proxy's connection to the HTTPS backend negotiated, as the
	// backend reports it: "TLS 1.3 TLS_AES_128_GCM_SHA256 X25519 http/1.1".
	BackendTLS map[string]string `json:"backend_tls,omitempty"`
}

type tlsProxy struct {
	name string
	p    *proc             // serves the ECDSA listener (keep-alive, idle, handshake ecdsa)
	rsa  *proc             // serves the RSA listener: p, or for loopgate a process of its own
	addr map[string]string // cert kind -> address
}

// procFor is the process whose CPU a scenario on kind's listener costs.
func (tp *tlsProxy) procFor(kind string) *proc {
	if kind == "rsa" {
		return tp.rsa
	}
	return tp.p
}

// BenchTLS runs the TLS scenarios.
func BenchTLS(ctx context.Context, cfg TLSBenchConfig) (*TLSResult, error) {
	cfg = cfg.withDefaults()
	if err := supported(); err != nil {
		return nil, err
	}
	if cfg.Loopgate == "" || cfg.Backend == "" || cfg.WorkDir == "" {
		return nil, errors.New("cannot run the TLS scenarios: Loopgate, Backend and WorkDir are required")
	}
	res := &TLSResult{}
	ps := &procSet{dir: cfg.WorkDir}
	defer ps.stopAll()
	logf := func(f string, a ...any) { fmt.Fprintf(cfg.Log, f+"\n", a...) }

	certs := map[string]string{} // kind -> PEM file with certificate and key
	for _, kind := range []string{"ecdsa", "rsa"} {
		f, err := writeTestCert(cfg.WorkDir, kind)
		if err != nil {
			return nil, err
		}
		certs[kind] = f
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	backend := "127.0.0.1:" + strconv.Itoa(port)
	bp, err := ps.start("backend", cfg.Backend, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-name", "backend", "-quiet")
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, "http://"+backend+"/bytes?n=100", bp); err != nil {
		return nil, err
	}
	// The HTTPS backend of the "https backend" rows, on the ECDSA certificate; the proxies
	// trust that certificate alone (ca holds it without its key).
	if port, err = freePort(); err != nil {
		return nil, err
	}
	httpsBackend := "127.0.0.1:" + strconv.Itoa(port)
	hp, err := ps.start(httpsBackendName, cfg.Backend, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-name", httpsBackendName,
		"-quiet", "-tls-cert", certs["ecdsa"], "-tls-key", certs["ecdsa"])
	if err != nil {
		return nil, err
	}
	if err := waitTLS(ctx, httpsBackend, hp); err != nil {
		return nil, err
	}
	ca, err := writeCAFile(certs["ecdsa"])
	if err != nil {
		return nil, err
	}

	var proxies []*tlsProxy
	for _, name := range cfg.Proxies {
		if name != proxyLoopgate && !installed(name) {
			res.Notes = append(res.Notes, name+" is not installed: skipped")
			continue
		}
		tp, err := startTLSProxy(ctx, ps, cfg, name, backend, certs)
		if err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("%s did not start: %v", name, err))
			continue
		}
		logf("%s: %v", name, tp.addr)
		proxies = append(proxies, tp)
	}
	if len(proxies) == 0 {
		return res, errors.New("cannot run the TLS scenarios: no proxy started")
	}
	var hbProxies []*tlsProxy // plain listener, HTTPS backend
	for _, tp := range proxies {
		hb, err := startHTTPSBackendProxy(ctx, ps, cfg, tp.name, httpsBackend, ca)
		if err == nil {
			err = checkHTTPSBackend(ctx, hb, res)
		}
		if err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("%s in front of the HTTPS backend: %v", tp.name, err))
			continue
		}
		logf("%s, https backend: %v, backend saw %s", tp.name, hb.addr, res.BackendTLS[tp.name])
		hbProxies = append(hbProxies, hb)
	}
	versions := map[string]bool{}
	for _, t := range res.BackendTLS {
		f := strings.Fields(t) // "TLS 1.3 ..."
		versions[strings.Join(f[:min(2, len(f))], " ")] = true
	}
	if len(versions) > 1 {
		res.Notes = append(res.Notes, fmt.Sprintf("the proxies reach the HTTPS backend with different TLS versions: %v", res.BackendTLS))
	}

	collect := func(scenario string, proxies []*tlsProxy, run func(tp *tlsProxy) (TLSRow, error)) error {
		rows := map[string][]TLSRow{}
		for round := range cfg.Rounds {
			for _, tp := range proxies {
				r, err := run(tp)
				if err != nil {
					if errors.Is(err, context.Canceled) {
						return err
					}
					res.Notes = append(res.Notes, fmt.Sprintf("%s %s round %d: %v", tp.name, scenario, round+1, err))
					continue
				}
				logf("  %-28s %-9s rps %8.0f  cpu/req %7.1f µs  per-core %7.0f  errors %d", scenario, tp.name, r.RPS, r.CPUus, r.PerCore, r.Errors)
				rows[tp.name] = append(rows[tp.name], r)
			}
		}
		for _, tp := range proxies {
			rs := rows[tp.name]
			if len(rs) == 0 {
				continue
			}
			med := func(f func(TLSRow) float64) float64 { return statOf(rs, f).Median }
			row := TLSRow{Scenario: scenario, Proxy: tp.name, RPS: med(func(r TLSRow) float64 { return r.RPS }),
				CPUus: med(func(r TLSRow) float64 { return r.CPUus }), PerCore: med(func(r TLSRow) float64 { return r.PerCore }),
				IdleB: med(func(r TLSRow) float64 { return r.IdleB })}
			for _, r := range rs {
				row.Errors += r.Errors
			}
			res.Rows = append(res.Rows, row)
		}
		return nil
	}

	// Idle memory first, on proxies that have served nothing else: RSS that load has
	// grown and the allocator keeps would hide the connections' own. One round, for the
	// same reason.
	if cfg.IdleConns > 0 {
		for _, tp := range proxies {
			r, err := idleTLS(ctx, tp, cfg.IdleConns)
			if err != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("%s idle: %v", tp.name, err))
				continue
			}
			r.Scenario, r.Proxy = fmt.Sprintf("idle %d conns", cfg.IdleConns), tp.name
			logf("  %-28s %-9s %.0f bytes/conn", r.Scenario, tp.name, r.IdleB)
			res.Rows = append(res.Rows, r)
			time.Sleep(time.Second) // let it close them
		}
	}
	script := filepath.Join(cfg.WorkDir, "report.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return res, err
	}
	if installed("wrk") {
		for _, size := range cfg.Sizes {
			for _, conns := range cfg.Conns {
				sc := fmt.Sprintf("keepalive %s c%d", sizeLabel(size), conns)
				err := collect(sc, proxies, func(tp *tlsProxy) (TLSRow, error) {
					return wrkRow(ctx, tp, script, "https://"+tp.addr["ecdsa"]+"/bytes?n="+strconv.Itoa(size), conns, cfg.Duration)
				})
				if err != nil {
					return res, err
				}
			}
		}
		// The backend connections are made once, before measuring: the rows are about
		// requests on pooled connections (the handshake rows are about handshakes).
		hbProxies = slices.DeleteFunc(hbProxies, func(tp *tlsProxy) bool {
			err := primeHTTPSBackend(ctx, tp, slices.Max(cfg.Conns))
			if err != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("%s in front of the HTTPS backend: %v", tp.name, err))
			}
			return err != nil
		})
		for _, size := range cfg.Sizes {
			for _, conns := range cfg.Conns {
				sc := fmt.Sprintf("https-backend %s c%d", sizeLabel(size), conns)
				err := collect(sc, hbProxies, func(tp *tlsProxy) (TLSRow, error) {
					return wrkRow(ctx, tp, script, "http://"+tp.addr["plain"]+"/bytes?n="+strconv.Itoa(size), conns, cfg.Duration)
				})
				if err != nil {
					return res, err
				}
			}
		}
	} else {
		res.Notes = append(res.Notes, "wrk is not installed: no keep-alive TLS scenarios")
	}
	for _, kind := range []string{"ecdsa", "rsa"} {
		for _, resume := range []bool{false, true} {
			sc := "handshake " + kind + map[bool]string{false: " full", true: " resumed"}[resume]
			err := collect(sc, proxies, func(tp *tlsProxy) (TLSRow, error) {
				return handshakeLoad(ctx, tp, kind, resume, cfg.HandshakeConns, cfg.Duration)
			})
			if err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// wrkRow runs wrk on url for d and reports the proxy's CPU per request; wrk counts
// transport errors and statuses of 400 and more.
func wrkRow(ctx context.Context, tp *tlsProxy, script, url string, conns int, d time.Duration) (TLSRow, error) {
	c0, err := procCPU(tp.p.pid())
	if err != nil {
		return TLSRow{}, err
	}
	lr, err := runWrk(ctx, script, url, conns, d, nil)
	if err != nil {
		return TLSRow{}, err
	}
	c1, _ := procCPU(tp.p.pid())
	cpu := (c1.user + c1.sys) - (c0.user + c0.sys)
	return TLSRow{RPS: lr.rps, CPUus: perReq(cpu, lr.requests), Errors: lr.errors + lr.non2xx}, nil
}

func perReq(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}

// startTLSProxy starts one proxy with a TLS listener per certificate kind.
func startTLSProxy(ctx context.Context, ps *procSet, cfg TLSBenchConfig, name, backend string, certs map[string]string) (*tlsProxy, error) {
	tp := &tlsProxy{name: name, addr: map[string]string{}}
	kinds := []string{"ecdsa", "rsa"}
	for _, k := range kinds {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		tp.addr[k] = "127.0.0.1:" + strconv.Itoa(port)
	}
	maxConns := cfg.IdleConns + 2000
	dir := cfg.WorkDir
	var conf string
	var argv []string
	switch name {
	case proxyLoopgate:
		// One process per certificate: loopgate's TLS listeners share one
		// certificate store, which gives a client that accepts ECDSA the
		// ECDSA certificate whatever the listener, so the RSA rows need a
		// process that has only the RSA one.
		write := func(kind string) (string, error) {
			var b strings.Builder
			fmt.Fprintf(&b, "[server]\nevent_loops = 1\nmax_connections = %d\naccess_log = false\nmetrics = false\nrequest_id_header = \"\"\n", maxConns)
			b.WriteString("\n[admin]\nlisten = \"\"\n\n[timeouts]\nclient_idle = \"120s\"\n\n")
			fmt.Fprintf(&b, "[[listener]]\naddress = %q\ntls = true\ncert_file = %q\nkey_file = %q\n\n", tp.addr[kind], certs[kind], certs[kind])
			fmt.Fprintf(&b, "[[pool]]\nname = \"bench\"\nalgorithm = \"round_robin\"\n  [[pool.backend]]\n  address = %q\n", backend)
			conf := filepath.Join(dir, "loopgate-tls-"+kind+".toml")
			return conf, os.WriteFile(conf, []byte(b.String()), 0o644)
		}
		rsaConf, err := write("rsa")
		if err != nil {
			return nil, err
		}
		if tp.rsa, err = ps.start(name+"-tls-rsa", cfg.Loopgate, "-config", rsaConf); err != nil {
			return nil, err
		}
		if conf, err = write("ecdsa"); err != nil {
			return nil, err
		}
		argv = []string{cfg.Loopgate, "-config", conf}
	case proxyHAProxy:
		var b strings.Builder
		fmt.Fprintf(&b, `global
  nbthread 1
  maxconn %d
  no strict-limits
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  timeout connect 3s
  timeout client 120s
  timeout server 60s
  timeout http-keep-alive 120s
  http-reuse always
  option forwardfor
frontend fe
`, maxConns)
		for _, k := range kinds {
			fmt.Fprintf(&b, "  bind %s ssl crt %s alpn http/1.1\n", tp.addr[k], certs[k])
		}
		fmt.Fprintf(&b, "  http-request set-header X-Forwarded-Proto https\n  default_backend be\nbackend be\n  server b1 %s\n", backend)
		conf = filepath.Join(dir, "haproxy-tls.cfg")
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
		argv = []string{"haproxy", "-f", conf}
	case proxyNginx:
		var listen strings.Builder
		for _, k := range kinds {
			fmt.Fprintf(&listen, `  server {
    listen %s ssl;
    ssl_certificate %s; ssl_certificate_key %s;
    location / {
      proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $http_host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
`, tp.addr[k], certs[k], certs[k])
		}
		conf = filepath.Join(dir, "nginx-tls.conf")
		text := fmt.Sprintf(`worker_processes 1; daemon off; master_process off;
pid %s; error_log %s crit; worker_rlimit_nofile %d;
events { worker_connections %d; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m; ssl_session_tickets on;
  upstream be { server %s; keepalive 512; keepalive_requests 1000000; keepalive_timeout 60s; }
%s}
`, filepath.Join(dir, "nginx-tls.pid"), filepath.Join(dir, "nginx-tls.err"), 2*maxConns, 2*maxConns, backend, listen.String())
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, err
		}
		argv = []string{"nginx", "-p", dir, "-c", conf}
	default:
		return nil, fmt.Errorf("unknown proxy %q", name)
	}
	p, err := ps.start(name+"-tls", argv...)
	if err != nil {
		return nil, err
	}
	tp.p = p
	if tp.rsa == nil {
		tp.rsa = p
	}
	for _, k := range kinds {
		if err := waitTLS(ctx, tp.addr[k], tp.procFor(k)); err != nil {
			return nil, err
		}
	}
	return tp, nil
}

// httpsBackendName is the HTTPS backend's -name, which it reports in X-Backend and in /.
const httpsBackendName = "backend-tls"

// startHTTPSBackendProxy starts a second process of proxy name, with one plain HTTP
// listener in front of the HTTPS backend, verified against ca with the name localhost,
// and keep-alive to it; otherwise the plain configurations of configs.go (the same
// forwarding headers, one loop, thread or worker).
func startHTTPSBackendProxy(ctx context.Context, ps *procSet, cfg TLSBenchConfig, name, backend, ca string) (*tlsProxy, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	tp := &tlsProxy{name: name, addr: map[string]string{"plain": addr}}
	maxConns := 2*slices.Max(cfg.Conns) + 1000
	dir := cfg.WorkDir
	var conf, text string
	var argv []string
	switch name {
	case proxyLoopgate:
		// [pool.tls] comes after the pool's backends: in TOML it is the last pool's table.
		text = loopgateConf(addr, []string{backend}, lgConf{loops: 1, maxConns: maxConns}) +
			fmt.Sprintf("  [pool.tls]\n  ca = %q\n  server_name = \"localhost\"\n", ca)
		conf = filepath.Join(dir, "loopgate-https-backend.toml")
		argv = []string{cfg.Loopgate, "-config", conf}
	case proxyHAProxy:
		text = strings.Replace(haproxyConf(dir, addr, []string{backend}, maxConns, false),
			"  server b1 "+backend+"\n",
			fmt.Sprintf("  server b1 %s ssl verify required ca-file %s sni str(localhost) alpn http/1.1\n", backend, ca), 1)
		conf = filepath.Join(dir, "haproxy-https-backend.cfg")
		argv = []string{"haproxy", "-f", conf}
	case proxyNginx:
		// proxy_ssl_protocols: nginx before 1.23.4 leaves TLS 1.3 out by default; the
		// others speak 1.3 to the backend.
		text = strings.Replace(nginxConf(dir, "nginx-https-backend", addr, []string{backend}, maxConns, "",
			fmt.Sprintf(`proxy_ssl_verify on;
      proxy_ssl_trusted_certificate %s;
      proxy_ssl_server_name on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
      proxy_ssl_protocols TLSv1.2 TLSv1.3;`, ca)),
			"proxy_pass http://be;", "proxy_pass https://be;", 1)
		conf = filepath.Join(dir, "nginx-https-backend.conf")
		argv = []string{"nginx", "-p", dir, "-c", conf}
	default:
		return nil, fmt.Errorf("unknown proxy %q", name)
	}
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	p, err := ps.start(name+"-https-backend", argv...)
	if err != nil {
		return nil, err
	}
	tp.p = p
	if err := waitReady(ctx, "http://"+addr+"/bytes?n=100", p); err != nil {
		return nil, err
	}
	return tp, nil
}

// checkHTTPSBackend asks the HTTPS backend, through tp, what tp's connection to it
// negotiated, and records it in res.BackendTLS. It fails when the answer comes from
// another backend or over plain HTTP.
func checkHTTPSBackend(ctx context.Context, tp *tlsProxy, res *TLSResult) error {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+tp.addr["plain"]+"/", nil)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var got struct {
		Name string `json:"name"`
		TLS  *struct {
			Version, Cipher, Curve, ALPN string
		} `json:"tls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return fmt.Errorf("cannot decode the backend's report (status %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || got.Name != httpsBackendName || got.TLS == nil {
		return fmt.Errorf("GET / answered %d by %q, TLS %v; want 200 by %s over TLS", resp.StatusCode, got.Name, got.TLS != nil, httpsBackendName)
	}
	if res.BackendTLS == nil {
		res.BackendTLS = map[string]string{}
	}
	res.BackendTLS[tp.name] = strings.Join(strings.Fields(strings.Join([]string{got.TLS.Version, got.TLS.Cipher, got.TLS.Curve, got.TLS.ALPN}, " ")), " ")
	return nil
}

// primeHTTPSBackend sends conns concurrent requests, four each, through tp, so that it
// holds the backend connections the load will use; every answer must be a 200 from the
// HTTPS backend.
func primeHTTPSBackend(ctx context.Context, tp *tlsProxy, conns int) error {
	rep, err := Run(ctx, Config{URL: "http://" + tp.addr["plain"] + "/bytes?n=100", Concurrency: conns, Requests: 4 * int64(conns),
		Timeout: loadTimeout, ByHeader: "X-Backend"})
	if err != nil {
		return err
	}
	if rep.SuccessfulRequests != 4*int64(conns) || rep.StatusCodes["200"] != 4*int64(conns) ||
		rep.ByHeader == nil || rep.ByHeader.Counts[httpsBackendName] != 4*int64(conns) {
		return fmt.Errorf("priming: %d of %d answered, statuses %v, errors %v, by backend %+v",
			rep.SuccessfulRequests, 4*conns, rep.StatusCodes, rep.Errors, rep.ByHeader)
	}
	return nil
}

// writeCAFile writes the certificate of the PEM file certKey (certificate and key, as
// writeTestCert makes it) alone, for the proxies to trust: a trust store is no place for
// a private key. It returns the new file's path.
func writeCAFile(certKey string) (string, error) {
	data, err := os.ReadFile(certKey)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("cannot find a certificate first in %s", certKey)
	}
	f := strings.TrimSuffix(certKey, ".pem") + "-ca.pem"
	return f, os.WriteFile(f, pem.EncodeToMemory(block), 0o644)
}

// writeTestCert writes a self-signed certificate for localhost and 127.0.0.1 with its key,
// both in one PEM file (what HAProxy's crt takes; nginx and loopgate read both from it).
func writeTestCert(dir, kind string) (string, error) {
	var key crypto.Signer
	var err error
	switch kind {
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return "", fmt.Errorf("cannot make a %s key: %w", kind, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return "", fmt.Errorf("cannot make a %s certificate: %w", kind, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})...)
	f := filepath.Join(dir, "tls-"+kind+".pem")
	return f, os.WriteFile(f, data, 0o600)
}

// benchClientTLS trusts anything: the certificates are the run's own. It offers the key
// exchanges OpenSSL 3.0 (HAProxy's and nginx's here) has, X25519 and P-256, so that every
// proxy does the same work; Go's default would add X25519MLKEM768, which loopgate (Go)
// accepts and which costs it about 250 µs more per handshake (BenchmarkTLSHandshake).
func benchClientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", NextProtos: []string{"http/1.1"},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}}
}

// waitTLS polls addr until a TLS request is answered, p exits, or 10 seconds pass.
func waitTLS(ctx context.Context, addr string, p *proc) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := tlsRequest(ctx, addr, benchClientTLS(), "/bytes?n=100")
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited:\n%s", p.name, p.tail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s does not answer over TLS on %s: %v\n%s", p.name, addr, err, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tlsRequest makes one connection, one handshake and one request with Connection: close,
// and reads the whole answer.
func tlsRequest(ctx context.Context, addr string, cfg *tls.Config, path string) error {
	_, err := tlsRequestResumed(ctx, addr, cfg, path)
	return err
}

// tlsRequestResumed is tlsRequest that also says whether the handshake resumed a session.
func tlsRequestResumed(ctx context.Context, addr string, cfg *tls.Config, path string) (resumed bool, err error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: loadTimeout}, Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	c := nc.(*tls.Conn)
	defer c.Close()
	resumed = c.ConnectionState().DidResume
	_ = c.SetDeadline(time.Now().Add(loadTimeout))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
		return resumed, err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return resumed, err
	}
	if !strings.HasPrefix(line, "HTTP/1.1 200") {
		return resumed, fmt.Errorf("status line %q", strings.TrimSpace(line))
	}
	_, err = io.Copy(io.Discard, br)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // HAProxy and nginx may close without close_notify after Connection: close
	}
	return resumed, err
}

// handshakeLoad runs conns goroutines making new connections, one request each, for d.
// resume: every goroutine shares a session cache, so after the first handshake the others
// resume (TLS 1.3 tickets).
func handshakeLoad(ctx context.Context, tp *tlsProxy, kind string, resume bool, conns int, d time.Duration) (TLSRow, error) {
	addr, p := tp.addr[kind], tp.procFor(kind)
	cfg := benchClientTLS()
	// Every handshake must show the certificate the row names.
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no certificate")
		}
		got := strings.ToLower(cs.PeerCertificates[0].PublicKeyAlgorithm.String())
		if got != kind {
			return fmt.Errorf("an %s certificate on the %s listener", got, kind)
		}
		return nil
	}
	if resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
		if err := tlsRequest(ctx, addr, cfg, "/bytes?n=100"); err != nil {
			return TLSRow{}, err
		}
	}
	c0, err := procCPU(p.pid())
	if err != nil {
		return TLSRow{}, err
	}
	var done, failed, resumed atomic.Int64
	end := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				r, err := tlsRequestResumed(ctx, addr, cfg, "/bytes?n=100")
				if err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
				if r {
					resumed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	c1, _ := procCPU(p.pid())
	cpu := (c1.user + c1.sys) - (c0.user + c0.sys)
	n := done.Load()
	// The scenario is what it says: every handshake resumed, or none did.
	if r := resumed.Load(); resume && r < n*9/10 || !resume && r > 0 {
		return TLSRow{}, fmt.Errorf("%d of %d handshakes resumed", r, n)
	}
	row := TLSRow{RPS: float64(n) / elapsed.Seconds(), CPUus: perReq(cpu, n), Errors: failed.Load()}
	if cpu > 0 {
		row.PerCore = float64(n) / cpu.Seconds()
	}
	return row, ctx.Err()
}

// idleTLS opens n keep-alive TLS connections, one request each, and reports the proxy's RSS
// growth per connection.
func idleTLS(ctx context.Context, tp *tlsProxy, n int) (TLSRow, error) {
	addr := tp.addr["ecdsa"]
	before, err := procRSS(tp.p.pid())
	if err != nil {
		return TLSRow{}, err
	}
	conns := make([]*tls.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	var failed atomic.Int64
	var wg sync.WaitGroup
	const openers = 16
	for g := range openers {
		wg.Go(func() {
			cfg := benchClientTLS()
			buf := make([]byte, 4096)
			for i := g; i < n && ctx.Err() == nil; i += openers {
				c, err := tls.DialWithDialer(&net.Dialer{Timeout: loadTimeout}, "tcp", addr, cfg)
				if err != nil {
					failed.Add(1)
					continue
				}
				_ = c.SetDeadline(time.Now().Add(loadTimeout))
				ok := false
				if _, err := io.WriteString(c, "GET /bytes?n=100 HTTP/1.1\r\nHost: localhost\r\n\r\n"); err == nil {
					got := 0
					for got < 100 { // the head, then 100 bytes: enough to know it was answered
						k, err := c.Read(buf)
						if err != nil {
							break
						}
						got += k
						if got >= 100 && strings.Contains(string(buf[:min(got, len(buf))]), "200") {
							ok = true
						}
					}
				}
				if !ok {
					c.Close()
					failed.Add(1)
					continue
				}
				_ = c.SetDeadline(time.Time{})
				conns[i] = c
			}
		})
	}
	wg.Wait()
	open := int64(n) - failed.Load()
	if open <= 0 {
		return TLSRow{}, fmt.Errorf("no TLS connection could be opened (%d tried)", n)
	}
	time.Sleep(time.Second)
	after, err := procRSS(tp.p.pid())
	if err != nil {
		return TLSRow{}, err
	}
	return TLSRow{IdleB: float64(after-before) / float64(open), Errors: failed.Load()}, nil
}

// WriteTLSTable writes the TLS rows as a text table, with each proxy's ratio to loopgate.
func (r *TLSResult) WriteTLSTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tproxy\treq/s\tCPU µs/req\thandshakes/s per core\tidle bytes/conn\terrors\t")
	scenarios := []string{}
	for _, row := range r.Rows {
		if !slices.Contains(scenarios, row.Scenario) {
			scenarios = append(scenarios, row.Scenario)
		}
	}
	for _, sc := range scenarios {
		for _, row := range r.Rows {
			if row.Scenario != sc {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%.0f\t%.0f\t%d\t\n", row.Scenario, row.Proxy, row.RPS, row.CPUus, row.PerCore, row.IdleB, row.Errors)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(tw, "note: "+n+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(r.BackendTLS)) {
		if _, err := fmt.Fprintf(w, "https backend: %s's connection to it is %s\n", p, r.BackendTLS[p]); err != nil {
			return err
		}
	}
	return nil
}
