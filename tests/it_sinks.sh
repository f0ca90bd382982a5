#!/bin/bash
# SPDX-License-Identifier: MIT
# Push sinks against the tests' own recording receiver (tests/helpers/
# http_recorder): an outage loses nothing and keeps the order, a tiny bound
# drops exactly what it counts, 4xx is not retried, 500 / hang / 429 are
# retried (Retry-After honoured) while /metrics keeps answering, the disk
# buffer survives SIGKILL, a reload keeps the queue, SIGTERM flushes.
#
# Samples are taken on demand (SIGUSR1, interval one hour) from a fixture
# /proc, so every snapshot has the same number of samples and the test counts
# them through memagent_samples_total, never by time.
. "$(dirname "$0")/lib.sh"

REC=$HELPERS/http_recorder
[ -x "$REC" ] || { fail recorder_built "$REC missing"; finish; }

fx=$TMP/proc
mkdir -p "$fx"
cp tests/fixtures/proc/meminfo.txt "$fx/meminfo"
printf 'cpu 1\nbtime 1700000000\n' >"$fx/stat"

# start_recorder DIR [PORT]: sets REC_PID, REC_PORT, REC_DIR.
start_recorder() {
    REC_DIR=$1
    mkdir -p "$REC_DIR"
    rm -f "$REC_DIR/port"
    "$REC" "$REC_DIR" "${2:-0}" 2>>"$REC_DIR/stderr" &
    REC_PID=$!
    PIDS+=("$REC_PID")
    wait_until 20 test -s "$REC_DIR/port" || return 1
    REC_PORT=$(cat "$REC_DIR/port")
}
stop_recorder() { kill -KILL "$REC_PID" 2>/dev/null; wait "$REC_PID" 2>/dev/null; }
rec_mode() { curl -sf "http://127.0.0.1:$REC_PORT/_mode/$1" -o /dev/null; }

# sent_values: memagent_samples_total's values as received, in arrival order.
sent_values() { awk '$1 == "memagent_samples_total" { sub("value=", "", $2); print $2 }' "$REC_DIR/bodies" 2>/dev/null; }
last_sent() { sent_values | tail -1; }
sent_has() { sent_values | grep -qx "$1"; }
# ts_of V: the timestamp (ns) of memagent_samples_total value V.
ts_of() { awk -v v="value=$1" '$1 == "memagent_samples_total" && $2 == v { print $3; exit }' "$REC_DIR/bodies"; }
lines_before() { awk -v t="$1" 'NF == 3 && $3 < t' "$REC_DIR/bodies" | wc -l; }
sink_metric() { metric "$1" "sink=\"rec\"${2:+,$2}"; }
queue_empty() { sample_now && [ "$(sink_metric memagent_sink_queue_samples)" = 0 ]; }
# contiguous FILE: the lines are 1, 2, 3, ... with nothing missing or twice.
contiguous() { awk '$1 != NR { exit 1 } END { exit NR == 0 }' "$1"; }

# write_config FILE EXTRA: one influx sink "rec" at the recorder.
write_config() {
    cat >"$1" <<JSON
{ "targets": [], "heap": { "enabled": false }, "state_dir": "$TMP/state",
  "sinks": [ { "name": "rec", "type": "influx", "url": "http://127.0.0.1:$REC_PORT/write?db=t",
               "interval_ms": 0, "timeout_ms": 500 $2 } ] }
JSON
}
mkdir -p "$TMP/state"
agent() { start_agent --interval 3600000 --no-bpf --proc-root "$fx" --config "$1"; }

# ---- outage: stopped receiver, reload in the middle, nothing lost -----------
start_recorder "$TMP/r1" || { fail recorder_start; finish; }
write_config "$TMP/a.json" ""
agent "$TMP/a.json" || { fail agent_start; finish; }
check first_sample_sent wait_until 20 sent_has 1
first_ts=$(ts_of 1)
N=$(awk -v t="$first_ts" 'NF == 3 && $3 == t' "$REC_DIR/bodies" | wc -l)
echo "  samples per snapshot: $N"
check snapshot_has_samples test "$N" -gt 20

