#!/bin/bash
# SPDX-License-Identifier: MIT
# Boots the host's own systemd as PID 1 of a qemu guest and runs a command
# there as a service: the kernel matrix's guest (tests/kernels/matrix.sh:
# Debian's kernel, downloaded once into build/kernels; the host's root over
# 9p, read-only, under a tmpfs overlay), but with systemd_pid1.sh handed
# over to instead of guest.sh. That script writes a unit running CHECKS
# (a script, run as root by systemd, cwd the tree) and execs systemd; what
# CHECKS prints comes back on stdout, then the guest powers off.
#
#   tests/kernels/systemd_guest.sh BUILD_DIR CHECKS [KERNEL]
#     KERNEL: debian-6.12 (default) | debian-6.1
#   SYSTEMD_GUEST_TIMEOUT (default 480 s), MATRIX_ACCEL as for matrix.sh;
#   GUEST_STAGE, a folder the checks may use (passed on as is).
# A guest that stops early (no timeout, no checks.rc) is booted once more.
# Exit status: 0 when the checks ran and printed no FAIL line.
set -u
build=${1:?usage: tests/kernels/systemd_guest.sh BUILD_DIR CHECKS [KERNEL]}
checks=${2:?usage: tests/kernels/systemd_guest.sh BUILD_DIR CHECKS [KERNEL]}
kernel_name=${3:-debian-6.12}
checks=$(cd "$(dirname "$checks")" && pwd)/$(basename "$checks")
MATRIX_FUNCTIONS_ONLY=1
# shellcheck source=tests/kernels/matrix.sh
. "$(dirname "$0")/matrix.sh" "$build" "$kernel_name"
# A hang guard, not a budget: unloaded, boot and checks take under two
# minutes under plain emulation; a machine shared with other builds can
# triple that.
limit=${SYSTEMD_GUEST_TIMEOUT:-480}

pkg=$(resolve "$kernel_name") || { echo "FAIL guest_kernel: no package matches $(pattern "$kernel_name")"; exit 1; }
dir=$(fetch "$pkg") || { echo "FAIL guest_kernel: cannot download or unpack $pkg"; exit 1; }
# accel_for may boot a probe guest, in $share.
share=$cache/systemd-share.$$
accel=$(accel_for "$dir")
trap '[ -n "${MATRIX_KEEP:-}" ] || rm -rf "$share"' EXIT
cpu=max
[ "$accel" = kvm ] && cpu=host
# One emulation thread for both vCPUs (about 86 s a run instead of 67 s).
# Under multi-threaded TCG, once in a full run here, the guest died while
# the watchdog-killed agent's links went and the new agent started:
# "Oops: int3" at trace_rss_stat+0x1 (a page fault of the new agent, its
# read of the kernel's BTF), then "Kernel panic - not syncing: Fatal
# exception in interrupt". That int3 is the kernel patching the
# tracepoint's jump label (text_poke_bp), whose protocol is safe on
# hardware; the likeliest culprit is a vCPU running a stale translation of
# the patched code, which one thread for both vCPUs cannot do.
accel_opt=$accel
[ "$accel" = tcg ] && accel_opt=tcg,thread=single

# boot_guest: one boot with a fresh share; sets took (seconds) and
# timed_out (1 when the hang guard stopped it).
boot_guest() {
    rm -rf "$share"
    mkdir -p "$share"
    cp tests/kernels/systemd_pid1.sh "$share/guest.sh"
    cp "$checks" "$share/checks.sh"
    {
        printf 'GUEST_SRC=%q\nGUEST_BUILD=%q\nGUEST_CI=%q\n' "$src" "$build" "${CI:-}"
        printf 'GUEST_RELEASE=%q\nGUEST_STAGE=%q\n' "${MEMAGENT_RELEASE:-}" "${GUEST_STAGE:-}"
    } >"$share/env"
    local t0=$SECONDS
    timeout --kill-after=5 "$limit" qemu-system-x86_64 -accel "$accel_opt" -cpu "$cpu" -m 2G -smp 2 \
        -nographic -no-reboot -monitor none -serial "file:$share/console" \
        -kernel "$(ls "$dir"/boot/vmlinuz-* | head -1)" -initrd "$dir/initramfs.cpio.gz" \
        -append "console=ttyS0 panic=-1 quiet loglevel=3 rw systemd.show_status=0" \
        -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
        -virtfs "local,path=$share,mount_tag=matrix,security_model=none,multidevs=remap" \
        </dev/null >"$share/qemu.out" 2>&1
    case $? in 124 | 137) timed_out=1 ;; *) timed_out=0 ;; esac
    took=$((SECONDS - t0))
    log "systemd guest ($pkg, $accel): $took s"
    rm -rf "$cache/logs/systemd"
    mkdir -p "$cache/logs/systemd"
    cp -r "$share/." "$cache/logs/systemd/" 2>/dev/null
}

# last_lines: what the guest left, for a run that did not finish.
last_lines() {
    tail -n 10 "$share/console" "$share/qemu.out" "$share/checks.out" "$share/checks.err" 2>/dev/null | sed 's/^/    /'
}

# A guest that powered off without timing out and without the checks'
# status is booted once more: the panic above, before the guest had one
# emulation thread, in one CI run (61 s, its lines lost to a tail bug) and
# one full run here (55 s) out of about 20. Should anything else end a
# guest early, the second boot keeps the verdict about the unit.
# The first run's last lines follow a NOTE line (tests/run.sh shows it
# whatever the verdict) and its files stay in build/kernels/logs/systemd.1;
# a second early stop, or a timeout, fails.
boot_guest
if [ ! -e "$share/checks.rc" ] && [ "$timed_out" = 0 ]; then
    echo "NOTE guest_stopped_early: the guest stopped after $took s, before the checks finished; booted once more. Its last lines:"
    last_lines
    rm -rf "$cache/logs/systemd.1"
    cp -r "$cache/logs/systemd" "$cache/logs/systemd.1"
    boot_guest
fi
if [ ! -e "$share/checks.rc" ]; then
    if [ "$timed_out" = 1 ]; then
        echo "FAIL guest_ran_checks: the checks did not finish within $limit s (logs in build/kernels/logs/systemd)"
    else
        echo "FAIL guest_ran_checks: the guest stopped after $took s, before the checks finished, twice (logs in build/kernels/logs/systemd and systemd.1)"
    fi
    last_lines
    exit 1
fi
cat "$share/checks.out"
! grep -q '^FAIL ' "$share/checks.out"
