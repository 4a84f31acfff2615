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
for tool in wrk nginx; do
    command -v "$tool" >/dev/null || { echo "bench: $tool missing: apt-get install wrk nginx-light" >&2; exit 2; }
done
[ -x "$build/warden" ] || { echo "bench: no $build/warden (build Release first: deploy/run.sh or cmake)" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

wport=18181 nport=18182
"$build/warden" serve --listen 127.0.0.1:$wport --workers "$workers" --set log.level=warn 2>"$tmp/warden.log" &
pids+=($!)
cat >"$tmp/nginx.conf" <<NGX
worker_processes $workers;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nport reuseport;
        location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
NGX
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$wport/healthz" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$nport/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

run() { # name port
    wrk -t 1 -c "$conns" -d "${secs}s" --latency "http://127.0.0.1:$2/healthz" >"$tmp/$1.out"
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$1.out")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/$1.out")
    printf '%-8s %12s req/s   p99 %s\n' "$1" "$rps" "$p99"
    eval "${1}_rps=$rps"
}
echo "listener benchmark: $secs s, $conns connections, $workers worker(s), wrk 1 thread"
run warden $wport
run nginx $nport
awk -v a="$warden_rps" -v b="$nginx_rps" 'BEGIN { printf "ratio warden/nginx: %.2f\n", a / b }'
