// SPDX-License-Identifier: MIT
// it_node's leak shapes from the Node.js notes, stepped by the test: each line
// on stdin is one step (the shape's work, then gc(), then the client's
// update), and the app answers "step N" in OUT once the page has it, so the
// test samples at known full-GC numbers.
//   cache    an unbounded object cache (500 entries a step, never evicted)
//   closure  the replaceThing pattern: each closure's scope keeps the last thing
//   queue    a producer faster than its consumer (11 in, 10 out a step), memagent.queue
//   bounded  the notes' fix: the same cache, bounded (5000), evicting first-in first-out
//   node --expose-gc -r memagent-node/register leak_app.js MODE OUT < FIFO
'use strict';
const fs = require('fs');
const memagent = require('memagent-node');

const [mode, out] = process.argv.slice(2);
memagent.start({ name: `node-${mode}`, intervalMs: 3600000 });

let n = 0;
const cache = new Map();
const CAPACITY = 5000;
function cacheStep(bounded) {
  for (let i = 0; i < 500; i++) {
    const key = `k${n}-${i}`;
    cache.set(key, { key, value: `${key}:${'x'.repeat(200)}` });
    if (bounded && cache.size > CAPACITY) cache.delete(cache.keys().next().value);
  }
}

let theThing = null;
function replaceThing() {
  const originalThing = theThing;
  // unused is never called, but it shares the scope of someMethod's closure,
  // and that scope holds originalThing: every thing keeps the one before.
  // eslint-disable-next-line no-unused-vars
  const unused = function () { if (originalThing) return 'hi'; };
  // The notes' longStr, as 100 KB of its own: V8 shares the filler of
  // padEnd()/join('*') strings between calls, so those would not grow.
  theThing = {
    longArray: new Array(12500).fill(n),
    someMethod() { return 'x'; },
  };
}

const queue = [];
memagent.queue('jobs', () => queue.length);
function queueStep() {
  for (let i = 0; i < 11; i++) queue.push({ job: n, i });
  for (let i = 0; i < 10; i++) queue.shift();
}

const steps = { cache: () => cacheStep(false), bounded: () => cacheStep(true), closure: replaceThing, queue: queueStep };
const step = steps[mode];
if (!step) throw new Error(`leak_app: unknown mode ${mode}`);

let pending = '';
process.stdin.setEncoding('latin1');
process.stdin.on('data', async chunk => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    pending = pending.slice(nl + 1);
    n++;
    step();
    global.gc();
    await new Promise(resolve => setImmediate(resolve));   // the GC's entry reaches the client
    await new Promise(resolve => setImmediate(resolve));
    memagent.update();
    fs.appendFileSync(out, `step ${n} gcs ${memagent.client.majors} size ${cache.size} queue ${queue.length}\n`);
  }
});
fs.writeFileSync(out, 'ready\n');
