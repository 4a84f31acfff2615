// Decodes otlp_sample's bodies with the official OTLP decoder and checks every field.
//
// usage: node otlp_decode.mjs OTLP_SAMPLE_BINARY OUTDIR
// The decoder is the protobufjs code generated from opentelemetry-proto that
// @opentelemetry/otlp-transformer ships; it is loaded from tests/e2e/node_modules. Exit 0 when
// everything matches, 1 on any mismatch, 77 (ctest skip) when tests/e2e/node_modules is absent.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const e2e = resolve(here, '../../e2e');
if (!existsSync(join(e2e, 'node_modules'))) {
    console.log(`SKIP: ${e2e}/node_modules is missing (run: cd tests/e2e && npm ci)`);
    process.exit(77);
}
const [sample, outDir] = process.argv.slice(2);
if (!sample || !outDir) {
    console.error('usage: node otlp_decode.mjs OTLP_SAMPLE_BINARY OUTDIR');
    process.exit(2);
}

const require = createRequire(join(e2e, 'package.json'));
const pkg = require('@opentelemetry/otlp-transformer/package.json');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const TraceReq = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const MetricsReq = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

const run = spawnSync(sample, [outDir], { stdio: 'inherit' });
if (run.status !== 0) {
    console.error(`FAIL: ${sample} exited with ${run.status ?? run.signal}`);
    process.exit(1);
}

let failures = 0;
function fail(msg) {
    failures++;
    console.error(`FAIL: ${msg}`);
}

// Plain data from a decoded message: int64/fixed64 as decimal strings, enums as numbers,
// bytes as lowercase hex, the name of the set member of each oneof included.
function plain(type, msg) {
    const obj = type.toObject(msg, { longs: String, enums: Number, oneofs: true });
    const hex = (v) => {
        if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
        if (Array.isArray(v)) return v.map(hex);
        if (v && typeof v === 'object') {
            for (const k of Object.keys(v)) v[k] = hex(v[k]);
        }
        return v;
    };
    return hex(obj);
}

// Deep comparison naming the path of each difference; missing and extra fields both count.
function compare(path, got, want) {
    if (Array.isArray(want)) {
        if (!Array.isArray(got)) return fail(`${path}: got ${JSON.stringify(got)}, want an array`);
        if (got.length !== want.length)
            fail(`${path}: ${got.length} items, want ${want.length}`);
        for (let i = 0; i < Math.min(got.length, want.length); i++)
            compare(`${path}[${i}]`, got[i], want[i]);
        return;
    }
    if (want !== null && typeof want === 'object') {
        if (got === null || typeof got !== 'object' || Array.isArray(got))
            return fail(`${path}: got ${JSON.stringify(got)}, want an object`);
        for (const k of Object.keys(want)) {
            if (!(k in got)) fail(`${path}.${k}: missing (want ${JSON.stringify(want[k])})`);
            else compare(`${path}.${k}`, got[k], want[k]);
        }
        for (const k of Object.keys(got))
            if (!(k in want)) fail(`${path}.${k}: unexpected ${JSON.stringify(got[k])}`);
        return;
    }
    if (!Object.is(got, want))
        fail(`${path}: got ${JSON.stringify(got)} (${typeof got}), want ${JSON.stringify(want)} (${typeof want})`);
}

// Decode, check the schema, and re-encode: the official encoder writes every field that was
// decoded, so an unknown or mistyped field (skipped by the decoder) shows as a size change.
function decode(type, file) {
    const bytes = readFileSync(join(outDir, file));
    let msg;
    try {
        msg = type.decode(bytes);
    } catch (e) {
        fail(`${file}: does not decode: ${e.message}`);
        return null;
    }
    const err = type.verify(msg);
    if (err) fail(`${file}: verify: ${err}`);
    const again = type.encode(msg).finish();
    if (again.length !== bytes.length)
        fail(`${file}: ${bytes.length} bytes, re-encoded ${again.length} (fields were lost)`);
    return plain(type, msg);
}

