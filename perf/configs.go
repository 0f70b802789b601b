package perf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The proxies get equivalent configurations: round robin over the same three backends,
// keep-alive to the backends, no access log, one worker/thread/event loop (loopgate-all
// aside), timeouts long enough for the idle test, connection limits above IdleConns, and the
// same forwarding fields loopgate always sets (X-Forwarded-For, -Proto, -Host; Host kept).

// Policy mode (BenchConfig.Policy, issue 13) gives every proxy the same traffic policy on top
// of the plain configuration: policyRoutes routes, all but one by host and path prefix
// (svcN.example.com, /svcN/) to the same backends and never requested, so they only make the
// table big; the load's route, path prefix policyPrefix+"/", stripped before forwarding, with
// header rules (request X-Env: bench set; response X-Served-By: bench set, Server removed); a
// per-client connection limit and a per-client request rate limit that are never reached;
// 404 for anything unrouted.
const (
	policyRoutes = 1000
	policyPrefix = "/app" // the load requests policyPrefix + the plain path
	// policyConnsPerClient is the per-client connection limit: nginx's largest (limit_conn
	// takes less than 65536), above what the idle test opens.
	policyConnsPerClient = 65535
	// policyRate is the per-client rate limit, requests per second, and its burst. It is
	// loopgate's largest accepted rate and burst; the other two get the same figures. Two
	// cores serve tens of thousands of requests per second, so it is never reached.
	policyRate = 1000000
	// Files in the work directory that writePolicyFiles writes.
	haproxyRoutesMap = "haproxy-routes.map" // HAProxy's host routes
	nginxAppLocation = "nginx-app.conf"     // nginx's location of the load's route
)

// policyHost returns the host and path prefix of host route i (never requested).
func policyHost(i int) (host, prefix string) {
	return fmt.Sprintf("svc%d.example.com", i), fmt.Sprintf("/svc%d/", i)
}

// lgConf is what loopgate's configurations differ in.
type lgConf struct {
	loops    int // event loops (0: one per core)
	maxConns int
	policy   bool   // the traffic policy
	cache    bool   // [cache] on and the pool cached (cache.go)
	compress string // "" (off) or the keys of [compression] besides enabled, one per line (compress.go)
}

func loopgateConf(addr string, backends []string, o lgConf) string {
	var b strings.Builder
	// No request IDs (HAProxy and nginx generate none here either) and no
	// admin listener, so several runs never compete for its port.
	fmt.Fprintf(&b, "[server]\nlisten = %q\nevent_loops = %d\nmax_connections = %d\naccess_log = false\nmetrics = false\nrequest_id_header = \"\"\n",
		addr, o.loops, o.maxConns)
	if o.policy {
		fmt.Fprintf(&b, "max_connections_per_client = %d\n", policyConnsPerClient)
	}
	b.WriteString("\n[admin]\nlisten = \"\"\n\n")
	b.WriteString("[timeouts]\nclient_idle = \"120s\"\n\n")
	if o.cache {
		fmt.Fprintf(&b, "[cache]\nmax_bytes = %d\nmax_object = %d\nheader = %q\n\n", cacheMemory, cacheMaxObject, cacheHeader)
	}
	if o.compress != "" {
		fmt.Fprintf(&b, "[compression]\nenabled = true\n%s\n", o.compress)
	}
	b.WriteString("[[pool]]\nname = \"bench\"\nalgorithm = \"round_robin\"\n")
	if o.cache {
		b.WriteString("cache = true\n")
	}
	for _, a := range backends {
		fmt.Fprintf(&b, "  [[pool.backend]]\n  address = %q\n", a)
	}
	if !o.policy {
		return b.String()
	}
	// With routes, a request that matches none gets 404.
	for i := range policyRoutes - 1 {
		host, prefix := policyHost(i)
		fmt.Fprintf(&b, "\n[[route]]\nname = \"svc%d\"\nhost = %q\npath_prefix = %q\npool = \"bench\"\n", i, host, prefix)
	}
	fmt.Fprintf(&b, `
[[route]]
name = "app"
path_prefix = "%[1]s/"
pool = "bench"
strip_prefix = "%[1]s"
rate_limit = "per_client"
request_headers = { set = { "X-Env" = "bench" } }
response_headers = { set = { "X-Served-By" = "bench" }, remove = ["Server"] }

[[rate_limit]]
name = "per_client"
rate = %[2]d
burst = %[2]d
`, policyPrefix, policyRate)
	return b.String()
}

