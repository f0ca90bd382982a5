// SPDX-License-Identifier: MIT
// make bench-node: loaded after memagent-node/register, writes what the client did to
// $MEMAGENT_BENCH_REPORT at exit (updates, GC entries, GC batches).
'use strict';
const fs = require('fs');
const memagent = require('memagent-node');
const c = memagent.client;
const orig = c.onGcEntries.bind(c);
let entries = 0, batches = 0;
c.onGcEntries = list => { batches++; entries += list.length; orig(list); };
process.on('exit', () => {
  fs.writeFileSync(process.env.MEMAGENT_BENCH_REPORT,
    `updates ${c.updates}\ngc_entries ${entries}\ngc_batches ${batches}\n`);
});
