// SPDX-License-Identifier: MIT
// A request with a wrong token on the socket a page names: the client must
// answer "refused" and write nothing. Prints the answer.
//   node ask_snapshot.js SOCKET-NAME
'use strict';
const net = require('net');
const s = net.connect('\0' + process.argv[2]);
let got = '';
s.on('connect', () => s.write(`snapshot ${'00'.repeat(32)}\n`));
s.on('data', d => { got += d; });
s.on('close', () => console.log(got.trim()));
s.on('error', e => console.log(`error ${e.code}`));
