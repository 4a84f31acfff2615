// Raw HTTP/1.1 requests with node:http and node:net, for what fetch cannot send (hop-by-hop
// headers such as Connection and Keep-Alive, a head without its body) or must not alter.
import http from 'node:http';
import net from 'node:net';

// One request on a fresh connection. Resolves {status, headers, body: Buffer}; rejects on a
// socket error or after timeoutMs. `headers` are sent as given (names as written).
export function httpRequest(base, { method = 'GET', path = '/', headers = {}, body, timeoutMs = 10000 } = {}) {
    const u = new URL(base);
    return new Promise((resolve, reject) => {
        const req = http.request(
            { host: u.hostname, port: u.port, method, path, headers, agent: false },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () =>
                    resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
                );
                res.on('error', reject);
            },
        );
        req.on('error', reject);
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.end(body);
    });
}

// Writes `head` (raw request bytes) on a fresh TCP connection and reads until the server
// closes it or timeoutMs passes. Resolves {status, headers (lowercase names), body: Buffer}
// of the first response. For requests a client library would not send, such as a head that
// announces a body which never follows.
export function rawExchange(base, head, timeoutMs = 10000) {
    const u = new URL(base);
    return new Promise((resolve, reject) => {
        const chunks = [];
        const sock = net.connect({ host: u.hostname, port: Number(u.port) }, () => sock.write(head));
        sock.setTimeout(timeoutMs, () => sock.destroy(new Error(`connection not closed within ${timeoutMs} ms`)));
        sock.on('data', (c) => chunks.push(c));
        sock.on('error', reject);
        sock.on('end', () => {
            sock.end();
            const all = Buffer.concat(chunks);
            const sep = all.indexOf('\r\n\r\n');
            if (sep < 0) {
                reject(new Error(`no response head in ${all.length} bytes`));
                return;
            }
            const lines = all.subarray(0, sep).toString('latin1').split('\r\n');
            const status = Number.parseInt(lines[0].split(' ')[1], 10);
            const headers = {};
            for (const l of lines.slice(1)) {
                const i = l.indexOf(':');
                headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
            }
            resolve({ status, headers, body: all.subarray(sep + 4) });
        });
    });
}
