#!/bin/bash
# SPDX-License-Identifier: MIT
# The heap collector with the real agent and no configuration: a libgengc
# program is discovered through its fd table and exports the heap spaces its
# own stats API reports, at the same memagent_heap_gc_sequence; two heaps are
# two heap series; a forked child holding the parent's pages is not taken for
# the parent; hostile pages are counted by reason and export nothing; a
# pwrite-protocol page on tmpfs is found like a memfd. SIGUSR1 both samples
# and rescans, so nothing here waits for the 30 s rescan.
. "$(dirname "$0")/lib.sh"

SHM=/dev/shm
[ "$(stat -f -c %T "$SHM" 2>/dev/null)" = tmpfs ] || SHM=""

start_agent --interval 3600000 || { fail agent_start; finish; }

# --- a libgengc program with two heaps and a forked child ----------------------
out=$TMP/app.out
"$HELPERS/gc_telemetry_app" "$out" tele-app 2 fork &
APP=$!
PIDS+=("$APP")
check app_ready wait_until 20 grep -qs ready "$out"
CHILD=$(sed -n 's/^child=//p' "$out")
[ -n "$CHILD" ] && PIDS+=("$CHILD")
sample_now
scrape >"$TMP/m1"

# Every space of every heap: what the agent exports is what the program said,
# at the same full-GC sequence number.
n_ok=0 n_bad=0 heaps=""
while read -r line; do
    [[ $line == heap=* ]] || continue
    eval "${line// / ; }"   # heap= gc_seq= space= used= size= available=
    # shellcheck disable=SC2154
    l="target=\"tele-app\",pid=\"$APP\",heap=\"$heap\""
    got_seq=$(awk -v p="memagent_heap_gc_sequence{$l} " 'index($0, p) == 1 { print $NF }' "$TMP/m1")
    got_used=$(awk -v p="memagent_heap_space_used_bytes{$l,space=\"$space\"} " 'index($0, p) == 1 { print $NF }' "$TMP/m1")
    got_size=$(awk -v p="memagent_heap_space_size_bytes{$l,space=\"$space\"} " 'index($0, p) == 1 { print $NF }' "$TMP/m1")
    got_av=$(awk -v p="memagent_heap_space_available_bytes{$l,space=\"$space\"} " 'index($0, p) == 1 { print $NF }' "$TMP/m1")
    # shellcheck disable=SC2154
    if [ "$got_seq" = "$gc_seq" ] && [ "$got_used" = "$used" ] && [ "$got_size" = "$size" ] &&
        [ "$got_av" = "$available" ]; then
        n_ok=$((n_ok + 1))
    else
        n_bad=$((n_bad + 1))
        echo "  heap $heap $space: page seq=$got_seq used=$got_used size=$got_size avail=$got_av;" \
            "program seq=$gc_seq used=$used size=$size avail=$available"
    fi
    heaps="$heaps $heap"
done <"$out"
check spaces_equal_the_programs_stats test "$n_ok" = 6 -a "$n_bad" = 0
check old_space_has_the_promoted_list test "$(awk -v p="memagent_heap_space_used_bytes{target=\"tele-app\",pid=\"$APP\"," 'index($0, p) == 1 && /old_space/ && $NF > 0' "$TMP/m1" | wc -l)" = 2
check two_heaps_two_series test "$(grep -c "^memagent_heap_used_bytes{target=\"tele-app\",pid=\"$APP\"" "$TMP/m1")" = 2
check gc_sequence_is_one test "$(grep "^memagent_heap_gc_sequence{target=\"tele-app\"" "$TMP/m1" | awk '{print $NF}' | sort -u)" = 1
check full_gc_counted test -n "$(grep "^memagent_gc_collections_total{target=\"tele-app\",pid=\"$APP\",heap=\"1\",kind=\"mark_sweep\"} 1$" "$TMP/m1")"
check scavenges_counted test -n "$(grep "^memagent_gc_collections_total{target=\"tele-app\",pid=\"$APP\",heap=\"1\",kind=\"scavenge\"} [1-9]" "$TMP/m1")"
check pause_histogram_counts test -n "$(grep "^memagent_gc_pause_seconds_count{target=\"tele-app\",pid=\"$APP\",heap=\"1\",kind=\"mark_sweep\"} 1$" "$TMP/m1")"
check pause_histogram_inf_bucket test -n "$(grep "^memagent_gc_pause_seconds_bucket{target=\"tele-app\",pid=\"$APP\",heap=\"1\",kind=\"mark_sweep\",le=\"+Inf\"} 1$" "$TMP/m1")"
check queue_depths test "$(grep -c "^memagent_queue_depth{target=\"tele-app\",pid=\"$APP\",heap=\"[12]\",queue=\"jobs\"} [78]$" "$TMP/m1")" = 2
check old_space_after_full_gc test -n "$(grep "^memagent_heap_old_space_after_full_gc_bytes{target=\"tele-app\",pid=\"$APP\",heap=\"1\"} [1-9]" "$TMP/m1")"
check records_read test -n "$(grep "^memagent_heap_gc_records_total{target=\"tele-app\",pid=\"$APP\",heap=\"1\"} 1$" "$TMP/m1")"
check no_records_missed test -n "$(grep "^memagent_heap_gc_records_missed_total{target=\"tele-app\",pid=\"$APP\",heap=\"1\"} 0$" "$TMP/m1")"
# Pages exported = heap series exported, whatever else runs on the host (other
# instrumented apps count in both); ours are two of them.
check instrumented_count test "$(awk '/^memagent_heap_instrumented / {print $NF}' "$TMP/m1")" = \
    "$(grep -c '^memagent_heap_used_bytes{' "$TMP/m1")"

