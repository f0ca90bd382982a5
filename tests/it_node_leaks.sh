#!/bin/bash
# SPDX-License-Identifier: MIT
# The Node.js notes' leaks as real Node programs under memagent-node, through
# the heap collector's leak and queue-growth signals (core/trend): an unbounded
# cache and the replaceThing closure are flagged within 10 full GCs of the end
# of the warm-up (20 full GCs); a producer faster than its consumer raises
# memagent_queue_growth_suspected; the notes' fix, the same cache bounded and
# evicting first-in first-out, runs >= 50 full GCs at capacity and is never
# flagged. With heap.snapshot_on_leak the agent asks the leaking cache (which
# allows snapshots) for a heap snapshot once when its flag rises, and asks
# nobody else. The test steps each app (one line: work, gc(), the client's
# update) and samples after every step, so each verdict is read at a known
# full-GC number.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    skip node_leaks "node and npm not installed (Node >= 18)"
    finish
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
    skip node_leaks "node $(node --version) is older than 18"
    finish
fi
APP_DIR=$TMP/app
mkdir -p "$APP_DIR"
(cd "$TMP" && npm pack --silent "$SRC/clients/node" >"$TMP/pack.out" 2>/dev/null)
echo '{"name":"memagent-node-leaks","private":true}' >"$APP_DIR/package.json"
(cd "$APP_DIR" && npm install --offline --no-audit --no-fund --silent "$TMP/$(tail -1 "$TMP/pack.out")" >/dev/null 2>&1)
check npm_install_from_tarball test -f "$APP_DIR/node_modules/memagent-node/register.js"
cp "$SRC/tests/node/leak_app.js" "$APP_DIR/"

echo '{ "heap": { "snapshot_on_leak": true } }' >"$TMP/agent.json"
start_agent --interval 3600000 --config "$TMP/agent.json" || { fail agent_start; finish; }
check first_sample wait_until 120 samples_at_least 1
SNAPS=$TMP/snaps

# run_shape MODE STEPS: runs leak_app.js MODE for STEPS steps, sampling after
# each; writes "STEP GC_SEQ LEAK QUEUE_GROWTH QUEUE_DEPTH SIZE" lines to $TMP/MODE.tsv.
run_shape() {
    local mode=$1 steps=$2 out=$TMP/$1.out fifo=$TMP/$1.fifo i m app
    mkfifo "$fifo"
    # Only the unbounded cache allows snapshots.
    (cd "$APP_DIR" && if [ "$mode" = cache ]; then export MEMAGENT_SNAPSHOT_DIR=$SNAPS; fi
     exec node --expose-gc -r memagent-node/register leak_app.js "$mode" "$out") <"$fifo" 2>"$out.err" &
    app=$!
    PIDS+=("$app")
    exec 7>"$fifo"
    wait_until 20 grep -qs ready "$out" || { exec 7>&-; return 1; }
    : >"$TMP/$mode.tsv"
    for i in $(seq "$steps"); do
        echo step >&7
        wait_until 20 grep -q "^step $i " "$out" || { exec 7>&-; return 1; }
        sample_now || { exec 7>&-; return 1; }
        m=$(scrape | grep "target=\"node-$mode\",pid=\"$app\"")
        l="target=\"node-$mode\",pid=\"$app\""
        printf '%s %s %s %s %s %s %s\n' "$i" \
            "$(awk -v p="memagent_heap_gc_sequence{$l,heap=\"1\"} " 'index($0, p) == 1 { print $NF }' <<<"$m")" \
            "$(awk -v p="memagent_heap_leak_suspected{$l,heap=\"1\"} " 'index($0, p) == 1 { print $NF }' <<<"$m")" \
            "$(awk -v p="memagent_queue_growth_suspected{$l,queue=\"jobs\"," 'index($0, p) == 1 { print $NF }' <<<"$m")" \
            "$(awk -v p="memagent_queue_depth{$l,heap=\"1\",queue=\"jobs\"} " 'index($0, p) == 1 { print $NF }' <<<"$m")" \
            "$(sed -n "s/^step $i .* size \([0-9]*\) .*/\1/p" "$out")" "$(date +%s%N)" >>"$TMP/$mode.tsv"
    done
    exec 7>&-
    kill "$app" 2>/dev/null
}

# first_flag TSV COLUMN: the gc sequence of the first sample with COLUMN = 1.
first_flag() { awk -v c="$2" '$c == 1 { print $2; exit }' "$1"; }

# warm_end TSV: the full GC that ends the warm-up (docs/leaks.md): the 20th,
# or the first 60 s after the first, whichever comes first (a loaded machine
# steps slowly: then time ends it).
warm_end() {
    awk 'NR == 1 { t0 = $7 } $2 >= 20 || $7 - t0 >= 60e9 { print $2; exit }' "$1"
}

for mode in cache closure; do
    check "${mode}_ran" run_shape "$mode" 34
    at=$(first_flag "$TMP/$mode.tsv" 3)
    end=$(warm_end "$TMP/$mode.tsv")
    echo "  $mode: first flagged at full GC ${at:-never} (warm-up ended at full GC ${end:-?}; bound $(( ${end:-20} + 10 )))"
    check "${mode}_leak_flagged" test -n "$at"
    check "${mode}_flagged_within_10_full_gcs_of_the_warm_up" test "${at:-999}" -le $(( ${end:-20} + 10 ))
done

sent() { scrape | awk '/^memagent_heap_snapshot_requests_total\{result="sent"\} / { print $NF }'; }
check snapshot_asked_once_on_the_rise test "$(sent)" = 1
check snapshot_written_by_the_leaking_app wait_until 20 sh -c "ls '$SNAPS' 2>/dev/null | grep -q '^node-cache-.*\.heapsnapshot$'"
check one_snapshot test "$(ls "$SNAPS" | wc -l)" = 1

check queue_ran run_shape queue 40
at=$(awk '$4 == 1 { print $1; exit }' "$TMP/queue.tsv")
echo "  queue: growth flagged at step ${at:-never}; depth $(awk 'NR == 1 { print $5 }' "$TMP/queue.tsv") -> $(tail -1 "$TMP/queue.tsv" | awk '{ print $5 }')"
check queue_depth_rises test "$(tail -1 "$TMP/queue.tsv" | awk '{ print $5 }')" -gt "$(awk 'NR == 1 { print $5 }' "$TMP/queue.tsv")"
check queue_growth_suspected test -n "$at"

check bounded_ran run_shape bounded 72
full_at=$(awk '$6 >= 5000 { print $2; exit }' "$TMP/bounded.tsv")
last=$(tail -1 "$TMP/bounded.tsv" | awk '{ print $2 }')
echo "  bounded: at capacity from full GC $full_at to $last; flagged in $(awk '$3 == 1' "$TMP/bounded.tsv" | wc -l) samples"
check bounded_at_capacity_for_50_full_gcs test $(( last - ${full_at:-$last} )) -ge 50
check bounded_leak_signal_read test "$(awk '$3 == 0' "$TMP/bounded.tsv" | wc -l)" -gt 50
check bounded_never_flagged test "$(awk '$3 != 0' "$TMP/bounded.tsv" | wc -l)" = 0

check no_snapshot_asked_of_apps_that_do_not_allow_it test "$(sent)" = 1
check no_failed_requests test "$(scrape | awk '/^memagent_heap_snapshot_requests_total\{result="failed"\} / { print $NF }')" = 0

check agent_exits_cleanly stop_agent
finish
