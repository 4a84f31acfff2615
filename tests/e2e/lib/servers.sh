# Shared by the end-to-end shell tests (source it after setting NAME, the script's name for
# messages): a temporary directory, servers started in this shell and stopped on exit,
# "ok"/"FAIL" lines. With E2E_STRICT_EXIT=1 a server that exits with an error on SIGTERM
# fails the run too.
TMP=$(mktemp -d)
PIDS=()
fail=0

e2e_cleanup() {
    local rc=$? p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
        if ! wait "$p" 2>/dev/null && [ "${E2E_STRICT_EXIT:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
            echo "$NAME: pid $p exited with an error" >&2
            rc=1
        fi
    done
    [ "$rc" -ne 0 ] && tail -n 20 "$TMP"/*.err >&2 2>/dev/null
    rm -rf "$TMP"
    exit "$rc"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

check() { # NAME CONDITION-RESULT DETAIL
    if [ "$2" = 0 ]; then echo "ok   - $1"; else echo "FAIL - $1: $3"; fail=1; fi
}

# start NAME SED_EXPR FILE CMD...: start a server in this shell (its pid goes to PIDS, and
# LAST_PID) and set PORT to the port SED_EXPR finds in $TMP/NAME.FILE (out or err).
start() {
    local name=$1 expr=$2 file=$3
    shift 3
    PORT=
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for _ in $(seq 1 100); do
        PORT=$(sed -n "$expr" "$TMP/$name.$file" | head -n 1)
        [ -n "$PORT" ] && break
        kill -0 "$LAST_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "$NAME: $name did not start" >&2; exit 1; }
}

MOCK_PORT_EXPR='s/^listening 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p'
WARDEN_PORT_EXPR='s/.*"event":"listening".*"port":\([0-9][0-9]*\).*/\1/p'
