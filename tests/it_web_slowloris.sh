#!/bin/bash
# SPDX-License-Identifier: MIT
# Slow clients cannot starve scrapes (docs/web.md): 1,000 half-open
# connections from 127.0.0.2 and a client sending one header byte a second
# from 127.0.0.3, while a real Prometheus scrapes the agent from 127.0.0.1
# every second. Every scrape in that window must have succeeded (up 1, from
# Prometheus' own API), the agent's descriptors and memory stay bounded, and
# the slow connections are closed and counted by reason.
. "$(dirname "$0")/lib.sh"

if ! command -v prometheus >/dev/null; then
    skip web_slowloris "prometheus is not installed (scripts/setup.sh test installs it)"
    finish
fi

PER_ADDRESS=32
HEADER_S=2
WINDOW_S=12
HOLD=1000
cat >"$TMP/agent.json" <<JSON
{ "interval_ms": 1000,
  "targets": [],
  "limits": { "http_connections": 256, "http_connections_per_address": $PER_ADDRESS,
              "http_header_timeout_s": $HEADER_S, "http_timeout_s": 10 } }
JSON
start_agent --no-bpf --config "$TMP/agent.json" || { fail agent_start; finish; }
HOST=${AGENT_ADDR%:*}
PORT=${AGENT_ADDR##*:}

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
check target_up_before wait_until 60 target_up

fds() { ls "/proc/$AGENT_PID/fd" | wc -l; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status"; }
fd0=$(fds)
rss0=$(rss_kib)

t0=$(date +%s)
"$HELPERS/slowloris" "$HOST" "$PORT" 127.0.0.2 hold "$HOLD" "$WINDOW_S" >"$TMP/hold.out" 2>&1 &
hold=$!
"$HELPERS/slowloris" "$HOST" "$PORT" 127.0.0.3 drip 1 "$WINDOW_S" >"$TMP/drip.out" 2>&1 &
drip=$!
PIDS+=("$hold" "$drip")
# While they run: the highest descriptor count and rss seen (sampling, not
# waiting: the helpers end on their own after WINDOW_S).
fd_max=$fd0 rss_max=$rss0
while kill -0 "$hold" 2>/dev/null || kill -0 "$drip" 2>/dev/null; do
    f=$(fds); r=$(rss_kib)
    [ "$f" -gt "$fd_max" ] && fd_max=$f
    [ "$r" -gt "$rss_max" ] && rss_max=$r
    sleep 0.2
done
wait "$hold"; wait "$drip"
t1=$(date +%s)
echo "  hold: $(cat "$TMP/hold.out")"
echo "  drip: $(cat "$TMP/drip.out")"
echo "  agent fds: $fd0 before, at most $fd_max during; rss: ${rss0} KiB before, at most ${rss_max} KiB during"

field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$2"; }
check hold_opened_all test "$(field opened "$TMP/hold.out")" -ge "$HOLD"
check hold_refused_or_closed_by_server test "$(field closed_by_server "$TMP/hold.out")" -ge $(( HOLD - PER_ADDRESS ))
check drip_closed_by_server test "$(field closed_by_server "$TMP/drip.out")" -ge 1
check fds_bounded test "$fd_max" -le $(( fd0 + PER_ADDRESS + 16 ))
check rss_bounded test $(( rss_max - rss0 )) -le $(( 32 * 1024 ))

# Every scrape Prometheus made in the window succeeded: wait until it has
# scraped past the window's end, then ask about the window.
scraped_after() {
    local ts
    ts=$(prom_query 'timestamp(up{job="memagent"})')
    [ -n "$ts" ] && [ "${ts%.*}" -gt "$1" ]
}
check prometheus_scraped_after_window wait_until 30 scraped_after "$t1"
w=$(( t1 - t0 ))
min=$(prom_query "min_over_time(up{job=\"memagent\"}[${w}s])" "$t1")
n=$(prom_query "count_over_time(up{job=\"memagent\"}[${w}s])" "$t1")
echo "  window ${w}s: $n scrapes, min(up) = $min"
check every_scrape_up test "$min" = 1
check scraped_every_second test "${n:-0}" -ge $(( w - 2 ))

closed() { metric memagent_http_connections_closed_total "reason=\"$1\""; }
timeouts=$(closed header_timeout)
refused=$(closed address_limit)
echo "  closed: header_timeout=$timeouts address_limit=$refused pressure=$(closed pressure)"
check header_timeouts_counted test "${timeouts:-0}" -ge $(( PER_ADDRESS + 1 ))
check address_limit_counted test "${refused:-0}" -ge $(( HOLD - PER_ADDRESS ))
# The slow connections are gone: what is left is Prometheus' and this scrape's.
few_connections() { [ "$(metric memagent_http_connections)" -le 3 ]; }
check slow_connections_closed wait_until 20 few_connections

kill -TERM "$PROM_PID"; wait "$PROM_PID"
check prometheus_stopped test $? -eq 0
check agent_clean_exit stop_agent
finish
