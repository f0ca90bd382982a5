#!/bin/bash
# SPDX-License-Identifier: MIT
# The kernel matrix: boots each kernel of a list under qemu with the host's
# root filesystem as the guest's (9p, read-only, under a tmpfs overlay: the
# virtme/vmtest way), runs the BPF tests and `memagent --probe` inside, on
# cgroup v2 and, where the kernel has it, the v1 memory controller, and
# prints one line per kernel and layout:
#
#   kernel 6.1.0-57-amd64 (cgroup v2): 30 passed, 0 failed, 0 skipped
#
# Every test case's own PASS/FAIL/SKIP line is printed too, prefixed with
# the kernel, so tests/run.sh counts them. Kernels come from Debian's
# package registry (apt-get download of linux-image-*-unsigned, the newest
# name resolved with apt-cache at run time), unpacked with dpkg-deb into
# build/kernels and never installed as the host's kernel. The running
# kernel's row ("host") runs the same tests on the host itself: its image is
# not on disk.
#
#   tests/kernels/matrix.sh BUILD_DIR [KERNEL...]
#     KERNEL: debian-6.1 | debian-6.12 | host       (default: all three)
#   MATRIX_ACCEL=tcg|kvm|auto (default auto: KVM when a probe boot works, else
#   plain emulation), MATRIX_TESTS="test_rss_stat ..." to run fewer tests
#   (MATRIX_TESTS_V1 for the cgroup v1 boots: by default the cgroup tests),
#   MATRIX_CMD="..." a command to run in each guest first (its output is kept
#   in build/kernels/logs/), MATRIX_LAYOUTS="v2" to boot fewer layouts.
set -u
build=${1:?usage: tests/kernels/matrix.sh BUILD_DIR [KERNEL...]}
shift
cd "$(dirname "$0")/../.."
src=$(pwd)
build=$(cd "$build" && pwd)
cache=$src/build/kernels
mkdir -p "$cache"
[ $# -eq 0 ] && set -- debian-6.1 debian-6.12 host

tests=${MATRIX_TESTS:-it_bpf_caps test_bpf_support test_probe test_rss_stat test_mark_victim test_process_exit test_task_iter test_sockets test_queues test_gc_usdt it_gc_events}
# The v1 layout (cgroup v1 memory controller, the hybrid hosts') runs the
# tests whose subject is a memory cgroup; the rest read nothing of cgroups and
# ran on the v2 boot of the same kernel. Under plain emulation a row costs
# 75-190 s, so a second full row is the matrix's largest cost.
tests_v1=${MATRIX_TESTS_V1:-${MATRIX_TESTS:-test_bpf_support test_mark_victim test_process_exit test_task_iter test_queues}}
# A boot plus the tests takes 25-40 s under plain emulation; a hang must not
# hold the suite.
guest_timeout=${MATRIX_TIMEOUT:-480}

log() { echo "matrix: $*" >&2; }

# Package name pattern of each Debian kernel of the matrix (generic flavour:
# the cloud flavour has no 9p).
pattern() {
    case "$1" in
    debian-6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
    debian-6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
    *) return 1 ;;
    esac
}

# resolve NAME: the newest package of NAME's pattern (refreshing the package
# lists once when they know none).
resolve() {
    local pat pkg
    pat=$(pattern "$1") || return 1
    pkg=$(apt-cache search --names-only "$pat" 2>/dev/null | awk '{print $1}' | sort -V | tail -1)
    if [ -z "$pkg" ]; then
        apt-get update -qq >/dev/null 2>&1
        pkg=$(apt-cache search --names-only "$pat" 2>/dev/null | awk '{print $1}' | sort -V | tail -1)
    fi
    [ -n "$pkg" ] && echo "$pkg"
}

# The modules the guest loads: its disk and root (virtio, 9p, overlay) and
# the sock_diag modules test_sockets asks (Debian builds them as modules).
guest_modules="virtio_pci 9pnet_virtio 9p overlay inet_diag tcp_diag udp_diag unix_diag"

