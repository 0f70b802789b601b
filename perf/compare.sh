#!/usr/bin/env bash
# Side-by-side comparison of loopgate, HAProxy and nginx as reverse proxies: a thin wrapper
# around the Go harness (perf/harness, the code behind `make perf`) that keeps this script's
# old flags. See docs/PERFORMANCE.md for the method. Everything runs on 127.0.0.1 and every
# process the harness starts, it stops.
#
# usage: perf/compare.sh [-r ROUNDS] [-d SECONDS] [-c "50 256"] [-s "100 16384"] [-- harness flags...]
#        e.g. perf/compare.sh -r 3 -d 5 -c 256 -s 100 -- -proxies loopgate,haproxy -idle -1
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
while getopts r:d:c:s: o; do
	case $o in
	r) args+=(-rounds "$OPTARG") ;;
	d) args+=(-duration "${OPTARG}s") ;;
	c) args+=(-conns "$OPTARG") ;;
	s) args+=(-sizes "$OPTARG") ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

W=$(mktemp -d /tmp/loopgate-perf.XXXXXX)
trap 'rm -rf "$W"' EXIT
go build -o "$W/loopgate" ./cmd/loopgate
go build -o "$W/backend" ./cmd/backend
go build -o "$W/harness" ./perf/harness
"$W/harness" -loopgate "$W/loopgate" -backend "$W/backend" "${args[@]}" "$@"
