#!/usr/bin/env bash
# Runs the SDK end-to-end cases directly against the mock upstream (no warden in between).
set -u

MOCK=${1:?usage: run_against_mock.sh PATH/TO/mock_upstream [run.mjs options...]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1; then
    echo "run_against_mock.sh: node (20+) is not installed" >&2
    exit 1
fi
if [ ! -d "$HERE/node_modules/openai" ] || [ ! -d "$HERE/node_modules/@anthropic-ai/sdk" ]; then
    echo "run_against_mock.sh: $HERE/node_modules is missing: run 'npm ci' in tests/e2e first" >&2
    exit 1
fi

TMP=$(mktemp -d)
MOCK_PID=
# Stops the mock; a mock that crashed or leaked (sanitizer exit status) fails the run too.
cleanup() {
    local rc=$? mrc=0
    if [ -n "$MOCK_PID" ]; then
        kill -TERM "$MOCK_PID" 2>/dev/null
        wait "$MOCK_PID" 2>/dev/null
        mrc=$?
    fi
    if [ -s "$TMP/stderr" ]; then
        echo "--- mock_upstream stderr ---" >&2
        cat "$TMP/stderr" >&2
    fi
    rm -rf "$TMP"
    if [ "$mrc" -ne 0 ] && [ "$rc" -eq 0 ]; then
        echo "run_against_mock.sh: mock_upstream exited with status $mrc" >&2
        rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$MOCK" --listen 127.0.0.1:0 >"$TMP/stdout" 2>"$TMP/stderr" &
MOCK_PID=$!
PORT=
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$TMP/stdout")
    [ -n "$PORT" ] && break
    kill -0 "$MOCK_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    echo "run_against_mock.sh: mock_upstream did not start" >&2
    cat "$TMP/stdout" >&2
    exit 1
fi

node "$HERE/run.mjs" --base-url "http://127.0.0.1:$PORT" --mock "http://127.0.0.1:$PORT" "$@"
exit $?