# fetch PKG: unpacks the kernel and the modules the guest needs into
# $cache/PKG (once per list of what is unpacked); prints that folder.
fetch() {
    local pkg=$1 dir=$cache/$1 deb
    if [ ! -e "$dir/.done-diag" ]; then
        rm -rf "$dir" "$cache/dl"
        mkdir -p "$dir" "$cache/dl"
        local t0=$SECONDS
        (cd "$cache/dl" && apt-get download "$pkg" >/dev/null 2>&1) || { log "cannot download $pkg"; return 1; }
        deb=$(ls "$cache"/dl/*.deb)
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards \
            './boot/vmlinuz-*' './boot/config-*' './lib/modules/*/modules.*' \
            './lib/modules/*/kernel/fs/9p' './lib/modules/*/kernel/net/9p' \
            './lib/modules/*/kernel/fs/overlayfs' './lib/modules/*/kernel/fs/netfs' \
            './lib/modules/*/kernel/fs/fscache' './lib/modules/*/kernel/drivers/virtio' \
            './lib/modules/*/kernel/net/ipv4' './lib/modules/*/kernel/net/unix' \
            2>/dev/null
        rm -rf "$cache/dl"
        ls "$dir"/boot/vmlinuz-* >/dev/null 2>&1 || { log "no kernel image in $pkg"; return 1; }
        touch "$dir/.done-diag"
        log "$pkg: downloaded and unpacked in $((SECONDS - t0)) s"
    fi
    # The initramfs holds our init and the modules: made again when either changed.
    if ! { cat tests/kernels/init; echo "$guest_modules"; } | cmp -s - "$dir/init.used"; then
        initramfs "$dir" || return 1
        { cat tests/kernels/init; echo "$guest_modules"; } >"$dir/init.used"
    fi
    echo "$dir"
}

# initramfs DIR: busybox, our init, and the modules for virtio, 9p and
# overlay in the order modprobe would load them (the package ships no
# modules.dep: kmod's depmod makes one for the modules unpacked, modprobe
# orders them; compressed modules are unpacked, busybox's insmod takes
# plain ones).
initramfs() {
    local dir=$1 ver root=$1/initramfs m f
    ver=$(basename "$(ls -d "$dir"/lib/modules/*)")
    depmod -b "$dir" "$ver" || return 1
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/modules"
    cp /bin/busybox "$root/bin/busybox"
    cp tests/kernels/init "$root/init"
    : >"$root/modules.order"
    for m in $guest_modules; do
        # Built in (no line) or a module with its dependencies first.
        modprobe -S "$ver" -d "$dir" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}'
    done | awk '!seen[$0]++' | while read -r f; do
        local base
        base=$(basename "$f")
        case "$f" in
        *.xz) xz -dc "$f" >"$root/modules/${base%.xz}"; base=${base%.xz} ;;
        *.zst) zstd -qdc "$f" >"$root/modules/${base%.zst}"; base=${base%.zst} ;;
        *) cp "$f" "$root/modules/$base" ;;
        esac
        echo "$base" >>"$root/modules.order"
    done
    (cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$dir/initramfs.cpio.gz"
    rm -rf "$root"
    [ -s "$dir/initramfs.cpio.gz" ]
}

# kvm_works: a guest under KVM reaches user space here (some /dev/kvm
# implementations stop stock kernels with "KVM internal error").
accel_for() {
    local dir=$1
    case "${MATRIX_ACCEL:-auto}" in
    tcg | kvm) echo "${MATRIX_ACCEL}"; return ;;
    esac
    if [ ! -w /dev/kvm ]; then echo tcg; return; fi
    if [ -e "$cache/kvm.verdict" ]; then cat "$cache/kvm.verdict"; return; fi
    local v=tcg
    if boot "$dir" kvm probe 60 && [ -s "$share/uname" ]; then v=kvm; fi
    echo "$v" >"$cache/kvm.verdict"
    echo "$v"
}

# boot DIR ACCEL LAYOUT TIMEOUT: one guest run; results in $share.
boot() {
    local dir=$1 accel=$2 layout=$3 limit=$4 kernel cpu
    kernel=$(ls "$dir"/boot/vmlinuz-* | head -1)
    rm -rf "$share"
    mkdir -p "$share"
    cp tests/kernels/guest.sh "$share/guest.sh"
    {
        printf 'MATRIX_SRC=%q\nMATRIX_BUILD=%q\nMATRIX_LAYOUT=%q\n' "$src" "$build" "$layout"
        printf 'MATRIX_CMD=%q\n' "${MATRIX_CMD:-}"
        printf 'MATRIX_TESTS=%q\nMATRIX_CI=%q\n' "$(case $layout in probe) echo none ;; v1) echo "$tests_v1" ;; *) echo "$tests" ;; esac)" "${CI:-}"
    } >"$share/env"
    cpu=max
    [ "$accel" = kvm ] && cpu=host
    timeout --kill-after=5 "$limit" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -m 2G -smp 2 \
        -nographic -no-reboot -monitor none -serial "file:$share/console" \
        -kernel "$kernel" -initrd "$dir/initramfs.cpio.gz" \
        -append "console=ttyS0 panic=-1 quiet loglevel=3 rw" \
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
        -virtfs "local,path=$share,mount_tag=matrix,security_model=none,multidevs=remap" \
        </dev/null >"$share/qemu.out" 2>&1
}

