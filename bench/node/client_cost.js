// SPDX-License-Identifier: MIT
// make bench-node: CPU time of one page update and of one GC-entry batch of the client,
// measured with process.cpuUsage() over many calls (heap of a few MB, 2 queues).
'use strict';
const memagent = require('memagent-node');
const c = memagent.start({ name: 'cost', intervalMs: 3600000, minIntervalMs: 3600000 });
memagent.queue('a', () => 1);
memagent.queue('b', () => 2);
const keep = [];
for (let i = 0; i < 20000; i++) keep.push({ i });

function cpuNs(f, n) {
  for (let i = 0; i < n / 10; i++) f();            // warm up
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) * 1000 / n;
}
const N = 20000;
const update = cpuNs(() => c.update(), N);
// A batch of one minor GC entry, throttled (no page write): what most GCs cost.
const entry = { detail: { kind: 1 }, duration: 0.3 };
const batch = cpuNs(() => c.onGcEntries([entry]), N);
console.log(`update_ns ${update.toFixed(0)}\ngc_batch_ns ${batch.toFixed(0)}\nkept ${keep.length}`);
