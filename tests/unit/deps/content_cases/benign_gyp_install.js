#! path=scripts/install.js flags=install expect= max=LOW
// Written for this test: build from source unless a prebuilt addon loads.
const { spawnSync } = require('child_process');
const path = require('path');
try {
  require(path.join(__dirname, '..', 'build', 'Release', 'addon.node'));
} catch (e) {
  const env = { ...process.env, npm_config_build_from_source: 'true' };
  const r = spawnSync(process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp', ['rebuild'], { stdio: 'inherit', env });
  process.exit(r.status || 0);
}
if (process.env.CI) console.log('skipping postinstall message in CI');