port=$REC_PORT
stop_recorder
for _ in 1 2 3 4; do sample_now; done
check outage_refused_counted wait_until 20 eval 'sample_now && [ "$(sink_metric memagent_sink_errors_total reason=\"refused\")" -ge 1 ]'
q_before=$(sink_metric memagent_sink_queue_samples)
check outage_queued test "$q_before" -ge $((4 * N))
# A reload (another timeout) keeps the queued samples.
write_config "$TMP/a.json" ', "batch_max_samples": 5000'
kill -HUP "$AGENT_PID"
check reload_ok wait_until 20 reloads_are success 1
check reload_kept_queue test "$(sink_metric memagent_sink_queue_samples)" -ge "$q_before"
for _ in 1 2 3; do sample_now; done
taken=$(samples)
start_recorder "$TMP/r1" "$port" || fail recorder_restart
check outage_drained wait_until 30 sent_has "$taken"
sent_values >"$TMP/outage.values"
check outage_every_sample_in_order contiguous "$TMP/outage.values"
check outage_no_drops test "$(sink_metric memagent_sink_dropped_samples_total)" = 0

# ---- faults: 400 rejected, 500 / hang / 429 retried; /metrics answers ----------
rec_mode 400
sample_now
check rejected_counted wait_until 20 eval 'sample_now && [ "$(sink_metric memagent_sink_rejected_samples_total)" -gt 0 ]'
rec_mode ok
sample_now
v=$(samples)
check after_400_delivering wait_until 20 sent_has "$v"
sample_now
rejected=$(sink_metric memagent_sink_rejected_samples_total)
n400=$(grep -c ' 400 ' "$REC_DIR/log")
missing=$(( v - $(sent_values | awk -v v="$v" '$1 <= v' | wc -l) ))
echo "  400 answers: $n400, snapshots never received: $missing, rejected samples: $rejected"
# Not retried: what a 400 refused never arrives, and is what was counted.
check rejected_not_retried test "$rejected" -eq $((missing * N))
check rejected_4xx_counted test "$(sink_metric memagent_sink_errors_total reason=\"http_4xx\")" -eq "$n400"
mark=$(last_sent)

fresh_scrape() {
    local n
    n=$(samples)
    sample_now || return 1
    [ "$(metric memagent_samples_total)" -gt "$n" ]
}
rec_mode 500
check http_500_counted wait_until 20 eval 'sample_now && [ "$(sink_metric memagent_sink_errors_total reason=\"http_5xx\")" -ge 1 ]'
check scrape_fresh_during_500 fresh_scrape
rec_mode hang
check hang_timeout_counted wait_until 20 eval 'sample_now && [ "$(sink_metric memagent_sink_errors_total reason=\"timeout\")" -ge 1 ]'
check scrape_fresh_during_hang fresh_scrape
rec_mode 429
check http_429_counted wait_until 20 eval 'sample_now && [ "$(sink_metric memagent_sink_errors_total reason=\"http_429\")" -ge 2 ]'
check scrape_fresh_during_429 fresh_scrape
# Retry-After: 1 means no request within a second of a 429 answer.
check retry_after_honoured awk '$4 == 429 { if (t && $5 - t < 990) bad = 1; t = $5 } END { exit bad }' "$REC_DIR/log"
rec_mode ok
taken=$(samples)
check faults_drained wait_until 30 sent_has "$taken"
sent_values | awk -v m="$mark" 'f { print $1 - m } $1 == m { f = 1 }' >"$TMP/faults.values"
check faults_every_sample_once_in_order contiguous "$TMP/faults.values"
check faults_no_drops test "$(sink_metric memagent_sink_dropped_samples_total)" = 0
check agent_clean_exit stop_agent
stop_recorder