// haproxyConf is HAProxy's configuration; with policy, it reads the host routes from
// dir/haproxyRoutesMap, which writePolicyFiles writes.
func haproxyConf(dir, addr string, backends []string, maxConns int, policy bool) string {
	var b strings.Builder
	// HAProxy reserves two descriptors per connection and refuses to start when the hard
	// limit is lower (strict-limits is on by default); the idle test needs one per client.
	fmt.Fprintf(&b, `global
  nbthread 1
  maxconn %d
  no strict-limits
defaults
  mode http
  timeout connect 3s
  timeout client 120s
  timeout server 60s
  timeout http-keep-alive 120s
  http-reuse always
  option forwardfor
frontend fe
  bind %s
`, maxConns, addr)
	if policy {
		// Connection count and request rate per client in one stick-table entry, tracked
		// from the connection on so that conn_cur counts connections, not requests.
		fmt.Fprintf(&b, `  stick-table type ip size 1m expire 10s store http_req_rate(1s),conn_cur
  tcp-request connection track-sc0 src
  tcp-request connection reject if { sc_conn_cur(0) gt %d }
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt %d }
`, policyConnsPerClient, policyRate)
	}
	b.WriteString(`  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
`)
	servers := func() {
		for i, a := range backends {
			fmt.Fprintf(&b, "  server b%d %s\n", i+1, a)
		}
	}
	if !policy {
		b.WriteString("  default_backend be\nbackend be\n  balance roundrobin\n")
		servers()
		return b.String()
	}
	// The host routes are one map_beg lookup of Host+path ("base") in a prefix tree, as
	// HAProxy users write 1,000 routes: acl lines would be evaluated one by one, and
	// map_str (exact match, also a tree) cannot express a path prefix. The load's route
	// keeps its rules in its own backend, the usual place for per-route rules.
	fmt.Fprintf(&b, `  use_backend be if { base,map_beg(%s) -m found }
  use_backend app if { path_beg %s/ }
  default_backend no_route
backend no_route
  http-request return status 404
backend be
  balance roundrobin
`, filepath.Join(dir, haproxyRoutesMap), policyPrefix)
	servers()
	fmt.Fprintf(&b, `backend app
  balance roundrobin
  http-request replace-path ^%s(/.*) \1
  http-request set-header X-Env bench
  http-response set-header X-Served-By bench
  http-response del-header Server
`, policyPrefix)
	servers()
	return b.String()
}

// haproxyRoutes is the map file of HAProxy's host routes: Host+path prefix → backend.
func haproxyRoutes() string {
	var b strings.Builder
	for i := range policyRoutes - 1 {
		host, prefix := policyHost(i)
		fmt.Fprintf(&b, "%s%s be\n", host, prefix)
	}
	return b.String()
}

// writePolicyFiles writes the files the policy configurations read besides their own.
func writePolicyFiles(dir string) error {
	for name, text := range map[string]string{haproxyRoutesMap: haproxyRoutes(), nginxAppLocation: nginxApp()} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return fmt.Errorf("cannot write %s: %w", p, err)
		}
	}
	return nil
}

func nginxProxyConf(dir, addr string, backends []string, maxConns int, policy bool) string {
	if policy {
		return nginxPolicyConf(dir, addr, nginxUpstream(backends), maxConns)
	}
	return nginxConf(dir, proxyNginx, addr, backends, maxConns, "", "")
}

// nginxUpstream is the server lines of the upstream block.
func nginxUpstream(backends []string) string {
	var up strings.Builder
	for _, a := range backends {
		fmt.Fprintf(&up, "server %s; ", a)
	}
	return up.String()
}

