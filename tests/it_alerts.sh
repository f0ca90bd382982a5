#!/bin/bash
# SPDX-License-Identifier: MIT
# Alerts from the agent into two real Alertmanagers (Debian's
# prometheus-alertmanager, clustering off): an alert in both APIs; resolved
# (not expired) within 2 samples of its cause going away; a `for` longer
# than the run never fires; one Alertmanager down: the other gets
# everything, the failures are counted, and the returning one gets the
# firing alerts again; a third that never answers delays neither. With the leak examples built: examples/leaky_cache
# raises heap_leak, examples/queue_lag raises queue_growth.
. "$(dirname "$0")/lib.sh"

AM=$(command -v prometheus-alertmanager || command -v alertmanager || true)
if [ -z "$AM" ]; then
    skip alerts "prometheus-alertmanager is not installed (scripts/setup.sh test installs it)"
    finish
fi
if ! command -v jq >/dev/null; then
    skip alerts "jq is not installed (scripts/setup.sh test installs it)"
    finish
fi

cat >"$TMP/am.yml" <<'YAML'
route:
  receiver: "null"
receivers:
  - name: "null"
YAML

# start_am N [PORT]: Alertmanager number N on PORT (default: a free one,
# another if that one is taken meanwhile), its own storage, no cluster;
# sets AM_PORT_N and AM_PID_N.
start_am() {
    local n=$1 port pid try
    for try in 1 2 3; do
        port=${2:-$(free_port)}
        mkdir -p "$TMP/am$n"
        "$AM" --config.file="$TMP/am.yml" --storage.path="$TMP/am$n" \
            --web.listen-address="127.0.0.1:$port" --cluster.listen-address= \
            >"$TMP/am$n.log" 2>&1 &
        pid=$!
        PIDS+=("$pid")
        eval "AM_PORT_$n=$port AM_PID_$n=$pid"
        wait_until 30 am_up "$port" "$pid"
        curl -sf "http://127.0.0.1:$port/-/ready" -o /dev/null && return 0
        kill -0 "$pid" 2>/dev/null && return 1 # alive but not ready
        wait "$pid" 2>/dev/null # dead: the port was taken; another one
    done
    return 1
}
# am_up PORT PID: ready, or dead (then wait_until stops waiting early: the
# caller tells the two apart).
am_up() { curl -sf "http://127.0.0.1:$1/-/ready" -o /dev/null || ! kill -0 "$2" 2>/dev/null; }

stop_am() {
    local pid
    eval "pid=\$AM_PID_$1"
    kill -TERM "$pid" && wait "$pid" 2>/dev/null
    return 0
}

# alerts PORT NAME: the active alerts named NAME in that Alertmanager's API, as JSON lines.
alerts() { curl -sf "http://127.0.0.1:$1/api/v2/alerts?active=true&silenced=false&inhibited=false" |
    jq -c --arg n "$2" '.[] | select(.labels.alertname == $n)'; }
has_alert() { [ -n "$(alerts "$1" "$2" | grep -F "${3:-}")" ]; }
no_alert() { ! has_alert "$@"; }

