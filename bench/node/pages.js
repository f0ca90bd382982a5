// SPDX-License-Identifier: MIT
// make bench-node: one process holding N Node telemetry pages (the client's writer and a
// real update image each, distinct heap ids), rewritten every 100 ms, for the agent's
// per-cycle cost; 100 node processes would take gigabytes of a shared machine.
//   node pages.js N READY-FILE
'use strict';
const fs = require('fs');
const memagent = require('memagent-node');
const pagelib = require('memagent-node/lib/page');
const [n, ready] = [Number(process.argv[2] || 100), process.argv[3]];
const c = memagent.start({ name: 'bench-node-0' });
memagent.queue('jobs', () => 5);
c.update();
const pages = [];
for (let i = 1; i < n; i++) {
  const p = new pagelib.Page({ name: `bench-node-${i}`, heapId: 1000 + i });
  pages.push(p);
}
function rewrite() {
  c.update();
  for (let i = 0; i < pages.length; i++) {
    const p = pages[i];
    c.page.buf.copy(p.buf, 32, 32, pagelib.SIZE);   // the real image, own header
    pagelib.u64(p.buf, pagelib.OFF.heapId, 1000 + i + 1);
    pagelib.text(p.buf, pagelib.OFF.name, 64, `bench-node-${i + 1}`);
    p.publish(false);
  }
}
rewrite();
fs.writeFileSync(ready, 'ready\n');
setInterval(rewrite, 100);
