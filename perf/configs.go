package perf

import (
	"fmt"
	"path/filepath"
	"strings"
)

// The proxies get equivalent configurations: round robin over the same three backends,
// keep-alive to the backends, no access log, one worker/thread/event loop (loopgate-all
// aside), timeouts long enough for the idle test, connection limits above IdleConns, and the
// same forwarding fields loopgate always sets (X-Forwarded-For, -Proto, -Host; Host kept).

func loopgateConf(addr string, backends []string, loops, maxConns int) string {
	var b strings.Builder
	// No request IDs (HAProxy and nginx generate none here either) and no
	// admin listener, so several runs never compete for its port.
	fmt.Fprintf(&b, "[server]\nlisten = %q\nevent_loops = %d\nmax_connections = %d\naccess_log = false\nmetrics = false\nrequest_id_header = \"\"\n\n[admin]\nlisten = \"\"\n\n",
		addr, loops, maxConns)
	b.WriteString("[timeouts]\nclient_idle = \"120s\"\n\n")
	b.WriteString("[[pool]]\nname = \"bench\"\nalgorithm = \"round_robin\"\n")
	for _, a := range backends {
		fmt.Fprintf(&b, "  [[pool.backend]]\n  address = %q\n", a)
	}
	return b.String()
}

func haproxyConf(addr string, backends []string, maxConns int) string {
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
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %%[req.hdr(host)]
  default_backend be
backend be
  balance roundrobin
`, maxConns, addr)
	for i, a := range backends {
		fmt.Fprintf(&b, "  server b%d %s\n", i+1, a)
	}
	return b.String()
}

func nginxProxyConf(dir, addr string, backends []string, maxConns int) string {
	var up strings.Builder
	for _, a := range backends {
		fmt.Fprintf(&up, "server %s; ", a)
	}
	return fmt.Sprintf(`worker_processes 1; daemon off; master_process off;
pid %[1]s; error_log %[2]s crit; worker_rlimit_nofile %[3]d;
events { worker_connections %[3]d; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  upstream be { %[4]s keepalive 512; keepalive_requests 1000000; keepalive_timeout 60s; }
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
    }
  }
}
`, filepath.Join(dir, "nginx-proxy.pid"), filepath.Join(dir, "nginx-proxy.err"), 2*maxConns, up.String(), addr)
}

// nginxBackendConf serves the files of dir/www, one worker, keep-alive without limit.
func nginxBackendConf(dir, name, addr string) string {
	return fmt.Sprintf(`worker_processes 1; daemon off; master_process off;
pid %[1]s; error_log %[2]s crit;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  sendfile on; open_file_cache max=64; open_file_cache_valid 1h;
  default_type application/octet-stream;
  server { listen %[3]s; root %[4]s; location / { } }
}
`, filepath.Join(dir, name+".pid"), filepath.Join(dir, name+".err"), addr, filepath.Join(dir, "www"))
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