# ---- a tiny bound: drops counted exactly -------------------------------------
start_recorder "$TMP/r2" || fail recorder_start_2
write_config "$TMP/b.json" ", \"queue_max_samples\": $((N + N / 2))"
agent "$TMP/b.json" || { fail agent_start_bound; finish; }
check bound_first_sent wait_until 20 sent_has 1
port=$REC_PORT
stop_recorder
for _ in 1 2 3 4 5; do sample_now; done
start_recorder "$TMP/r2" "$port" || fail recorder_restart_2
# Queue empty in snapshot z: everything offered before it is settled.
check bound_drained wait_until 30 queue_empty
z=$(samples)
D=$(sink_metric memagent_sink_dropped_samples_total)
S=$(sink_metric memagent_sink_sent_samples_total)
R=$(sink_metric memagent_sink_rejected_samples_total)
check bound_last_sent wait_until 20 sent_has "$z"
got=$(lines_before "$(ts_of "$z")")
echo "  bound $((N + N / 2)): dropped $D, sent $S, received $got, offered $(( (z - 1) * N ))"
check bound_drops_counted test "$D" -gt 0
check bound_every_sample_accounted test $((D + S + R)) -eq $(( (z - 1) * N ))
check bound_sent_is_received test "$S" -eq "$got"
check agent_clean_exit_bound stop_agent
stop_recorder

# ---- concurrency: a snapshot in several batches in flight, each series in order --
# Batches of a quarter snapshot hold disjoint series: up to 4 go out in one
# turn, over 4 connections, answered in whatever order; a batch holding a
# series an earlier one still out holds waits for it.
start_recorder "$TMP/r7" || fail recorder_start_7
write_config "$TMP/d.json" ", \"batch_max_samples\": $(( N / 4 )), \"concurrency\": 4"
agent "$TMP/d.json" || { fail agent_start_concurrency; finish; }
check concurrency_first_sent wait_until 20 sent_has 1
port=$REC_PORT
stop_recorder
for _ in 1 2 3 4 5 6; do sample_now; done
check concurrency_refused wait_until 20 eval 'sample_now && [ "$(sink_metric memagent_sink_errors_total reason=\"refused\")" -ge 1 ]'
taken=$(samples)
start_recorder "$TMP/r7" "$port" || fail recorder_restart_7
check concurrency_drained wait_until 30 sent_has "$taken"
# One batch hangs past its timeout while the rest of its snapshot is
# answered: the next snapshot's batches (its series again) wait for its retry.
rec_mode hang_once
sample_now
sample_now
taken=$(samples)
check concurrency_hang_drained wait_until 30 sent_has "$taken"
check concurrency_hang_timed_out wait_until 20 eval 'sample_now && [ "$(sink_metric memagent_sink_errors_total reason=\"timeout\")" -ge 1 ]'
taken=$(samples)
check concurrency_last_drained wait_until 30 sent_has "$taken"
sent_values >"$TMP/conc.values"
check concurrency_every_snapshot_once_in_order contiguous "$TMP/conc.values"
# Every series: its timestamps strictly increasing in arrival order.
check concurrency_each_series_in_order awk 'NF == 3 { if (($1 in t) && $3 <= t[$1]) bad = 1; t[$1] = $3; n++ }
    END { exit bad || n == 0 }' "$REC_DIR/bodies"
check concurrency_batches_split_snapshots test "$(grep -c '^POST /write' "$REC_DIR/log")" -ge $(( 3 * taken ))
check concurrency_no_drops test "$(sink_metric memagent_sink_dropped_samples_total)" = 0
check agent_clean_exit_concurrency stop_agent
stop_recorder

