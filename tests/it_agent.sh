#!/bin/bash
# SPDX-License-Identifier: MIT
# The agent as operators run it: CLI, SIGUSR1 sampling, errors counted while
# it keeps serving, start-up failures, SIGHUP reloads that keep the old
# configuration when the new one is bad.
. "$(dirname "$0")/lib.sh"

# --- CLI --------------------------------------------------------------------
"$MEMAGENT" --help >"$TMP/help"; rc=$?
check help_exit_0 test $rc -eq 0
check help_mentions_options grep -q -- '--check-config' "$TMP/help"
check version_prints "$MEMAGENT" --version
"$MEMAGENT" --bogus 2>/dev/null; check unknown_option_exit_64 test $? -eq 64
"$MEMAGENT" --interval 5 2>/dev/null; check bad_interval_exit_64 test $? -eq 64
"$MEMAGENT" extra 2>/dev/null; check stray_argument_exit_64 test $? -eq 64
"$MEMAGENT" --listen localhost:99999 2>"$TMP/listen.err"; check bad_listen_exit_64 test $? -eq 64
check bad_listen_says_why grep -q -- "--listen" "$TMP/listen.err"
"$MEMAGENT" --print-default-config >"$TMP/default.json"
check default_config_checks "$MEMAGENT" --check-config "$TMP/default.json"

# --- --check-config: each error exits 78 naming file:line:column and key path --
# expect_config_error FILE EXPECTED-PREFIX
expect_config_error() {
    local name=$1 out rc
    out=$("$MEMAGENT" --check-config "tests/fixtures/config/$1.json" 2>&1)
    rc=$?
    check "check_config_${name}_exit_78" test $rc -eq 78
    case "$out" in
    "tests/fixtures/config/$1.json:$2"*) pass "check_config_${name}_position" ;;
    *) fail "check_config_${name}_position" "got: $out" ;;
    esac
}
expect_config_error syntax_error "5:5: targets: "
expect_config_error bad_regex "8:29: targets[2].match.cmdline: invalid regex: "
expect_config_error unknown_key '7:7: targets[0].per_proces: unknown key "per_proces"; did you mean "per_process"?'
check check_config_valid_exit_0 "$MEMAGENT" --check-config systemd/memagent.json

# --- SIGUSR1 and samples_total ---------------------------------------------
start_agent --interval 3600000 || { fail agent_start; finish; }
check first_sample_at_start wait_until 20 samples_at_least 1
check only_one_sample test "$(samples)" = 1
check samples_metric_matches_healthz test "$(metric memagent_samples_total)" = 1
sample_now; check sigusr1_samples test "$(samples)" = 2
check samples_metric_follows test "$(metric memagent_samples_total)" = 2
check default_groups_by_comm test -n "$(metric memagent_process_count 'target="all",comm="memagent"')"
check self_metrics_present test "$(metric memagent_collector_up 'collector="process"')" = 1
# 200 scrapes at once: every one answered, and the agent still serves after.
codes=$(seq 200 | xargs -P 200 -I{} curl -s -o /dev/null -w '%{http_code}\n' "http://$AGENT_ADDR/metrics")
check concurrent_200_scrapes_all_ok test "$(grep -c '^200$' <<<"$codes")" = 200
check serves_after_concurrent_scrapes test -n "$(metric memagent_samples_total)"
check scrapes_counted test "$(metric memagent_scrapes_total 'format="text"')" -ge 200
check agent_clean_exit stop_agent

# --- a fixture /proc with broken entries: counted, the agent keeps serving -----
fx=$TMP/proc
mkdir -p "$fx/100" "$fx/200" "$fx/300/status"
cp tests/fixtures/proc/meminfo.txt "$fx/meminfo"
printf 'cpu 1\nbtime 1700000000\n' >"$fx/stat"
for pid in 100 200 300; do
    sed "s/^[0-9]* (sleep)/$pid (app)/" tests/fixtures/proc/stat.txt >"$fx/$pid/stat"
done
sed 's/^Name:.*/Name:\tapp/' tests/fixtures/proc/status.txt >"$fx/100/status"
# 200 is listed but its status is gone (it exited mid-collection);
# 300 has a folder where its status file should be.
cat >"$TMP/app.json" <<JSON
{ "targets": [ { "name": "app", "match": { "comm": "app" } } ] }
JSON
start_agent --interval 3600000 --proc-root "$fx" --config "$TMP/app.json" || { fail agent_start_fixture; finish; }
check fixture_app_counted test "$(metric memagent_process_count 'target="app"')" = 1
check fixture_vanished_counted test "$(metric memagent_collector_errors_total 'collector="process",reason="vanished"')" -ge 1
check fixture_unreadable_counted test "$(metric memagent_collector_errors_total 'collector="process",reason="unreadable"')" -ge 1
u1=$(metric memagent_collector_errors_total 'collector="process",reason="unreadable"')
sample_now
check fixture_keeps_serving test "$(metric memagent_collector_errors_total 'collector="process",reason="unreadable"')" -gt "$u1"
check fixture_psi_absent_not_fatal test "$(metric memagent_collector_up 'collector="psi"')" = 0
check agent_clean_exit_fixture stop_agent

