#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's two commands: set everything up, then run the agent or the tests.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

case "${1:-}" in
run)
    ./scripts/setup.sh build
    make -j"$jobs"
    shift
    exec ./build/memagent "$@"
    ;;
test)
    ./scripts/setup.sh test
    exec make -j"$jobs" test
    ;;
*)
    echo "usage: scripts/dev.sh run [memagent options] | test" >&2
    exit 2
    ;;
esac
