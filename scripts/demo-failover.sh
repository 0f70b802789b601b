#!/usr/bin/env bash
# The seed's failover walkthrough, without Docker: three demo backends and loopgate on
# 127.0.0.1, a steady load, backend-1 stopped, what loopgate reports (its /__status__ when it
# has one, else where the responses went), backend-1 started again. It ends by itself after
# about 3 × PHASE seconds plus the build, and stops everything it started.
#
# usage: scripts/demo-failover.sh
# env:   PORT=8080 BACKEND_PORT=8001 (backends on BACKEND_PORT..+2), RATE=200 (req/s), PHASE=4 (s)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8080}
BACKEND_PORT=${BACKEND_PORT:-8001}
RATE=${RATE:-200}
PHASE=${PHASE:-4}
URL="http://127.0.0.1:$PORT/"

W=$(mktemp -d /tmp/loopgate-demo.XXXXXX)
declare -A PIDS=()
cleanup() {
	for name in "${!PIDS[@]}"; do kill "${PIDS[$name]}" 2>/dev/null || true; done
	for name in "${!PIDS[@]}"; do wait "${PIDS[$name]}" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -t 1 ]]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT" $((BACKEND_PORT)) $((BACKEND_PORT + 1)) $((BACKEND_PORT + 2)); do
	port_free "$p" || { echo "port $p is in use (make run?): set PORT=... BACKEND_PORT=..." >&2; exit 1; }
done

say "building loopgate, the demo backend and the load generator"
go build -o "$W/loopgate" ./cmd/loopgate
go build -o "$W/backend" ./cmd/backend
go build -o "$W/loadgen" ./cmd/loadgen

# wait_up URL: until a request succeeds, for at most 5 s.
wait_up() {
	for _ in $(seq 50); do
		"$W/loadgen" -q -n 1 -c 1 --timeout 1s --by-header "" "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$1 does not answer" >&2
	return 1
}

start_backend() { # start_backend N
	local port=$((BACKEND_PORT + $1 - 1))
	"$W/backend" -host 127.0.0.1 -port "$port" -name "backend-$1" -quiet 2>>"$W/backend-$1.log" &
	PIDS[backend-$1]=$!
	wait_up "http://127.0.0.1:$port/health"
}

stop_backend() { # stop_backend N
	kill "${PIDS[backend-$1]}"
	wait "${PIDS[backend-$1]}" 2>/dev/null || true
	unset "PIDS[backend-$1]"
}

# status: loopgate's /__status__ if it answers it itself; a response with X-Backend came from
# a backend, i.e. loopgate has no status endpoint yet (the observability issue adds it).
status() {
	local resp
	# shellcheck disable=SC2016 # $1 is expanded by the inner bash
	resp=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
		printf "GET /__status__ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3 && cat <&3' _ "$PORT" 2>/dev/null || true)
	if [[ $resp == "HTTP/1."?" 200"* ]] && ! grep -qi '^x-backend:' <<<"$resp"; then
		echo "loopgate /__status__:"
		sed '1,/^\r\{0,1\}$/d' <<<"$resp" | head -c 4000
		echo
	else
		echo "(loopgate has no /__status__ yet: the per-backend split of the load below shows the change)"
	fi
}

# phase NAME TITLE: a steady open-loop load for PHASE seconds, split by the X-Backend header;
# the JSON report goes to $W/NAME.json.
phase() {
	say "$2: $RATE req/s for ${PHASE}s"
	"$W/loadgen" -q -c 4 -d "${PHASE}s" --rate "$RATE" --timeout 2s --by-header X-Backend \
		-o "$W/$1.json" "$URL" | grep -v '^  report ' || true
}

say "starting backend-1..3 on 127.0.0.1:$BACKEND_PORT..$((BACKEND_PORT + 2))"
for i in 1 2 3; do start_backend "$i"; done

cat >"$W/loopgate.toml" <<CONF
[server]
listen = "127.0.0.1:$PORT"

[timeouts]
upstream_connect = "1s"

[[pool]]
name = "demo"
algorithm = "round_robin"
  [pool.health]
  interval = "1s"
  timeout = "500ms"
  [[pool.backend]]
  address = "127.0.0.1:$BACKEND_PORT"
  [[pool.backend]]
  address = "127.0.0.1:$((BACKEND_PORT + 1))"
  [[pool.backend]]
  address = "127.0.0.1:$((BACKEND_PORT + 2))"
CONF
say "starting loopgate on $URL"
"$W/loopgate" -config "$W/loopgate.toml" 2>"$W/loopgate.log" &
PIDS[loopgate]=$!
wait_up "$URL"

# The seed's "continuous load test" runs under the whole walkthrough.
"$W/loadgen" -q -c 2 -d "$((3 * PHASE + 2))s" --rate 50 --timeout 2s --by-header X-Backend \
	"$URL" >"$W/continuous.txt" 2>&1 &
PIDS[continuous]=$!

status
phase up "all three backends up"

say "stopping backend-1 (like: docker compose stop backend-1)"
stop_backend 1
status
phase down "backend-1 stopped"

say "starting backend-1 again (like: docker compose start backend-1)"
start_backend 1
status
phase back "backend-1 back"

wait "${PIDS[continuous]}" 2>/dev/null || true
unset "PIDS[continuous]"
say "the continuous load over the whole walkthrough (50 req/s)"
cat "$W/continuous.txt"

failed=$(sed -n 's/^  "failed_requests": \([0-9]*\),$/\1/p' "$W/down.json")
echo
if [[ ${failed:-1} == 0 ]]; then
	echo "While backend-1 was down, loopgate sent its share to backend-2 and backend-3: no request"
	echo "failed. Once it was back, it got its share again."
else
	echo "While backend-1 was down, $failed requests failed (502: loopgate still sent backend-1 its"
	echo "share). Active health checks take a dead backend out of rotation within a few probe"
	echo "intervals; without them, every request routed to it fails until it is back."
fi
