#!/bin/bash
# SPDX-License-Identifier: MIT
# The service manager's notify protocol, with this test as the manager: a
# datagram socket of its own as $NOTIFY_SOCKET (tests/helpers/notify_listen).
# READY=1 only after the first sample, WATCHDOG=1 from the loop's wait
# whatever the interval, RELOADING=1 then READY=1 around SIGHUP (a broken
# config reported by position, the old targets kept), STOPPING=1 on SIGTERM,
# and a stuck sampling loop (the MEMAGENT_TEST_STALL hook) stops the pings
# while HTTP still answers.
. "$(dirname "$0")/lib.sh"

sock=$TMP/notify.sock
msgs=$TMP/notify.out
"$HELPERS/notify_listen" "$sock" >"$msgs" &
PIDS+=($!)
wait_until 20 grep -q '^ready$' "$msgs" || { fail notify_listen_start "$(cat "$msgs")"; finish; }

# count PATTERN: datagrams so far matching PATTERN (an ERE over "a|b|c").
count() { grep -cE "^[0-9]+ ($1)" "$msgs"; }
# count_at_least N PATTERN: at least N such datagrams (evaluated at each try).
count_at_least() { [ "$(count "$2")" -ge "$1" ]; }
# line_of PATTERN: the line number of the first datagram matching PATTERN.
line_of() { grep -nE "^[0-9]+ ($1)" "$msgs" | head -1 | cut -d: -f1; }

# periods_pass N: returns once N ping periods (100 ms: WATCHDOG_USEC=200000)
# have passed on the kernel's clock, a condition polled, not a sleep.
periods_pass() {
    local up0
    up0=$(cut -d' ' -f1 /proc/uptime)
    wait_until 20 awk -v a="$up0" -v n="$1" '{ exit !($1 - a >= n / 10) }' /proc/uptime
}

# Targets match one process of the test's, whatever else runs on the host.
start_memhog 1 || { fail memhog_start; finish; }
cat >"$TMP/live.json" <<JSON
{ "targets": [ { "name": "first", "match": { "pid": $HOG_PID } } ] }
JSON
stall=$TMP/stall
# The first tick is held by the hook: READY=1 (and the "serving" line
# start_agent waits for) must wait for it. An hour between samples: every
# WATCHDOG=1 seen comes from the wait.
touch "$stall"
AGENT_LOG=$TMP/agent.log
NOTIFY_SOCKET=$sock WATCHDOG_USEC=200000 MEMAGENT_TEST_STALL=$stall \
    "$MEMAGENT" --listen 127.0.0.1:0 --interval 3600000 --config "$TMP/live.json" 2>"$AGENT_LOG" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
check first_tick_held wait_until 20 grep -q 'sampling loop stalled' "$AGENT_LOG"
check no_ready_before_first_sample test "$(count 'READY=1')" = 0
check not_serving_before_first_sample bash -c "! grep -q 'serving http://' '$AGENT_LOG'"
rm -f "$stall"
check ready_after_first_sample wait_until 20 grep -q 'READY=1' "$msgs"
wait_until 20 grep -q 'serving http://' "$AGENT_LOG" || { fail agent_serving "$(cat "$AGENT_LOG")"; finish; }
AGENT_ADDR=$(grep -o 'serving http://[^/]*' "$AGENT_LOG" | head -1 | sed 's|serving http://||')
check ready_sample_served samples_at_least 1
check ready_has_status grep -qE 'READY=1\|STATUS=serving http://[^ ]+/metrics: 1 target every 3600000 ms' "$msgs"
check ready_once test "$(count 'READY=1')" = 1

# Pings while no sample is due (one sample an hour).
check watchdog_pings_between_samples wait_until 20 count_at_least 5 'WATCHDOG=1'
check watchdog_pings_not_samples test "$(samples)" = 1

# --- reload: RELOADING=1 (with MONOTONIC_USEC) and then READY=1 ----------------
cat >"$TMP/live.json" <<JSON
{ "targets": [ { "name": "second", "match": { "pid": $HOG_PID } } ] }
JSON
kill -HUP "$AGENT_PID"
check reload_ready_again wait_until 20 count_at_least 2 'READY=1'
check reloading_sent grep -qE '^[0-9]+ RELOADING=1\|MONOTONIC_USEC=[0-9]+$' "$msgs"
check reloading_before_ready test "$(line_of 'RELOADING=1')" -lt "$(grep -n 'READY=1' "$msgs" | sed -n 2p | cut -d: -f1)"
sample_now
check reload_changes_targets test "$(metric memagent_process_count 'target="second"')" = 1

# A broken config: reported by file:line:column and key, the old targets kept,
# and the manager told so (READY=1 again: the reload is over).
printf '{ "targets": [ { "name": "third", "match": { "cmdline": "(" } } ] }\n' >"$TMP/live.json"
kill -HUP "$AGENT_PID"
check bad_reload_ready_again wait_until 20 count_at_least 3 'READY=1'
check bad_reload_status grep -q 'STATUS=reload failed, kept the running configuration' "$msgs"
check bad_reload_logged_position grep -qE "live.json:1:[0-9]+: targets\[0\]\.match\.cmdline" "$AGENT_LOG"
sample_now
check bad_reload_keeps_old_targets test "$(metric memagent_process_count 'target="second"')" = 1
check bad_reload_no_new_targets test -z "$(metric memagent_process_count 'target="third"')"

# --- a stuck sampling loop: no more pings, HTTP still answers -----------------
touch "$stall"
kill -USR1 "$AGENT_PID"
stalls() { [ "$(grep -c 'sampling loop stalled' "$AGENT_LOG")" -ge 2 ]; }
check loop_stalled wait_until 20 stalls
n0=$(count 'WATCHDOG=1')
answered=0
for _ in $(seq 20); do scrape -o /dev/null && answered=$((answered + 1)); done
check http_answers_while_stalled test "$answered" = 20
periods_pass 10
n1=$(count 'WATCHDOG=1')
# At most one ping in flight when the tick began.
check watchdog_stops_while_stalled test $((n1 - n0)) -le 1
check stalled_sample_not_served test "$(samples)" = 3
rm -f "$stall"
check watchdog_resumes wait_until 20 count_at_least $((n1 + 1)) 'WATCHDOG=1'
check loop_resumes wait_until 20 samples_at_least 4

# --- STOPPING=1 on SIGTERM ----------------------------------------------------
check agent_clean_exit stop_agent
check stopping_sent grep -q 'STOPPING=1' "$msgs"

# --- a watchdog meant for another pid is not ours ------------------------------
: >"$msgs"
NOTIFY_SOCKET=$sock WATCHDOG_USEC=100000 WATCHDOG_PID=1 start_agent --interval 3600000 ||
    { fail agent_start_foreign_watchdog; finish; }
check foreign_ready wait_until 20 grep -q 'READY=1' "$msgs"
periods_pass 10
check foreign_watchdog_not_pinged test "$(count 'WATCHDOG=1')" = 0
check agent_clean_exit_foreign stop_agent

# Without NOTIFY_SOCKET the agent runs as before (the rest of the suite).
finish
