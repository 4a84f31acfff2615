#! path=lib/registry.js flags=none expect= max=LOW
// Written for this test: a library reading npm configuration at run time (not install time).
const fs = require('fs'), os = require('os'), path = require('path'), https = require('https');
const rc = path.join(os.homedir(), '.npmrc');
const token = process.env.NPM_TOKEN || (fs.existsSync(rc) && /_authToken=(.*)/.exec(fs.readFileSync(rc, 'utf8'))[1]);
module.exports = (name) => https.get(`https://registry.npmjs.org/${name}`, { headers: { authorization: `Bearer ${token}` } });
