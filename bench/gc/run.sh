#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs GCBench and binary-trees for every allocator side by side (make bench-gc),
# then the measurements behind libgengc's two choices (promotion_age, remembered
# set vs card table). Each (bench, allocator) runs BENCH_GC_REPS times (default 3),
# interleaved so background load hits every allocator alike; the summary uses
# medians. Output: bench/results/gc.tsv (the issue's columns, one row per run),
# bench/results/gc-choices.tsv, and the generated part of bench/RESULTS.md's
# "## libgengc" section (between the gengc-bench markers; nothing else is touched).
#
#   bench/gc/run.sh BIN_DIR
set -eu
bin=${1:?usage: bench/gc/run.sh BIN_DIR}
reps=${BENCH_GC_REPS:-3}
cd "$(dirname "$0")/../.."
mkdir -p bench/results
tsv=bench/results/gc.tsv
choices=bench/results/gc-choices.tsv
log=$bin/bench.log
cols="bench	allocator	wall_s	peak_rss_kib	max_pause_ms	scavenge_p50_ms	scavenge_p99_ms	scavenge_max_ms	full_max_ms	survived_mb_per_ms"
: > "$log"

# run LABEL BINARY ARGS... -> appends one row to $out
run() {
    local label=$1 exe=$2; shift 2
    echo "  $label $*" >&2
    BENCH_LABEL=$label "$bin/$exe" "$@" 2>>"$log" >> "$out"
}

# BENCH_GC_NEIGHBOUR=PROGRAM runs PROGRAM beside the whole bench (make
# bench-gc-busy: a memory-bound job on the other CPU); the summary says so.
neighbour=${BENCH_GC_NEIGHBOUR:-}
if [ -n "$neighbour" ]; then
    "$neighbour" &
    npid=$!
    trap 'kill "$npid" 2>/dev/null' EXIT
    echo "bench-gc: neighbour $neighbour running (pid $npid)" >&2
fi

echo "bench-gc: $reps runs of each; details in $log" >&2
out=$tsv.tmp; echo "$cols" > "$out"
for rep in $(seq "$reps"); do
    for b in "binary-trees 16" "gcbench" "binary-trees 20"; do
        for a in gengc bdwgc bdwgc-nointerior malloc; do
            # shellcheck disable=SC2086
            run "$a" "$a" $b
        done
    done
done
mv "$out" "$tsv"

out=$choices.tmp; echo "$cols" > "$out"
for rep in $(seq "$reps"); do
    for b in "binary-trees 16" "gcbench" "binary-trees 20"; do
        for age in 0 1 2; do
            # shellcheck disable=SC2086
            GENGC_PROMOTION_AGE=$age run "gengc-age$age" gengc $b
        done
        # shellcheck disable=SC2086
        GENGC_INCREMENTAL_MARKING=1 run "gengc-incremental" gengc $b
    done
    for b in gcbench barrier-dense barrier-sparse; do
        run "gengc-slotset" gengc $b
        run "gengc-cards" gengc-cards $b
    done
done
mv "$out" "$choices"

# ---- summary: medians per (bench, allocator) ----------------------------------------
median_table() {
    awk -F'\t' 'NR > 1 {
        k = $1 "\t" $2; n[k]++; keys[k] = 1
        for (c = 3; c <= 10; c++) v[k, c, n[k]] = $c
    }
    function med(k, c,   m, i, j, t, a) {
        m = 0
        for (i = 1; i <= n[k]; i++) if (v[k, c, i] != "") a[++m] = v[k, c, i] + 0
        if (!m) return ""
        for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END { for (k in keys) { printf "%s", k; for (c = 3; c <= 10; c++) printf "\t%s", med(k, c); printf "\n" } }' "$1" | sort
}

med=$bin/medians.tsv
median_table "$tsv" > "$med"
median_table "$choices" > "$bin/choices-medians.tsv"

fmt_table() {
    awk -F'\t' 'BEGIN {
        print "| bench | allocator | wall s | peak RSS MiB | max pause ms | scavenge p50 / p99 / max ms | full GC max ms | survived MB/ms |"
        print "|---|---|---:|---:|---:|---:|---:|---:|"
    } {
        sc = ($6 == "") ? "" : sprintf("%.3f / %.3f / %.3f", $6, $7, $8)
        printf "| %s | %s | %.3f | %.1f | %s | %s | %s | %s |\n", $1, $2, $3, $4 / 1024, $5, sc, $9, $10
    }' "$1"
}

