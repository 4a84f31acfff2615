#!/usr/bin/env bash
# Proxy benchmark: POST /v1/chat/completions through warden and through nginx proxy_pass (with
# upstream keep-alive, buffering off) to the same mock upstream, on loopback, in one session.
# Prints throughput at concurrency C, latency at concurrency 1 (direct, warden, nginx) and the
# ratios. Benchmarks never gate CI.
# usage: tests/bench/proxy.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
#   BUILD_DIR needs warden and tests/mock/mock_upstream (a Release build with tests on:
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench)
# GUARDS=on runs warden with its prompt and output guards (the default configuration);
# GUARDS=off (the default here) measures the bare data path. WORKERS=N sets the workers of warden and nginx.
# The building blocks are in lib.sh; tests/bench/run.sh is the full side-by-side benchmark.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
secs=${2:-10}
conns=${3:-32}
workers=${WORKERS:-1}
guards=${GUARDS:-off}
case $guards in
on) guard_flags=() ;;
off) guard_flags=(--set prompt_guard.enabled=false --set output_guard.enabled=false) ;;
*) echo "bench: GUARDS must be on or off" >&2; exit 2 ;;
esac
mock=$build/tests/mock/mock_upstream
. "$root/tests/bench/lib.sh"
bench_need wrk nginx curl
for bin in "$build/warden" "$mock"; do
    [ -x "$bin" ] || { echo "bench: $bin missing (see usage)" >&2; exit 2; }
done

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

# BENCH_PORT_BASE=P: the mock, warden and nginx listen on P, P+1 and P+2
base=${BENCH_PORT_BASE:-}
"$mock" --listen "127.0.0.1:${base:-0}" >"$tmp/mock.out" 2>"$tmp/mock.err" &
pids+=($!)
for _ in $(seq 50); do
    mport=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/mock.out" 2>/dev/null || true)
    [ -n "$mport" ] && break
    sleep 0.1
done
wport=$((${base:-18280} + 1)) nport=$((${base:-18280} + 2))
"$build/warden" serve --listen 127.0.0.1:$wport --workers "$workers" --set log.level=warn \
    "${guard_flags[@]}" --upstream "openai=http://127.0.0.1:$mport" 2>"$tmp/warden.log" &
pids+=($!)
bench_nginx_conf "$tmp" "$workers" $nport "$mport"
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
for p in $mport $wport $nport; do
    bench_wait_ready "http://127.0.0.1:$p/v1/chat/completions" "$body"
done
bench_post_lua "$tmp/post.lua" "$body"

# run NAME PORT CONNS: prints "rps p50 p99" (latencies in microseconds)
run() {
    bench_wrk "$tmp/$1.out" "$3" "$secs" "http://127.0.0.1:$2/v1/chat/completions" "$tmp/post.lua" |
        cut -d' ' -f1-3
}
echo "proxy benchmark: $secs s per run, wrk 1 thread, $workers worker(s) each for warden and nginx, guards $guards"
read -r m_rps m_p50 m_p99 < <(run direct1 $mport 1)
read -r w_rps w_p50 w_p99 < <(run warden1 $wport 1)
read -r n_rps n_p50 n_p99 < <(run nginx1 $nport 1)
printf 'concurrency 1   direct  p50 %6d us  p99 %6d us\n' "$m_p50" "$m_p99"
printf 'concurrency 1   warden  p50 %6d us  p99 %6d us  added p99 %d us\n' "$w_p50" "$w_p99" $((w_p99 - m_p99))
printf 'concurrency 1   nginx   p50 %6d us  p99 %6d us  added p99 %d us\n' "$n_p50" "$n_p99" $((n_p99 - m_p99))
read -r w_rps w_p50 w_p99 < <(run warden $wport "$conns")
read -r n_rps n_p50 n_p99 < <(run nginx $nport "$conns")
printf 'concurrency %-3s warden %10s req/s  p99 %6d us\n' "$conns" "$w_rps" "$w_p99"
printf 'concurrency %-3s nginx  %10s req/s  p99 %6d us\n' "$conns" "$n_rps" "$n_p99"
awk -v a="$w_rps" -v b="$n_rps" 'BEGIN { printf "throughput ratio warden/nginx: %.2f\n", a / b }'
