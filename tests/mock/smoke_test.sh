#!/usr/bin/env bash
# Smoke test of the mock upstream with curl: JSON, SSE, scripts, chunking, reset, records,
# reply outcomes.
set -u

MOCK=${1:?usage: smoke_test.sh PATH/TO/mock_upstream}
TMP=$(mktemp -d)
MOCK_PID=
FAILS=0
CHECKS=0

cleanup() {
    if [ -n "$MOCK_PID" ] && kill -0 "$MOCK_PID" 2>/dev/null; then
        kill -TERM "$MOCK_PID" 2>/dev/null
        wait "$MOCK_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

ok() { CHECKS=$((CHECKS + 1)); echo "ok   - $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL - $1"; }
# check NAME COMMAND...: passes when the command succeeds
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
has() { grep -qF -- "$2" "$1"; }
count() { grep -cF -- "$2" "$1"; }

"$MOCK" --listen 127.0.0.1:0 --record "$TMP/record.jsonl" >"$TMP/stdout" 2>"$TMP/stderr" &
MOCK_PID=$!
PORT=
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$TMP/stdout" 2>/dev/null)
    [ -n "$PORT" ] && break
    kill -0 "$MOCK_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    echo "mock did not print 'listening 127.0.0.1:PORT'"
    cat "$TMP/stdout" "$TMP/stderr"
    exit 1
fi
U="http://127.0.0.1:$PORT"
C=(curl -sS --max-time 20)
echo "mock listening on $U"

# 1. OpenAI chat, whole JSON: model echoed, default text echoes the user's words
"${C[@]}" -o "$TMP/chat.json" -w '%{http_code}' "$U/v1/chat/completions" \
    -H 'content-type: application/json' -H 'authorization: Bearer sk-smoke' \
    -d '{"model":"gpt-smoke","messages":[{"role":"user","content":"smoke words"}]}' >"$TMP/code"
check "chat JSON status 200" has "$TMP/code" 200
check "chat JSON echoes model" has "$TMP/chat.json" '"model":"gpt-smoke"'
check "chat JSON default text" has "$TMP/chat.json" '"content":"Hello from mock: smoke words"'
check "chat JSON usage" has "$TMP/chat.json" '"completion_tokens":5'

# 2. OpenAI chat, SSE with usage: one delta per word, usage chunk, [DONE]
"${C[@]}" -N -o "$TMP/chat.sse" "$U/v1/chat/completions" \
    -d '{"model":"gpt-smoke","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a b"}]}'
check "SSE has 5 content deltas" test "$(count "$TMP/chat.sse" '"delta":{"content":')" -eq 5
check "SSE usage chunk" has "$TMP/chat.sse" '"choices":[],"usage":{"prompt_tokens":'
check "SSE ends with [DONE]" test "$(tail -c 16 "$TMP/chat.sse" | tr -d '\n')" = "data: [DONE]"

# 3. scripted errors in each provider's shape, from the header and from the queue
"${C[@]}" -o "$TMP/e429.json" -w '%{http_code}' -H 'x-mock-script: status=429' \
    "$U/v1/chat/completions" -d '{}' >"$TMP/code"
check "status=429 gives 429" has "$TMP/code" 429
check "429 OpenAI error shape" has "$TMP/e429.json" '"code":"rate_limit_exceeded"'
"${C[@]}" -o "$TMP/a429.json" -w '%{http_code}' -H 'x-mock-script: status=429' \
    "$U/v1/messages" -d '{}' >"$TMP/code"
check "Anthropic 429 shape" has "$TMP/a429.json" '{"type":"error","error":{"type":"rate_limit_error"'
"${C[@]}" -o /dev/null "$U/__mock/script" --data-binary 'status=500;error_message=queued%20boom'
"${C[@]}" -o "$TMP/q500.json" -w '%{http_code}' "$U/v1/chat/completions" -d '{}' >"$TMP/code"
check "queued status=500" has "$TMP/code" 500
check "queued error message decoded" has "$TMP/q500.json" '"message":"queued boom"'
"${C[@]}" -o "$TMP/after.json" -w '%{http_code}' "$U/v1/chat/completions" -d '{}' >"$TMP/code"
check "queue consumed once" has "$TMP/code" 200
"${C[@]}" -o "$TMP/typo.json" -w '%{http_code}' -H 'x-mock-script: stauts=500' \
    "$U/v1/chat/completions" -d '{}' >"$TMP/code"
check "unknown script key is 400" has "$TMP/code" 400
check "unknown key named" has "$TMP/typo.json" "unknown key 'stauts'"

# 4. chunk + delay changes timing only: same bytes as an unscripted stream (after reset)
REQ='{"model":"m","stream":true,"messages":[{"role":"user","content":"same bytes"}]}'
"${C[@]}" -o /dev/null -X POST "$U/__mock/reset"
"${C[@]}" -N -o "$TMP/plain.sse" "$U/v1/chat/completions" -d "$REQ"
"${C[@]}" -o /dev/null -X POST "$U/__mock/reset"
START=$(date +%s%N)
"${C[@]}" -N -o "$TMP/chunked.sse" -H 'x-mock-script: chunk=7;delay_ms=2' \
    "$U/v1/chat/completions" -d "$REQ"
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
check "chunk=7;delay_ms=2 bytes identical" cmp -s "$TMP/plain.sse" "$TMP/chunked.sse"
# every 7-byte piece waits 2 ms: the stream cannot arrive faster than that
PIECES=$(($(wc -c <"$TMP/chunked.sse") / 7))
check "chunk pieces were delayed (${ELAPSED_MS} ms for ~${PIECES} pieces)" \
    test "$ELAPSED_MS" -ge "$((PIECES * 2))"

# 5. reset_after=2: two events, then a TCP reset (curl exit 56: recv failure)
"${C[@]}" -N -o "$TMP/reset.sse" -H 'x-mock-script: reset_after=2' \
    "$U/v1/chat/completions" -d "$REQ" 2>/dev/null
RC=$?
check "reset_after gives a connection reset (curl rc=$RC)" test "$RC" -eq 56
check "reset_after=2 delivered 2 events" test "$(count "$TMP/reset.sse" 'data: ')" -eq 2

# 6. Anthropic SSE event sequence and text override
"${C[@]}" -N -o "$TMP/msg.sse" -H 'x-mock-script: text=x%3By%20z;events=3' "$U/v1/messages" \
    -d '{"model":"claude-smoke","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"q"}]}'
EVENTS=$(grep '^event: ' "$TMP/msg.sse" | tr '\n' ' ')
check "Anthropic event order" test "$EVENTS" = "event: message_start event: content_block_start event: ping event: content_block_delta event: content_block_delta event: content_block_delta event: content_block_stop event: message_delta event: message_stop "
check "Anthropic usage" has "$TMP/msg.sse" '"usage":{"output_tokens":3}'

# 7. unknown path: OpenAI-shaped 404
"${C[@]}" -o "$TMP/404.json" -w '%{http_code}' "$U/v2/nothing" >"$TMP/code"
check "unknown path is 404" has "$TMP/code" 404
check "404 OpenAI shape" has "$TMP/404.json" '{"error":{"message":"mock: unknown path GET /v2/nothing"'

# 8. records: in order, lowercase header names, body kept; chunked request body decoded
"${C[@]}" -o /dev/null -X POST "$U/__mock/reset"
"${C[@]}" -o /dev/null -H 'Transfer-Encoding: chunked' -H 'X-Api-Key: sk-ant-smoke' \
    "$U/v1/messages" -d '{"model":"rec-model","messages":[{"role":"user","content":"rec"}]}'
"${C[@]}" -o /dev/null "$U/v1/embeddings" -d '{"model":"e","input":["a","b"]}'
"${C[@]}" -o "$TMP/records.json" "$U/__mock/requests"
check "two records" test "$(grep -o '"seq":' "$TMP/records.json" | wc -l)" -eq 2
check "record path" has "$TMP/records.json" '"path":"/v1/messages"'
check "record lowercase header" has "$TMP/records.json" '"x-api-key":"sk-ant-smoke"'
check "record chunked body" has "$TMP/records.json" '"body":"{\"model\":\"rec-model\"'
check "record order" test "$(grep -o '"path":"[^"]*"' "$TMP/records.json" | tr '\n' ' ')" = '"path":"/v1/messages" "path":"/v1/embeddings" '
check "record file has all 14 requests" test "$(wc -l <"$TMP/record.jsonl")" -eq 14

# 9. each record's "response": how the reply ended (records are one per line)
# response_of SEQ: the response field of record SEQ, or nothing
response_of() {
    "${C[@]}" "$U/__mock/requests" | grep "^\[\{0,1\}{\"seq\":$1," |
        sed -n 's/.*"response":"\([a-z_]*\)"}.*/\1/p'
}
# wait_response SEQ: polls up to 3 s until record SEQ is no longer pending; prints it
wait_response() {
    local r=
    for _ in $(seq 1 60); do
        r=$(response_of "$1")
        [ -n "$r" ] && [ "$r" != pending ] && break
        sleep 0.05
    done
    echo "$r"
}
"${C[@]}" -o /dev/null -X POST "$U/__mock/reset"
"${C[@]}" -o /dev/null "$U/v1/chat/completions" -d '{}'
check "whole reply: response complete" test "$(wait_response 1)" = complete
# the client hangs up mid-stream: the mock's next writes fail
curl -sS -N --max-time 0.5 -o /dev/null -H 'x-mock-script: events=20;delay_ms=100' \
    "$U/v1/chat/completions" -d "$REQ" 2>/dev/null
R=$(wait_response 2)
check "client gone mid-stream: response client_closed (got $R)" test "$R" = client_closed
# the client hangs up before the first byte: the mock sees EOF, then a reset on its write
curl -sS --max-time 0.3 -o /dev/null -H 'x-mock-script: first_byte_ms=600' \
    "$U/v1/chat/completions" -d '{}' 2>/dev/null
R=$(wait_response 3)
check "client gone before the first byte: response client_closed (got $R)" test "$R" = client_closed
"${C[@]}" -N -o /dev/null -H 'x-mock-script: reset_after=1' "$U/v1/chat/completions" -d "$REQ" \
    2>/dev/null
check "reset_after: response reset" test "$(wait_response 4)" = reset
# a reply still waiting for its first byte is pending, then complete
"${C[@]}" -o "$TMP/slow.json" -H 'x-mock-script: first_byte_ms=700' "$U/v1/chat/completions" \
    -d '{}' &
SLOW_PID=$!
sleep 0.3
check "reply being written: response pending" test "$(response_of 5)" = pending
wait "$SLOW_PID"
check "slow reply delivered" has "$TMP/slow.json" '"object":"chat.completion"'
check "slow reply: response complete" test "$(wait_response 5)" = complete
check "record file has the outcome" has "$TMP/record.jsonl" '"response":"client_closed"}'

# 10. SIGTERM: clean exit (ASan builds would report leaks here)
kill -TERM "$MOCK_PID"
for _ in $(seq 1 50); do kill -0 "$MOCK_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MOCK_PID" 2>/dev/null; then
    bad "mock exits on SIGTERM"
else
    wait "$MOCK_PID"
    RC=$?
    check "mock exit status 0 on SIGTERM (got $RC)" test "$RC" -eq 0
fi
MOCK_PID=
if [ -s "$TMP/stderr" ]; then
    echo "mock stderr:"
    cat "$TMP/stderr"
fi

echo "$((CHECKS - FAILS)) passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
