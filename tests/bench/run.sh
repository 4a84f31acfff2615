#!/usr/bin/env bash
# Side-by-side benchmark: the mock upstream directly, nginx proxy_pass, warden with guards off and
# on, and the Portkey gateway when Node is present; streaming, the guards alone, and memory.
# Prints a table and writes a JSON file of the results (machine, commit, date, figures, goals).
# Benchmarks never gate CI on figures: --smoke only proves every column is still produced.
#
# usage: tests/bench/run.sh [--smoke] [--build DIR] [-o FILE] [--rounds N] [--secs S]
#                           [--no-portkey]
#   --build DIR   a Release build with tests (default build-bench): warden, mock_upstream,
#                 bench_prompt, bench_output, bench_stream
#   -o FILE       JSON results (default tests/bench/results/latest.json; smoke: none kept)
#   --smoke       a few seconds, tiny concurrencies, no Portkey; exit 1 when a column is missing
# environment: BENCH_PORT_BASE (default 28400; ports BASE..BASE+9 on 127.0.0.1), WORKERS (1:
#   worker threads of warden and nginx), WARDEN_EVAL_DIR (default ../shared/eval),
#   BENCH_CACHE (where Portkey is installed once; default ~/.cache/warden-bench).
# Exit 77 when a tool is missing in smoke mode (the suite then skips the test).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-bench
out=
smoke=0 rounds=3 secs=5 portkey=1
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) smoke=1 ;;
    --build) build=$(cd "$2" && pwd); shift ;;
    -o) out=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --secs) secs=$2; shift ;;
    --no-portkey) portkey=0 ;;
    *) echo "usage: tests/bench/run.sh [--smoke] [--build DIR] [-o FILE] [--rounds N] [--secs S] [--no-portkey]" >&2; exit 2 ;;
    esac
    shift
done
for t in wrk nginx curl python3; do
    command -v "$t" >/dev/null && continue
    echo "bench: $t missing: deploy/install-deps.sh --tests" >&2
    [ "$smoke" = 1 ] && exit 77
    exit 2
done
mock=$build/tests/mock/mock_upstream
stream=$build/tests/bench/bench_stream
for bin in "$build/warden" "$mock" "$stream" "$build/tests/bench/bench_prompt" "$build/tests/bench/bench_output"; do
    [ -x "$bin" ] || { echo "bench: $bin missing: cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench" >&2; exit 2; }
done
eval_dir=${WARDEN_EVAL_DIR:-$root/../shared/eval}
workers=${WORKERS:-1}
base=${BENCH_PORT_BASE:-28400}
if [ "$smoke" = 1 ]; then
    concs=(1 8) rounds=1 secs=1 portkey=0
    n_lat=20 n_idle=200 n_streams=50 stream_events=10 guard_rounds=1 stall_ms=5000
else
    concs=(1 16 64 256)
    n_lat=100 n_idle=10000 n_streams=1000 stream_events=50 guard_rounds=5 stall_ms=1000
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" # 10,000 idle connections need 2 fds each

# shellcheck disable=SC2034 # NAME is servers.sh's
NAME=bench
. "$root/tests/e2e/lib/servers.sh" # TMP, PIDS (stopped on exit), start
. "$root/tests/bench/lib.sh"
if [ -z "$out" ]; then
    out=$root/tests/bench/results/latest.json
    [ "$smoke" = 0 ] || out=$TMP/smoke.json # removed on exit: the smoke keeps no results
fi
mkdir -p "$(dirname "$out")"
# servers.sh's start polls a log file that may not exist yet: under errexit that would end the
# run, so it runs where errexit is off (its own failures still exit).
bstart() { start "$@" || exit 1; }

raw=$TMP/raw.txt
echo "meta loadavg_start $(cut -d' ' -f1-3 /proc/loadavg)" >"$raw"
note() { echo "note $*" >>"$raw"; echo "bench: $*" >&2; }

