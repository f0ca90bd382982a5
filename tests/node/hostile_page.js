// SPDX-License-Identifier: MIT
// it_node's hostile pages, written with the client's own page writer:
//   size  a page whose header says 4096 bytes, and a page file       (size)
//         truncated to 4096 bytes
//   torn  the page's writer killed in the middle of an update: this  (torn)
//         process makes the page and hands its fd to a child that
//         updates it (odd counter, half the body) and is SIGKILLed
//         there; the page stays in our fd table, torn for good.
//         (A worker thread cannot play the writer: Node closes a
//         worker's fds when it is terminated.)
//   node hostile_page.js MODE OUT
'use strict';
const fs = require('fs');
const { spawn } = require('child_process');
const pagelib = require('memagent-node/lib/page');
const { OFF, SIZE, u32, u64 } = pagelib;

const [mode, out] = process.argv.slice(2);
if (mode === 'size') {
  const p = new pagelib.Page({ name: 'hostile-size', heapId: 1 });
  u32(p.buf, OFF.size, 4096);
  u64(p.buf, OFF.seq, 2);
  u64(p.buf, OFF.seqEnd, 2);
  fs.writeSync(p.fd, p.buf, 0, SIZE, 0);            // header included: publish() leaves it alone
  const q = new pagelib.Page({ name: 'hostile-short', heapId: 2 });
  q.publish(false);
  fs.ftruncateSync(q.fd, 4096);
  fs.writeFileSync(out, 'ready\n');
} else if (mode === 'torn') {
  const p = new pagelib.Page({ name: 'hostile-torn', heapId: 1 });
  p.publish(false);                                  // whole: seq 2
  const child = spawn(process.execPath, [__filename, 'writer'], { stdio: ['ignore', 'pipe', 'inherit', p.fd] });
  child.stdout.once('data', () => {
    child.kill('SIGKILL');
    child.on('exit', () => fs.writeFileSync(out, 'ready\n'));
  });
} else if (mode === 'writer') {
  // fd 3 is the page: step 1 and half of step 2 of an update, then wait to be killed.
  const word = Buffer.alloc(8);
  u64(word, 0, 3);
  fs.writeSync(3, word, 0, 8, OFF.seq);
  fs.writeSync(3, Buffer.alloc(4096, 0x55), 0, 4096, 4096);
  process.stdout.write('mid\n');
  for (;;) { /* SIGKILL arrives here */ }
}
if (mode !== 'writer') setInterval(() => {}, 3600000);
