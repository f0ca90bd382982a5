#!/bin/bash
# SPDX-License-Identifier: MIT
# The kernel matrix inside the suite: Debian 12's 6.1 and Debian's 6.12
# booted under qemu, the BPF tests and --probe run in each, on cgroup v2
# and, where the kernel has it, v1 (tests/kernels/matrix.sh). The running
# kernel's row is the rest of the suite itself, so it is not run twice.
# Under CI a missing part fails; elsewhere it is a skip.
. "$(dirname "$0")/lib.sh"

missing=""
for c in qemu-system-x86_64 busybox depmod modprobe dpkg-deb apt-get; do
    command -v "$c" >/dev/null || missing="$missing $c"
done
if [ -n "$missing" ]; then
    if [ "${CI:-}" = true ]; then fail kernels "missing:$missing (scripts/setup.sh test installs them)"
    else skip kernels "missing:$missing (scripts/setup.sh test installs them)"; fi
    finish
fi
t0=$SECONDS
tests/kernels/matrix.sh "$BUILD" debian-6.1 debian-6.12 || FAILED=1
echo "kernel matrix took $((SECONDS - t0)) s"
finish