// Expected values, as toObject presents them.
const str = (key, v) => ({ key, value: { stringValue: v, value: 'stringValue' } });
const bool = (key, v) => ({ key, value: { boolValue: v, value: 'boolValue' } });
const int = (key, v) => ({ key, value: { intValue: String(v), value: 'intValue' } });
const dbl = (key, v) => ({ key, value: { doubleValue: v, value: 'doubleValue' } });
const strs = (key, items) => ({
    key,
    value: {
        arrayValue: items.length
            ? { values: items.map((s) => ({ stringValue: s, value: 'stringValue' })) }
            : {},
        value: 'arrayValue',
    },
});
const T0 = 1700000000000000000n;
const ms = (n) => String(T0 + BigInt(n) * 1000000n);

const resource = {
    attributes: [
        str('service.name', 'warden'),
        str('service.version', '0.1.0'),
        str('deployment.environment.name', 'test'),
    ],
};
const scope = { name: 'warden', version: '0.1.0' };
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';

const wantTraces = {
    resourceSpans: [
        {
            resource,
            scopeSpans: [
                {
                    scope,
                    spans: [
                        {
                            traceId,
                            spanId: '00f067aa0ba902b7',
                            traceState: 'congo=t61rcWkgMzE',
                            parentSpanId: 'b7ad6b7169203331',
                            flags: 0x301,
                            name: 'chat gpt-4o-mini',
                            kind: 2,
                            startTimeUnixNano: ms(0),
                            endTimeUnixNano: ms(250),
                            attributes: [
                                str('gen_ai.operation.name', 'chat'),
                                str('gen_ai.request.model', 'gpt-4o-mini'),
                                str('http.request.method', 'POST'),
                                str('url.path', '/v1/chat/completions'),
                                int('http.response.status_code', 200),
                                dbl('warden.overhead_ms', 1.75),
                            ],
                            events: [
                                {
                                    timeUnixNano: ms(2),
                                    name: 'gen_ai.evaluation.result',
                                    attributes: [
                                        str('gen_ai.evaluation.name', 'warden.prompt_guard'),
                                        dbl('gen_ai.evaluation.score.value', 0.125),
                                        str('gen_ai.evaluation.score.label', 'pass'),
                                        strs('warden.rule_ids', []),
                                        str('warden.action', 'pass'),
                                    ],
                                },
                            ],
                            status: { code: 1 },
                        },
                        {
                            traceId,
                            spanId: '53995c3f42cd8ad8',
                            parentSpanId: '00f067aa0ba902b7',
                            flags: 0x101,
                            name: 'chat gpt-4o-mini',
                            kind: 3,
                            startTimeUnixNano: ms(3),
                            endTimeUnixNano: ms(245),
                            attributes: [
                                str('gen_ai.operation.name', 'chat'),
                                str('gen_ai.provider.name', 'openai'),
                                str('gen_ai.request.model', 'gpt-4o-mini'),
                                bool('gen_ai.request.stream', true),
                                int('gen_ai.request.max_tokens', 256),
                                dbl('gen_ai.request.temperature', 0.2),
                                str('gen_ai.response.model', 'gpt-4o-mini-2024-07-18'),
                                str('gen_ai.response.id', 'chatcmpl-123'),
                                strs('gen_ai.response.finish_reasons', ['stop', 'length']),
                                int('gen_ai.usage.input_tokens', 1234),
                                int('gen_ai.usage.output_tokens', 56),
                                str('server.address', 'api.openai.com'),
                                int('server.port', 443),
                                str('error.type', 'output_blocked'),
                                dbl('gen_ai.response.time_to_first_chunk', 0.0875),
                                bool('warden.cached', false),
                                str('warden.empty', ''),
                                int('warden.negative', -42),
                                int('warden.big', '9223372036854775807'),
                                str('warden.utf8', 'café ✓'),
                            ],
                            events: [
                                {
                                    timeUnixNano: ms(240),
                                    name: 'gen_ai.evaluation.result',
                                    attributes: [
                                        str('gen_ai.evaluation.name', 'warden.output_guard'),
                                        dbl('gen_ai.evaluation.score.value', 0.98),
                                        str('gen_ai.evaluation.score.label', 'blocked'),
                                        strs('warden.rule_ids', ['secrets.openai_key', 'pii.email']),
                                        str('warden.action', 'block'),
                                    ],
                                },
                                { timeUnixNano: ms(90), name: 'warden.first_chunk' },
                            ],
                            status: { message: 'output blocked: credential', code: 2 },
                        },
                    ],
                },
            ],
        },
    ],
};