// nginxConf is the plain configuration with httpExtra added to the http block and locExtra
// to the location (the cache and compression families).
// name names its pid and error files in dir.
func nginxConf(dir, name, addr string, backends []string, maxConns int, httpExtra, locExtra string) string {
	return fmt.Sprintf(`worker_processes 1; daemon off; master_process off;
pid %[1]s; error_log %[2]s crit; worker_rlimit_nofile %[3]d;
events { worker_connections %[3]d; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  upstream be { %[4]s keepalive 512; keepalive_requests 1000000; keepalive_timeout 60s; }
  %[6]s
  server {
    listen %[5]s;
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      %[7]s
    }
  }
}
`, filepath.Join(dir, name+".pid"), filepath.Join(dir, name+".err"), 2*maxConns, nginxUpstream(backends), addr,
		httpExtra, locExtra)
}

// nginxPolicyConf is nginx's policy configuration; it includes dir/nginxAppLocation, which
// writePolicyFiles writes. The host routes are what nginx users write for many hosts: one
// server block per host (server_name, found in a hash) with a prefix location. The load's
// route takes any host, as in the others, so every server includes its location; proxy_pass
// to "http://be/" swaps the location's prefix for "/". nginx always sends a Server header
// of its own: proxy_hide_header drops the backend's, and nginx-light has no module to drop
// nginx's. limit_conn counts connections with a request in progress, as nginx does.
func nginxPolicyConf(dir, addr, upstream string, maxConns int) string {
	var b strings.Builder
	app := filepath.Join(dir, nginxAppLocation)
	fmt.Fprintf(&b, `worker_processes 1; daemon off; master_process off;
pid %[1]s; error_log %[2]s crit; worker_rlimit_nofile %[3]d;
events { worker_connections %[3]d; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  server_names_hash_max_size 4096;
  upstream be { %[4]s keepalive 512; keepalive_requests 1000000; keepalive_timeout 60s; }
  limit_req_zone $binary_remote_addr zone=rl:10m rate=%[6]dr/s;
  limit_conn_zone $binary_remote_addr zone=cl:10m;
  limit_req zone=rl burst=%[6]d nodelay;
  limit_conn cl %[7]d;
  proxy_http_version 1.1;
  %[8]s
  server { listen %[5]s default_server; include %[9]s; location / { return 404; } }
`, filepath.Join(dir, "nginx-proxy.pid"), filepath.Join(dir, "nginx-proxy.err"), 2*maxConns, upstream, addr,
		policyRate, policyConnsPerClient, nginxForward, app)
	for i := range policyRoutes - 1 {
		host, prefix := policyHost(i)
		fmt.Fprintf(&b, "  server { listen %s; server_name %s; location %s { proxy_pass http://be; } include %s; location / { return 404; } }\n",
			addr, host, prefix, app)
	}
	b.WriteString("}\n")
	return b.String()
}

// nginxForward is the plain configuration's proxy_set_header lines.
const nginxForward = `proxy_set_header Connection ""; proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-Host $host;`

// nginxApp is the location of the load's route in nginx's policy configuration.
func nginxApp() string {
	// A proxy_set_header here drops the inherited ones: all of them again.
	return fmt.Sprintf(`location %s/ {
  proxy_pass http://be/;
  %s
  proxy_set_header X-Env bench;
  proxy_hide_header Server;
  add_header X-Served-By bench always;
}
`, policyPrefix, nginxForward)
}

// nginxBackendConf serves the files of dir/www, one worker, keep-alive without limit. Under
// cachePrefix it serves the same files as cacheable for an hour and logs each request to
// cacheLog, which counts what reaches the backends in the cache family. The corpus types are
// those the compression family's proxies compress.
func nginxBackendConf(dir, name, addr, cacheLog string) string {
	return fmt.Sprintf(`worker_processes 1; daemon off; master_process off;
pid %[1]s; error_log %[2]s crit;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  sendfile on; open_file_cache max=64; open_file_cache_valid 1h;
  default_type application/octet-stream;
  types { text/html html; application/json json; text/css css; application/javascript js; image/svg+xml svg; }
  server {
    listen %[3]s; root %[4]s;
    location / { }
    location %[5]s { alias %[4]s/; expires %[6]ds; access_log %[7]s; }
  }
}
`, filepath.Join(dir, name+".pid"), filepath.Join(dir, name+".err"), addr, filepath.Join(dir, "www"),
		cachePrefix, cacheMaxAge, cacheLog)
}

// wrkScript prints wrk's own summary as one JSON line after its text report. Latencies are
// microseconds; errors.status counts responses outside 2xx/3xx.
const wrkScript = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
`