# --- start-up failures --------------------------------------------------------
printf '{ "interval_ms": "fast" }\n' >"$TMP/bad.json"
"$MEMAGENT" --config "$TMP/bad.json" --listen 127.0.0.1:0 2>"$TMP/bad.log"
check invalid_config_exit_78 test $? -eq 78
check invalid_config_names_file grep -q "$TMP/bad.json:1:" "$TMP/bad.log"
"$MEMAGENT" --config "$TMP/missing.json" --listen 127.0.0.1:0 2>/dev/null
check missing_config_exit_78 test $? -eq 78

start_agent --interval 3600000 || { fail agent_start; finish; }
busy=$AGENT_ADDR
"$MEMAGENT" --listen "$busy" 2>"$TMP/busy.log"
check busy_port_fails test $? -eq 1
check busy_port_says_why grep -q "$busy" "$TMP/busy.log"
check agent_clean_exit_busy stop_agent

# --- SIGHUP reload --------------------------------------------------------------
cat >"$TMP/live.json" <<JSON
{ "targets": [ { "name": "first", "match": { "pid": $$ } } ] }
JSON
start_agent --interval 3600000 --config "$TMP/live.json" || { fail agent_start_reload; finish; }
check reload_before test "$(metric memagent_process_count 'target="first"')" = 1
cat >"$TMP/live.json" <<JSON
{ "targets": [ { "name": "second", "match": { "pid": $$ } } ] }
JSON
kill -HUP "$AGENT_PID"
wait_until 20 grep -q 'configuration reloaded' "$AGENT_LOG"
sample_now
check reload_applied test "$(metric memagent_process_count 'target="second"')" = 1
check reload_dropped_old test -z "$(metric memagent_process_count 'target="first"')"
check reload_success_counted test "$(metric memagent_config_reloads_total 'result="success"')" = 1
printf '{ "targets": [ { "name": "third", "match": { "cmdline": "(" } } ] }\n' >"$TMP/live.json"
kill -HUP "$AGENT_PID"
wait_until 20 grep -q 'reload failed' "$AGENT_LOG"
sample_now
check bad_reload_keeps_old test "$(metric memagent_process_count 'target="second"')" = 1
check bad_reload_counted test "$(metric memagent_config_reloads_total 'result="failure"')" = 1
check bad_reload_logged_position grep -q "live.json:1:.*targets\[0\].match.cmdline" "$AGENT_LOG"
check agent_clean_exit_reload stop_agent

# --- SIGHUP reload of the endpoint: listen and HTTP limits ----------------------
# The config's own listen (no --listen, which would override it on reload).
printf '{ "listen": "127.0.0.1:0" }\n' >"$TMP/http.json"
launch_agent --interval 3600000 --config "$TMP/http.json" || { fail agent_start_http; finish; }
port=${AGENT_ADDR##*:}
# reloads_at_least N: the log shows N successful reloads (evaluated at each try).
reloads_at_least() { [ "$(grep -c 'configuration reloaded' "$AGENT_LOG")" -ge "$1" ]; }
# Same port, wider address: it cannot be bound beside the old socket.
printf '{ "listen": "0.0.0.0:%s" }\n' "$port" >"$TMP/http.json"
kill -HUP "$AGENT_PID"
check reload_overlapping_done wait_until 20 reloads_at_least 1
check reload_overlapping_listen grep -q "serving http://0.0.0.0:$port/metrics" "$AGENT_LOG"
check reload_overlapping_serves test -n "$(metric memagent_samples_total)"
# Only an HTTP limit changes: the server restarts with it, on the same port.
printf '{ "listen": "0.0.0.0:%s", "limits": { "http_timeout_s": 3 } }\n' "$port" >"$TMP/http.json"
kill -HUP "$AGENT_PID"
check reload_http_limits_done wait_until 20 reloads_at_least 2
check reload_http_limits_restart test "$(grep -c "serving http://0.0.0.0:$port/metrics" "$AGENT_LOG")" = 2
sample_now
check reload_http_counted test "$(metric memagent_config_reloads_total 'result="success"')" = 2
# An overlapping address again (the old server stops before the new one is
# bound), with a sink whose token file is missing: the reload fails whole,
# before the server is touched, and the old one still serves.
cat >"$TMP/http.json" <<JSON
{ "listen": "127.0.0.1:$port",
  "sinks": [ { "name": "tok", "type": "remote_write", "url": "http://127.0.0.1:9/rw", "bearer_token_file": "$TMP/no-token" } ] }
JSON
kill -HUP "$AGENT_PID"
check reload_overlap_bad_sink_refused wait_until 20 grep -q 'reload failed: sink tok: bearer_token_file' "$AGENT_LOG"
sample_now
check reload_overlap_bad_sink_serves test -n "$(metric memagent_samples_total)"
check reload_overlap_bad_sink_same_server test "$(grep -c "serving http://" "$AGENT_LOG")" = 3
check reload_overlap_bad_sink_counted test "$(metric memagent_config_reloads_total 'result="failure"')" = 1
check agent_clean_exit_http stop_agent
finish