# 40 full GCs between two samples: 32 records read from the ring, 8 missed.
kill -USR1 "$APP"
check app_ran_40_more wait_until 20 grep -q "^more gc_seq=41$" "$out"
sample_now
scrape >"$TMP/m1b"
l="target=\"tele-app\",pid=\"$APP\",heap=\"1\""
check ring_gc_sequence_41 test -n "$(grep "^memagent_heap_gc_sequence{$l} 41$" "$TMP/m1b")"
check ring_records_read_33 test -n "$(grep "^memagent_heap_gc_records_total{$l} 33$" "$TMP/m1b")"
check ring_records_missed_8 test -n "$(grep "^memagent_heap_gc_records_missed_total{$l} 8$" "$TMP/m1b")"
if command -v promtool >/dev/null; then
    check promtool_clean_with_heaps promtool check metrics <"$TMP/m1b"
else
    skip promtool_clean_with_heaps "no promtool"
fi

# The forked child holds both pages (same files) but wrote neither.
check child_holds_the_pages test "$(ls -l /proc/"$CHILD"/fd 2>/dev/null | grep -c 'memfd:gengc-stats')" = 2
check child_not_reported test -z "$(grep "pid=\"$CHILD\"" "$TMP/m1" | grep '^memagent_heap')"
check child_counted_as_owner test "$(awk '/^memagent_telemetry_errors_total\{reason="owner"\}/ {print $NF}' "$TMP/m1")" -ge 2

# The program exits: its pages go with it at the next sample.
kill -KILL "$CHILD" "$APP" 2>/dev/null
wait "$APP" 2>/dev/null
sample_now
check exited_app_dropped test -z "$(scrape | grep 'target="tele-app"')"

# --- hostile pages ----------------------------------------------------------------
modes="random size version never absurd regress"
[ -n "$SHM" ] && modes="$modes torn pwrite"
for mode in $modes; do
    "$HELPERS/tm_hostile" "$mode" "$TMP/h.$mode" "$SHM" &
    PIDS+=("$!")
    [ "$mode" = regress ] && REGRESS=$!
done
for mode in $modes; do
    wait_until 20 test -s "$TMP/h.$mode" || fail "hostile_${mode}_ready"
done
before=$(scrape)
err() { awk -v p="memagent_telemetry_errors_total{reason=\"$1\"} " 'index($0, p) == 1 { print $NF }' "$2"; }
printf '%s\n' "$before" >"$TMP/m2a"
sample_now
scrape >"$TMP/m2"
for r in magic size version torn absurd; do
    check "hostile_counted_$r" test "$(err "$r" "$TMP/m2")" -gt "$(err "$r" "$TMP/m2a")"
done
if [ -n "$SHM" ]; then
    check torn_counts_never_and_torn_pwrite test "$(( $(err torn "$TMP/m2") - $(err torn "$TMP/m2a") ))" -ge 2
    check pwrite_page_on_tmpfs_exported test -n "$(grep '^memagent_heap_space_used_bytes{target="hostile-pwrite",.*space="code_space"} 3000$' "$TMP/m2")"
else
    skip pwrite_page_on_tmpfs_exported "/dev/shm is not a tmpfs"
fi
check hostile_pages_export_nothing test -z "$(grep '^memagent_heap\|^memagent_gc_\|^memagent_queue' "$TMP/m2" | grep -v 'hostile-pwrite\|hostile-regress' | grep 'target="hostile-')"
check regress_page_exported_first test -n "$(grep '^memagent_gc_collections_total{target="hostile-regress",.*kind="scavenge"} 3$' "$TMP/m2")"
kill -USR1 "$REGRESS"
check regress_rewritten wait_until 20 test -e "$TMP/h.regress.2"
# A writer that never finishes stays counted, the agent keeps serving.
sample_now
scrape >"$TMP/m3"
check never_finishing_writer_counted_again test "$(err torn "$TMP/m3")" -gt "$(err torn "$TMP/m2")"
check regressed_counted test "$(err regressed "$TMP/m3")" -gt "$(err regressed "$TMP/m2")"
check regressed_page_exports_nothing test -z "$(grep '^memagent_gc_collections_total{target="hostile-regress"' "$TMP/m3")"
check agent_still_serves test -n "$(grep '^memagent_samples_total' "$TMP/m3")"

