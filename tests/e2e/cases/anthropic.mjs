// Anthropic SDK cases: messages (whole, raw stream, stream helper), count_tokens, errors.
import { collect, defaultText, enc, promptTokens, wordDeltas } from '../lib/expect.mjs';

const MODEL = 'claude-haiku-4-5';

// What every Anthropic request must look like upstream.
function assertAnthropicRequest(assert, r, path) {
    assert.equal(r.method, 'POST');
    assert.equal(r.path, path);
    // SDK 0.x sends the key as x-api-key, 1.x as a bearer token: exactly one must carry it
    const viaKey = r.headers['x-api-key'] === 'sk-ant-test-e2e';
    const viaBearer = r.headers.authorization === 'Bearer sk-ant-test-e2e';
    assert.ok(viaKey !== viaBearer, `credential headers: x-api-key=${r.headers['x-api-key']} authorization=${r.headers.authorization}`);
    assert.match(r.headers['anthropic-version'] ?? '', /^\d{4}-\d{2}-\d{2}$/);
    assert.match(r.headers['user-agent'] ?? '', /^Anthropic\/JS /);
    assert.match(r.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(r.body_base64, false);
}

function streamText(events) {
    return events
        .filter((e) => e.type === 'content_block_delta' && e.delta.type === 'text_delta')
        .map((e) => e.delta.text)
        .join('');
}

export const cases = [
    {
        name: 'anthropic messages non-stream',
        async run({ anthropic, mock, assert }) {
            const body = {
                model: MODEL,
                max_tokens: 64,
                system: 'You are terse.',
                messages: [{ role: 'user', content: 'Hi Claude' }],
            };
            const msg = await anthropic.messages.create(body);
            const text = defaultText('Hi Claude');
            assert.equal(msg.type, 'message');
            assert.equal(msg.role, 'assistant');
            assert.equal(msg.model, MODEL);
            assert.deepEqual(msg.content, [{ type: 'text', text }]);
            assert.equal(msg.stop_reason, 'end_turn');
            const r = await mock.only();
            assertAnthropicRequest(assert, r, '/v1/messages');
            assert.deepEqual(r.json, body);
            assert.equal(msg.usage.input_tokens, promptTokens(r.json));
            assert.equal(msg.usage.output_tokens, wordDeltas(text).length);
        },
    },
    {
        name: 'anthropic messages stream (raw events)',
        async run({ anthropic, mock, assert }) {
            const stream = await anthropic.messages.create({
                model: MODEL,
                max_tokens: 64,
                messages: [{ role: 'user', content: [{ type: 'text', text: 'stream it' }] }],
                stream: true,
            });
            const events = await collect(stream);
            const text = defaultText('stream it');
            const deltas = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text);
            assert.deepEqual(
                events.map((e) => e.type),
                [
                    'message_start',
                    'content_block_start',
                    ...deltas.map(() => 'content_block_delta'),
                    'content_block_stop',
                    'message_delta',
                    'message_stop',
                ],
            );
            assert.deepEqual(deltas, wordDeltas(text));
            assert.equal(streamText(events), text);
            const md = events.find((e) => e.type === 'message_delta');
            assert.equal(md.delta.stop_reason, 'end_turn');
            assert.equal(md.usage.output_tokens, deltas.length);
            assert.equal(events[0].message.model, MODEL);
            const r = await mock.only();
            assertAnthropicRequest(assert, r, '/v1/messages');
            assert.equal(r.json.stream, true);
            assert.equal(events[0].message.usage.input_tokens, promptTokens(r.json));
        },
    },
    {
        name: 'anthropic messages.stream() helper final message',
        async run({ anthropic, mock, assert }) {
            const text = 'Streamed by the helper: ünïcødé ✓, "quotes" and\nnewlines.';
            const stream = anthropic.messages.stream(
                { model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'x' }] },
                { headers: { 'x-mock-script': `text=${enc(text)};events=5;stop_reason=max_tokens` } },
            );
            const pieces = [];
            stream.on('text', (t) => pieces.push(t));
            const final = await stream.finalMessage();
            assert.equal(pieces.length, 5);
            assert.equal(pieces.join(''), text);
            assert.equal(final.content.length, 1);
            assert.equal(final.content[0].type, 'text');
            assert.equal(final.content[0].text, text);
            assert.equal(final.stop_reason, 'max_tokens');
            assert.equal(final.usage.output_tokens, 5);
            const r = await mock.only();
            assertAnthropicRequest(assert, r, '/v1/messages');
            assert.equal(r.json.stream, true);
            assert.equal(final.usage.input_tokens, promptTokens(r.json));
        },
    },
    {
        name: 'anthropic count_tokens',
        async run({ anthropic, mock, assert }) {
            const body = {
                model: MODEL,
                messages: [{ role: 'user', content: 'How many tokens is this sentence?' }],
            };
            const res = await anthropic.messages.countTokens(body);
            const r = await mock.only();
            assertAnthropicRequest(assert, r, '/v1/messages/count_tokens');
            assert.deepEqual(r.json, body);
            assert.deepEqual(res, { input_tokens: promptTokens(body) });
        },
    },
    {
        name: 'anthropic error 429 -> RateLimitError',
        async run({ anthropic, mock, assert, Anthropic }) {
            const err = await anthropic.messages
                .create(
                    { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
                    { headers: { 'x-mock-script': 'status=429;header=retry-after:7' } },
                )
                .then(
                    () => assert.fail('should have thrown'),
                    (e) => e,
                );
            assert.ok(err instanceof Anthropic.RateLimitError, `got ${err?.constructor?.name}`);
            assert.equal(err.status, 429);
            assert.equal(err.error?.type, 'error');
            assert.equal(err.error?.error?.type, 'rate_limit_error');
            assert.equal(err.headers.get('retry-after'), '7');
            assert.match(err.requestID ?? '', /^req_mock_/);
            const r = await mock.only();
            assertAnthropicRequest(assert, r, '/v1/messages');
        },
    },
    {
        name: 'anthropic error 500 from queued script -> InternalServerError',
        async run({ anthropic, mock, assert, Anthropic }) {
            await mock.script('status=500;error_message=kaput');
            const err = await anthropic.messages
                .create({ model: MODEL, max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] })
                .then(
                    () => assert.fail('should have thrown'),
                    (e) => e,
                );
            assert.ok(err instanceof Anthropic.InternalServerError, `got ${err?.constructor?.name}`);
            assert.equal(err.status, 500);
            assert.equal(err.error?.error?.type, 'api_error');
            assert.match(err.message, /kaput/);
            const r = await mock.only();
            assert.equal(r.script_source, 'queue');
        },
    },
    {
        name: 'anthropic mid-stream reset rejects',
        async run({ anthropic, mock, assert }) {
            const text = 'alpha beta gamma delta epsilon';
            const stream = await anthropic.messages.create(
                { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'x' }], stream: true },
                // message_start, content_block_start, ping, two deltas, then a TCP RST
                { headers: { 'x-mock-script': `text=${enc(text)};reset_after=5` } },
            );
            const err = await collect(stream).then(
                () => assert.fail('stream should have failed'),
                (e) => e,
            );
            assert.ok(!(err instanceof assert.AssertionError), err.message);
            const got = streamText(err.collected ?? []);
            assert.ok(text.startsWith(got) && got.length < text.length, `got ${JSON.stringify(got)}`);
            assert.ok(!(err.collected ?? []).some((e) => e.type === 'message_stop'));
            const r = await mock.only();
            assert.equal(r.json.stream, true);
        },
    },
    {
        name: 'anthropic stream error event (error_after)',
        async run({ anthropic, mock, assert, Anthropic }) {
            const stream = await anthropic.messages.create(
                { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'a b c' }], stream: true },
                { headers: { 'x-mock-script': 'error_after=4' } },
            );
            const err = await collect(stream).then(
                () => assert.fail('stream should have failed'),
                (e) => e,
            );
            assert.ok(err instanceof Anthropic.APIError, `got ${err?.constructor?.name}: ${err?.message}`);
            assert.match(err.message, /overloaded_error|scripted stream error/);
            assert.equal(err.collected.length, 3); // message_start, content_block_start, one delta (ping is dropped)
            await mock.only();
        },
    },
    {
        name: 'anthropic stream chunk=1 with delay',
        async run({ anthropic, mock, assert }) {
            const text = 'byte by byte: ☃ and 🐙';
            const stream = anthropic.messages.stream(
                { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'x' }] },
                { headers: { 'x-mock-script': `text=${enc(text)};chunk=1;delay_ms=1` } },
            );
            const pieces = [];
            stream.on('text', (t) => pieces.push(t));
            const final = await stream.finalMessage();
            assert.equal(pieces.join(''), text);
            assert.deepEqual(pieces, wordDeltas(text));
            assert.equal(final.content[0].text, text);
            assert.equal(final.usage.output_tokens, wordDeltas(text).length);
            await mock.only();
        },
    },
];
