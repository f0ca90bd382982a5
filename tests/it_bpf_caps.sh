#!/bin/bash
# SPDX-License-Identifier: MIT
# Every BPF program loads with exactly the shipped unit's capabilities: the
# agent as another user (daemon), those capabilities ambient and bounding,
# no_new_privs, no CAP_SYS_ADMIN. Root alone proves little here: libbpf 1.1
# looks a kfunc the kernel lacks (bpf_rdonly_cast before 6.2) up in the
# modules' BTF, a walk that needs CAP_SYS_ADMIN, and used to refuse the whole
# object without it (docs/bpf.md, "Privileges"). Runs in the kernel matrix's
# guests (tests/kernels/matrix.sh) as well as on the host.
. "$(dirname "$0")/lib.sh"

unit=systemd/memagent.service
programs="rss_stat mark_victim sched_process_exit task_iter gc_usdt sock_iter"
caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr ' ' '\n' | sed 's/^CAP_/+/' | tr 'A-Z' 'a-z' | paste -sd,)
check unit_names_capabilities test -n "$caps"
check unit_bounding_equals_ambient test "$(sed -n 's/^AmbientCapabilities=//p' "$unit")" = \
    "$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
    if [ -n "${CI:-}" ]; then fail bpf_with_unit_caps "needs root and setpriv (util-linux)"
    else skip bpf_with_unit_caps "needs root and setpriv (util-linux)"; fi
    finish
fi
if ! "$MEMAGENT" --probe >"$TMP/probe.root" 2>&1; then
    if [ -n "${CI:-}" ]; then fail bpf_as_root "BPF unavailable even as root: $(grep unavailable "$TMP/probe.root" | head -3)"
    else skip bpf_with_unit_caps "BPF unavailable here even as root"; fi
    finish
fi

# as_unit FILE [ENV=VALUE ...]: memagent --probe with the unit's privileges.
as_unit() {
    local out=$1
    shift
    setpriv --reuid=daemon --regid="$(id -g daemon)" --clear-groups --inh-caps="$caps" \
        --ambient-caps="$caps" --bounding-set=-all,"$caps" --no-new-privs \
        env "$@" "$MEMAGENT" --probe >"$out" 2>&1
}

as_unit "$TMP/probe.unit"
check probe_with_unit_caps test $? -eq 0
grep unavailable "$TMP/probe.unit" | sed 's/^/    /'
check privilege_without_sys_admin bash -c "grep -E '^privilege +available' '$TMP/probe.unit' | grep -qv CAP_SYS_ADMIN"
for p in $programs; do
    check "${p}_with_unit_caps" grep -qE "^$p +available" "$TMP/probe.unit"
    # The same variant as root: the unit loses no speed either.
    check "${p}_same_reads_as_root" test "$(grep -E "^$p " "$TMP/probe.unit" | grep -c 'portable reads')" = \
        "$(grep -E "^$p " "$TMP/probe.root" | grep -c 'portable reads')"
done

# The object built without kfunc externs, on any kernel (on kernels without
# the kfunc it is the one the loops above used): every program, portable.
as_unit "$TMP/probe.nokfunc" MEMAGENT_BPF_NO_KFUNC=1
check probe_nokfunc_with_unit_caps test $? -eq 0
grep unavailable "$TMP/probe.nokfunc" | sed 's/^/    /'
for p in $programs; do
    check "${p}_nokfunc_with_unit_caps" grep -qE "^$p +available" "$TMP/probe.nokfunc"
done
for p in rss_stat mark_victim sched_process_exit task_iter sock_iter; do
    check "${p}_nokfunc_reads_portably" grep -qE "^$p +available.*portable reads" "$TMP/probe.nokfunc"
done
finish