# The workload: a 2 KiB user prompt (plain prose the prompt guard passes) and a ~1 KiB chat
# completion, its text set by the mock script (x-mock-script) so every proxy gets the same answer.
sentence="Please summarise the following notes about the quarterly planning meeting and list the open questions for the team. "
prompt=$(printf "$sentence%.0s" $(seq 20))
prompt=${prompt:0:2048}
answer=$(printf 'The%%20plan%%20covers%%20hiring%%2C%%20the%%20new%%20office%%2C%%20the%%20budget%%20review%%20and%%20the%%20release%%20dates%%20for%%20spring.%%20%.0s' $(seq 7))
body="{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"$prompt\"}]}"
script="text=$answer"
stream_script="text=$answer;events=$stream_events;delay_ms=1"
long_script="text=$answer;events=$stream_events;delay_ms=20"
path=/v1/chat/completions

# --- servers -------------------------------------------------------------------------------
mport=$base nport=$((base + 1)) off_port=$((base + 2)) on_port=$((base + 3)) pk_port=$((base + 4))
out_port=$((base + 7)) # the output guard alone, for the streaming figures
guards_off=(--set prompt_guard.enabled=false --set output_guard.enabled=false)
warden_common=(--workers "$workers" --set log.format=json --set log.access=false
    --set limits.max_connections=$((n_idle + 1000)))
bstart mock "$MOCK_PORT_EXPR" out "$mock" --listen "127.0.0.1:$mport"
bench_nginx_conf "$TMP" "$workers" "$nport" "$mport"
nginx -c "$TMP/nginx.conf" -p "$TMP" 2>"$TMP/nginx.stderr" &
PIDS+=($!)
# wstart NAME PORT FLAGS...: a warden on PORT, ready once it answers the workload (up to 120 s:
# it compiles its rules first when another checkout changed them since they were cached).
wstart() {
    local name=$1 p=$2
    shift 2
    "$build/warden" serve --listen "127.0.0.1:$p" "${warden_common[@]}" "$@" \
        --upstream "openai=http://127.0.0.1:$mport" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    bench_wait_ready "http://127.0.0.1:$p$path" "$body" 1200 ||
        { echo "bench: $name did not start" >&2; exit 1; }
}
wstart warden_off "$off_port" "${guards_off[@]}"
wstart warden_on "$on_port"
wstart warden_out "$out_port" --set prompt_guard.enabled=false
targets=(direct nginx warden_off warden_on)
declare -A port=([direct]=$mport [nginx]=$nport [warden_off]=$off_port [warden_on]=$on_port
    [warden_out]=$out_port)
for t in "${targets[@]}" warden_out; do
    bench_wait_ready "http://127.0.0.1:${port[$t]}$path" "$body" || { echo "bench: $t not ready" >&2; exit 1; }
    bench_post_lua "$TMP/$t.lua" "$body" "$script"
done

# Portkey (npm @portkey-ai/gateway) as a peer: custom host = the mock, the mock script forwarded.
if [ "$portkey" = 0 ]; then
    note "portkey skipped (--smoke or --no-portkey)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    note "portkey skipped: no node/npm"
else
    pk_dir=${BENCH_CACHE:-$HOME/.cache/warden-bench}/portkey
    pk_js=$pk_dir/node_modules/@portkey-ai/gateway/build/start-server.js
    [ -f "$pk_js" ] || timeout 300 npm install --prefix "$pk_dir" --no-audit --no-fund \
        --loglevel=error @portkey-ai/gateway >"$TMP/npm.log" 2>&1 || true
    if [ ! -f "$pk_js" ]; then
        note "portkey skipped: npm install @portkey-ai/gateway failed ($(tail -n 1 "$TMP/npm.log"))"
    else
        # the gateway has no listen address option: bind it to loopback from a preload
        cat >"$TMP/loopback.cjs" <<'JS'
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, host, ...rest) {
    if (typeof port === "number" && (host === undefined || typeof host === "function"))
        return listen.call(this, port, "127.0.0.1", ...(host === undefined ? rest : [host, ...rest]));
    return listen.call(this, port, host, ...rest);
};
JS
        NODE_ENV=production node --require "$TMP/loopback.cjs" "$pk_js" --port="$pk_port" \
            --headless >"$TMP/portkey.out" 2>&1 &
        PIDS+=($!)
        bench_post_lua "$TMP/portkey.lua" "$body" "$script"
        cat >>"$TMP/portkey.lua" <<LUA
