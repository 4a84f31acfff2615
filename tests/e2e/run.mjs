// End-to-end runner: the official OpenAI and Anthropic SDKs against --base-url, checked on both ends.
//
//   node run.mjs --base-url URL --mock URL [--filter SUBSTR] [--timeout-ms N]
//
// --base-url is what the SDK clients talk to (warden, or the mock itself); --mock is the
// mock upstream's own address, used for its control and record endpoints. Cases live in
// cases/*.mjs; each exports `cases`, an array of {name, run: async (ctx) => {...}, skip?}.
// Prints one line per case, then exactly `N passed, N failed` (`, N skipped` if any);
// exits 1 on any failure, 2 on bad usage.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

import { makeMock } from './lib/mock.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

function usage(msg) {
    if (msg) console.error(`run.mjs: ${msg}`);
    console.error('usage: node run.mjs --base-url URL --mock URL [--filter SUBSTR] [--timeout-ms N]');
    process.exit(2);
}

let opts;
try {
    opts = parseArgs({
        options: {
            'base-url': { type: 'string' },
            mock: { type: 'string' },
            filter: { type: 'string' },
            'timeout-ms': { type: 'string', default: '20000' },
            help: { type: 'boolean', short: 'h' },
        },
        strict: true,
    }).values;
} catch (e) {
    usage(e.message);
}
if (opts.help) usage();
if (!opts['base-url'] || !opts.mock) usage('--base-url and --mock are required');
const baseURL = opts['base-url'].replace(/\/+$/, '');
const mockURL = opts.mock.replace(/\/+$/, '');
const timeoutMs = Number.parseInt(opts['timeout-ms'], 10);
if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600000) {
    usage('--timeout-ms must be an integer in [100, 600000]');
}

class SkipCase extends Error {}

// A case must finish within timeoutMs; the SDK's own timeout is shorter so that a stuck
// request fails inside the SDK (with its error) rather than by the runner's guard.
function makeCtx() {
    const sdkTimeout = Math.max(50, timeoutMs - 2000);
    return {
        openai: new OpenAI({
            apiKey: 'sk-test-e2e',
            baseURL: `${baseURL}/v1`,
            maxRetries: 0,
            timeout: sdkTimeout,
        }),
        anthropic: new Anthropic({
            apiKey: 'sk-ant-test-e2e',
            baseURL,
            maxRetries: 0,
            timeout: sdkTimeout,
        }),
        OpenAI,
        Anthropic,
        mock: makeMock(mockURL),
        assert,
        baseURL,
        mockURL,
        // true when a proxy (warden) stands between the clients and the mock
        viaProxy: baseURL !== mockURL,
        // set by run_e2e.sh when it started warden: its process id and listener URL
        wardenPid: process.env.WARDEN_PID ? Number.parseInt(process.env.WARDEN_PID, 10) : undefined,
        wardenURL: process.env.WARDEN_URL,
        timeoutMs,
        skip(reason) {
            throw new SkipCase(reason);
        },
    };
}

function withTimeout(promise, ms, name) {
    let timer;
    const guard = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    });
    return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

function describe(err) {
    if (err instanceof assert.AssertionError) {
        return err.message.split('\n').map((l, i) => (i ? `    ${l}` : l)).join('\n');
    }
    const name = err?.constructor?.name ?? 'Error';
    const status = err?.status !== undefined ? ` status=${err.status}` : '';
    const cause = err?.cause ? ` (cause: ${err.cause.message ?? err.cause})` : '';
    return `${name}${status}: ${err?.message ?? err}${cause}`;
}

async function loadCases() {
    const dir = join(HERE, 'cases');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.mjs')).sort();
    const all = [];
    for (const f of files) {
        const mod = await import(pathToFileURL(join(dir, f)).href);
        if (!Array.isArray(mod.cases)) throw new Error(`cases/${f} does not export an array 'cases'`);
        for (const c of mod.cases) {
            if (typeof c.name !== 'string' || typeof c.run !== 'function') {
                throw new Error(`cases/${f}: every case needs a name and a run function`);
            }
            all.push(c);
        }
    }
    const names = new Set();
    for (const c of all) {
        if (names.has(c.name)) throw new Error(`duplicate case name '${c.name}'`);
        names.add(c.name);
    }
    return all;
}

async function main() {
    const all = await loadCases();
    const selected = opts.filter ? all.filter((c) => c.name.includes(opts.filter)) : all;
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const started = Date.now();

    if (selected.length === 0) {
        console.error(`run.mjs: no case matches --filter '${opts.filter}'`);
        failed = 1; // a filter that selects nothing must not look like success
    }
    for (const c of selected) {
        const t0 = Date.now();
        if (c.skip) {
            skipped++;
            console.log(`skip - ${c.name}: ${c.skip}`);
            continue;
        }
        const ctx = makeCtx();
        try {
            // every case starts from an empty record list and script queue
            await withTimeout(ctx.mock.reset(), timeoutMs, c.name);
            await withTimeout(Promise.resolve().then(() => c.run(ctx)), timeoutMs, c.name);
            passed++;
            console.log(`ok   - ${c.name} (${Date.now() - t0} ms)`);
        } catch (err) {
            if (err instanceof SkipCase) {
                skipped++;
                console.log(`skip - ${c.name}: ${err.message}`);
                continue;
            }
            failed++;
            console.log(`FAIL - ${c.name} (${Date.now() - t0} ms): ${describe(err)}`);
        }
    }
    console.log(`# total ${Date.now() - started} ms`);
    console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
    // a timed-out case may still hold sockets open: do not wait for them
    process.exit(failed ? 1 : 0);
}

main().catch((err) => {
    console.error(`run.mjs: ${err?.stack ?? err}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
});
