#!/bin/bash
# SPDX-License-Identifier: MIT
# promtool (from Debian's prometheus) finds nothing to say about the agent's
# output: embedded default, a config with targets, and live /metrics.
. "$(dirname "$0")/lib.sh"

if ! command -v promtool >/dev/null; then
    skip promtool "promtool is not installed (scripts/setup.sh test installs it)"
    finish
fi

# lint NAME: reads exposition on stdin; passes when promtool is silent and happy.
lint() {
    local out rc
    out=$(promtool check metrics 2>&1 <"$TMP/expo")
    rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then pass "$1"; else fail "$1" "promtool: $out"; fi
}

"$MEMAGENT" --once >"$TMP/expo" 2>"$TMP/once.log"
check once_default_exit test $? -eq 0
check once_default_has_memtotal grep -q '^memagent_system_memory_total_bytes [0-9]' "$TMP/expo"
lint promtool_default

start_memhog 8 lintee
cat >"$TMP/targets.json" <<JSON
{ "targets": [
    { "name": "lintee", "match": { "comm": "lintee" }, "per_process": true, "smaps": true },
    { "name": "self", "match": { "pid": $$ } },
    { "name": "by-cgroup", "match": { "cgroup": "/" } },
    { "name": "census", "match": {}, "group_by": "comm" } ] }
JSON
"$MEMAGENT" --once --config "$TMP/targets.json" >"$TMP/expo" 2>"$TMP/once.log"
check once_targets_exit test $? -eq 0
check once_targets_has_pid_series grep -q "^memagent_process_resident_bytes{target=\"lintee\",pid=\"$HOG_PID\"} " "$TMP/expo"
check once_targets_has_pss grep -q "^memagent_process_pss_bytes{target=\"lintee\",pid=\"$HOG_PID\"} " "$TMP/expo"
check once_targets_has_cgroup grep -q '^memagent_cgroup_memory_usage_bytes{target="by-cgroup"} ' "$TMP/expo"
lint promtool_targets

start_agent --config "$TMP/targets.json"
scrape >"$TMP/expo"
lint promtool_live_endpoint
check agent_clean_exit stop_agent
finish
