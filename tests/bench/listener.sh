#!/usr/bin/env bash
# Listener benchmark: keep-alive GET /healthz on warden vs the same fixed 200 answer from nginx,
# both on loopback with the same number of worker threads, measured with wrk in one session.
# Prints requests/s and latency of each and the ratio warden/nginx. Never gates CI.
# usage: tests/bench/listener.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
secs=${2:-10}
conns=${3:-64}
workers=${WORKERS:-1}
. "$root/tests/bench/lib.sh"
bench_need wrk nginx curl
[ -x "$build/warden" ] || { echo "bench: no $build/warden (build Release first: deploy/run.sh or cmake)" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

base=${BENCH_PORT_BASE:-18180} # warden on base+1, nginx on base+2
wport=$((base + 1)) nport=$((base + 2))
"$build/warden" serve --listen 127.0.0.1:$wport --workers "$workers" --set log.level=warn 2>"$tmp/warden.log" &
pids+=($!)
bench_nginx_conf "$tmp" "$workers" $nport healthz
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
bench_wait_ready "http://127.0.0.1:$wport/healthz" "" 50
bench_wait_ready "http://127.0.0.1:$nport/healthz" "" 50

run() { # name port
    local rps p99
    read -r rps _ p99 _ < <(bench_wrk "$tmp/$1.out" "$conns" "$secs" "http://127.0.0.1:$2/healthz")
    printf '%-8s %12s req/s   p99 %d us\n' "$1" "$rps" "$p99"
    eval "${1}_rps=$rps"
}
echo "listener benchmark: $secs s, $conns connections, $workers worker(s), wrk 1 thread"
run warden $wport
run nginx $nport
awk -v a="$warden_rps" -v b="$nginx_rps" 'BEGIN { printf "ratio warden/nginx: %.2f\n", a / b }'
