// Client for the mock upstream's control endpoints: scripts, records, reset.

async function call(base, method, path, body) {
    const res = await fetch(`${base}${path}`, {
        method,
        body,
        headers: body !== undefined ? { 'content-type': 'text/plain' } : undefined,
        signal: AbortSignal.timeout(10000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`mock ${method} ${path}: HTTP ${res.status}: ${text}`);
    return text;
}

// Returns the helpers a case gets as ctx.mock.
export function makeMock(base) {
    return {
        url: base,
        // Clears the records and the script queue (and restarts ids at 1).
        async reset() {
            await call(base, 'POST', '/__mock/reset', '');
        },
        // Queues scripts for the next requests, one per line, in order.
        async script(...scripts) {
            return JSON.parse(await call(base, 'POST', '/__mock/script', scripts.join('\n')));
        },
        // Every request the mock received since the last reset, oldest first.
        async requests() {
            return JSON.parse(await call(base, 'GET', '/__mock/requests'));
        },
        // Polls the records (every 25 ms, at most timeoutMs) until the request with this seq
        // has a settled `response` ("complete", "client_closed" or "reset"); returns its
        // record, whose response is still "pending" if the time ran out, or undefined if the
        // mock never recorded it.
        async settled(seq, timeoutMs = 3000) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const r = (await this.requests()).find((x) => x.seq === seq);
                if ((r && r.response !== 'pending') || Date.now() >= deadline) return r;
                await new Promise((resolve) => setTimeout(resolve, 25));
            }
        },
        // The single request the mock received; fails when there were none or several.
        async only() {
            const all = await this.requests();
            if (all.length !== 1) {
                throw new Error(
                    `expected exactly 1 upstream request, got ${all.length}: ` +
                        all.map((r) => `${r.method} ${r.path}`).join(', '),
                );
            }
            const r = all[0];
            r.json = r.body_base64 ? undefined : JSON.parse(r.body || 'null');
            return r;
        },
    };
}
