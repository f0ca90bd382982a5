// SPDX-License-Identifier: MIT
// binary-trees (the Benchmarks Game's, single-threaded): GC-heavy, for make bench-node.
// It yields to the event loop every 64 trees, as a server does between
// requests: perf_hooks delivers GC entries, and timers run, only then.
//   node binary_trees.js DEPTH
'use strict';

function TreeNode(left, right) {
  this.left = left;
  this.right = right;
}
function bottomUp(depth) {
  return depth > 0 ? new TreeNode(bottomUp(depth - 1), bottomUp(depth - 1)) : new TreeNode(null, null);
}
function check(t) {
  return t.left === null ? 1 : 1 + check(t.left) + check(t.right);
}

const turn = () => new Promise(resolve => setImmediate(resolve));

(async () => {
  const maxDepth = Math.max(6, Number(process.argv[2] || 18));
  const stretch = bottomUp(maxDepth + 1);
  let out = `stretch tree of depth ${maxDepth + 1}\t check: ${check(stretch)}\n`;
  const longLived = bottomUp(maxDepth);
  for (let d = 4; d <= maxDepth; d += 2) {
    const iterations = 1 << (maxDepth - d + 4);
    let sum = 0;
    for (let i = 0; i < iterations; i++) {
      sum += check(bottomUp(d));
      if (i % 64 === 63) await turn();
    }
    out += `${iterations}\t trees of depth ${d}\t check: ${sum}\n`;
  }
  out += `long lived tree of depth ${maxDepth}\t check: ${check(longLived)}\n`;
  if (process.env.BT_PRINT) process.stdout.write(out);
})();
