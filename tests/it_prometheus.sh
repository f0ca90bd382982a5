#!/bin/bash
# SPDX-License-Identifier: MIT
# A real Prometheus (Debian's package) scrapes the agent; its query API must
# show the host's MemTotal and a 64 MiB per_process child at 64-80 MiB.
. "$(dirname "$0")/lib.sh"

if ! command -v prometheus >/dev/null; then
    skip prometheus_scrape "prometheus is not installed (scripts/setup.sh test installs it)"
    finish
fi

start_memhog 64 memhog64 || { fail memhog_start; finish; }
cat >"$TMP/agent.json" <<JSON
{ "interval_ms": 500,
  "targets": [ { "name": "hog", "match": { "comm": "memhog64" }, "per_process": true } ] }
JSON
start_agent --config "$TMP/agent.json" || { fail agent_start; finish; }

cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: memagent
    static_configs:
      - targets: ['$AGENT_ADDR']
YML
check prometheus_ready start_prometheus "$TMP/prometheus.yml"
query() { prom_query "$1"; }
has_value() { [ -n "$(query "$1")" ]; }

check scrape_target_up wait_until 60 target_up

if wait_until 60 has_value memagent_system_memory_total_bytes; then
    want=$(( $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) * 1024 ))
    got=$(query memagent_system_memory_total_bytes)
    check memtotal_equals_proc_meminfo test "$got" = "$want"
else
    fail memtotal_equals_proc_meminfo "no sample in Prometheus"
fi

if wait_until 60 has_value 'memagent_process_resident_bytes{target="hog"}'; then
    rss=$(query "memagent_process_resident_bytes{target=\"hog\",pid=\"$HOG_PID\"}")
    mib=$(awk -v b="${rss:-0}" 'BEGIN { printf "%.1f", b / 1048576 }')
    echo "  per_process child: ${mib} MiB"
    check child_rss_64_to_80_mib awk -v b="${rss:-0}" 'BEGIN { exit !(b >= 64 * 1048576 && b <= 80 * 1048576) }'
else
    fail child_rss_64_to_80_mib "no series for the child"
fi

# Prometheus 2.x asks for OpenMetrics first: it got it, and it parsed.
check scrape_openmetrics test -n "$(query 'memagent_scrapes_total{job="memagent",format="openmetrics"} > 0')"

kill -TERM "$PROM_PID"; wait "$PROM_PID"
check prometheus_stopped test $? -eq 0
check agent_clean_exit stop_agent
finish