verdicts() {
    awk -F'\t' '{ w[$1, $2] = $3; r[$1, $2] = $4; p99[$1, $2] = $7; smax[$1, $2] = $8; full[$1, $2] = $9
                  mx[$1, $2] = $5; mbms[$1, $2] = $10 }
    function yes(c) { return c ? "met" : "**missed**" }
    END {
        for (i = 1; i <= 3; i++) {
            b = (i == 1) ? "binary-trees-20" : (i == 2) ? "gcbench" : "binary-trees-16"
            fb = w[b, "bdwgc"] < w[b, "bdwgc-nointerior"] ? w[b, "bdwgc"] : w[b, "bdwgc-nointerior"]
            if (i <= 2) {
                printf "- %s: gengc %.3f s; %.2fx the fastest bdwgc (%.3f s), target >= 2x: %s; malloc %.3f s (%.2fx): %s\n",
                    b, w[b, "gengc"], fb / w[b, "gengc"], fb, yes(fb / w[b, "gengc"] >= 2), w[b, "malloc"],
                    w[b, "malloc"] / w[b, "gengc"], yes(w[b, "gengc"] < w[b, "malloc"])
                printf "  full-GC max %s ms vs bdwgc-nointerior longest pause %s ms: %s\n", full[b, "gengc"],
                    mx[b, "bdwgc-nointerior"], yes(full[b, "gengc"] + 0 <= mx[b, "bdwgc-nointerior"] + 0)
            }
            if (i >= 2)
                printf "- %s: scavenge p99 %s ms (target <= 2): %s; max %s ms (target <= 5): %s\n", b,
                    p99[b, "gengc"], yes(p99[b, "gengc"] <= 2), smax[b, "gengc"], yes(smax[b, "gengc"] <= 5)
            if (i == 1)
                printf "- binary-trees-20: peak RSS %.1f MiB (target <= 160): %s; survived %s MB per ms of scavenge (target >= 2): %s\n",
                    r[b, "gengc"] / 1024, yes(r[b, "gengc"] / 1024 <= 160), mbms[b, "gengc"], yes(mbms[b, "gengc"] >= 2)
        }
    }' "$1"
}

ns_per_marked=$(grep -E "^binary-trees-20 gengc:" "$log" | sed -E 's/.* ([0-9.]+) ns per marked object.*/\1/' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')
inc_step=$(grep -E "^binary-trees-20 gengc-incremental:" "$log" | sed -E 's/.*longest ([0-9.]+) ms$/\1/' | sort -n | tail -1)
load="load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
machine="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r), $(gcc --version | head -1), bdwgc $(dpkg-query -W -f='${Version}' libgc1 2>/dev/null || echo '?'), $(ldd --version | head -1)"

gen=$bin/results-section.md
{
    echo "<!-- gengc-bench:begin (generated by make bench-gc: do not edit by hand) -->"
    echo "Made by \`make bench-gc\` on $(date -u +%Y-%m-%d) ($reps runs each, medians; rows in bench/results/gc.tsv)."
    echo "Machine: $machine."
    echo
    fmt_table "$med"
    echo
    verdicts "$med"
    echo "- ns per marked object (binary-trees-20, the longest full GC): ${ns_per_marked:-?}"
    echo "- gengc-incremental (choices below): longest marking step on binary-trees-20 ${inc_step:-?} ms"
    echo "- $load (the machine is shared: other sessions' jobs can run during the bench)"
    [ -n "$neighbour" ] && echo "- neighbour: \`$(basename "$neighbour")\` ran beside every run (BENCH_GC_NEIGHBOUR, make bench-gc-busy)"
    echo
    echo "Choices (medians, bench/results/gc-choices.tsv):"
    echo
    fmt_table "$bin/choices-medians.tsv"
    echo "<!-- gengc-bench:end -->"
} > "$gen"

res=bench/RESULTS.md
[ -f "$res" ] || printf '# Benchmark results\n' > "$res"
grep -q '^## libgengc' "$res" || printf '\n## libgengc\n\n<!-- gengc-bench:begin -->\n<!-- gengc-bench:end -->\n' >> "$res"
if ! grep -q 'gengc-bench:begin' "$res"; then
    # The section exists without markers: put them right after its heading.
    awk '{ print } /^## libgengc/ { print ""; print "<!-- gengc-bench:begin -->"; print "<!-- gengc-bench:end -->" }' "$res" > "$res.tmp"
    mv "$res.tmp" "$res"
fi
awk -v gen="$gen" '
    /gengc-bench:begin/ { while ((getline line < gen) > 0) print line; skip = 1; next }
    /gengc-bench:end/ { skip = 0; next }
    !skip { print }' "$res" > "$res.tmp"
mv "$res.tmp" "$res"

echo
cat "$gen" | sed '/^<!--/d'
