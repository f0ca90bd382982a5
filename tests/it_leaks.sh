#!/bin/bash
# SPDX-License-Identifier: MIT
# The leak and queue growth signals (docs/leaks.md) with the real agent, no
# configuration, and the example programs (examples/) running in real time:
#  - leaky_cache raises memagent_heap_leak_suspected within 10 full GCs after
#    the warm-up (20 full GCs of what the agent took from the page), never in it;
#  - bounded_cache, the same load with a bounded FIFO cache, runs 50 full GCs
#    at capacity and never raises it.
# With LEAKS_ALL=1 (make test-leaks) also the queues:
#  - queue_lag (a consumer 10% slower) raises memagent_queue_growth_suspected;
#  - a burst that drains (consumer faster than producer) never does.
# Every wait is counted in full GCs or reports, read through the agent's own
# metrics (memagent_heap_gc_sequence); each sample is asked for (SIGUSR1).
. "$(dirname "$0")/lib.sh"

EX=$BUILD/examples
for p in leaky_cache bounded_cache queue_lag; do
    [ -x "$EX/$p" ] || { fail "built_$p" "$EX/$p missing (make tests builds it)"; finish; }
done
start_agent --interval 3600000 || { fail agent_start; finish; }

# start_example NAME PROGRAM [FLAGS...]: runs it as target NAME; sets EX_PID.
start_example() {
    local name=$1 prog=$2 out=$TMP/$1.out
    shift 2
    EXAMPLE_NAME=$name "$EX/$prog" "$@" >"$out" &
    PIDS+=("$!")
    EX_PID=$!
    wait_until 20 grep -q '^ready' "$out"
}
# value FILE METRIC LABELS: a series' value in a saved scrape, or nothing.
value() { awk -v p="$2{$3} " 'index($0, p) == 1 { print $NF; exit }' "$1"; }

# --- the heaps: leaky_cache and bounded_cache side by side -------------------
# The leaky heap is sampled stopped (SIGSTOP between two of its full GCs,
# each announced by a line "gc"), so each sample has taken every record up
# to the sequence it shows: the first flagged sample is the full GC that
# raised the flag, or one of the natural full GCs since the last sample.
export EXAMPLE_SAY_GC=1
start_example it-leaky leaky_cache || fail leaky_started
LEAKY=$EX_PID
unset EXAMPLE_SAY_GC
start_example it-bounded bounded_cache || fail bounded_started
BOUNDED=$EX_PID
L="target=\"it-leaky\",pid=\"$LEAKY\",heap=\"1\""
B="target=\"it-bounded\",pid=\"$BOUNDED\",heap=\"1\""
gcs() { grep -c '^gc$' "$TMP/it-leaky.out"; }
gcs_above() { [ "$(gcs)" -gt "$1" ]; }

first_l="" first_b="" flag_at="" flag_prev="" prev_l=0 full_at="" b_raised=0 b_seen=0
# Bounded by full GCs, not time: at most 2000 samples, each bounded by
# wait_until's deadline.
for _ in $(seq 1 2000); do
    if [ -z "$flag_at" ]; then
        n=$(gcs)
        kill -CONT "$LEAKY"
        wait_until 20 gcs_above "$n" || { fail leaky_collects; break; }
        kill -STOP "$LEAKY"
    fi
    sample_now || { fail sample; break; }
    scrape >"$TMP/m"
    sl=$(value "$TMP/m" memagent_heap_gc_sequence "$L")
    sb=$(value "$TMP/m" memagent_heap_gc_sequence "$B")
    # Absent while stopped inside a page update (torn): the next round.
    if [ -n "$sl" ] && [ "$sl" -gt 0 ] && [ -z "$flag_at" ]; then
        [ -n "$first_l" ] || first_l=$sl
        if [ "$(value "$TMP/m" memagent_heap_leak_suspected "$L")" = 1 ]; then
            flag_at=$sl flag_prev=$prev_l
            growth=$(value "$TMP/m" memagent_heap_old_space_growth_bytes_per_second "$L")
            l_missed=$(value "$TMP/m" memagent_heap_gc_records_missed_total "$L")
            kill -CONT "$LEAKY"
        fi
        prev_l=$sl
    fi
    if [ -n "$sb" ] && [ "$sb" -gt 0 ]; then
        [ -n "$first_b" ] || first_b=$sb
        [ "$(value "$TMP/m" memagent_heap_leak_suspected "$B")" = 1 ] && b_raised=$((b_raised + 1))
        b_seen=$((b_seen + 1))
        if [ -z "$full_at" ] && grep -q '^full' "$TMP/it-bounded.out"; then full_at=$sb; fi
    fi
    [ -n "$flag_at" ] && [ -n "$full_at" ] && [ "$sb" -ge $((full_at + 50)) ] && break
