# Building blocks of the benchmark scripts (run.sh, proxy.sh, listener.sh); source it.
# shellcheck shell=bash
# Servers are started by the caller (which owns their pids); these functions write
# configurations, wait for readiness, drive wrk and read memory.

# bench_need TOOL...: exit 2 naming the package when a tool is missing.
bench_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || {
            echo "bench: $t missing: deploy/install-deps.sh --tests (apt-get install wrk nginx-light curl)" >&2
            exit 2
        }
    done
}

# bench_nginx_conf DIR WORKERS PORT UPSTREAM_PORT: writes DIR/nginx.conf for `nginx -c
# DIR/nginx.conf -p DIR`. With UPSTREAM_PORT, proxy_pass to 127.0.0.1:UPSTREAM_PORT with upstream
# keep-alive and no buffering (what a streaming LLM proxy needs); with "healthz", a fixed 200
# answer on /healthz.
bench_nginx_conf() {
    local dir=$1 workers=$2 port=$3 up=$4 upstream="" location
    if [ "$up" = healthz ]; then
        location='location = /healthz { default_type application/json; return 200 '"'"'{"status":"ok"}'"'"'; }'
    else
        upstream="upstream mock { server 127.0.0.1:$up; keepalive 512; }"
        location='location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
        }'
    fi
    cat >"$dir/nginx.conf" <<NGX
worker_processes $workers;
worker_rlimit_nofile 65536;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx.err warn;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_buffer_size 64k;
    $upstream
    server {
        listen 127.0.0.1:$port reuseport;
        $location
    }
}
NGX
}

# bench_post_lua FILE BODY [SCRIPT]: a wrk script posting BODY as JSON (BODY has no single
# quote), with the mock upstream's x-mock-script: SCRIPT when given.
bench_post_lua() {
    {
        echo 'wrk.method = "POST"'
        echo "wrk.body = '$2'"
        echo 'wrk.headers["Content-Type"] = "application/json"'
        echo 'wrk.headers["Authorization"] = "Bearer sk-bench"'
        [ -z "${3:-}" ] || echo "wrk.headers[\"x-mock-script\"] = \"$3\""
    } >"$1"
}

# bench_wait_ready URL [BODY] [TRIES]: polls every 0.1 s until URL answers 2xx (a POST of BODY
# as JSON when given); returns 1 when it never does. Warden compiles its rules first when they
# are not cached.
bench_wait_ready() {
    local _
    for _ in $(seq "${3:-300}"); do
        if [ -n "${2:-}" ]; then
            curl -sf -o /dev/null -H 'content-type: application/json' -d "$2" "$1" && return 0
        else
            curl -sf -o /dev/null "$1" && return 0
        fi
        sleep 0.1
    done
    return 1
}

# bench_wrk OUT CONNS SECS URL [LUA]: one wrk run (1 thread), its output kept in OUT; prints
# "RPS P50_US P99_US ERRORS" (ERRORS: socket errors, timeouts and non-2xx answers).
bench_wrk() {
    local out=$1 conns=$2 secs=$3 url=$4 lua=${5:-}
    local args=(-t 1 -c "$conns" -d "${secs}s" --latency)
    [ -z "$lua" ] || args+=(-s "$lua")
    wrk "${args[@]}" "$url" >"$out" 2>&1 || true
    awk '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; return v * 1000000 }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = us($2) }
        $1 == "99%" { p99 = us($2) }
        /Socket errors/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx/ { err += $NF }
        END { printf "%s %d %d %d\n", (rps == "" ? 0 : rps), p50, p99, err }' "$out"
}

# bench_rss_kib PID: resident memory of PID in KiB (VmRSS), 0 when it is gone.
bench_rss_kib() {
    local kib
    kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true)
    echo "${kib:-0}"
}
