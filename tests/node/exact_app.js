// SPDX-License-Identifier: MIT
// it_node's exact-value subject: quiesces, collects (--expose-gc), lets the
// client write its update, then prints what its own V8 says at that moment.
//   node --expose-gc --max-old-space-size=64 -r memagent-node/register exact_app.js OUT
'use strict';
const fs = require('fs');
const v8 = require('v8');
const memagent = require('memagent-node');

// A name and no timer-driven rewrites while the test compares (an idle app
// allocates nothing, so nothing else would change the numbers either).
memagent.start({ name: 'node-exact', intervalMs: 3600000 });
memagent.queue('jobs', () => 3);
const keep = [];
for (let i = 0; i < 50000; i++) keep.push({ i, s: `item-${i}` });

function idle() { return new Promise(resolve => setImmediate(resolve)); }

(async () => {
  await idle();
  global.gc();
  await idle();                                      // the GC's perf_hooks entry is delivered
  await idle();
  memagent.update();
  const own = v8.getHeapSpaceStatistics().find(s => s.space_name === 'old_space');
  const limit = v8.getHeapStatistics().heap_size_limit;
  fs.writeFileSync(process.argv[2],
    `old_space_used=${own.space_used_size}\nheap_size_limit=${limit}\nkept=${keep.length}\nready\n`);
  setInterval(() => keep.length, 3600000);
})();