wrk.headers["x-portkey-provider"] = "openai"
wrk.headers["x-portkey-custom-host"] = "http://127.0.0.1:$mport/v1"
wrk.headers["x-portkey-forward-headers"] = "x-mock-script"
LUA
        ready=1
        for _ in $(seq 300); do
            curl -sf -o /dev/null -H 'content-type: application/json' -H 'x-portkey-provider: openai' \
                -H "x-portkey-custom-host: http://127.0.0.1:$mport/v1" -H 'authorization: Bearer sk-bench' \
                -d "$body" "http://127.0.0.1:$pk_port$path" && { ready=0; break; }
            sleep 0.1
        done
        if [ "$ready" = 0 ]; then
            targets+=(portkey)
            port[portkey]=$pk_port
            echo "meta portkey_version $(node -p "require('$pk_dir/node_modules/@portkey-ai/gateway/package.json').version")" >>"$raw"
        else
            note "portkey skipped: the gateway did not answer on 127.0.0.1:$pk_port"
        fi
    fi
fi

# --- throughput and latency: wrk, interleaved rounds ---------------------------------------
echo "bench: throughput, ${#concs[@]} concurrencies x ${#targets[@]} targets x $rounds rounds x $secs s" >&2
for r in $(seq "$rounds"); do
    for c in "${concs[@]}"; do
        for t in "${targets[@]}"; do
            read -r rps p50 p99 err < <(bench_wrk "$TMP/wrk.out" "$c" "$secs" \
                "http://127.0.0.1:${port[$t]}$path" "$TMP/$t.lua")
            echo "tp $t $c $r $rps $p50 $p99 $err" >>"$raw"
        done
    done
done

# --- streaming: time to first event and gaps between events, one stream at a time (nginx too:
# on a VM most of a proxy's added first-event time is waking a second idle process) -----------
echo "bench: streaming" >&2
for r in $(seq "$rounds"); do
    for t in direct nginx warden_off warden_out warden_on; do
        res=$("$stream" stream "127.0.0.1:${port[$t]}" -n "$n_lat" -c 1 -s "$stream_script" -b 2048 \
            --stall-ms "$stall_ms") ||
            note "stream $t round $r: failures or stalls"
        echo "stream $t $r $res" >>"$raw"
    done
done

# --- memory: fresh guarded warden instances, VmRSS -----------------------------------------
echo "bench: memory" >&2
# mem_sample PID FILE: the largest VmRSS of PID, every 50 ms, into FILE until FILE.stop exists.
mem_sample() {
    local max=0 v
    while [ ! -e "$2.stop" ]; do
        v=$(bench_rss_kib "$1")
        [ "$v" -gt "$max" ] && max=$v
        echo "$max" >"$2"
        sleep 0.05
    done
}
# The rule cache is filled first by a separate process (another checkout may have changed the
# rules since the run began), so that compiling is no part of what the instance holds or does.
start_mem_warden() { # NAME PORT
    "$build/warden" scan-prompt --text "hello" >/dev/null 2>&1 || true
    wstart "$1" "$2"
    sleep 1
}
# Idle keep-alive connections (each has answered one GET /healthz).
start_mem_warden mem_idle $((base + 5))
wpid=$LAST_PID
idle_kib=$(bench_rss_kib "$wpid")
"$stream" idle "127.0.0.1:$((base + 5))" -n "$n_idle" >"$TMP/idle.out" 2>&1 &
cpid=$!
for _ in $(seq 600); do grep -q '^idle ' "$TMP/idle.out" && break; sleep 0.1; done
sleep 1
conns_kib=$(bench_rss_kib "$wpid")
idle_res=$(grep '^idle ' "$TMP/idle.out" || echo "idle ok=0 failed=$n_idle")
kill -TERM "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
sleep 2
conns_after_kib=$(bench_rss_kib "$wpid")
echo "mem idle_conns n=$n_idle $idle_res rss_idle_kib=$idle_kib rss_loaded_kib=$conns_kib rss_after_kib=$conns_after_kib" >>"$raw"
# Concurrent guarded streams, each about 1 s (events 20 ms apart).
start_mem_warden mem_streams $((base + 6))
wpid=$LAST_PID
idle_kib=$(bench_rss_kib "$wpid")
mem_sample "$wpid" "$TMP/peak" &
spid=$!
res=$("$stream" stream "127.0.0.1:$((base + 6))" -n "$n_streams" -c "$n_streams" -s "$long_script" \
    -b 2048 -t 60 --stall-ms "$stall_ms") || note "$n_streams concurrent guarded streams: failures or stalls"
