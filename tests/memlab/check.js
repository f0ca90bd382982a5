// SPDX-License-Identifier: MIT
// Loads a libgengc heap snapshot with memlab's getFullHeapFromFile() and checks it
// against what the program that wrote it printed (tests/helpers/gc_snapshot.c).
//   node tests/memlab/check.js FILE.heapsnapshot EXPECTED.json
'use strict';
const fs = require('fs');
const {getFullHeapFromFile} = require('@memlab/heap-analysis');

async function main() {
  const [file, expectedFile] = process.argv.slice(2);
  const want = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
  const heap = await getFullHeapFromFile(file);
  const counts = {}, edges = {}, sizes = {};
  let failed = 0, listHead = null, treeRoot = null;
  const check = (ok, what) => {
    console.log(`${ok ? 'PASS' : 'FAIL'} memlab_${what}`);
    if (!ok) failed++;
  };

  heap.nodes.forEach(node => {
    counts[node.name] = (counts[node.name] || 0) + 1;
    edges[node.name] = (edges[node.name] || 0) + node.edge_count;
    (sizes[node.name] = sizes[node.name] || new Set()).add(node.self_size);
    if (node.name === '(Global handles)') node.forEachReference(e => { listHead = e.toNode; });
    if (node.name === '(Handle scope)') node.forEachReference(e => { treeRoot = e.toNode; });
  });
  for (const [name, n] of Object.entries(want.counts))
    check(counts[name] === n, `count_${name}: ${counts[name]} == ${n}`);
  for (const [name, n] of Object.entries(want.edges))
    check(edges[name] === n, `edges_${name}: ${edges[name]} == ${n}`);
  for (const [name, n] of Object.entries(want.self_size))
    check(sizes[name] && sizes[name].size === 1 && sizes[name].has(n), `self_size_${name}: ${n}`);
  check(listHead && listHead.name === 'LeakNode' && listHead.retainedSize === want.list_retained,
        `list_head_retained: ${listHead && listHead.retainedSize} == ${want.list_retained}`);
  check(treeRoot && treeRoot.name === 'Tree' && treeRoot.retainedSize === want.tree_retained,
        `tree_retained: ${treeRoot && treeRoot.retainedSize} == ${want.tree_retained}`);
  process.exitCode = failed ? 1 : 0;
}
main().catch(e => { console.log(`FAIL memlab_load: ${e.stack}`); process.exitCode = 1; });