# ---- disk buffer: SIGKILL in the outage, restart: nothing lost ---------------
start_recorder "$TMP/r3" || fail recorder_start_3
write_config "$TMP/c.json" ', "buffer": "disk"'
agent "$TMP/c.json" || { fail agent_start_disk; finish; }
check disk_first_sent wait_until 20 sent_has 1
# Disk-buffered sinks have two families more (the buffer's counters).
Nd=$(awk -v t="$(ts_of 1)" 'NF == 3 && $3 == t' "$REC_DIR/bodies" | wc -l)
port=$REC_PORT
stop_recorder
for _ in 1 2 3 4 5 6; do sample_now; done
first_run=$(samples)
# A served snapshot reaches the queue (and the file) a moment later, on the
# push thread: a snapshot whose own queue count shows them all proves it.
check disk_all_queued wait_until 20 eval 'sample_now && [ "$(sink_metric memagent_sink_queue_samples)" -ge $(( (first_run - 1) * Nd )) ]'
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
check disk_file_written test -s "$TMP/state/sink-rec.buf"
start_recorder "$TMP/r3" "$port" || fail recorder_restart_3
agent "$TMP/c.json" || { fail agent_restart_disk; finish; }
# The first run's samples come first (the replayed queue), then the new run's.
first_values() { sent_values | awk 'NR > 1 && $1 == 1 { exit } { print }'; }
# (The snapshot taken for that check may have reached the file too.)
check disk_replayed_delivered wait_until 30 eval '[ "$(first_values | tail -1)" -ge "$first_run" ]'
first_values >"$TMP/disk.values"
check disk_nothing_lost_in_order contiguous "$TMP/disk.values"
sample_now
check disk_replayed_counted test "$(sink_metric memagent_sink_buffer_replayed_samples_total)" -eq $(( ($(tail -1 "$TMP/disk.values") - 1) * Nd ))
check disk_no_corruption test "$(sink_metric memagent_sink_buffer_corrupt_bytes_total)" = 0
check agent_clean_exit_disk stop_agent
stop_recorder

# ---- latest-value sinks: webhook JSON, pushgateway text without timestamps -----
start_recorder "$TMP/r5" || fail recorder_start_5
cat >"$TMP/e.json" <<JSON
{ "targets": [], "heap": { "enabled": false },
  "sinks": [ { "name": "hook", "type": "webhook", "url": "http://127.0.0.1:$REC_PORT/hook", "interval_ms": 0 },
             { "name": "pg", "type": "pushgateway", "url": "http://127.0.0.1:$REC_PORT/", "interval_ms": 0,
               "job": "j", "instance": "i" },
             { "name": "slow", "type": "webhook", "url": "http://127.0.0.1:$REC_PORT/slow",
               "interval_ms": 3600000 } ] }
JSON
agent "$TMP/e.json" || { fail agent_start_latest; finish; }
sample_now
v=$(samples)
hook_has() { grep -a '^{' "$REC_DIR/bodies" | jq -e --argjson v "$1" 'select(.sink == "hook" and .sample == $v)' >/dev/null 2>&1; }
check webhook_latest_pushed wait_until 20 hook_has "$v"
grep -a '^{' "$REC_DIR/bodies" | jq -c --argjson v "$v" 'select(.sink == "hook" and .sample == $v)' | head -1 >"$TMP/hook.json"
check webhook_schema jq -e --argjson v "$v" '.version == 1 and (.timestamp_ms | type) == "number"
    and (.instance | type) == "string" and (.samples | length) > 20
    and ([.samples[] | select(.name == "memagent_samples_total")][0].value == $v)
    and ([.samples[] | select(.name == "memagent_collector_up" and .labels.collector == "meminfo")] | length) == 1
    and ([.samples[] | select((.labels | type) != "object")] | length) == 0' "$TMP/hook.json"
check pushgateway_put_path wait_until 20 grep -q '^PUT /metrics/job/j/instance/i ' "$REC_DIR/log"
check pushgateway_text_no_timestamps awk '!/^[{#]/ && NF > 0 && $0 !~ /value=/ { n++; if (NF != 2) bad = 1 } END { exit bad || !n }' "$REC_DIR/bodies"
for _ in 1 2 3; do sample_now; done
check superseded_counted test "$(metric memagent_sink_superseded_pushes_total 'sink="slow"')" -ge 2
check superseded_not_pushed test "$(grep -c '^POST /slow ' "$REC_DIR/log")" = 1
check superseded_not_dropped test "$(metric memagent_sink_dropped_samples_total 'sink="slow"')" = 0
check agent_clean_exit_latest stop_agent
stop_recorder

