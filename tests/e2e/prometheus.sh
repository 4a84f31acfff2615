#!/usr/bin/env bash
# Prometheus end to end: warden's /metrics passes `promtool check metrics`, and a real
# Prometheus server (Debian package, loopback only, temporary data directory) scrapes it and
# answers a query for a counter with the value the test drove.
# usage: prometheus.sh MOCK_BINARY WARDEN_BINARY   (exit 77 = skipped: no prometheus)
set -u
MOCK=${1:?usage: prometheus.sh MOCK WARDEN}
WARDEN=${2:?usage: prometheus.sh MOCK WARDEN}
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    echo "prometheus.sh: prometheus/promtool not installed (deploy/install-deps.sh --tests): skipped"
    exit 77
fi
NAME=prometheus.sh
. "$HERE/lib/servers.sh"

start mock "$MOCK_PORT_EXPR" out "$MOCK" --listen 127.0.0.1:0
MOCK_URL=http://127.0.0.1:$PORT
start warden "$WARDEN_PORT_EXPR" err \
    "$WARDEN" serve --listen 127.0.0.1:0 --workers 2 --set log.format=json \
    --set "prompt_guard.rules_dir=$HERE/rules" --upstream "openai=$MOCK_URL" \
    --upstream "anthropic=$MOCK_URL"
W=http://127.0.0.1:$PORT

# Traffic: 3 chat completions (one streamed, with usage), 1 Anthropic message, 1 bad body.
post() { curl -s -o /dev/null -w '%{http_code}' "$W$1" -H 'content-type: application/json' -d "$2"; }
for i in 1 2; do
    post /v1/chat/completions '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}' >/dev/null
done
post /v1/chat/completions '{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"count to three"}]}' >/dev/null
post /v1/messages '{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' >/dev/null
code=$(post /v1/chat/completions '{"model":"gpt-4o-mini","messages":[')
check "a broken body is a 400" "$([ "$code" = 400 ]; echo $?)" "got $code"

curl -s "$W/metrics" >"$TMP/metrics.txt"
promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.err" 2>&1
check "promtool check metrics accepts /metrics" $? "$(cat "$TMP/promtool.err")"
grep -q '^warden_requests_total{route="/v1/chat/completions",upstream="openai",tenant="default",code="200"} 3$' "$TMP/metrics.txt"
check "warden_requests_total counts the chat completions" $? "$(grep '^warden_requests_total' "$TMP/metrics.txt")"
grep -q '^gen_ai_client_token_usage_count{gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="claude-haiku-4-5",gen_ai_response_model="claude-haiku-4-5",gen_ai_token_type="output",server_address="127.0.0.1"} 1$' "$TMP/metrics.txt"
check "token usage from an Anthropic answer" $? "$(grep '^gen_ai_client_token_usage_count' "$TMP/metrics.txt")"
grep -q '^gen_ai_client_operation_time_to_first_chunk_seconds_count{.*gen_ai_request_model="gpt-4o-mini".*} 1$' "$TMP/metrics.txt"
check "time to first chunk of the stream" $? "$(grep 'time_to_first_chunk_seconds_count' "$TMP/metrics.txt")"

# A real Prometheus scrapes warden every second; the query API must see the counter.
PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: warden
    static_configs:
      - targets: ['127.0.0.1:${W##*:}']
YML
promtool check config "$TMP/prometheus.yml" >/dev/null 2>&1
check "the scrape configuration is valid" $? "promtool check config failed"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
    --web.listen-address="127.0.0.1:$PPORT" >"$TMP/prometheus.out" 2>"$TMP/prometheus.err" &
PIDS+=($!)
q='sum(warden_requests_total{upstream="openai",code="200"})'
value=
for _ in $(seq 1 60); do
    value=$(curl -s --get "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$q" |
        python3 -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")' 2>/dev/null)
    [ -n "$value" ] && break
    sleep 0.5
done
check "Prometheus scraped warden and answers the query" "$([ "$value" = 3 ]; echo $?)" "got '$value'"
up=$(curl -s --get "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode 'query=up{job="warden"}' |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
check "the scrape target is up" "$([ "$up" = 1 ]; echo $?)" "up=$up"
exit $fail
