#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every test program of a build and every integration script, counts the
# PASS/FAIL/SKIP lines they print (protocol: tests/test.h), shows their NOTE
# lines, and ends with the line "N passed, N failed, N skipped". Exits
# non-zero on any failure.
#
#   tests/run.sh BUILD_DIR [NAME...]      NAME: test_meminfo, it_prometheus, ...
set -u
build=${1:?usage: tests/run.sh BUILD_DIR [NAME...]}
shift
cd "$(dirname "$0")/.."
build=$(cd "$build" && pwd)
logs=$build/test-logs
mkdir -p "$logs"

export MEMAGENT_BUILD=$build
# The release build beside it (make test builds both): memory figures are
# measured on it, since ASan's allocator keeps what glibc's returns.
if [ -z "${MEMAGENT_RELEASE:-}" ] && [ -x "$build/../memagent" ]; then
    MEMAGENT_RELEASE=$(cd "$build/.." && pwd)/memagent
fi
export MEMAGENT_RELEASE=${MEMAGENT_RELEASE:-}
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# One program may not hold the suite hostage: a hang is a failure.
per_test_timeout=${TEST_TIMEOUT:-600}

progs=()
for p in "$build"/tests/test_*; do [ -x "$p" ] && progs+=("$p"); done
for s in tests/it_*.sh; do [ -f "$s" ] && progs+=("$s"); done

want=("$@")
# selected NAME: run everything when no names were given, else only those.
selected() {
    [ ${#want[@]} -eq 0 ] && return 0
    local n
    for n in "${want[@]}"; do [ "$n" = "$1" ] && return 0; done
    return 1
}

pass=0 fail=0 skip=0
start=$(date +%s)
for p in "${progs[@]}"; do
    name=$(basename "$p" .sh)
    selected "$name" || continue
    log=$logs/$name.log
    t0=$(date +%s%N)
    # The qemu guests run under plain emulation and bound themselves (a hang
    # guard per boot); on a loaded machine they take several times longer.
    case $name in
        it_kernels | it_service) limit=$((per_test_timeout * 3)) ;;
        *) limit=$per_test_timeout ;;
    esac
    timeout --kill-after=10 "$limit" "$p" >"$log" 2>&1 </dev/null
    rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    np=$(grep -c '^PASS ' "$log"); nf=$(grep -c '^FAIL ' "$log"); ns=$(grep -c '^SKIP ' "$log")
    extra=""
    if [ "$rc" -ne 0 ] && [ "$nf" -eq 0 ]; then
        nf=1; extra=" (exit status $rc$( [ "$rc" -eq 124 ] && echo ", timed out"))"
    elif [ $((np + nf + ns)) -eq 0 ]; then
        nf=1; extra=" (ran no test case)"
    fi
    pass=$((pass + np)); fail=$((fail + nf)); skip=$((skip + ns))
    printf '%-28s %3d passed %3d failed %3d skipped %7d ms%s\n' "$name" "$np" "$nf" "$ns" "$ms" "$extra"
    grep '^SKIP ' "$log" | sed 's/^/    /'
    # NOTE: something a passing test wants seen (a rerun guest, say), with
    # the lines it printed after it.
    grep -A30 '^NOTE ' "$log" | head -40 | sed 's/^/    /'
    if [ "$nf" -gt 0 ]; then
        echo "    --- $log (failures and their context) ---"
        grep -B3 -A30 -E '^FAIL |ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$log" | head -80 | sed 's/^/    /'
        [ -n "$extra" ] && tail -20 "$log" | sed 's/^/    /'
    fi
done
echo "suite took $(( $(date +%s) - start )) s"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