const end = ms(60000);
const numberInt = (attributes, start, v) => ({
    ...(attributes.length ? { attributes } : {}),
    ...(start ? { startTimeUnixNano: start } : {}),
    timeUnixNano: end,
    asInt: String(v),
    value: 'asInt',
});
const numberDbl = (attributes, start, v) => ({
    ...(attributes.length ? { attributes } : {}),
    ...(start ? { startTimeUnixNano: start } : {}),
    timeUnixNano: end,
    asDouble: v,
    value: 'asDouble',
});
const tokenBounds = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
    16777216, 67108864];
const counts = (set) => Array.from({ length: 15 }, (_, i) => String(set[i] ?? 0));
const chatOpenai = [str('route', '/v1/chat/completions'), str('upstream', 'openai')];
const msgAnthropic = [str('route', '/v1/messages'), str('upstream', 'anthropic')];
const tok = (type) => [
    str('gen_ai.operation.name', 'chat'),
    str('gen_ai.provider.name', 'openai'),
    str('gen_ai.token.type', type),
];

const wantMetrics = {
    resourceMetrics: [
        {
            resource,
            scopeMetrics: [
                {
                    scope,
                    metrics: [
                        {
                            name: 'warden.requests',
                            description: 'Requests handled',
                            unit: '{request}',
                            sum: {
                                dataPoints: [
                                    numberInt(chatOpenai, ms(0), 42),
                                    numberInt(msgAnthropic, ms(0), 3),
                                ],
                                aggregationTemporality: 2,
                                isMonotonic: true,
                            },
                            data: 'sum',
                        },
                        {
                            name: 'warden.exporter.queue.depth',
                            unit: '{item}',
                            gauge: {
                                dataPoints: [
                                    numberInt([str('signal', 'traces')], null, 17),
                                    numberDbl([str('signal', 'metrics')], null, 0.5),
                                ],
                            },
                            data: 'gauge',
                        },
                        {
                            name: 'warden.test.balance',
                            sum: {
                                dataPoints: [numberDbl([], ms(0), -1.5)],
                                aggregationTemporality: 2,
                            },
                            data: 'sum',
                        },
                        {
                            name: 'gen_ai.client.token.usage',
                            description: 'Measures number of input and output tokens used',
                            unit: '{token}',
                            histogram: {
                                dataPoints: [
                                    {
                                        attributes: tok('input'),
                                        startTimeUnixNano: ms(0),
                                        timeUnixNano: end,
                                        count: '3',
                                        sum: 3702,
                                        _sum: 'sum',
                                        bucketCounts: counts({ 5: 1, 6: 2 }),
                                        explicitBounds: tokenBounds,
                                        min: 1000,
                                        _min: 'min',
                                        max: 1468,
                                        _max: 'max',
                                    },
                                    {
                                        attributes: tok('output'),
                                        startTimeUnixNano: ms(0),
                                        timeUnixNano: end,
                                        count: '2',
                                        sum: 68,
                                        _sum: 'sum',
                                        bucketCounts: counts({ 2: 1, 3: 1 }),
                                        explicitBounds: tokenBounds,
                                    },
                                ],
                                aggregationTemporality: 2,
                            },
                            data: 'histogram',
                        },
                        {
                            name: 'gen_ai.client.operation.duration',
                            description: 'GenAI operation duration',
                            unit: 's',
                            histogram: {
                                dataPoints: [
                                    {
                                        startTimeUnixNano: ms(0),
                                        timeUnixNano: end,
                                        count: '1',
                                        sum: 0.245,
                                        _sum: 'sum',
                                        bucketCounts: counts({ 6: 1 }),
                                        explicitBounds: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32,
                                            0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
                                        min: 0.245,
                                        _min: 'min',
                                        max: 0.245,
                                        _max: 'max',
                                    },
                                ],
                                aggregationTemporality: 2,
                            },
                            data: 'histogram',
                        },
                    ],
                },
            ],
        },
    ],
};

const traces = decode(TraceReq, 'traces.pb');
if (traces) compare('traces', traces, wantTraces);
const metrics = decode(MetricsReq, 'metrics.pb');
if (metrics) compare('metrics', metrics, wantMetrics);

if (failures) {
    console.error(`${failures} mismatch(es) against ${pkg.name}@${pkg.version}`);
    process.exit(1);
}
console.log(`OK: traces and metrics decode with ${pkg.name}@${pkg.version} and match`);
