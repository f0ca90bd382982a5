// SPDX-License-Identifier: MIT
// Heap snapshots on request: an abstract UNIX socket the page names; v8.writeHeapSnapshot() into one directory.
//
// Who may ask: a request must repeat the 32-byte token the page carries, and
// the page is reachable only through this process's /proc/PID/fd (ptrace
// read access: root, CAP_SYS_PTRACE, or our own user). JavaScript has no
// SO_PEERCRED (net.Socket exposes no peer credentials, and a native addon
// is what this package avoids), so the token is the credential: whoever can
// read the page may ask, nobody else can. Requests are answered at most once
// per interval; the page says the newest outcome and path.
//
//   request  "snapshot HEX-TOKEN\n"
//   answer   "ok PATH\n" | "busy\n" | "refused\n" | "error TEXT\n"
'use strict';

const net = require('net');
const v8 = require('v8');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { OFF, LIMITS, SNAPSHOT, u64, u32, text } = require('./page');

const REQUEST_MAX = 16 + 2 * LIMITS.tokenBytes;

function listen(client, dir, intervalMs) {
  const token = crypto.randomBytes(LIMITS.tokenBytes);
  const name = `memagent-node.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  const st = { status: SNAPSHOT.none, count: 0, timeNs: 0n, path: '', last: -Infinity };

  const server = net.createServer(sock => {
    let buf = '';
    sock.setEncoding('latin1');
    sock.setTimeout(5000, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', chunk => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > REQUEST_MAX) sock.destroy();
        return;
      }
      sock.end(answer(buf.slice(0, nl)));
    });
  });

  function setStatus(status) {
    st.status = status;
    st.timeNs = process.hrtime.bigint();
    client.update();
  }

  function answer(line) {
    const m = /^snapshot ([0-9a-f]+)$/.exec(line);
    const got = m && m[1].length === 2 * LIMITS.tokenBytes ? Buffer.from(m[1], 'hex') : null;
    if (!got || !crypto.timingSafeEqual(got, token)) return 'refused\n';
    const now = Date.now();
    if (now - st.last < intervalMs) {
      setStatus(SNAPSHOT.refused);
      return 'busy\n';
    }
    st.last = now;
    const file = path.resolve(dir, `${client.opts.name}-${process.pid}-${now}.heapsnapshot`);
    if (Buffer.byteLength(file) >= LIMITS.pathBytes) {
      setStatus(SNAPSHOT.failed);
      return 'error path too long\n';
    }
    setStatus(SNAPSHOT.writing);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      v8.writeHeapSnapshot(file);
    } catch (e) {
      setStatus(SNAPSHOT.failed);
      return `error ${String(e.message).replace(/\n/g, ' ')}\n`;
    }
    st.count++;
    st.path = file;
    setStatus(SNAPSHOT.written);
    return `ok ${file}\n`;
  }

  // Only a failed listen leaves no listener: a failed accept (EMFILE, say)
  // is reported here too, and the socket still answers afterwards.
  server.on('error', () => { if (!server.listening) st.broken = true; });
  server.listen('\0' + name);                        // abstract: nothing in the file system
  server.unref();

  return {
    // The page's snapshot block (docs/telemetry.md).
    fill(b) {
      text(b, OFF.snapSocket, LIMITS.socketBytes, name);
      token.copy(b, OFF.snapToken);
      u32(b, OFF.snapStatus, st.status);
      u64(b, OFF.snapshots, st.count);
      u64(b, OFF.snapTime, st.timeNs);
      text(b, OFF.snapPath, LIMITS.pathBytes, st.path);
    },
    // False once the socket failed (no listener): the page stops offering
    // snapshots rather than name a socket nobody answers.
    allowed() { return !st.broken; },
    close() { server.close(); },
  };
}

module.exports = { listen };