touch "$TMP/peak.stop"
wait "$spid" 2>/dev/null || true
peak_kib=$(cat "$TMP/peak")
sleep 2
after2_kib=$(bench_rss_kib "$wpid")
# "After the load" is once the upstream connections it left in the pool for reuse have timed
# out (limits.upstream_idle_timeout, 4 s by default) and the worker has trimmed its heap (1 s
# later); the 2 s reading, pool still open, is reported beside it.
sleep 5
after_kib=$(bench_rss_kib "$wpid")
echo "mem streams n=$n_streams $res rss_idle_kib=$idle_kib rss_loaded_kib=$peak_kib rss_after2_kib=$after2_kib rss_after_kib=$after_kib" >>"$raw"

# --- the guards alone, one core --------------------------------------------------------------
echo "bench: guards alone" >&2
if [ "$smoke" = 1 ]; then # every 20th row of each set: the smoke only proves the figures come out
    mkdir "$TMP/eval"
    for f in prompts-dev pii-dev secrets-dev; do
        awk 'NR % 20 == 0' "$eval_dir/$f.jsonl" >"$TMP/eval/$f.jsonl"
    done
    eval_dir=$TMP/eval
fi
"$build/tests/bench/bench_prompt" "$eval_dir/prompts-dev.jsonl" "$guard_rounds" >"$TMP/bench_prompt.out" 2>&1 ||
    note "bench_prompt failed: $(tail -n 1 "$TMP/bench_prompt.out")"
"$build/tests/bench/bench_output" "$eval_dir" "$guard_rounds" >"$TMP/bench_output.out" 2>&1 ||
    note "bench_output failed: $(tail -n 1 "$TMP/bench_output.out")"

# --- report ---------------------------------------------------------------------------------
{
    echo "meta date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "meta commit $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "meta dirty $(git -C "$root" status --porcelain 2>/dev/null | wc -l)"
    echo "meta nproc $(nproc)"
    echo "meta cpu $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "meta kernel $(uname -sr)"
    echo "meta loadavg_end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "meta rules $(sed -n 's/.*"event":"\(prompt\|output\)_rules_loaded","rules":\([0-9]*\),"rule_set":"\([^"]*\)".*/\1 \2 \3/p' "$TMP/mem_streams.err" | tr '\n' ' ')"
    echo "meta wrk $(wrk -v 2>&1 | head -n 1)"
    echo "meta nginx $(nginx -v 2>&1)"
    echo "meta warden $("$build/warden" version 2>&1 | head -n 1)"
    echo "meta mode $([ "$smoke" = 1 ] && echo smoke || echo full)"
    echo "meta rounds $rounds"
    echo "meta secs $secs"
    echo "meta workers $workers"
    echo "meta warden_flags ${warden_common[*]} (guards off: ${guards_off[*]})"
    echo "meta workload POST $path, ${#prompt} B user prompt, ~1 KiB answer (x-mock-script text=), wrk 1 thread"
} >>"$raw"
report=(python3 "$root/tests/bench/report.py" "$raw" "$TMP/bench_prompt.out" "$TMP/bench_output.out" "$out")
[ "$smoke" = 0 ] || report+=(--smoke)
"${report[@]}"
