// What the mock upstream answers, modelled here so cases can compute exact expectations.

// Percent-encodes a script value (the mock decodes %XX; ';' '=' '%' must be encoded).
export function enc(s) {
    return encodeURIComponent(s);
}

// Default reply text: "Hello from mock: " + the first 48 bytes (whole characters) of the
// last user-visible string, or "Hello from mock." when there is none.
export function defaultText(echo) {
    if (!echo) return 'Hello from mock.';
    let out = '';
    let bytes = 0;
    for (const ch of echo) {
        const n = Buffer.byteLength(ch);
        if (bytes + n > 48) break;
        out += ch;
        bytes += n;
    }
    return `Hello from mock: ${out}`;
}

// The deltas the mock streams by default: a new one starts at a blank after a non-blank.
export function wordDeltas(text) {
    const out = [];
    let cur = '';
    let prev = null;
    for (const ch of text) {
        const ws = /[ \t\r\n]/.test(ch);
        if (ws && prev !== null && !/[ \t\r\n]/.test(prev)) {
            out.push(cur);
            cur = '';
        }
        cur += ch;
        prev = ch;
    }
    if (cur) out.push(cur);
    return out;
}

// Prompt tokens: string value bytes of the request JSON (keys excluded) / 4, rounded up, >= 1.
export function promptTokens(body) {
    let bytes = 0;
    const walk = (v) => {
        if (typeof v === 'string') bytes += Buffer.byteLength(v);
        else if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(body);
    return Math.max(1, Math.ceil(bytes / 4));
}

// Embedding component j of input i, exact in float32.
export function embeddingValue(i, j) {
    return ((((i * 31 + j * 7) % 65) - 32) / 64);
}

export function expectedEmbedding(i, dims = 8) {
    return Array.from({ length: dims }, (_, j) => embeddingValue(i, j));
}

// Collects an async iterable; on failure the error carries what was collected so far.
export async function collect(iterable, onItem) {
    const items = [];
    try {
        for await (const it of iterable) {
            items.push(it);
            if (onItem) onItem(it);
        }
    } catch (err) {
        err.collected = items;
        throw err;
    }
    return items;
}
