// SPDX-License-Identifier: MIT
// The telemetry page (docs/telemetry.md, gc/abi/gengc_telemetry.h) written from JavaScript with pwrite.
//
// JavaScript can neither memfd_create nor map a file, so the page is an
// unlinked tmpfs file kept open (docs/telemetry.md, "Page files") and written
// with fs.writeSync at positions, which is pwrite(2): the format's protocol 2.
// The page image lives in one Buffer; an update is three pwrites in an order
// that lets a reader tell a whole page from a torn one:
//   1. seq <- c + 1 (odd) at offset 24;
//   2. the image from offset 32 to the end, its seq_end being c + 2;
//   3. seq <- c + 2 at offset 24.
// A reader takes the page only when seq before its copy, seq and seq_end in
// it, and seq after it are one even number; a writer killed between 1 and 3
// leaves an odd seq, or unequal counters, for good: never taken.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');

const SIZE = 8192;
const VERSION = 2;
const PROTOCOL_PWRITE = 2;
const MAGIC = Buffer.from('GENGCTLM', 'latin1');
const PREFIX = 'gengc-stats-';

// Byte offsets: gc/abi/gengc_telemetry.h (its _Static_asserts pin them).
const OFF = {
  magic: 0, version: 8, size: 12, protocol: 16, pid: 20, seq: 24, startTime: 32,
  heapId: 40, updateNs: 48, name: 56, nSpaces: 120, nKinds: 124, nQueues: 128,
  heapTotal: 136, heapUsed: 144, heapLimit: 152, heapAvailable: 160, heapPhysical: 168,
  external: 176, promoted: 184, allocated: 192, fullGcs: 200, gcSeq: 208,
  flags: 216, arrayBuffers: 224, loopP50: 232, loopP99: 240,
  spaces: 256, kinds: 1280, ring: 3840, queues: 4864,
  snapSocket: 7424, snapToken: 7488, snapStatus: 7520, snapshots: 7528, snapTime: 7536,
  snapPath: 7544, seqEnd: 8184,
};
const LIMITS = { spaces: 16, kinds: 8, ring: 32, queues: 32, buckets: 32, nameBytes: 64, keyBytes: 32,
  socketBytes: 64, tokenBytes: 32, pathBytes: 256 };
const FLAGS = { loopDelay: 1, arrayBuffers: 2, snapshotAllowed: 4 };
const SNAPSHOT = { none: 0, writing: 1, written: 2, failed: 3, refused: 4 };

const LE = os.endianness() === 'LE';

// The page's numbers are unsigned 64-bit; JavaScript numbers are exact up to
// 2^53, far past any byte count or GC count a process reaches.
function u64(buf, off, v) {
  const b = BigInt(Math.max(0, Math.floor(Number(v) || 0)));
  if (LE) buf.writeBigUInt64LE(b, off); else buf.writeBigUInt64BE(b, off);
}
function u32(buf, off, v) {
  if (LE) buf.writeUInt32LE(v >>> 0, off); else buf.writeUInt32BE(v >>> 0, off);
}
// A NUL-padded UTF-8 field of `bytes` with at least one NUL; cut at a
// character boundary. Returns the bytes kept.
function text(buf, off, bytes, s) {
  let b = Buffer.from(String(s), 'utf8');
  if (b.length > bytes - 1) {
    let n = bytes - 1;
    while (n > 0 && (b[n] & 0xc0) === 0x80) n--;      // not inside a character
    b = b.subarray(0, n);
  }
  buf.fill(0, off, off + bytes);
  b.copy(buf, off);
  return b.length;
}

// Field 22 of /proc/self/stat (after the comm's closing parenthesis): what
// the agent compares to tell the writer from a process that inherited the
// fd. 0 (unknown) when unreadable.
function startTicks() {
  try {
    const s = fs.readFileSync('/proc/self/stat', 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[19]) || 0;                        // field 22 is the 20th after the comm
  } catch (e) {
    return 0;
  }
}

// A tmpfs directory we may write: the page must be on tmpfs (the agent checks).
function defaultDir() {
  for (const d of ['/dev/shm', process.env.XDG_RUNTIME_DIR]) {
    if (!d) continue;
    try {
      fs.accessSync(d, fs.constants.W_OK);
      return d;
    } catch (e) { /* next */ }
  }
  return os.tmpdir();
}

class Page {
  // Creates the page file in dir, writes a first image with an odd counter
  // (a reader finds it only once it is unlinked, and then it is whole), and
  // unlinks it. Throws what fs throws (no tmpfs, no space).
  constructor({ dir, name, heapId }) {
    this.buf = Buffer.alloc(SIZE);
    this.word = Buffer.alloc(8);
    this.seq = 0;
    this.closed = false;
    const b = this.buf;
    MAGIC.copy(b, OFF.magic);
    u32(b, OFF.version, VERSION);
    u32(b, OFF.size, SIZE);
    u32(b, OFF.protocol, PROTOCOL_PWRITE);
    u32(b, OFF.pid, process.pid);
    u64(b, OFF.startTime, startTicks());
    u64(b, OFF.heapId, heapId);
    this.setName(name);
    const file = path.join(dir || defaultDir(),
      `${PREFIX}${process.pid}-${heapId}-${crypto.randomBytes(4).toString('hex')}`);
    // 'wx+': O_RDWR | O_CREAT | O_EXCL; libuv adds O_CLOEXEC to every open.
    this.fd = fs.openSync(file, 'wx+', 0o600);
    try {
      u64(b, OFF.seq, 1);
      u64(b, OFF.seqEnd, 1);
      fs.writeSync(this.fd, b, 0, SIZE, 0);
      fs.unlinkSync(file);
    } catch (e) {
      try { fs.unlinkSync(file); } catch (e2) { /* already gone */ }
      fs.closeSync(this.fd);
      throw e;
    }
    this.file = file;
  }

  setName(name) {
    if (!text(this.buf, OFF.name, LIMITS.nameBytes, name)) text(this.buf, OFF.name, LIMITS.nameBytes, 'node');
  }

  // The three pwrites of one update (see the top of this file). zeroMagic:
  // the closing update, which also clears bytes 0..7 between steps 1 and 3.
  publish(zeroMagic) {
    if (this.closed) return;
    const c = this.seq;
    u64(this.word, 0, c + 1);
    fs.writeSync(this.fd, this.word, 0, 8, OFF.seq);
    if (zeroMagic) {
      this.buf.fill(0, OFF.magic, OFF.magic + 8);
      fs.writeSync(this.fd, this.buf, 0, 8, 0);
    }
    u64(this.buf, OFF.seq, c + 2);
    u64(this.buf, OFF.seqEnd, c + 2);
    fs.writeSync(this.fd, this.buf, 32, SIZE - 32, 32);
    u64(this.word, 0, c + 2);
    fs.writeSync(this.fd, this.word, 0, 8, OFF.seq);
    this.seq = c + 2;
  }

  // Zeroes the magic in one last whole update and closes the file: the agent
  // drops the page at its next read without counting an error.
  close() {
    if (this.closed) return;
    try { this.publish(true); } catch (e) { /* closing anyway */ }
    this.closed = true;
    try { fs.closeSync(this.fd); } catch (e) { /* already */ }
  }
}

module.exports = { Page, OFF, LIMITS, FLAGS, SNAPSHOT, SIZE, VERSION, MAGIC, PREFIX, u64, u32, text, defaultDir };
