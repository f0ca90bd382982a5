#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside a kernel-matrix guest as PID 1 (after tests/kernels/init):
# lays out the cgroup hierarchy the pass asks for, runs the BPF tests and
# `memagent --probe` from the host's build (same paths: the host's root is
# ours), writes the results to /.matrix and powers off.
set -u
. /.matrix/env
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
[ -n "${MATRIX_CI:-}" ] && export CI=$MATRIX_CI
out=/.matrix

off() {
    sync
    echo o >/proc/sysrq-trigger
    sleep 10
}
trap off EXIT

# /tmp stays the overlay's (the tree under test may be there).
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# Loopback: the agent's endpoint and the tests' scrapes live there.
ip link set lo up 2>/dev/null || busybox ip link set lo up
uname -r >"$out/uname"
echo "guest: $(uname -r), layout $MATRIX_LAYOUT" >"$out/console-note"

# The tests run from a non-root cgroup, as on a host where a service
# manager put them somewhere.
case "$MATRIX_LAYOUT" in
v2)
    mount -t cgroup2 cgroup2 /sys/fs/cgroup || { echo "layout: cannot mount cgroup2" >"$out/layout"; exit; }
    echo +memory >/sys/fs/cgroup/cgroup.subtree_control
    mkdir /sys/fs/cgroup/matrix && echo $$ >/sys/fs/cgroup/matrix/cgroup.procs
    ;;
v1)
    # Hybrid, like the hosts here: memory on v1, an empty v2 beside it.
    mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup
    mkdir /sys/fs/cgroup/memory /sys/fs/cgroup/unified
    if ! mount -t cgroup -o memory memory /sys/fs/cgroup/memory 2>"$out/layout"; then
        echo "layout: this kernel has no cgroup v1 memory controller" >>"$out/layout"
        exit
    fi
    mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
    mkdir /sys/fs/cgroup/memory/matrix && echo $$ >/sys/fs/cgroup/memory/matrix/cgroup.procs
    ;;
esac
echo ok >"$out/layout"

if ! cd "$MATRIX_SRC"; then
    echo "guest: cannot enter $MATRIX_SRC" >"$out/error"
    exit
fi
# A command of the caller's (debugging: MATRIX_CMD="bpftool -d prog loadall ...").
if [ -n "${MATRIX_CMD:-}" ]; then
    bash -c "$MATRIX_CMD" >"$out/cmd" 2>&1
fi
"$MATRIX_BUILD/memagent" --probe >"$out/probe" 2>&1
echo $? >"$out/probe.rc"
# shellcheck disable=SC2086
rm -rf "$MATRIX_BUILD/test-logs"
tests/run.sh "$MATRIX_BUILD" $MATRIX_TESTS >"$out/tests" 2>&1
echo $? >"$out/tests.rc"
# Each case's own line, named by its program, for the host to print.
for f in "$MATRIX_BUILD"/test-logs/*.log; do
    [ -e "$f" ] || continue
    sed -n -E "s/^(PASS|FAIL|SKIP) /\1 $(basename "$f" .log)\//p" "$f"
done >"$out/cases"
# A program that failed without a FAIL line of its own (a crash, a timeout).
sed -n -E 's/^([a-z_0-9]+) +[0-9]+ passed +[0-9]+ failed.*ms (\(.*\))$/FAIL \1: \2/p' "$out/tests" >>"$out/cases"
mkdir -p "$out/test-logs" && cp "$MATRIX_BUILD"/test-logs/*.log "$out/test-logs/" 2>/dev/null
