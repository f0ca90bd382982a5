// SPDX-License-Identifier: MIT
// Zero-code use: node -r memagent-node/register app.js (or NODE_OPTIONS=--require=memagent-node/register).
// MEMAGENT_DISABLE=1 turns it off; a failure to make the page is one warning, never the app's end.
'use strict';

if (process.env.MEMAGENT_DISABLE !== '1') {
  try {
    require('./index.js').start();
  } catch (e) {
    process.emitWarning(`memagent-node: not publishing: ${e.message}`);
  }
}
