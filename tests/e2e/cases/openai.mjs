// OpenAI SDK cases: chat, legacy completions, Responses API, embeddings, errors, broken streams.
import { collect, defaultText, enc, expectedEmbedding, promptTokens, wordDeltas } from '../lib/expect.mjs';

const MODEL = 'gpt-4o-mini';

// What every OpenAI request must look like upstream.
function assertOpenAIRequest(assert, r, path) {
    assert.equal(r.method, 'POST');
    assert.equal(r.path, path);
    assert.equal(r.headers.authorization, 'Bearer sk-test-e2e');
    assert.match(r.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(r.headers['x-api-key'], undefined);
    assert.match(r.headers['user-agent'] ?? '', /^OpenAI\/JS /);
    assert.equal(r.body_base64, false);
}

function chatText(chunks) {
    return chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
}

export const cases = [
    {
        name: 'openai chat non-stream',
        async run({ openai, mock, assert }) {
            const messages = [
                { role: 'system', content: 'You are terse.' },
                { role: 'user', content: 'Say hello' },
            ];
            const res = await openai.chat.completions.create({ model: MODEL, messages, temperature: 0 });
            const text = defaultText('Say hello');
            assert.equal(res.object, 'chat.completion');
            assert.equal(res.model, MODEL);
            assert.equal(res.choices.length, 1);
            assert.equal(res.choices[0].message.role, 'assistant');
            assert.equal(res.choices[0].message.content, text);
            assert.equal(res.choices[0].finish_reason, 'stop');
            const r = await mock.only();
            assertOpenAIRequest(assert, r, '/v1/chat/completions');
            assert.equal(r.json.model, MODEL);
            assert.deepEqual(r.json.messages, messages);
            assert.equal(r.json.temperature, 0);
            assert.equal(r.json.stream, undefined);
            const p = promptTokens(r.json);
            assert.deepEqual(
                [res.usage.prompt_tokens, res.usage.completion_tokens, res.usage.total_tokens],
                [p, wordDeltas(text).length, p + wordDeltas(text).length],
            );
        },
    },
    {
        name: 'openai chat stream',
        async run({ openai, mock, assert }) {
            const stream = await openai.chat.completions.create({
                model: MODEL,
                messages: [{ role: 'user', content: 'stream me please' }],
                stream: true,
            });
            const chunks = await collect(stream);
            const text = defaultText('stream me please');
            assert.equal(chatText(chunks), text);
            const deltas = chunks.map((c) => c.choices[0]?.delta?.content).filter((d) => d);
            assert.deepEqual(deltas, wordDeltas(text));
            assert.equal(chunks[0].choices[0].delta.role, 'assistant');
            assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
            for (const c of chunks) {
                assert.equal(c.object, 'chat.completion.chunk');
                assert.equal(c.model, MODEL);
                assert.equal(c.usage ?? null, null);
            }
            const r = await mock.only();
            assertOpenAIRequest(assert, r, '/v1/chat/completions');
            assert.equal(r.json.stream, true);
            assert.equal(r.json.stream_options, undefined);
        },
    },
    {
        name: 'openai chat stream include_usage',
        async run({ openai, mock, assert }) {
            const stream = await openai.chat.completions.create({
                model: MODEL,
                messages: [{ role: 'user', content: 'count my tokens' }],
                stream: true,
                stream_options: { include_usage: true },
            });
            const chunks = await collect(stream);
            const text = defaultText('count my tokens');
            assert.equal(chatText(chunks), text);
            const last = chunks.at(-1);
            assert.deepEqual(last.choices, []);
            const r = await mock.only();
            const p = promptTokens(r.json);
            const n = wordDeltas(text).length;
            assert.equal(last.usage.prompt_tokens, p);
            assert.equal(last.usage.completion_tokens, n);
            assert.equal(last.usage.total_tokens, p + n);
            for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
            assertOpenAIRequest(assert, r, '/v1/chat/completions');
            assert.equal(r.json.stream, true);
            assert.deepEqual(r.json.stream_options, { include_usage: true });
        },
    },
    {
        name: 'openai chat stream scripted unicode text in N events',
        async run({ openai, mock, assert }) {
            const text = 'Grüße 👋 "quoted" \\ back\nslash; a=b 100% {json}';
            const stream = await openai.chat.completions.create(
                { model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: true },
                { headers: { 'x-mock-script': `text=${enc(text)};events=7` } },
            );
            const chunks = await collect(stream);
            const deltas = chunks.map((c) => c.choices[0]?.delta?.content).filter((d) => d);
            assert.equal(deltas.length, 7);
            assert.equal(deltas.join(''), text);
            const r = await mock.only();
            assert.equal(r.script_source, 'header');
            assert.equal(r.headers['x-mock-script'], `text=${enc(text)};events=7`);
        },
    },
    {
        name: 'openai chat stream chunk=1 with delay',
        async run({ openai, mock, assert }) {
            // every byte of the reply is its own write, 1 ms apart: SSE parsing must reassemble
            const text = 'tiny pieces, é and 🙂';
            const t0 = Date.now();
            const stream = await openai.chat.completions.create(
                { model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: true },
                { headers: { 'x-mock-script': `text=${enc(text)};chunk=1;delay_ms=1` } },
            );
            const chunks = await collect(stream);
            assert.equal(chatText(chunks), text);
            assert.deepEqual(
                chunks.map((c) => c.choices[0]?.delta?.content).filter((d) => d),
                wordDeltas(text),
            );
            // a few hundred 1-byte writes, each after >= 1 ms: proof that the script applied
            assert.ok(Date.now() - t0 >= 300, `stream took only ${Date.now() - t0} ms`);
            const r = await mock.only();
            assert.equal(r.json.stream, true);
        },
    },
    {
        name: 'openai chat mid-stream reset rejects',
        async run({ openai, mock, assert, OpenAI }) {
            const text = 'one two three four five six';
            const stream = await openai.chat.completions.create(
                { model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: true },
                // role chunk + two deltas, then a TCP RST
                { headers: { 'x-mock-script': `text=${enc(text)};reset_after=3` } },
            );
            const err = await collect(stream).then(
                () => assert.fail('stream should have failed'),
                (e) => e,
            );
            assert.ok(!(err instanceof assert.AssertionError), err.message);
            const got = chatText(err.collected ?? []);
            assert.ok(text.startsWith(got) && got.length < text.length, `got ${JSON.stringify(got)}`);
            assert.ok((err.collected ?? []).length <= 3);
            assert.ok(!(err instanceof OpenAI.APIError && err.status), 'not an HTTP status error');
            const r = await mock.only();
            assert.equal(r.json.stream, true);
        },
    },
    {
        name: 'openai chat stream error event (error_after)',
        async run({ openai, mock, assert, OpenAI }) {
            const stream = await openai.chat.completions.create(
                { model: MODEL, messages: [{ role: 'user', content: 'a b c d' }], stream: true },
                { headers: { 'x-mock-script': 'error_after=2;error_message=upstream%20fell%20over' } },
            );
            const err = await collect(stream).then(
                () => assert.fail('stream should have failed'),
                (e) => e,
            );
            assert.ok(err instanceof OpenAI.APIError, `got ${err?.constructor?.name}: ${err?.message}`);
            assert.match(err.message, /upstream fell over/);
            assert.equal(err.collected.length, 2);
            await mock.only();
        },
    },
    {
        name: 'openai error 429 from queued script -> RateLimitError',
        async run({ openai, mock, assert, OpenAI, viaProxy }) {
            await mock.script('status=429;error_message=slow%20down');
            const err = await openai.chat.completions
                .create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })
                .then(
                    () => assert.fail('should have thrown'),
                    (e) => e,
                );
            assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}`);
            assert.equal(err.status, 429);
            assert.equal(err.code, 'rate_limit_exceeded');
            assert.match(err.message, /slow down/);
            if (viaProxy) {
                // warden answers with its own id and keeps the provider's beside it
                assert.match(err.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
                assert.match(err.headers.get('x-upstream-request-id') ?? '', /^req_mock_/);
            } else {
                assert.match(err.headers.get('x-request-id') ?? '', /^req_mock_/);
            }
            const r = await mock.only(); // maxRetries 0: exactly one attempt
            assert.equal(r.script_source, 'queue');
            assertOpenAIRequest(assert, r, '/v1/chat/completions');
        },
    },
    {
        name: 'openai error 500 -> InternalServerError',
        async run({ openai, mock, assert, OpenAI }) {
            const err = await openai.chat.completions
                .create(
                    { model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true },
                    { headers: { 'x-mock-script': 'status=500;error_message=boom' } },
                )
                .then(
                    () => assert.fail('should have thrown'),
                    (e) => e,
                );
            assert.ok(err instanceof OpenAI.InternalServerError, `got ${err?.constructor?.name}`);
            assert.equal(err.status, 500);
            assert.equal(err.type, 'server_error');
            assert.match(err.message, /boom/);
            await mock.only();
        },
    },
    {
        name: 'openai error 401 -> AuthenticationError',
        async run({ openai, mock, assert, OpenAI }) {
            const err = await openai.embeddings
                .create(
                    { model: 'text-embedding-3-small', input: 'x' },
                    { headers: { 'x-mock-script': 'status=401' } },
                )
                .then(
                    () => assert.fail('should have thrown'),
                    (e) => e,
                );
            assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}`);
            assert.equal(err.status, 401);
            assert.equal(err.code, 'invalid_api_key');
            const r = await mock.only();
            assertOpenAIRequest(assert, r, '/v1/embeddings');
        },
    },
    {
        name: 'openai responses non-stream',
        async run({ openai, mock, assert }) {
            const res = await openai.responses.create({
                model: 'gpt-4.1-mini',
                input: 'Ping from responses',
                instructions: 'Be brief.',
            });
            const text = defaultText('Ping from responses');
            assert.equal(res.object, 'response');
            assert.equal(res.status, 'completed');
            assert.equal(res.model, 'gpt-4.1-mini');
            assert.equal(res.output_text, text);
            assert.equal(res.output[0].type, 'message');
            assert.equal(res.output[0].content[0].type, 'output_text');
            const r = await mock.only();
            assertOpenAIRequest(assert, r, '/v1/responses');
            assert.equal(r.json.input, 'Ping from responses');
            assert.equal(r.json.instructions, 'Be brief.');
            const p = promptTokens(r.json);
            const n = wordDeltas(text).length;
            assert.deepEqual(
                [res.usage.input_tokens, res.usage.output_tokens, res.usage.total_tokens],
                [p, n, p + n],
            );
        },
    },
    {
        name: 'openai responses stream (raw events)',
        async run({ openai, mock, assert }) {
            const input = [{ role: 'user', content: [{ type: 'input_text', text: 'events please' }] }];
            const stream = await openai.responses.create({ model: 'gpt-4.1-mini', input, stream: true });
            const events = await collect(stream);
            const text = defaultText('events please');
            const types = events.map((e) => e.type);
            const deltas = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta);
            assert.deepEqual(types, [
                'response.created',
                'response.in_progress',
                'response.output_item.added',
                'response.content_part.added',
                ...deltas.map(() => 'response.output_text.delta'),
                'response.output_text.done',
                'response.content_part.done',
                'response.output_item.done',
                'response.completed',
            ]);
            assert.deepEqual(deltas, wordDeltas(text));
            assert.deepEqual(
                events.map((e) => e.sequence_number),
                events.map((_, i) => i),
            );
            assert.equal(events.find((e) => e.type === 'response.output_text.done').text, text);
            const done = events.at(-1).response;
            assert.equal(done.status, 'completed');
            assert.equal(done.output[0].content[0].text, text);
            const r = await mock.only();
            assertOpenAIRequest(assert, r, '/v1/responses');
            assert.equal(r.json.stream, true);
            assert.deepEqual(r.json.input, input);
            assert.equal(done.usage.input_tokens, promptTokens(r.json));
        },
    },
    {
        name: 'openai responses.stream() helper final response',
        async run({ openai, mock, assert }) {
            const text = 'Helper stream text, three events.';
            const stream = openai.responses.stream(
                { model: 'gpt-4.1-mini', input: 'x' },
                { headers: { 'x-mock-script': `text=${enc(text)};events=3` } },
            );
            const deltas = [];
            stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
            const final = await stream.finalResponse();
            assert.equal(deltas.length, 3);
            assert.equal(deltas.join(''), text);
            assert.equal(final.output_text, text);
            assert.equal(final.usage.output_tokens, 3);
            const r = await mock.only();
            assert.equal(r.json.stream, true);
        },
    },
    {
        name: 'openai embeddings default base64 decoded',
        async run({ openai, mock, assert }) {
            const input = ['first', 'second', 'third'];
            const res = await openai.embeddings.create({ model: 'text-embedding-3-small', input });
            assert.equal(res.object, 'list');
            assert.equal(res.model, 'text-embedding-3-small');
            assert.equal(res.data.length, 3);
            res.data.forEach((d, i) => {
                assert.equal(d.index, i);
                assert.ok(Array.isArray(d.embedding), 'SDK decodes base64 into an array');
                assert.deepEqual(d.embedding, expectedEmbedding(i, 8));
            });
            const r = await mock.only();
            assertOpenAIRequest(assert, r, '/v1/embeddings');
            // the SDK asks for base64 unless the caller chose a format
            assert.equal(r.json.encoding_format, 'base64');
            assert.deepEqual(r.json.input, input);
            assert.equal(res.usage.prompt_tokens, promptTokens(r.json));
        },
    },
    {
        name: 'openai embeddings float with dimensions',
        async run({ openai, mock, assert }) {
            const res = await openai.embeddings.create({
                model: 'text-embedding-3-large',
                input: 'only one',
                encoding_format: 'float',
                dimensions: 16,
            });
            assert.equal(res.data.length, 1);
            assert.deepEqual(res.data[0].embedding, expectedEmbedding(0, 16));
            const r = await mock.only();
            assert.equal(r.json.encoding_format, 'float');
            assert.equal(r.json.dimensions, 16);
            assert.equal(r.json.input, 'only one');
        },
    },
    {
        name: 'openai legacy completions non-stream and stream',
        async run({ openai, mock, assert }) {
            const model = 'gpt-3.5-turbo-instruct';
            const res = await openai.completions.create({ model, prompt: 'Once upon', max_tokens: 8 });
            const text = defaultText('Once upon');
            assert.equal(res.object, 'text_completion');
            assert.equal(res.choices[0].text, text);
            assert.equal(res.choices[0].finish_reason, 'stop');
            const stream = await openai.completions.create({
                model,
                prompt: 'Once upon',
                stream: true,
                stream_options: { include_usage: true },
            });
            const chunks = await collect(stream);
            assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), text);
            assert.equal(chunks.at(-1).usage.completion_tokens, wordDeltas(text).length);
            const reqs = await mock.requests();
            assert.equal(reqs.length, 2);
            for (const r of reqs) assertOpenAIRequest(assert, r, '/v1/completions');
            assert.equal(JSON.parse(reqs[0].body).max_tokens, 8);
            assert.equal(JSON.parse(reqs[1].body).stream, true);
        },
    },
    {
        name: 'openai models list',
        async run({ openai, mock, assert }) {
            const ids = [];
            for await (const m of openai.models.list()) ids.push(m.id);
            assert.ok(ids.includes('gpt-4o-mini'), `got ${ids}`);
            const [r] = await mock.requests();
            assert.equal(r.method, 'GET');
            assert.equal(r.path, '/v1/models');
            assert.equal(r.headers.authorization, 'Bearer sk-test-e2e');
        },
    },
];
