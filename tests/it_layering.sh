#!/bin/bash
# SPDX-License-Identifier: MIT
# The house's arrows are enforced by the build, not by convention
# (docs/ARCHITECTURE.md, "The house"). With exactly the flags the Makefile
# gives a room (asked from make itself), from a temporary folder:
#   - every header of a room it may not use fails to compile with "No such
#     file or directory" for that header, while every header of the rooms it
#     may use compiles with the same flags (so a failure is the layering, not
#     broken flags);
#   - no source file includes a path with "../" (which would walk around the
#     include paths);
#   - each room's archive, linked whole, needs nothing but the archives of the
#     rooms below it and system libraries (an inversion the include paths
#     alone do not catch: a function declared below but defined above).
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
mk() { make -s --no-print-directory -C "$ROOT" O="$BUILD" "$@"; }

# The rule table of docs/ARCHITECTURE.md: room -> rooms it may use.
declare -A USES=([core]="" [collectors]="core" [exporters]="core" [agent]="collectors exporters core")
ROOMS="core collectors exporters agent"

CC=$(mk print-cc)
LDFLAGS=$(mk print-ldflags)
LDLIBS=$(mk print-ldlibs)
cd "$TMP" || exit 1

headers_of() { (cd "$ROOT/$1" && ls -- *.h); }

# compile ROOM HEADER: compiles a file including HEADER with ROOM's flags;
# the compiler's output is in $TMP/cc.out.
compile() {
    # shellcheck disable=SC2046
    printf '#include "%s"\nint layering_probe(void);\nint layering_probe(void) { return 0; }\n' "$2" >"$TMP/probe.c"
    $CC $(mk print-flags-"$1") -c "$TMP/probe.c" -o "$TMP/probe.o" >"$TMP/cc.out" 2>&1
}

for room in $ROOMS; do
    flags=$(mk print-flags-"$room")
    check "flags_${room}_have_own_include" grep -q -- "-I$ROOT/$room\\b" <<<"$flags"
    allowed=" $room ${USES[$room]} "
    n_refused=0 n_permitted=0 bad=""
    for other in $ROOMS; do
        for h in $(headers_of "$other"); do
            if [[ "$allowed" == *" $other "* ]]; then
                if compile "$room" "$h"; then
                    n_permitted=$((n_permitted + 1))
                else
                    bad="$bad permitted:$other/$h($(head -c 300 "$TMP/cc.out"))"
                fi
            else
                if ! compile "$room" "$h" && grep -q "$h: No such file or directory" "$TMP/cc.out"; then
                    n_refused=$((n_refused + 1))
                else
                    bad="$bad refused:$other/$h"
                fi
            fi
        done
    done
    if [ -z "$bad" ] && [ "$n_permitted" -gt 0 ]; then
        pass "includes_${room} ($n_permitted permitted headers compile, $n_refused others not found)"
    else
        fail "includes_${room}" "$bad"
    fi
done
# gc/ stands alone: the collectors see the telemetry page's layout
# (gc/abi/) and nothing else of libgengc; core and exporters see none of it.
if compile collectors gengc_telemetry.h; then
    pass collectors_see_the_telemetry_abi
else
    fail collectors_see_the_telemetry_abi "$(head -c 300 "$TMP/cc.out")"
fi
for room in core exporters collectors; do
    for h in gengc.h gengc_internal.h; do
        if ! compile "$room" "$h" && grep -q "$h: No such file or directory" "$TMP/cc.out"; then
            pass "${room}_refuses_gc_${h%.h}"
        else
            fail "${room}_refuses_gc_${h%.h}" "compiled"
        fi
    done
done
if ! compile core gengc_telemetry.h && grep -q "No such file" "$TMP/cc.out"; then
    pass core_refuses_the_telemetry_abi
else
    fail core_refuses_the_telemetry_abi "compiled"
fi
# The refusals above are not vacuous: the upper rooms have headers to refuse.
check refused_headers_exist test "$(headers_of agent | wc -l)" -gt 0

# no_dotdot DIR...: prints every #include of a path with "../" below DIRs.
dotdot() { grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]*\.\./' "$@" 2>/dev/null; }
found=$(cd "$ROOT" && dotdot agent collectors exporters core bpf gc tests bench examples)
check no_dotdot_includes test -z "$found"
mkdir -p "$TMP/plant" && printf '#include "../agent/config.h"\n' >"$TMP/plant/x.c"
check dotdot_check_finds_a_planted_one test -n "$(dotdot "$TMP/plant")"

# Linking each room's archive whole against the archives below it.
printf 'int main(void) { return 0; }\n' >"$TMP/main.c"
$CC -c "$TMP/main.c" -o "$TMP/main.o"
for room in $ROOMS; do
    read -r own below <<<"$(mk print-libs-"$room")"
    # shellcheck disable=SC2086
    if $CC $LDFLAGS -o "$TMP/link-$room" "$TMP/main.o" -Wl,--whole-archive "$own" \
        -Wl,--no-whole-archive $below $LDLIBS >"$TMP/ld.out" 2>&1; then
        pass "links_${room}_against_rooms_below"
    else
        fail "links_${room}_against_rooms_below" "$(grep -m5 'undefined reference' "$TMP/ld.out")"
    fi
done
# Control: without the room below, undefined symbols are seen.
# shellcheck disable=SC2086
if ! $CC $LDFLAGS -o "$TMP/link-bare" "$TMP/main.o" -Wl,--whole-archive "$BUILD/libcollectors.a" \
    -Wl,--no-whole-archive $LDLIBS >"$TMP/ld.out" 2>&1 && grep -q 'undefined reference' "$TMP/ld.out"; then
    pass link_check_sees_a_missing_room
else
    fail link_check_sees_a_missing_room "libcollectors.a linked without libcore.a"
fi
finish
