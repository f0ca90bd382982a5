#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages memagent needs, only those missing (idempotent).
# Usage: scripts/setup.sh [build] [test] [bench] ...   (no argument: build)
set -eu

pkgs_build="gcc make pkg-config libc6-dev clang llvm bpftool libbpf-dev libelf-dev
    zlib1g-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev systemtap-sdt-dev
    libgnutls28-dev libcrypt-dev libprotobuf-c-dev protobuf-c-compiler libsnappy-dev"
# promtool and the server come with `prometheus` (promtool also checks
# systemd/memagent.rules.yml), prometheus-alertmanager receives alerts (it_alerts); curl and jq drive the
# integration tests; openssl makes the web and sink tests' certificates; procps and util-linux provide pgrep/setsid/flock;
# qemu-system-x86, busybox-static, kmod and xz-utils boot the kernel matrix
# (tests/kernels/); libclang-rt-14-dev is the libFuzzer runtime (not pulled
# in without recommends); the push sinks' receivers (tests/it_sinks.sh) are
# victoria-metrics, influxdb and prometheus-pushgateway; strace records the
# syscalls the unit must allow (tests/it_syscalls.sh); python3 is the nobody
# server of tests/it_service.sh.
pkgs_test="prometheus curl jq openssl procps util-linux iproute2 systemd qemu-system-x86 busybox-static
    kmod xz-utils libclang-rt-14-dev victoria-metrics influxdb prometheus-pushgateway
    prometheus-alertmanager strace python3"
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

# Node.js (tests/it_node.sh, make bench-node): checked, never installed. A
# node from another packaging (NodeSource, nvm) conflicts with Debian's npm,
# and apt would fail or replace it; without node >= 18 and npm, it_node skips.
case " $* " in *" test "*|*" bench "*)
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "setup.sh: node and npm not found: the Node client's tests skip (install Node >= 18 with its npm)" >&2
    elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
        echo "setup.sh: node $(node --version) is older than 18: the Node client's tests skip" >&2
    fi ;;
esac

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
