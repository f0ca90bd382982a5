#!/bin/bash
# SPDX-License-Identifier: MIT
# make test-node-memlab: a heap snapshot memagent-node writes on the agent's
# request (memagent --heap-snapshot PID), loaded by memlab (build/memlab, the
# pinned install of make test-gc-memlab) and checked by tests/memlab/node_check.js.
#   tests/memlab/node_snapshot.sh MEMAGENT MEMLAB_DIR WORK_DIR
set -eu
MEMAGENT=$1 MEMLAB=$2 WORK=$3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$WORK" && mkdir -p "$WORK/app"
cd "$WORK/app"
npm pack --silent "$SRC/clients/node" >../pack.out
echo '{"name":"memagent-node-memlab","private":true}' >package.json
npm install --offline --no-audit --no-fund --silent "./$(tail -1 ../pack.out)"
cp "$SRC/tests/node/snapshot_app.js" .
MEMAGENT_SNAPSHOT_DIR=$WORK/snaps node -r memagent-node/register snapshot_app.js "$WORK/app.out" 3000 &
APP=$!
trap 'kill $APP 2>/dev/null' EXIT
for _ in $(seq 200); do grep -qs ready "$WORK/app.out" && break; sleep 0.1; done
path=$("$MEMAGENT" --heap-snapshot "$APP")
NODE_PATH=$MEMLAB/node_modules node "$SRC/tests/memlab/node_check.js" "$path" \
    "$(sed -n 's/^count=//p' "$WORK/app.out")" 2>/dev/null
