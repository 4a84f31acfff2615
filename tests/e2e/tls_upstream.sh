#!/usr/bin/env bash
# TLS end to end: client -> warden -> (TLS) -> warden with a TLS listener -> mock upstream.
# A test CA, a certificate for localhost/127.0.0.1, an untrusted CA and a certificate for the
# wrong name are made with openssl at test time. Checks: the official SDK cases pass over the
# TLS hop; an untrusted CA and a name mismatch are each a 502 whose message says why.
# usage: tls_upstream.sh MOCK_BINARY WARDEN_BINARY
set -u
MOCK=${1:?usage: tls_upstream.sh MOCK WARDEN}
WARDEN=${2:?usage: tls_upstream.sh MOCK WARDEN}
HERE=$(cd "$(dirname "$0")" && pwd)
NAME=tls_upstream.sh
E2E_STRICT_EXIT=1
. "$HERE/lib/servers.sh"

# ---- certificates
cd "$TMP" || exit 1
ossl() { openssl "$@" >/dev/null 2>&1 || { echo "openssl $1 failed" >&2; exit 1; }; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Warden Test CA" -keyout ca.key -out ca.crt
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Untrusted CA" -keyout bad-ca.key -out bad-ca.crt
mkcert() { # NAME SAN
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" >"$1.ext"
    ossl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
    ossl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.crt"
}
mkcert localhost "DNS:localhost,IP:127.0.0.1"
mkcert wrong.test "DNS:wrong.test"
cd - >/dev/null || exit 1

warden() { # NAME ARGS...: a warden on a free port, JSON logs, the small e2e rule set; the
    # output guard (which re-cuts deltas) is off: these cases check the TLS hop event for event
    local name=$1
    shift
    start "$name" "$WARDEN_PORT_EXPR" err "$WARDEN" serve --listen 127.0.0.1:0 --workers 1 \
        --set log.format=json --set "prompt_guard.rules_dir=$HERE/rules" \
        --set output_guard.enabled=false "$@"
}

start mock "$MOCK_PORT_EXPR" out "$MOCK" --listen 127.0.0.1:0
MOCK_URL=http://127.0.0.1:$PORT
warden front --set "tls.cert=$TMP/localhost.crt" --set "tls.key=$TMP/localhost.key" \
    --upstream "openai=$MOCK_URL" --upstream "anthropic=$MOCK_URL"
FRONT=$PORT
warden wrong --set "tls.cert=$TMP/wrong.test.crt" --set "tls.key=$TMP/wrong.test.key" \
    --upstream "openai=$MOCK_URL"
WRONG=$PORT
warden good --ca-file "$TMP/ca.crt" --upstream "openai=https://localhost:$FRONT" \
    --upstream "anthropic=https://localhost:$FRONT"
GOOD=$PORT
warden untrusted --ca-file "$TMP/bad-ca.crt" --upstream "openai=https://localhost:$FRONT"
UNTRUSTED=$PORT
warden mismatch --ca-file "$TMP/ca.crt" --upstream "openai=https://localhost:$WRONG"
MISMATCH=$PORT

body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
post() { # PORT OUTFILE: POST a chat completion, print the status code
    curl -s -o "$2" -w '%{http_code}' -H 'content-type: application/json' -d "$body" \
        "http://127.0.0.1:$1/v1/chat/completions"
}

code=$(post "$GOOD" "$TMP/good.json")
check "chat completion over the TLS hop" "$([ "$code" = 200 ] && grep -q chat.completion "$TMP/good.json"; echo $?)" "status $code: $(cat "$TMP/good.json")"

code=$(post "$UNTRUSTED" "$TMP/untrusted.json")
check "untrusted CA is a 502 that says why" \
    "$([ "$code" = 502 ] && grep -qi 'certificate' "$TMP/untrusted.json" && grep -q '"code":"upstream_unreachable"' "$TMP/untrusted.json"; echo $?)" \
    "status $code: $(cat "$TMP/untrusted.json")"

code=$(post "$MISMATCH" "$TMP/mismatch.json")
check "name mismatch is a 502 that says why" \
    "$([ "$code" = 502 ] && grep -qiE 'name|match' "$TMP/mismatch.json"; echo $?)" \
    "status $code: $(cat "$TMP/mismatch.json")"

# Client connections that close after each request: the upstream TLS connections stay
# pooled and every request passes.
ok=0
for _ in $(seq 1 20); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'connection: close' -H 'content-type: application/json' \
        -d "$body" "http://127.0.0.1:$GOOD/v1/chat/completions")" = 200 ] && ok=$((ok + 1))
done
check "20 requests over pooled TLS connections" "$([ "$ok" = 20 ]; echo $?)" "$ok of 20"

# The official SDKs over the TLS hop: every SDK case of the suite (the warden-specific
# cases need tests/e2e/warden-e2e.yaml and skip themselves here).
if node "$HERE/run.mjs" --base-url "http://127.0.0.1:$GOOD" --mock "$MOCK_URL" >"$TMP/sdk.out" 2>&1; then
    check "SDK suite over the TLS hop ($(tail -n 1 "$TMP/sdk.out"))" 0 ""
else
    check "SDK suite over the TLS hop" 1 "$(grep -E '^FAIL|passed' "$TMP/sdk.out")"
fi

[ "$fail" = 0 ] && echo "all TLS checks passed"
exit "$fail"