# ---- a label that is not UTF-8 ------------------------------------------------
# A process whose comm is not UTF-8 (/proc/PID/comm takes any bytes), read
# from the real /proc: the webhook sends its label with U+FFFD for the bad
# byte, as /metrics shows it (jansson refuses invalid UTF-8, and the label
# was silently left out).
start_recorder "$TMP/r7" || fail recorder_start_7
bash -c 'printf "bad\377comm" >/proc/self/comm; while :; do sleep 1; done' &
odd_pid=$!
PIDS+=("$odd_pid")
# The agent's one sample must see the new comm, not bash's.
wait_until 20 grep -q '^bad' "/proc/$odd_pid/comm"
cat >"$TMP/u.json" <<JSON
{ "targets": [ { "name": "odd", "match": { "pid": $odd_pid }, "group_by": "comm" } ], "heap": { "enabled": false },
  "sinks": [ { "name": "hook", "type": "webhook", "url": "http://127.0.0.1:$REC_PORT/hook", "interval_ms": 0 } ] }
JSON
start_agent --interval 3600000 --no-bpf --config "$TMP/u.json" || { fail agent_start_utf8; finish; }
odd_label() { grep -a '^{' "$REC_DIR/bodies" | jq -e 'select(.sink == "hook") | .samples[] | select(.labels.target == "odd" and .labels.comm == "bad\ufffdcomm")' >/dev/null 2>&1; }
check webhook_label_not_utf8 wait_until 20 odd_label
check agent_clean_exit_utf8 stop_agent
kill "$odd_pid" 2>/dev/null; wait "$odd_pid" 2>/dev/null
stop_recorder

# ---- headers, bearer token, basic auth ---------------------------------------
start_recorder "$TMP/r6" || fail recorder_start_6
printf 'sekrit-token\n' >"$TMP/token"
cat >"$TMP/f.json" <<JSON
{ "targets": [], "heap": { "enabled": false },
  "sinks": [ { "name": "tok", "type": "remote_write", "url": "http://127.0.0.1:$REC_PORT/rw", "interval_ms": 0,
               "bearer_token_file": "$TMP/token", "headers": { "X-Scope-OrgID": "tenant-1" } },
             { "name": "basic", "type": "influx", "url": "http://127.0.0.1:$REC_PORT/w", "interval_ms": 0,
               "basic_auth": { "username": "u", "password": "p w" } } ] }
JSON
agent "$TMP/f.json" || { fail agent_start_auth; finish; }
check auth_sent wait_until 20 eval 'grep -q "^POST /rw " "$REC_DIR/log" && grep -q "^POST /w " "$REC_DIR/log"'
hdr() { tr -d '\r' <"$REC_DIR/headers" | grep -qix "$1"; }
check bearer_token_sent hdr 'Authorization: Bearer sekrit-token'
check custom_header_sent hdr 'X-Scope-OrgID: tenant-1'
check remote_write_headers eval 'hdr "Content-Encoding: snappy" && hdr "Content-Type: application/x-protobuf" && hdr "X-Prometheus-Remote-Write-Version: 0.1.0"'
check basic_auth_sent hdr "Authorization: Basic $(printf 'u:p w' | base64)"
# A reload rereads a kept sink's token file: gone, the reload fails whole
# and the old token is still sent; replaced, the new one is.
mv "$TMP/token" "$TMP/token.gone"
kill -HUP "$AGENT_PID"
check reload_bad_token_refused wait_until 20 reloads_are failure 1
: >"$REC_DIR/headers"
sample_now
check old_token_kept wait_until 20 hdr 'Authorization: Bearer sekrit-token'
printf 'new-token\n' >"$TMP/token"
kill -HUP "$AGENT_PID"
check reload_new_token wait_until 20 reloads_are success 1
sample_now
check new_token_sent wait_until 20 hdr 'Authorization: Bearer new-token'
check agent_clean_exit_auth stop_agent
stop_recorder

# ---- SIGTERM sends what is queued -------------------------------------------
start_recorder "$TMP/r4" || fail recorder_start_4
write_config "$TMP/d.json" ', "interval_ms": 3600000'
sed -i 's/"interval_ms": 0, //' "$TMP/d.json"
agent "$TMP/d.json" || { fail agent_start_flush; finish; }
check flush_first_sent wait_until 20 sent_has 1
for _ in 1 2 3; do sample_now; done
last=$(samples)
check flush_waits_for_interval test "$(last_sent)" = 1
check flush_clean_exit stop_agent
check flush_sent_on_sigterm sent_has "$last"
stop_recorder
finish
