// Cases that need warden between the clients and the mock: streaming without buffering, the
// upstream side of a client disconnect, descriptor use, error shapes, body checks, headers.
// Each checks what the client got and what the mock received (and, where it matters, whether
// the mock's reply was delivered whole: the record's `response`).
import { readdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

import { defaultText } from '../lib/expect.mjs';
import { httpRequest, rawExchange } from '../lib/http.mjs';

const MODEL = 'gpt-4o-mini';
const CLAUDE = 'claude-haiku-4-5';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The cases rely on warden-e2e.yaml (the `dead` route, a 1 s first-byte timeout, a 1 MiB body
// limit) and on warden talking to the mock directly: only the warden run_e2e.sh starts will do.
function needsWarden(ctx) {
    if (!ctx.viaProxy) ctx.skip('needs warden');
    if (ctx.wardenURL !== ctx.baseURL) ctx.skip('needs the warden run_e2e.sh starts (warden-e2e.yaml)');
}

// {"error":{"message","type","code","param"}} and nothing else.
function assertOpenAIError(assert, body, code) {
    assert.deepEqual(Object.keys(body), ['error'], `error body: ${JSON.stringify(body)}`);
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(typeof body.error.message, 'string');
    assert.ok(body.error.message.length > 0);
    assert.equal(typeof body.error.type, 'string');
    assert.equal(body.error.param, null);
    assert.equal(body.error.code, code, `error: ${JSON.stringify(body.error)}`);
}

// {"type":"error","error":{"type","message"}}.
function assertAnthropicError(assert, body) {
    assert.equal(body?.type, 'error', `error body: ${JSON.stringify(body)}`);
    assert.equal(typeof body.error?.type, 'string');
    assert.ok(body.error.type.length > 0);
    assert.equal(typeof body.error.message, 'string');
    assert.ok(body.error.message.length > 0);
}

// POST JSON text (not necessarily valid) with fetch; returns {status, headers, text}.
async function postRaw(base, path, body, headers = {}) {
    const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-e2e', ...headers },
        body,
        signal: AbortSignal.timeout(10000),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
}

// The mock must not have recorded any request (give a forwarded head time to turn into one).
async function assertNothingUpstream(assert, mock) {
    await sleep(100);
    const all = await mock.requests();
    assert.deepEqual(
        all.map((r) => `${r.method} ${r.path} (${r.body_bytes} body bytes)`),
        [],
        'the mock received a request warden should have stopped',
    );
}

// Arrival times (ms) of the text deltas of an OpenAI chat stream.
async function openaiDeltaTimes(stream) {
    const out = [];
    for await (const chunk of stream) {
        const d = chunk.choices[0]?.delta?.content;
        if (d) out.push({ t: performance.now(), d });
    }
    return out;
}

async function anthropicDeltaTimes(stream) {
    const out = [];
    for await (const ev of stream) {
        if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
            out.push({ t: performance.now(), d: ev.delta.text });
        }
    }
    return out;
}

// The three deltas of SLOW3, in order, the first well before the last (not delivered at once).
function assertSpread(assert, got) {
    assert.equal(got.map((x) => x.d).join(''), 'alpha beta gamma');
    assert.equal(got.length, 3);
    const gap = got[2].t - got[0].t;
    assert.ok(gap >= 200, `first delta only ${gap.toFixed(0)} ms before the last (sent 300 ms apart)`);
}

// Three deltas, 150 ms before every SSE event: the first and the last delta leave the mock
// 300 ms apart. A proxy that buffers the stream delivers them together.
const SLOW3 = `text=${encodeURIComponent('alpha beta gamma')};events=3;delay_ms=150`;

export const cases = [
    {
        name: 'proxy openai stream arrives incrementally',
        async run(ctx) {
            needsWarden(ctx);
            const { openai, mock, assert } = ctx;
            const stream = await openai.chat.completions.create(
                { model: MODEL, messages: [{ role: 'user', content: 'timing' }], stream: true },
                { headers: { 'x-mock-script': SLOW3 } },
            );
            assertSpread(assert, await openaiDeltaTimes(stream));
            const r = await mock.settled(1);
            assert.equal(r.path, '/v1/chat/completions');
            assert.equal(r.response, 'complete');
        },
    },
    {
        name: 'proxy anthropic stream arrives incrementally',
        async run(ctx) {
            needsWarden(ctx);
            const { anthropic, mock, assert } = ctx;
            const stream = await anthropic.messages.create(
                { model: CLAUDE, max_tokens: 32, messages: [{ role: 'user', content: 'timing' }], stream: true },
                { headers: { 'x-mock-script': SLOW3 } },
            );
            assertSpread(assert, await anthropicDeltaTimes(stream));
            const r = await mock.settled(1);
            assert.equal(r.path, '/v1/messages');
            assert.equal(r.response, 'complete');
        },
    },
    {
        name: 'proxy client abort mid-stream closes the upstream connection',
        async run(ctx) {
            needsWarden(ctx);
            const { openai, mock, assert } = ctx;
            // 20 deltas 100 ms apart: about 2.3 s if nobody hangs up
            const stream = await openai.chat.completions.create(
                { model: MODEL, messages: [{ role: 'user', content: 'abort me please' }], stream: true },
                { headers: { 'x-mock-script': 'events=20;delay_ms=100' } },
            );
            let deltas = 0;
            for await (const chunk of stream) {
                if (chunk.choices[0]?.delta?.content) {
                    deltas++;
                    stream.controller.abort();
                    break;
                }
            }
            assert.equal(deltas, 1);
            const aborted = Date.now();
            const r = await mock.settled(1, 3000);
            assert.ok(r, 'the mock recorded no request');
            assert.equal(
                r.response,
                'client_closed',
                `upstream reply ${r.response} ${Date.now() - aborted} ms after the client left: ` +
                    'warden kept the upstream stream open',
            );
        },
    },
    {
        name: 'proxy client abort before the first byte closes the upstream connection',
        async run(ctx) {
            needsWarden(ctx);
            const { anthropic, mock, assert, Anthropic } = ctx;
            // the mock answers after 800 ms; the client gives up after 200 ms
            const ac = new AbortController();
            setTimeout(() => ac.abort(), 200);
            const err = await anthropic.messages
                .create(
                    { model: CLAUDE, max_tokens: 16, messages: [{ role: 'user', content: 'never mind' }] },
                    { headers: { 'x-mock-script': 'first_byte_ms=800' }, signal: ac.signal },
                )
                .then(() => null, (e) => e);
            assert.ok(err instanceof Anthropic.APIUserAbortError, `got ${err}`);
            const r = await mock.settled(1, 2500);
            assert.ok(r, 'the mock recorded no request');
            assert.equal(r.response, 'client_closed', 'warden read the whole reply for a client that had left');
        },
    },
    {
        name: 'proxy 1000 keep-alive requests do not leak descriptors',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert, wardenPid } = ctx;
            const fds = async () => (await readdir(`/proc/${wardenPid}/fd`)).length;
            const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'fd' }] });
            const one = async () => {
                const res = await postRaw(baseURL, '/v1/chat/completions', body);
                return res.status;
            };
            assert.equal(await one(), 200); // warm up: client and pooled upstream connection
            await sleep(100);
            const before = await fds();
            const N = 1000;
            const bad = [];
            for (let i = 0; i < N; i++) {
                const status = await one();
                if (status !== 200) bad.push(`#${i}: ${status}`);
            }
            assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${N} requests failed`);
            await sleep(200);
            const after = await fds();
            assert.ok(after - before <= 4, `warden descriptors ${before} -> ${after} over ${N} requests`);
            // the mock keeps the newest 1000 records: every one of them was a whole reply
            const last = await mock.settled(N + 1);
            assert.equal(last?.response, 'complete');
            const recs = await mock.requests();
            assert.equal(recs.length, N);
            assert.deepEqual(recs.filter((r) => r.response !== 'complete').map((r) => `${r.seq}:${r.response}`), []);
        },
    },
    {
        name: 'proxy unreachable upstream -> 502 upstream_unreachable (OpenAI shape)',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert, OpenAI } = ctx;
            const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'dead' }] });
            const res = await postRaw(baseURL, '/v1/dead/chat/completions', body);
            assert.equal(res.status, 502);
            assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
            assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
            assertOpenAIError(assert, JSON.parse(res.text), 'upstream_unreachable');
            // the same through the SDK: an APIError carrying the code
            const dead = new OpenAI({ apiKey: 'sk-test-e2e', baseURL: `${baseURL}/v1/dead`, maxRetries: 0, timeout: 5000 });
            const err = await dead.chat.completions
                .create({ model: MODEL, messages: [{ role: 'user', content: 'dead' }] })
                .then(() => null, (e) => e);
            assert.ok(err instanceof OpenAI.APIError, `got ${err}`);
            assert.equal(err.status, 502);
            assert.equal(err.code, 'upstream_unreachable');
            await assertNothingUpstream(assert, mock);
        },
    },
    {
        name: 'proxy upstream first-byte timeout -> 504 (Anthropic shape)',
        async run(ctx) {
            needsWarden(ctx);
            const { anthropic, mock, assert, Anthropic } = ctx;
            // warden waits 1 s for the first byte (warden-e2e.yaml); the mock answers after 1.6 s
            const t0 = Date.now();
            const err = await anthropic.messages
                .create(
                    { model: CLAUDE, max_tokens: 16, messages: [{ role: 'user', content: 'slow' }] },
                    { headers: { 'x-mock-script': 'first_byte_ms=1600' } },
                )
                .then(() => null, (e) => e);
            const took = Date.now() - t0;
            assert.ok(err instanceof Anthropic.APIError, `got ${err}`);
            assert.equal(err.status, 504);
            assertAnthropicError(assert, err.error);
            assert.ok(took >= 900, `504 after ${took} ms, before the first-byte timeout (1 s)`);
            // warden gave up on that upstream connection instead of pooling it
            const r = await mock.settled(1, 2500);
            assert.equal(r?.path, '/v1/messages');
            assert.equal(r.response, 'client_closed');
        },
    },
    {
        name: 'proxy upstream errors pass through byte for byte',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mockURL, mock, assert } = ctx;
            const tries = [
                {
                    path: '/v1/chat/completions',
                    script: 'status=429;error_message=slow%20down;header=retry-after:7',
                    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
                    headers: {},
                },
                {
                    path: '/v1/messages',
                    script: 'status=529',
                    body: JSON.stringify({ model: CLAUDE, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
                    headers: { 'anthropic-version': '2023-06-01' },
                },
                {
                    path: '/v1/chat/completions',
                    script: `status=502;content_type=text/html;body=${encodeURIComponent('<html>bad gateway</html>\n')}`,
                    body: '{}',
                    headers: {},
                },
            ];
            for (const t of tries) {
                const h = { ...t.headers, 'x-mock-script': t.script };
                await mock.reset(); // same request number, so the same ids in the body
                const direct = await postRaw(mockURL, t.path, t.body, h);
                await mock.reset();
                const via = await postRaw(baseURL, t.path, t.body, h);
                assert.ok(direct.status >= 400, `${t.script}: mock answered ${direct.status}`);
                assert.equal(via.status, direct.status, t.script);
                assert.equal(via.text, direct.text, t.script);
                assert.equal(via.headers.get('content-type'), direct.headers.get('content-type'), t.script);
                if (t.script.includes('retry-after')) assert.equal(via.headers.get('retry-after'), '7');
                const r = await mock.only(); // no retry behind the client's back
                assert.equal(r.path, t.path);
                assert.equal(r.body, t.body);
            }
        },
    },
    {
        name: 'proxy malformed JSON -> 400 invalid_json, nothing upstream',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert } = ctx;
            // truncated: the error is at the end of the input, line 1 column 29
            let res = await postRaw(baseURL, '/v1/chat/completions', '{"model": "x", "messages": [');
            assert.equal(res.status, 400);
            let body = JSON.parse(res.text);
            assertOpenAIError(assert, body, 'invalid_json');
            assert.match(body.error.message, /line 1, column 2[89]\b/, body.error.message);
            // a syntax error on line 2: the ']' at column 14
            res = await postRaw(baseURL, '/v1/chat/completions', '{"model": "x",\n "messages": ]}');
            assert.equal(res.status, 400);
            body = JSON.parse(res.text);
            assertOpenAIError(assert, body, 'invalid_json');
            assert.match(body.error.message, /line 2, column 1[45]\b/, body.error.message);
            // an Anthropic path answers in Anthropic's shape
            res = await postRaw(baseURL, '/v1/messages', '{"model": "x", "messages": [}', {
                'anthropic-version': '2023-06-01',
            });
            assert.equal(res.status, 400);
            body = JSON.parse(res.text);
            assertAnthropicError(assert, body);
            assert.equal(body.error.type, 'invalid_request_error');
            assert.match(body.error.message, /line 1, column \d+/, body.error.message);
            await assertNothingUpstream(assert, mock);
        },
    },
    {
        name: 'proxy body over limits.max_body_bytes -> 413, nothing upstream',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert } = ctx;
            const limit = 1024 * 1024; // warden-e2e.yaml
            // Content-Length one over the limit: refused from the head. Only the head is sent,
            // so the answer cannot lose a race with the body (the next case is about that).
            const head = (path, extra = '') =>
                `POST ${path} HTTP/1.1\r\nHost: e2e\r\nContent-Type: application/json\r\n${extra}` +
                `Content-Length: ${limit + 1}\r\n\r\n`;
            let res = await rawExchange(baseURL, head('/v1/chat/completions'));
            assert.equal(res.status, 413);
            assert.match(res.headers['content-type'] ?? '', /^application\/json/);
            assertOpenAIError(assert, JSON.parse(res.body), 'request_too_large');
            assert.match(JSON.parse(res.body).error.message, /1048576/);
            res = await rawExchange(baseURL, head('/v1/messages', 'anthropic-version: 2023-06-01\r\n'));
            assert.equal(res.status, 413);
            assertAnthropicError(assert, JSON.parse(res.body));
            // a chunked body that grows past the limit: refused when it does
            const pad = 'a'.repeat(limit);
            const big = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: pad }] });
            const stream = new ReadableStream({
                start(c) {
                    c.enqueue(new TextEncoder().encode(big));
                    c.close();
                },
            });
            const cres = await fetch(`${baseURL}/v1/chat/completions`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: stream,
                duplex: 'half',
                signal: AbortSignal.timeout(10000),
            });
            assert.equal(cres.status, 413);
            assertOpenAIError(assert, JSON.parse(await cres.text()), 'request_too_large');
            await assertNothingUpstream(assert, mock);
        },
    },
    {
        name: 'proxy 413 reaches a client still sending its body (no reset)',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert } = ctx;
            // Warden answers 413 before it has read the body. If it then closes with unread
            // bytes in the socket, the kernel resets the connection and the client, still
            // writing, gets ECONNRESET instead of the answer (RFC 9112 section 9.6: close
            // lingeringly). Several tries, because whether the reset wins is a race.
            const big = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'a'.repeat(8 << 20) }] });
            const piece = new TextEncoder().encode('a'.repeat(64 << 10));
            const chunked = () => {
                let n = 0;
                return new ReadableStream({
                    pull(c) {
                        if (n === 0) c.enqueue(new TextEncoder().encode('{"model":"x","p":"'));
                        if (n++ >= 64) {
                            c.enqueue(new TextEncoder().encode('"}'));
                            c.close();
                        } else {
                            c.enqueue(piece);
                        }
                    },
                });
            };
            const outcomes = [];
            for (let i = 0; i < 8; i++) {
                const body = i < 5 ? big : chunked(); // 5 x 8 MiB Content-Length, 3 x 4 MiB chunked
                try {
                    const res = await fetch(`${baseURL}/v1/chat/completions`, {
                        method: 'POST',
                        headers: { 'content-type': 'application/json' },
                        body,
                        duplex: 'half',
                        signal: AbortSignal.timeout(10000),
                    });
                    const text = await res.text();
                    if (res.status === 413) assertOpenAIError(assert, JSON.parse(text), 'request_too_large');
                    outcomes.push(String(res.status));
                } catch (e) {
                    outcomes.push(e.cause?.code ?? e.message);
                }
            }
            assert.deepEqual(outcomes, Array(8).fill('413'), `client saw: ${outcomes.join(', ')}`);
            await assertNothingUpstream(assert, mock);
        },
    },
    {
        name: 'proxy request headers: host, x-forwarded-*, request id, hop-by-hop dropped',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mockURL, mock, assert } = ctx;
            const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'headers' }] });
            const res = await httpRequest(baseURL, {
                method: 'POST',
                path: '/v1/chat/completions',
                headers: {
                    'Content-Type': 'application/json',
                    'Content-Length': Buffer.byteLength(body),
                    Authorization: 'Bearer sk-test-e2e',
                    Connection: 'keep-alive, x-drop-me',
                    'X-Drop-Me': '1',
                    'Keep-Alive': 'timeout=5',
                    TE: 'trailers',
                    'Proxy-Authorization': 'Basic dXNlcjpwYXNz',
                    'Accept-Encoding': 'gzip, br',
                    'X-Request-Id': 'e2e-hdr-0001',
                    'X-Custom': 'kept',
                },
                body,
            });
            assert.equal(res.status, 200, res.body.toString());
            assert.equal(res.headers['x-request-id'], 'e2e-hdr-0001');
            assert.match(res.headers['x-upstream-request-id'] ?? '', /^req_mock_/);
            assert.equal(JSON.parse(res.body).choices[0].message.content, defaultText('headers'));
            const r = await mock.only();
            const h = r.headers;
            assert.equal(h.host, new URL(mockURL).host);
            assert.equal(h['x-forwarded-for'], '127.0.0.1');
            assert.equal(h['x-forwarded-proto'], 'http');
            assert.equal(h['accept-encoding'], 'identity');
            assert.equal(h['x-request-id'], 'e2e-hdr-0001');
            for (const name of ['x-drop-me', 'keep-alive', 'te', 'proxy-authorization']) {
                assert.equal(h[name], undefined, `${name}: ${h[name]} reached the upstream`);
            }
            assert.ok(h.connection === undefined || /^keep-alive$/i.test(h.connection), `connection: ${h.connection}`);
            assert.equal(h.authorization, 'Bearer sk-test-e2e');
            assert.equal(h['x-custom'], 'kept');
            assert.equal(r.body, body);
        },
    },
    {
        name: 'proxy request id generated, x-forwarded-for appended, response hop-by-hop dropped',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert } = ctx;
            const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'id' }] });
            const res = await httpRequest(baseURL, {
                method: 'POST',
                path: '/v1/chat/completions',
                headers: {
                    'Content-Type': 'application/json',
                    'Content-Length': Buffer.byteLength(body),
                    'X-Forwarded-For': '203.0.113.9',
                    // hop-by-hop headers in the upstream's reply must not reach the client
                    'x-mock-script': 'header=Keep-Alive:timeout=9;header=X-Resp-Drop:1;header=Connection:x-resp-drop;header=X-Resp-Kept:1',
                },
                body,
            });
            assert.equal(res.status, 200, res.body.toString());
            const id = res.headers['x-request-id'] ?? '';
            assert.match(id, /^[0-9a-f]{32}$/);
            assert.equal(res.headers['x-resp-kept'], '1');
            assert.equal(res.headers['x-resp-drop'], undefined);
            assert.notEqual(res.headers['keep-alive'], 'timeout=9');
            const r = await mock.only();
            assert.equal(r.headers['x-request-id'], id);
            assert.equal(r.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
        },
    },
    {
        name: 'proxy W3C trace context: a traceparent is continued, a new one starts a trace',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert } = ctx;
            const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'trace' }] });
            const send = (extra) =>
                httpRequest(baseURL, {
                    method: 'POST',
                    path: '/v1/chat/completions',
                    headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...extra },
                    body,
                });
            const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
            const parent = '00f067aa0ba902b7';
            let res = await send({ traceparent: `00-${trace}-${parent}-01`, tracestate: 'vendor=a' });
            assert.equal(res.status, 200);
            let h = (await mock.only()).headers;
            const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h.traceparent ?? '');
            assert.ok(m, `traceparent upstream: ${h.traceparent}`);
            assert.equal(m[1], trace, 'the trace id is kept');
            assert.notEqual(m[2], parent, "the upstream's parent is warden's CLIENT span");
            assert.equal(h.tracestate, 'vendor=a');
            // Invalid (all-zero trace id, uppercase hex, version ff): a new trace, sampled.
            for (const bad of [`00-${'0'.repeat(32)}-${parent}-01`, `00-${trace.toUpperCase()}-${parent}-01`, `ff-${trace}-${parent}-01`]) {
                await mock.reset();
                res = await send({ traceparent: bad });
                assert.equal(res.status, 200);
                h = (await mock.only()).headers;
                const n = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h.traceparent ?? '');
                assert.ok(n, `traceparent upstream for ${bad}: ${h.traceparent}`);
                assert.notEqual(n[1], trace);
                assert.notEqual(n[1], '0'.repeat(32));
            }
        },
    },
    {
        name: 'proxy chunked request body arrives whole',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert } = ctx;
            const body = JSON.stringify({
                model: MODEL,
                messages: [{ role: 'user', content: 'chunked body arrives whole' }],
            });
            // pieces cut inside a string and inside a key, 20 ms apart
            const cuts = [0, 7, 30, 41, body.length];
            let i = 0;
            const stream = new ReadableStream({
                async pull(controller) {
                    if (i + 1 >= cuts.length) {
                        controller.close();
                        return;
                    }
                    if (i > 0) await sleep(20);
                    controller.enqueue(new TextEncoder().encode(body.slice(cuts[i], cuts[i + 1])));
                    i++;
                },
            });
            const res = await fetch(`${baseURL}/v1/chat/completions`, {
                method: 'POST',
                headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-e2e' },
                body: stream,
                duplex: 'half',
                signal: AbortSignal.timeout(10000),
            });
            const text = await res.text();
            assert.equal(res.status, 200, text);
            const json = JSON.parse(text);
            assert.equal(json.object, 'chat.completion');
            assert.equal(json.choices[0].message.content, defaultText('chunked body arrives whole'));
            const r = await mock.only();
            assert.equal(r.body, body);
            assert.equal(r.body_bytes, Buffer.byteLength(body));
            assert.ok(
                r.headers['transfer-encoding'] === 'chunked' || r.headers['content-length'] === String(r.body_bytes),
                `framing upstream: ${JSON.stringify(r.headers)}`,
            );
            assert.equal(r.response, 'complete');
        },
    },
    {
        name: 'proxy api_key_env replaces the client key; the base path prefixes the target',
        async run(ctx) {
            needsWarden(ctx);
            const { baseURL, mock, assert } = ctx;
            const res = await fetch(`${baseURL}/v1/keyed/chat/completions?x=1`, {
                method: 'POST',
                headers: {
                    'content-type': 'application/json',
                    authorization: 'Bearer sk-client-own-key',
                    'x-api-key': 'sk-ant-client-own-key',
                },
                body: JSON.stringify({ model: MODEL, messages: [] }),
                signal: AbortSignal.timeout(10000),
            });
            await res.text(); // the mock does not serve this path: its answer passes through
            assert.equal(res.status, 404);
            const r = await mock.only();
            assert.equal(r.path, '/base/v1/keyed/chat/completions');
            assert.equal(r.query, 'x=1');
            assert.equal(r.headers.authorization, 'Bearer sk-from-warden-env');
            assert.equal(r.headers['x-api-key'], undefined, 'the client key must not pass');
        },
    },
];
