// SPDX-License-Identifier: MIT
// it_node's snapshot subject: an unbounded cache of LeakyThing objects, each
// with its own payload; prints its own count once the cache is filled, then
// waits (idle) for the agent's request. Run with -r memagent-node/register
// and MEMAGENT_SNAPSHOT_DIR set.
//   node -r memagent-node/register snapshot_app.js OUT COUNT
'use strict';
const fs = require('fs');

class LeakyThing {
  constructor(id) {
    this.id = id;
    this.name = `thing-${id}`;
    this.payload = new Array(256).fill(id);         // 2 KiB of its own
  }
}

const cache = new Map();
const [out, count] = [process.argv[2], Number(process.argv[3] || 3000)];
for (let i = 0; i < count; i++) cache.set(`key-${i}`, new LeakyThing(i));
fs.writeFileSync(out, `count=${cache.size}\nready\n`);
// The timer keeps the cache alive: a module scope nothing captures dies with the module function.
setInterval(() => cache.size, 1000);
