// Installed by run.sh as dist/cli.js of the staged original: its test
// runner starts `node dist/cli.js ARGS` (and `sudo -E node dist/cli.js`);
// this runs awf's binary instead, passing signals on and returning its
// exit status (or dying of its signal).
'use strict';
const { spawn } = require('child_process');

const child = spawn('@AWF@', process.argv.slice(2), { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => child.kill(sig));
}
child.on('error', (err) => {
  console.error(`cli-shim: cannot run awf: ${err.message}`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code);
});
