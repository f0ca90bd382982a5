#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages memagent needs, only those missing (idempotent).
# Usage: scripts/setup.sh [build] [test] [bench] ...   (no argument: build)
set -eu

pkgs_build="gcc make pkg-config libc6-dev clang llvm bpftool libbpf-dev libelf-dev
    zlib1g-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev systemtap-sdt-dev"
# promtool and the server come with `prometheus`; curl and jq drive the
# integration tests; procps and util-linux provide pgrep/setsid/flock;
# qemu-system-x86, busybox-static, kmod and xz-utils boot the kernel matrix
# (tests/kernels/); strace records the syscalls the unit must allow
# (tests/it_syscalls.sh); python3 is the nobody server of tests/it_service.sh;
# libclang-rt-14-dev is the libFuzzer runtime (not pulled
# in without recommends).
pkgs_test="prometheus curl jq procps util-linux iproute2 systemd qemu-system-x86 busybox-static
    kmod xz-utils libclang-rt-14-dev strace python3"
pkgs_bench="libgc-dev prometheus-process-exporter prometheus-node-exporter hyperfine"

want=""
[ $# -eq 0 ] && set -- build
for profile in "$@"; do
    case "$profile" in
    build) want="$want $pkgs_build" ;;
    test)  want="$want $pkgs_build $pkgs_test" ;;
    bench) want="$want $pkgs_build $pkgs_test $pkgs_bench" ;;
    *) echo "setup.sh: unknown profile '$profile' (build, test, bench)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root (or sudo) to install:$missing" >&2; exit 1; }
    sudo=sudo
fi
echo "setup.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh package lists only when an install is needed; stale lists are the
# usual reason a first install fails on a fresh machine.
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