notifications() { metric memagent_alert_notifications_total "alertmanager=\"http://127.0.0.1:$1\",result=\"$2\""; }
notifications_at_least() { local v; v=$(notifications "$1" "$2"); [ -n "$v" ] && [ "${v%.*}" -ge "$3" ]; }
# resolved_at NAME: once memagent_alert_firing{alert=NAME} reads 0, prints the
# sample whose evaluation resolved it (the gauge comes with the snapshot
# after the evaluation: the scrape's sample number minus one).
resolved_at() {
    local body f n
    body=$(scrape) || return 1
    f=$(echo "$body" | awk -v p="memagent_alert_firing{alert=\"$1\"} " 'index($0, p) == 1 { print $NF }')
    [ "$f" = 0 ] || return 1
    n=$(echo "$body" | awk '$1 == "memagent_samples_total" { print $2 }')
    echo $(( ${n%.*} - 1 )) >"$TMP/resolved_at"
}
# ends_of PORT NAME [TEXT]: the endsAt of that alert into $TMP/ends; fails
# while the API does not answer with it.
ends_of() {
    local e
    e=$(alerts "$1" "$2" | grep -F "${3:-}" | jq -r .endsAt | head -1)
    [ -n "$e" ] && [ "$e" != null ] && echo "$e" >"$TMP/ends"
}
ends_moved() { ends_of "$AM_PORT_1" HogRss && [ "$(cat "$TMP/ends")" != "$1" ]; }
firing_is() { [ "$(metric memagent_alert_firing "alert=\"$1\"")" = "$2" ]; }
pending_is() { [ "$(metric memagent_alert_pending "alert=\"$1\"")" = "$2" ]; }

start_am 1 || { fail am1_started "$(tail -5 "$TMP/am1.log")"; finish; }
start_am 2 || { fail am2_started "$(tail -5 "$TMP/am2.log")"; finish; }
pass alertmanagers_started
# A third "Alertmanager" that never answers: it must delay no other.
mkdir -p "$TMP/hang"
"$HELPERS/http_recorder" "$TMP/hang" &
PIDS+=("$!")
wait_until 10 test -s "$TMP/hang/port" || fail hang_started
HANG_PORT=$(cat "$TMP/hang/port")
curl -sf "http://127.0.0.1:$HANG_PORT/_mode/hang" -o /dev/null

# The leak examples come with the leak-signal issue; their rules need its
# metrics, which the configuration checks.
EX=$BUILD/examples
have_leak=false
[ -x "$EX/leaky_cache" ] && [ -x "$EX/queue_lag" ] && have_leak=true
leak_rules=""
if $have_leak; then
    leak_rules=',
    { "alert": "heap_leak", "kind": "heap_leak", "labels": { "severity": "warning" },
      "annotations": { "summary": "{{ $labels.target }} (pid {{ $labels.pid }}) leaks" } },
    { "alert": "queue_growth", "kind": "queue_growth" },
    { "alert": "heap_leak_for_an_hour", "kind": "heap_leak", "for_ms": 3600000 }'
fi
# resend 2 s at a 300 ms interval: endsAt is 8 s ahead of each post.
cat >"$TMP/agent.json" <<JSON
{ "interval_ms": 300,
  "targets": [ { "name": "hog", "match": { "comm": "alerthog" }, "per_process": true },
               { "name": "all", "match": {}, "group_by": "comm" } ],
  "alerts": {
    "alertmanagers": [ "http://127.0.0.1:$AM_PORT_1", "http://127.0.0.1:$AM_PORT_2",
                       "http://127.0.0.1:$HANG_PORT" ],
    "resend_interval_ms": 2000, "timeout_ms": 2000,
    "rules": [
    { "alert": "HogRss", "kind": "rss", "threshold": 20971520, "match": { "target": "hog" },
      "annotations": { "summary": "pid {{ \$labels.pid }} at {{ \$value }} bytes" } },
    { "alert": "NeverFires", "kind": "rss", "threshold": 1, "for_ms": 3600000,
      "match": { "target": "hog" } }$leak_rules ] } }
JSON
"$MEMAGENT" --check-config "$TMP/agent.json" >"$TMP/check.log" 2>&1
check config_valid test $? -eq 0
# A rule naming a metric the agent does not export: refused, with its place.
cat >"$TMP/bad.json" <<'JSON'
{ "alerts": { "rules": [
    { "alert": "Typo", "kind": "rss", "threshold": 1,
      "metric": "memagent_process_rss_bytes" } ] } }
JSON
"$MEMAGENT" --check-config "$TMP/bad.json" >"$TMP/check.log" 2>&1
check bad_metric_exit_78 test $? -eq 78
check bad_metric_placed grep -qF "$TMP/bad.json:3:17: alerts.rules[0].metric: \"memagent_process_rss_bytes\" is not a metric the agent exports" "$TMP/check.log"

start_agent --config "$TMP/agent.json" || { fail agent_started; finish; }

# ---- an alert in both Alertmanagers, resolved (not expired) --------------
start_memhog 40 alerthog
check hog_alert_in_am1 wait_until 20 has_alert "$AM_PORT_1" HogRss "\"pid\":\"$HOG_PID\""
check hog_alert_in_am2 wait_until 20 has_alert "$AM_PORT_2" HogRss "\"pid\":\"$HOG_PID\""
check annotation_rendered has_alert "$AM_PORT_1" HogRss "\"summary\":\"pid $HOG_PID at "
check firing_metric wait_until 10 firing_is HogRss 1
check never_fires_pending wait_until 10 pending_is NeverFires 1
# A resend has come (the endsAt moves on), so the endsAt read last is the
# one of the last firing post before the hog goes.
wait_until 10 ends_of "$AM_PORT_1" HogRss
ends0=$(cat "$TMP/ends")
check resent wait_until 20 ends_moved "$ends0"
# Read before the hog goes: a later resend could only move endsAt later.
check ends_at_read wait_until 10 ends_of "$AM_PORT_1" HogRss
ends=$(cat "$TMP/ends")
kill -TERM "$HOG_PID"; wait "$HOG_PID" 2>/dev/null
# The sample being taken now may have read the hog alive; the next cannot.
s0=$(samples)
# Polled first: the first scrape without it says which sample resolved it.
check hog_resolved_in_agent wait_until 20 resolved_at HogRss
echo "  HogRss: hog reaped at sample $s0, resolved by the evaluation of sample $(cat "$TMP/resolved_at")"
check resolved_within_2_samples test "$(cat "$TMP/resolved_at")" -le $((s0 + 2))
check hog_resolved_in_am1 wait_until 20 no_alert "$AM_PORT_1" HogRss
check hog_resolved_in_am2 wait_until 20 no_alert "$AM_PORT_2" HogRss
now_ms=$(date +%s%3N)
ends_ms=$(date -d "$ends" +%s%3N)
check resolved_before_ends_at test "$now_ms" -lt "$ends_ms"
check firing_metric_back_to_0 wait_until 10 firing_is HogRss 0
check hanging_one_times_out_counted wait_until 20 notifications_at_least "$HANG_PORT" failure 1

# ---- `for` longer than the run ------------------------------------------
check never_fires_not_firing firing_is NeverFires 0
check never_fires_not_in_am1 no_alert "$AM_PORT_1" NeverFires
check never_fires_not_in_am2 no_alert "$AM_PORT_2" NeverFires

# ---- a reload to a bad rule keeps the running rules ----------------------
cp "$TMP/agent.json" "$TMP/agent.good"
cp "$TMP/bad.json" "$TMP/agent.json"
kill -HUP "$AGENT_PID"
check bad_reload_refused wait_until 10 sh -c "curl -sf http://$AGENT_ADDR/metrics | grep -q '^memagent_config_reloads_total{result=\"failure\"} 1\$'"
check bad_reload_logged grep -q "is not a metric the agent exports" "$AGENT_LOG"
cp "$TMP/agent.good" "$TMP/agent.json"

# ---- one Alertmanager down -----------------------------------------------
fail0=$(notifications "$AM_PORT_2" failure)
stop_am 2
start_memhog 40 alerthog
check pending_while_hog_runs wait_until 10 pending_is NeverFires 1
check down_other_gets_it wait_until 20 has_alert "$AM_PORT_1" HogRss "\"pid\":\"$HOG_PID\""
check down_failures_counted wait_until 20 notifications_at_least "$AM_PORT_2" failure $(( ${fail0%.*} + 1 ))
ok0=$(notifications "$AM_PORT_2" success)
start_am 2 "$AM_PORT_2" || fail am2_restarted "$(tail -5 "$TMP/am2.log")"
check returned_gets_firing wait_until 20 has_alert "$AM_PORT_2" HogRss "\"pid\":\"$HOG_PID\""
check returned_success_counted wait_until 10 notifications_at_least "$AM_PORT_2" success $(( ${ok0%.*} + 1 ))
kill -TERM "$HOG_PID"; wait "$HOG_PID" 2>/dev/null
check resolved_in_both wait_until 20 sh -c "! curl -sf 'http://127.0.0.1:$AM_PORT_1/api/v2/alerts' | grep -q HogRss && ! curl -sf 'http://127.0.0.1:$AM_PORT_2/api/v2/alerts' | grep -q HogRss"

# ---- the leak signals ----------------------------------------------------
if $have_leak; then
    "$EX/leaky_cache" >"$TMP/leaky.log" 2>&1 &
    app=$!
    PIDS+=("$app")
    check heap_leak_in_am1 wait_until 60 has_alert "$AM_PORT_1" heap_leak "\"pid\":\"$app\""
    check heap_leak_in_am2 wait_until 10 has_alert "$AM_PORT_2" heap_leak "\"pid\":\"$app\""
    check heap_leak_for_an_hour_pending wait_until 10 pending_is heap_leak_for_an_hour 1
    check heap_leak_ends_at_read wait_until 10 ends_of "$AM_PORT_1" heap_leak "\"pid\":\"$app\""
    ends=$(cat "$TMP/ends")
    kill -TERM "$app"; wait "$app" 2>/dev/null
    s0=$(samples)
    check heap_leak_resolved_in_agent wait_until 20 resolved_at heap_leak
    echo "  heap_leak: app reaped at sample $s0, resolved by the evaluation of sample $(cat "$TMP/resolved_at")"
    check heap_leak_resolved_within_2_samples test "$(cat "$TMP/resolved_at")" -le $((s0 + 2))
    check heap_leak_resolved_in_am1 wait_until 20 no_alert "$AM_PORT_1" heap_leak "\"pid\":\"$app\""
    check heap_leak_resolved_in_am2 wait_until 20 no_alert "$AM_PORT_2" heap_leak "\"pid\":\"$app\""
    check heap_leak_resolved_before_ends_at test "$(date +%s%3N)" -lt "$(date -d "$ends" +%s%3N)"

    "$EX/queue_lag" >"$TMP/lag.log" 2>&1 &
    app=$!
    PIDS+=("$app")
    check queue_growth_in_am1 wait_until 60 has_alert "$AM_PORT_1" queue_growth "\"pid\":\"$app\""
    check queue_growth_in_am2 wait_until 10 has_alert "$AM_PORT_2" queue_growth "\"pid\":\"$app\""
    kill -TERM "$app"; wait "$app" 2>/dev/null
else
    skip leak_alerts "examples/leaky_cache and queue_lag are not built (the leak-signal issue adds them)"
fi

check never_fires_never_fired no_alert "$AM_PORT_1" NeverFires
check long_for_never_fired sh -c "! curl -sf 'http://127.0.0.1:$AM_PORT_1/api/v2/alerts' | grep -q heap_leak_for_an_hour"
check long_for_firing_0 firing_is heap_leak_for_an_hour 0
check agent_clean_exit stop_agent
stop_am 1
stop_am 2
finish
