#! path=install.js flags=install expect=L2-BUND-001:MEDIUM max=HIGH
// Written for this test: the prebuilt-binary installer pattern (fetch a platform tarball from
// the registry, unpack, check the binary runs).
const fs = require('fs'), path = require('path'), https = require('https'), zlib = require('zlib');
const { execFileSync } = require('child_process');
const pkg = `@example/tool-${process.platform}-${process.arch}`;
const url = `https://registry.npmjs.org/${pkg}/-/tool-1.2.3.tgz`;
function fetch(u) {
  return new Promise((ok, fail) => https.get(u, (r) => {
    const chunks = []; r.on('data', (c) => chunks.push(c)); r.on('end', () => ok(Buffer.concat(chunks)));
  }).on('error', fail));
}
fetch(url).then((tgz) => {
  const bin = path.join(__dirname, 'bin', 'tool');
  fs.writeFileSync(bin, extract(zlib.gunzipSync(tgz), 'package/bin/tool'));
  fs.chmodSync(bin, 0o755);
  const v = execFileSync(bin, ['--version']).toString().trim();
  if (v !== '1.2.3') throw new Error(`expected 1.2.3, got ${v}`);
});
