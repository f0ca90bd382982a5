#!/bin/bash
# SPDX-License-Identifier: MIT
# USDT: with the telemetry page off (GENGC_TELEMETRY=0) and BPF available, a
# libgengc program that waits until its gengc:gc__done semaphore is non-zero
# (a tracer attached) and then runs N GCs shows memagent_gc_events_total = N
# per kind. SIGUSR1 samples and rescans, so the agent attaches at once. The
# program starts its GCs only once the attaching sample is served too
# (tests/helpers/gc_usdt_app.c says why the semaphore alone is not enough).
. "$(dirname "$0")/lib.sh"

start_agent --interval 3600000 || { fail agent_start; finish; }
if [ "$(metric memagent_collector_up 'collector="gc_events"')" != 1 ]; then
    skip gc_events_counted "BPF unavailable here: $(grep -m1 gc_usdt "$AGENT_LOG")"
    check agent_clean_exit stop_agent
    finish
fi
out=$TMP/usdt.out
GENGC_TELEMETRY=0 "$HELPERS/gc_usdt_app" "$out" 4 3 &
APP=$!
PIDS+=("$APP")
check app_waits_for_a_tracer wait_until 20 grep -qs waiting "$out"
check app_not_done_untraced test -z "$(grep done "$out")"
sample_now                                  # first sight: attached
check semaphore_raised_by_the_agent wait_until 20 grep -qs traced "$out"
touch "$out.go"                             # the attaching sample is served: attach returned
check app_ran_when_traced wait_until 20 grep -qs done "$out"
sample_now
l="target=\"gc_usdt_app\",pid=\"$APP\""
check mark_sweeps_counted test "$(metric memagent_gc_events_total "$l,kind=\"mark_sweep\"")" = 4
check scavenges_counted test "$(metric memagent_gc_events_total "$l,kind=\"scavenge\"")" = 3
check mark_compacts_none test "$(metric memagent_gc_events_total "$l,kind=\"mark_compact\"")" = 0
check pause_histogram_count test "$(metric memagent_gc_event_pause_seconds_count "$l,kind=\"mark_sweep\"")" = 4
check no_page_no_heap_series test -z "$(scrape | grep "^memagent_heap_used_bytes{.*pid=\"$APP\"")"
check none_dropped test "$(metric memagent_gc_events_dropped_total)" = 0
if command -v promtool >/dev/null; then
    scrape >"$TMP/m"
    check promtool_clean sh -c 'promtool check metrics <"$1"' sh "$TMP/m"
fi
kill -KILL "$APP"
wait "$APP" 2>/dev/null
sample_now
check exited_app_forgotten test -z "$(scrape | grep "^memagent_gc_events_total{$l")"
check agent_clean_exit stop_agent
finish