done
kill -CONT "$LEAKY" 2>/dev/null
b_missed=$(value "$TMP/m" memagent_heap_gc_records_missed_total "$B")
# A reload keeps the heap collector's state: the leak stays flagged and its
# counters go on (a restarted collector took them back to 0).
if [ -n "$flag_at" ]; then
    rescans=$(metric memagent_heap_rescans_total)
    kill -HUP "$AGENT_PID"
    check reload_done wait_until 20 reloads_are success 1
    scrape >"$TMP/m2"
    check leak_flag_kept_across_reload test "$(value "$TMP/m2" memagent_heap_leak_suspected "$L")" = 1
    check heap_counters_kept_across_reload test "$(metric memagent_heap_rescans_total)" -ge "${rescans:-999999}"
fi

# The agent takes up to 32 past records on finding a page: the warm-up is
# the first 20 of what it took.
if [ -n "$first_l" ]; then
    fed=$(( first_l > 32 ? first_l - 31 : 1 ))
    warm_end=$(( fed + 19 ))
    check leaky_flagged test -n "$flag_at"
    echo "  leaky_cache: first record taken $fed, warm-up ends at $warm_end, flag seen at gc_seq $flag_at (not at $flag_prev), growth ${growth:-?} B/s"
    check leaky_not_flagged_in_warmup test "${flag_at:-0}" -gt "$warm_end"
    check leaky_flagged_within_10_full_gcs_after_warmup test "${flag_at:-999999}" -le $((warm_end + 10))
    check leaky_growth_positive awk -v g="${growth:-0}" 'BEGIN { exit !(g > 0) }'
    check leaky_no_records_missed test "${l_missed:-1}" = 0
else
    fail leaky_found "the agent never exported the leaky heap"
fi
if [ -n "$first_b" ] && [ -n "$full_at" ]; then
    echo "  bounded_cache: full at gc_seq $full_at, last sample at $sb, $b_seen samples"
    check bounded_ran_50_full_gcs_at_capacity test "$sb" -ge $((full_at + 50))
    check bounded_never_flagged test "$b_raised" = 0
    check bounded_no_records_missed test "${b_missed:-1}" = 0
else
    fail bounded_found "bounded heap exported: ${first_b:-no}, full: ${full_at:-no}"
fi
kill -KILL "$LEAKY" "$BOUNDED" 2>/dev/null
wait "$LEAKY" "$BOUNDED" 2>/dev/null

# --- the queues (make test-leaks) -------------------------------------------
if [ "${LEAKS_ALL:-0}" = 1 ]; then
    start_example it-lag queue_lag || fail lag_started
    LAG=$EX_PID
    start_example it-burst queue_lag --produce 900 --consume 1000 --burst 500 --burst-at 2 || fail burst_started
    BURST=$EX_PID
    QL="target=\"it-lag\",pid=\"$LAG\",queue=\"jobs\",kind=\"app\""
    QB="target=\"it-burst\",pid=\"$BURST\",queue=\"jobs\",kind=\"app\""
    DB="target=\"it-burst\",pid=\"$BURST\",heap=\"1\",queue=\"jobs\""
    lag_samples=0 lag_at="" burst_max=0 burst_raised=0 drained=""
    # Each sample takes one new report per queue: counted in samples.
    for _ in $(seq 1 3000); do
        sample_now || { fail sample; break; }
        scrape >"$TMP/q"
        if [ -n "$(value "$TMP/q" memagent_queue_growth_suspected "$QL")" ]; then
            lag_samples=$((lag_samples + 1))
            [ -z "$lag_at" ] && [ "$(value "$TMP/q" memagent_queue_growth_suspected "$QL")" = 1 ] && lag_at=$lag_samples
        fi
        d=$(value "$TMP/q" memagent_queue_depth "$DB")
        if [ -n "$d" ]; then
            [ "$d" -gt "$burst_max" ] && burst_max=$d
            [ "$(value "$TMP/q" memagent_queue_growth_suspected "$QB")" = 1 ] && burst_raised=$((burst_raised + 1))
            [ "$burst_max" -ge 400 ] && [ "$d" = 0 ] && drained=1
        fi
        [ -n "$lag_at" ] && [ -n "$drained" ] && break
    done
    echo "  queue_lag: growth seen at sample ${lag_at:-never} of $lag_samples; burst: depth up to $burst_max, drained: ${drained:-no}"
    check queue_lag_growth_suspected test -n "$lag_at"
    check queue_lag_within_24_samples test "${lag_at:-999}" -le 24
    check burst_seen_and_drained test -n "$drained"
    check burst_never_growth test "$burst_raised" = 0
    kill -KILL "$LAG" "$BURST" 2>/dev/null
    wait "$LAG" "$BURST" 2>/dev/null
fi

stop_agent
check agent_exits_clean test $? = 0
finish