# report NAME LAYOUT CASES SUMMARY: each case's line, prefixed with the
# kernel, then the kernel's line (the runner's own count).
report() {
    local name=$1 layout=$2 cases=$3 summary=$4 last
    sed -E "s|^(PASS\|FAIL\|SKIP) |\1 $name/$layout/|" "$cases"
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$summary" | tail -1)
    echo "kernel $name (cgroup $layout): ${last:-0 passed, 1 failed, 0 skipped (no verdict)}"
}

# Sourced for its functions (tests/kernels/systemd_guest.sh): stop here.
[ -n "${MATRIX_FUNCTIONS_ONLY:-}" ] && return 0

share=$cache/share.$$
trap '[ -n "${MATRIX_KEEP:-}" ] || rm -rf "$share"' EXIT
status=0
for k in "$@"; do
    if [ "$k" = host ]; then
        t0=$SECONDS
        layout=v2
        [ -d /sys/fs/cgroup/memory ] && layout=v1
        # shellcheck disable=SC2086
        tests/run.sh "$build" $tests >"$cache/host.log" 2>&1 || status=1
        for t in $tests; do
            f=$build/test-logs/$t.log
            [ -e "$f" ] && sed -n -E "s/^(PASS|FAIL|SKIP) /\1 $(basename "$f" .log)\//p" "$f"
        done >"$cache/host.cases"
        report "$(uname -r)" "$layout" "$cache/host.cases" "$cache/host.log"
        log "host $(uname -r): tests took $((SECONDS - t0)) s"
        continue
    fi
    pkg=$(resolve "$k") || { echo "FAIL $k/resolve: no package matches $(pattern "$k" || echo "$k") in Debian's lists"; status=1; continue; }
    dir=$(fetch "$pkg") || { echo "FAIL $k/fetch: cannot download or unpack $pkg"; status=1; continue; }
    accel=$(accel_for "$dir")
    for layout in ${MATRIX_LAYOUTS:-v2 v1}; do
        t0=$SECONDS
        boot "$dir" "$accel" "$layout" "$guest_timeout"
        name=$(cat "$share/uname" 2>/dev/null || echo "$pkg")
        if [ ! -s "$share/uname" ]; then
            echo "FAIL $k/$layout/boot: the guest did not reach user space (accel $accel)"
            tail -n 20 "$share/console" "$share/qemu.out" 2>/dev/null | sed 's/^/    /'
            status=1
            continue
        fi
        if [ "$(cat "$share/layout" 2>/dev/null)" != ok ]; then
            if [ "$layout" = v1 ] && grep -q 'no cgroup v1 memory' "$share/layout" 2>/dev/null; then
                # Absent exactly where the kernel was built without it
                # (docs/bpf.md): a pass, not a skip.
                if grep -q '^# CONFIG_MEMCG_V1 is not set' "$dir"/boot/config-*; then
                    echo "PASS $name/v1/layout_absent_as_configured"
                    log "$name: no cgroup v1 memory controller (CONFIG_MEMCG_V1 off), v1 row not run"
                else
                    echo "FAIL $name/v1/layout: no v1 memory controller, yet the kernel's config does not say CONFIG_MEMCG_V1 is off"
                    status=1
                fi
                continue
            fi
            echo "FAIL $name/$layout/layout: $(cat "$share/layout" 2>/dev/null)"
            status=1
            continue
        fi
        echo "--- $name (cgroup $layout, $accel): memagent --probe" >&2
        sed 's/^/    /' "$share/probe" >&2
        if [ -s "$share/error" ]; then
            echo "FAIL $name/$layout/tests: $(cat "$share/error")"
            status=1
            continue
        fi
        if [ ! -e "$share/tests.rc" ]; then
            echo "FAIL $name/$layout/tests: the tests did not finish within ${guest_timeout} s"
            tail -20 "$share/tests" 2>/dev/null | sed 's/^/    /'
            status=1
            continue
        fi
        [ "$(cat "$share/tests.rc")" = 0 ] || status=1
        grep -A30 -E '^ *FAIL ' "$share/tests" | head -60 | sed 's/^/    /' >&2
        report "$name" "$layout" "$share/cases" "$share/tests"
        log "$name (cgroup $layout): boot + tests $((SECONDS - t0)) s"
        mkdir -p "$cache/logs/$name-$layout"
        cp -r "$share/." "$cache/logs/$name-$layout/" 2>/dev/null
    done
done
exit $status
