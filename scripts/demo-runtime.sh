#!/usr/bin/env bash
# Issue 7's walkthrough, as a user does it: `make run` with a steady load, then a fourth
# backend added with one curl, backend-1 drained with another (until it is empty), the
# config reloaded with kill -HUP after an edit, and the binary upgraded in place. At the end
# the load generator's report must show no errors. Bounded: about 25 s plus the build.
#
# usage: scripts/demo-runtime.sh      (ports 8080, 9090, 8001-8004 must be free)
set -euo pipefail
cd "$(dirname "$0")/.."

W=$(mktemp -d /tmp/loopgate-runtime.XXXXXX)
PIDFILE=$W/loopgate.pid
CONFIG=$W/config.toml
cp config.toml "$CONFIG"
A=http://127.0.0.1:9090
MAKEPID=
LOADPID=
B4=
cleanup() {
	[[ -n $LOADPID ]] && kill "$LOADPID" 2>/dev/null
	[[ -n $B4 ]] && kill "$B4" 2>/dev/null
	[[ -n $MAKEPID ]] && kill -INT -- -"$MAKEPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 8080 9090 8001 8002 8003 8004; do
	port_free "$p" || { echo "port $p is in use (make run?)" >&2; exit 1; }
done

say "make run (config copied to $CONFIG)"
make -s build
set -m # make run in its own process group, so that cleanup can Ctrl-C all of it
make -s run CONFIG="$CONFIG" PIDFILE="$PIDFILE" >"$W/run.log" 2>&1 &
MAKEPID=$!
set +m
for _ in $(seq 100); do curl -fs 127.0.0.1:8080/ >/dev/null 2>&1 && break; sleep 0.1; done

say "a steady load: bin/loadgen -d 20s -c 16 -R 400"
bin/loadgen -d 20s -c 16 -R 400 -o "$W/load.json" http://127.0.0.1:8080/ >"$W/load.txt" 2>&1 &
LOADPID=$!
sleep 2

say "add a fourth backend"
bin/backend -port 8004 -name backend-4 -quiet &
B4=$!
sleep 0.3
curl -s -X POST $A/api/pools/web/backends -d '{"address": "127.0.0.1:8004"}'
sleep 3
curl -s $A/api/metrics | grep -o '"address":"127.0.0.1:800[0-9]","state":"[a-z-]*"' | sort

say "drain backend-1 and wait until it is empty"
curl -s -X POST "$A/api/pools/web/backends/127.0.0.1:8001/drain?wait=30s"

say "edit the config (least_connections) and kill -HUP"
sed -i 's/^algorithm = "round_robin"/algorithm = "least_connections"/' "$CONFIG"
kill -HUP "$(cat "$PIDFILE")"
sleep 1
curl -s $A/api/status | grep -o '"algorithm":"[a-z_]*"' | head -1

say "upgrade the binary in place"
old=$(cat "$PIDFILE")
bin/loopgate -upgrade -pidfile "$PIDFILE"
echo "pid $old -> $(cat "$PIDFILE")"

say "the load generator's report"
wait "$LOADPID"
LOADPID=
cat "$W/load.txt"
# The report's failed_requests counts every error; every response must be a 200.
failed=$(sed -n 's/.*"failed_requests": *\([0-9]*\).*/\1/p' "$W/load.json" | head -1)
total=$(sed -n 's/.*"total_requests": *\([0-9]*\).*/\1/p' "$W/load.json" | head -1)
ok200=$(tr -d ' \n' <"$W/load.json" | sed -n 's/.*"status_codes":{"200":\([0-9]*\)}.*/\1/p')
if [[ $failed != 0 || $ok200 != "$total" ]]; then
	echo "FAIL: $failed of $total requests failed; 200s: ${ok200:-not all}" >&2
	exit 1
fi
echo "OK: $total requests, all 200, none failed"