# --- an app running as nobody: found by the agent as root, and by the agent as
# another user with only the unit's capabilities (systemd/memagent.service) ----
check agent_clean_exit_before_users stop_agent
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    chmod o+x "$TMP"    # nobody may walk into it, not list it
    mkdir -m 0777 "$TMP/nobody"
    setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
        "$HELPERS/gc_telemetry_app" "$TMP/nobody/app.out" nobody-app 1 &
    NOBODY=$!
    PIDS+=("$NOBODY")
    check nobody_app_ready wait_until 20 grep -qs ready "$TMP/nobody/app.out"
    start_agent --interval 3600000 || { fail agent_start_root; finish; }
    sample_now
    check found_as_root test -n "$(scrape | grep '^memagent_heap_used_bytes{target="nobody-app"')"
    check agent_clean_exit_root stop_agent
    CAPS=+sys_ptrace,+dac_read_search,+bpf,+perfmon
    AGENT_LOG=$TMP/agent.caps.log
    setpriv --reuid=daemon --regid="$(id -g daemon)" --clear-groups --inh-caps=$CAPS --ambient-caps=$CAPS \
        "$MEMAGENT" --listen 127.0.0.1:0 --interval 3600000 2>"$AGENT_LOG" &
    AGENT_PID=$!
    PIDS+=("$AGENT_PID")
    if wait_until 20 grep -qs 'serving http://' "$AGENT_LOG"; then
        AGENT_ADDR=$(grep -o 'serving http://[^/]*' "$AGENT_LOG" | head -1 | sed 's|serving http://||')
        sample_now
        check found_with_unit_capabilities test -n "$(scrape | grep '^memagent_heap_used_bytes{target="nobody-app"')"
        check agent_clean_exit_caps stop_agent
    else
        fail found_with_unit_capabilities "agent as daemon did not start: $(head -3 "$AGENT_LOG")"
    fi
    kill -KILL "$NOBODY" 2>/dev/null
    wait "$NOBODY" 2>/dev/null
else
    skip found_as_root "needs root and setpriv"
    skip found_with_unit_capabilities "needs root and setpriv"
fi

# --- limits.max_instrumented: past it, pages are counted, not read -------------
printf '{ "limits": { "max_instrumented": 1 } }\n' >"$TMP/one.json"
start_agent --interval 3600000 --config "$TMP/one.json" || { fail agent_start_limited; finish; }
sample_now
scrape >"$TMP/m4"
check cap_reads_one test "$(awk '/^memagent_heap_instrumented / {print $NF}' "$TMP/m4")" -le 1
check cap_counts_overflow test "$(err overflow "$TMP/m4")" -ge 1
check agent_clean_exit_limited stop_agent

# --- the heap section narrows discovery or turns it off ----------------------
printf '{ "heap": { "names": "^hostile-pw" } }\n' >"$TMP/narrow.json"
start_agent --interval 3600000 --config "$TMP/narrow.json" || { fail agent_start_narrow; finish; }
sample_now
scrape >"$TMP/m5"
if [ -n "$SHM" ]; then
    check narrowed_keeps_matching test -n "$(grep '^memagent_heap_used_bytes{target="hostile-pwrite"' "$TMP/m5")"
fi
check narrowed_drops_others test -z "$(grep '^memagent_heap_used_bytes{' "$TMP/m5" | grep -v 'target="hostile-pwrite"')"
check agent_clean_exit_narrow stop_agent
printf '{ "heap": { "enabled": false } }\n' >"$TMP/off.json"
start_agent --interval 3600000 --config "$TMP/off.json" || { fail agent_start_off; finish; }
sample_now
scrape >"$TMP/m6"
check off_reads_nothing test -z "$(grep '^memagent_heap_used_bytes{' "$TMP/m6")"
check off_counts_nothing test -z "$(grep '^memagent_telemetry_errors_total' "$TMP/m6")"
check agent_clean_exit_off stop_agent
printf '{ "heap": { "names": "(" } }\n' >"$TMP/badre.json"
"$MEMAGENT" --check-config "$TMP/badre.json" >"$TMP/badre.out" 2>&1
check bad_names_regex_exit_78 test $? -eq 78
check bad_names_regex_position grep -q '1:22: heap.names: invalid regex' "$TMP/badre.out"
finish
