#!/usr/bin/env bash
# Runs the SDK end-to-end cases against the mock upstream, directly or with warden in between.
# usage: run_e2e.sh MOCK_BINARY [--warden WARDEN_BINARY] [run.mjs options...]
#
# With --warden, warden runs with warden-e2e.yaml (beside this script) and --upstream flags for
# the mock's port, and the cases see WARDEN_PID and WARDEN_URL in their environment.
set -u

MOCK=${1:?usage: run_e2e.sh MOCK_BINARY [--warden WARDEN_BINARY] [run.mjs options...]}
shift
WARDEN=
if [ "${1:-}" = "--warden" ]; then
    WARDEN=${2:?--warden needs the warden binary}
    shift 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1; then
    echo "run_e2e.sh: node (20+) is not installed" >&2
    exit 1
fi
if [ ! -d "$HERE/node_modules/openai" ] || [ ! -d "$HERE/node_modules/@anthropic-ai/sdk" ]; then
    echo "run_e2e.sh: $HERE/node_modules is missing: run 'npm ci' in tests/e2e first" >&2
    exit 1
fi

TMP=$(mktemp -d)
PIDS=()
NAMES=()
# Stops the servers, warden first; one that crashed, leaked (sanitizer exit status) or did
# not stop within 10 s fails the run too.
cleanup() {
    local rc=$? i j src
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[$i]}" 2>/dev/null
        for ((j = 0; j < 100; j++)); do
            kill -0 "${PIDS[$i]}" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "${PIDS[$i]}" 2>/dev/null; then
            echo "run_e2e.sh: ${NAMES[$i]} did not stop within 10 s of SIGTERM" >&2
            kill -KILL "${PIDS[$i]}" 2>/dev/null
            rc=1
        fi
        wait "${PIDS[$i]}" 2>/dev/null
        src=$?
        if [ "$src" -ne 0 ] && [ "$rc" -eq 0 ]; then
            echo "run_e2e.sh: ${NAMES[$i]} exited with status $src" >&2
            rc=1
        fi
        if [ "$rc" -ne 0 ] && [ -s "$TMP/${NAMES[$i]}.err" ]; then
            echo "--- ${NAMES[$i]} stderr (last 50 lines) ---" >&2
            tail -n 50 "$TMP/${NAMES[$i]}.err" >&2
        fi
    done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME SED_EXPR FILE CMD...: runs CMD in the background (a child of this shell, so
# cleanup can stop it and read its exit status) and waits until SED_EXPR finds its port in
# $TMP/NAME.FILE. Sets PORT and LAST_PID.
start() {
    local name=$1 expr=$2 file=$3
    shift 3
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    NAMES+=("$name")
    PORT=
    for _ in $(seq 1 100); do
        PORT=$(sed -n "$expr" "$TMP/$name.$file" 2>/dev/null | head -n 1)
        [ -n "$PORT" ] && break
        kill -0 "$LAST_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$PORT" ]; then
        echo "run_e2e.sh: $name did not start" >&2
        return 1
    fi
}

start mock 's/^listening 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' out \
    "$MOCK" --listen 127.0.0.1:0 || exit 1
MPORT=$PORT
BASE=http://127.0.0.1:$MPORT
unset WARDEN_PID WARDEN_URL
if [ -n "$WARDEN" ]; then
    export WARDEN_E2E_KEY=sk-from-warden-env
    start warden 's/.*"event":"listening".*"port":\([0-9][0-9]*\).*/\1/p' err \
        "$WARDEN" serve --config "$HERE/warden-e2e.yaml" --listen 127.0.0.1:0 --workers 2 \
        --set log.format=json --set "prompt_guard.rules_dir=$HERE/rules" \
        --upstream "openai=$BASE" --upstream "anthropic=$BASE" --upstream "keyed=$BASE/base" \
        ${WARDEN_E2E_ARGS:-} ||
        exit 1
    BASE=http://127.0.0.1:$PORT
    export WARDEN_PID=$LAST_PID WARDEN_URL=$BASE
fi

node "$HERE/run.mjs" --base-url "$BASE" --mock "http://127.0.0.1:$MPORT" "$@"
exit $?
