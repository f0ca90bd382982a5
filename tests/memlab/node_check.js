// SPDX-License-Identifier: MIT
// Loads a V8 heap snapshot that memagent-node wrote on the agent's request with
// memlab's getFullHeapFromFile() and checks the leak of tests/node/snapshot_app.js:
// LeakyThing's instance count is the app's, and among the classes that do not
// hold it (a holder's retained size is at least what it holds) it is the top
// one by retained size (instances dominated by another of their class left out).
//   node tests/memlab/node_check.js FILE.heapsnapshot COUNT
'use strict';
const {getFullHeapFromFile} = require('@memlab/heap-analysis');

async function main() {
  const [file, want] = [process.argv[2], Number(process.argv[3])];
  const heap = await getFullHeapFromFile(file);
  const classOf = n => (n.type === 'object' ? n.name : `(${n.type})`);
  const cls = new Map(), holders = new Set();
  let failed = 0;
  const check = (ok, what) => {
    console.log(`${ok ? 'PASS' : 'FAIL'} memlab_${what}`);
    if (!ok) failed++;
  };
  heap.nodes.forEach(n => {
    if (n.type === 'synthetic') return;
    const k = classOf(n);
    // memlab hands out a new wrapper per access: nodes compare by id, and
    // the root is its own dominator.
    const up = d => {
      const p = d.dominatorNode;
      return p && p.id !== d.id ? p : null;
    };
    let nested = false;
    for (let d = up(n); d && !nested; d = up(d)) nested = classOf(d) === k;
    const c = cls.get(k) || { count: 0, retained: 0 };
    c.count++;
    if (!nested) c.retained += n.retainedSize;
    cls.set(k, c);
    if (k === 'LeakyThing')
      for (let d = up(n); d; d = up(d))
        if (classOf(d) !== k) holders.add(classOf(d));
  });
  const ranked = [...cls.entries()].filter(([k]) => !holders.has(k)).sort((a, b) => b[1].retained - a[1].retained);
  for (const [k, c] of ranked.slice(0, 4)) console.log(`  ${k} count ${c.count} retained ${c.retained}`);
  check((cls.get('LeakyThing') || {}).count === want, `count_LeakyThing: ${(cls.get('LeakyThing') || {}).count} == ${want}`);
  check(ranked.length > 0 && ranked[0][0] === 'LeakyThing', `top_class_by_retained_size: ${ranked[0] && ranked[0][0]}`);
  process.exitCode = failed ? 1 : 0;
}
main().catch(e => { console.log(`FAIL memlab_load: ${e.stack}`); process.exitCode = 1; });
