// A Node computation in steps through the event loop (timers and immediates), so the
// restarted process needs libuv's epoll set, eventfds and pipes back. Deterministic.
const crypto = require('crypto');
const steps = Number(process.argv[2] || 40);
let acc = Buffer.alloc(32, 1);
let i = 0;
const seen = new Map();
function step() {
  for (let k = 0; k < 15000; k++) acc = crypto.createHash('sha256').update(acc).digest();
  seen.set(i, acc.toString('hex').slice(0, 16));
  process.stdout.write(`step ${i} ${acc.toString('hex')} ${seen.size}\n`);
  i++;
  if (i === steps) { process.exitCode = 4; return; }
  if (i % 2) setTimeout(step, 1); else setImmediate(step);
}
step();
