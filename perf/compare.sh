#!/usr/bin/env bash
# Side-by-side comparison of loopgate, HAProxy and nginx as reverse proxies in
# front of the same three nginx backends (100-byte responses), each proxy with
# one worker/event loop, round robin and upstream keep-alive, logging off.
# Runs wrk against each proxy in interleaved rounds and prints medians of
# req/s, p99 latency and the proxy's CPU microseconds per request (from
# /proc/PID/stat), with ratios to HAProxy. Everything runs on 127.0.0.1 and
# every process started here is stopped on exit.
#
# usage: perf/compare.sh [-r ROUNDS] [-d SECONDS] [-c "50 256"] [-s BODY_BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3 DUR=5 CONNS="50 256" BODY=100
while getopts r:d:c:s: o; do
	case $o in r) ROUNDS=$OPTARG ;; d) DUR=$OPTARG ;; c) CONNS=$OPTARG ;; s) BODY=$OPTARG ;; *) exit 2 ;; esac
done
for t in wrk nginx haproxy; do command -v $t >/dev/null || { echo "missing $t (apt-get install wrk nginx-light haproxy)"; exit 2; }; done

W=$(mktemp -d /tmp/loopgate-perf.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

go build -o "$W/loopgate" ./cmd/loopgate
body=$(head -c "$BODY" /dev/zero | tr '\0' 'x')

# Backends: one nginx worker per backend port.
for i in 1 2 3; do
	cat >"$W/be$i.conf" <<CONF
worker_processes 1; daemon off; pid $W/be$i.pid; error_log /dev/null;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:1900$i reuseport; location / { return 200 "$body"; } } }
CONF
	nginx -c "$W/be$i.conf" -p "$W" & pids+=($!)
done

cat >"$W/lg.toml" <<CONF
[server]
listen = "127.0.0.1:18080"
event_loops = 1
[[pool]]
name = "bench"
algorithm = "round_robin"
  [[pool.backend]]
  address = "127.0.0.1:19001"
  [[pool.backend]]
  address = "127.0.0.1:19002"
  [[pool.backend]]
  address = "127.0.0.1:19003"
CONF
"$W/loopgate" -config "$W/lg.toml" 2>"$W/lg.log" & lg=$!; pids+=($lg)

cat >"$W/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 3s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend fe
  bind 127.0.0.1:18081
  default_backend be
backend be
  balance roundrobin
  server b1 127.0.0.1:19001
  server b2 127.0.0.1:19002
  server b3 127.0.0.1:19003
CONF
haproxy -f "$W/haproxy.cfg" -db & hp=$!; pids+=($hp)

cat >"$W/nginx.conf" <<CONF
worker_processes 1; daemon off; master_process off; pid $W/ngx.pid; error_log /dev/null;
events { worker_connections 20000; }
http { access_log off; keepalive_requests 1000000;
  upstream be { server 127.0.0.1:19001; server 127.0.0.1:19002; server 127.0.0.1:19003; keepalive 256; keepalive_requests 1000000; }
  server { listen 127.0.0.1:18082; location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering on; } } }
CONF
nginx -c "$W/nginx.conf" -p "$W" & ng=$!; pids+=($ng)
sleep 1

declare -A PORT=([loopgate]=18080 [haproxy]=18081 [nginx]=18082) PID=([loopgate]=$lg [haproxy]=$hp [nginx]=$ng)
for p in loopgate haproxy nginx; do
	curl -fsS -o /dev/null "http://127.0.0.1:${PORT[$p]}/" || { echo "$p does not answer"; cat "$W/lg.log"; exit 1; }
done
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }

echo "# $ROUNDS rounds of ${DUR}s, body ${BODY} B, wrk -t1; medians"
for c in $CONNS; do
	for r in $(seq "$ROUNDS"); do
		for p in loopgate haproxy nginx; do
			before=$(cpu "${PID[$p]}")
			out=$(wrk -t1 -c"$c" -d"${DUR}s" --latency "http://127.0.0.1:${PORT[$p]}/")
			after=$(cpu "${PID[$p]}")
			reqs=$(awk '/requests in/{print $1}' <<<"$out")
			rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
			p99=$(awk '$1=="99%"{print $2}' <<<"$out")
			errs=$(awk '/Non-2xx|Socket errors/{print}' <<<"$out" | tr '\n' ' ')
			us=$(awk -v a="$before" -v b="$after" -v n="$reqs" -v hz="$hz" 'BEGIN{printf "%.2f", (b-a)/hz*1e6/n}')
			echo "$c $p $rps $p99 $us $errs" >>"$W/results"
		done
	done
done

python3 - "$W/results" <<'PY'
import sys, statistics as st, collections
rows = collections.defaultdict(list)
def ms(v):
    v = v.strip()
    for suf, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(suf):
            return float(v[:-len(suf)]) * f
    return float(v)
for line in open(sys.argv[1]):
    f = line.split()
    rows[(int(f[0]), f[1])].append((float(f[2]), ms(f[3]), float(f[4]), " ".join(f[5:])))
print(f"{'conns':>5} {'proxy':<9} {'req/s':>10} {'p99 ms':>8} {'cpu us/req':>10} {'rps/HA':>7} {'cpu/HA':>7}  notes")
for c in sorted({k[0] for k in rows}):
    med = {p: [st.median(x[i] for x in rows[(c, p)]) for i in range(3)] for p in ("loopgate", "haproxy", "nginx") if (c, p) in rows}
    ha = med["haproxy"]
    for p, (rps, p99, us) in med.items():
        notes = "; ".join(sorted({x[3] for x in rows[(c, p)] if x[3]}))
        print(f"{c:>5} {p:<9} {rps:>10.0f} {p99:>8.2f} {us:>10.2f} {rps/ha[0]:>7.2f} {us/ha[2]:>7.2f}  {notes}")
PY
