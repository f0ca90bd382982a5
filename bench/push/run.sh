#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-push: what pushing costs memagent at N idle processes (one per_process
# target, every process its own series), against vmagent doing the same job
# from the outside (scraping /metrics, remote-writing), into one VictoriaMetrics.
#
# Four agents sample the same N processes every second, side by side:
#   base      no sink                       (what sampling alone costs)
#   rw        remote_write to VictoriaMetrics
#   (vmagent  scrapes "base" every second and remote-writes to VictoriaMetrics)
# Measured:
#   cpu_us_per_sample     (CPU of rw - CPU of base) / samples rw pushed, over a window;
#                         vmagent: its CPU / samples it scraped and forwarded
#   disk_us_per_sample    diskbuf_append()'s CPU per sample for snapshots of this shape
#                         (build/bench/push-diskbuf: the difference of two agents' CPU was
#                         below this machine's noise), and the bytes it writes per sample
#   outage_bytes_per_sample  rw's RssAnon growth over a 30-sample outage / samples queued
#   drain_s               from the receiver's return until it has taken the backlog (the
#                         samples queued then): VictoriaMetrics' vm_rows_inserted_total (it
#                         restarts at 0), polled every 50 ms. Also for "rw-rec", a fifth agent
#                         pushing to the tests' recording receiver (tests/helpers/http_recorder,
#                         whose ingestion costs next to nothing: the agent's own drain rate),
#                         which counts requests, not samples: there until rw-rec's queue holds
#                         less than one snapshot (its gauge changes once a second: 1 s resolution)
# Environment: BENCH_N (3000), BENCH_WINDOW_S (20), BENCH_OUTAGE_S (30), BENCH_SINK_OPTS
# (more keys for both measured sinks, e.g. ', "concurrency": 4'; none: the defaults).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
N=${BENCH_N:-3000}
WINDOW=${BENCH_WINDOW_S:-20}
OUTAGE=${BENCH_OUTAGE_S:-30}
AGENT=build/memagent
TSV=bench/results/push.tsv
RESULTS=bench/RESULTS.md
die() { echo "bench-push: $*" >&2; exit 1; }
[[ -x $AGENT && -x build/bench/agent-idle && -x build/tests/helpers/http_recorder && -x build/bench/push-diskbuf ]] || die "run 'make bench-push'"
command -v victoria-metrics >/dev/null && command -v vmagent >/dev/null || die "victoria-metrics missing (scripts/setup.sh test)"

TMP=$(mktemp -d /tmp/bench-push.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT

port() {
	local p
	while :; do
		p=$(( 20000 + RANDOM % 30000 ))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}
wait_for() { local i; for i in $(seq 1 600); do "$@" && return 0; sleep 0.1; done; return 1; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_anon_kb() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

# Two receivers: the outage stops only the one "rw" pushes to, so its drain
# is not slowed by the others replaying their own backlogs.
vm_port=$(port)
vm2_port=$(port)
start_vm() { # PORT DIR: sets VM_PID
	victoria-metrics -httpListenAddr="127.0.0.1:$1" -storageDataPath="$TMP/$2" -loggerLevel=ERROR \
		>>"$TMP/$2.log" 2>&1 &
	VM_PID=$!
	PIDS+=("$VM_PID")
	wait_for curl -sf "http://127.0.0.1:$1/health" -o /dev/null || die "victoria-metrics did not start"
}
start_vm "$vm_port" vm
start_vm "$vm2_port" vm2

build/bench/agent-idle "$N" push-idle >"$TMP/ready" &
PIDS+=($!)
wait_for grep -q ready "$TMP/ready" || die "idle processes did not start"

# agent NAME SINKS: starts one agent; sets NAME_PID and NAME_ADDR.
agent() {
	local name=$1 sinks=$2
	mkdir -p "$TMP/state-$name"
	cat >"$TMP/$name.json" <<JSON
{ "interval_ms": 1000, "state_dir": "$TMP/state-$name", "heap": { "enabled": false },
  "limits": { "max_processes": $((N + 100)) },
  "targets": [ { "name": "idle", "match": { "comm": "push-idle" }, "per_process": true } ],
  "sinks": [ $sinks ] }
JSON
	$AGENT --no-bpf --config "$TMP/$name.json" --listen 127.0.0.1:0 2>"$TMP/$name.log" &
	eval "${name}_PID=$!"
	PIDS+=($!)
	wait_for grep -q 'serving http://' "$TMP/$name.log" || die "agent $name did not start"
	eval "${name}_ADDR=$(grep -o 'serving http://[^/]*' "$TMP/$name.log" | head -1 | sed 's|serving http://||')"
}
# The bound holds the whole outage: 30 samples of N processes.
rw="{\"name\": \"vm\", \"type\": \"remote_write\", \"url\": \"http://127.0.0.1:$vm2_port/api/v1/write\", \"queue_max_samples\": 4000000${BENCH_SINK_OPTS:-}}"
REC=build/tests/helpers/http_recorder
mkdir -p "$TMP/rec"
start_rec() { # [PORT]
	rm -f "$TMP/rec/port" "$TMP/rec/bodies"
	$REC "$TMP/rec" "${1:-0}" 2>>"$TMP/rec.log" &
	REC_PID=$!
	PIDS+=("$REC_PID")
	wait_for test -s "$TMP/rec/port" || die "recorder did not start"
	rec_port=$(cat "$TMP/rec/port")
}
start_rec
rwr="{\"name\": \"vm\", \"type\": \"remote_write\", \"url\": \"http://127.0.0.1:$rec_port/w\", \"queue_max_samples\": 4000000${BENCH_SINK_OPTS:-}}"
agent base ""
agent rw "$rw"
agent rwrec "$rwr"
# awk reads to the end: exiting at the match would fail curl (23, write error) under pipefail.
metric() { curl -sf -m 10 "http://$1/metrics" | awk -v p="$2 " '!done && index($0, p) == 1 { print $NF; done = 1 }'; }

cat >"$TMP/vmagent.yml" <<YML
scrape_configs:
  - job_name: memagent
    scrape_interval: 1s
    static_configs:
      - targets: ['$base_ADDR']
YML
vma_port=$(port)
vmagent -promscrape.config="$TMP/vmagent.yml" -remoteWrite.url="http://127.0.0.1:$vm_port/api/v1/write" \
	-httpListenAddr="127.0.0.1:$vma_port" -remoteWrite.tmpDataPath="$TMP/vmagent-data" -loggerLevel=ERROR \
	>"$TMP/vmagent.log" 2>&1 &
VMA_PID=$!
PIDS+=("$VMA_PID")
wait_for curl -sf "http://127.0.0.1:$vma_port/metrics" -o /dev/null || die "vmagent did not start"
vma_scraped() { curl -sf "http://127.0.0.1:$vma_port/metrics" | awk '/^vm_promscrape_scraped_samples_sum/ { s += $2 } END { printf "%d\n", s }'; }

sleep 5 # warm-up: discovery of N processes, first pushes
series=$(curl -sf "http://$base_ADDR/metrics" | grep -vc '^#')
echo "bench-push: N=$N, $series samples per snapshot, window ${WINDOW}s"

c0_base=$(cpu_ticks "$base_PID"); c0_rw=$(cpu_ticks "$rw_PID"); c0_v=$(cpu_ticks "$VMA_PID")
s0_rw=$(metric "$rw_ADDR" 'memagent_sink_sent_samples_total{sink="vm"}')
v0=$(vma_scraped)
sleep "$WINDOW"
c1_base=$(cpu_ticks "$base_PID"); c1_rw=$(cpu_ticks "$rw_PID"); c1_v=$(cpu_ticks "$VMA_PID")
s1_rw=$(metric "$rw_ADDR" 'memagent_sink_sent_samples_total{sink="vm"}')
v1=$(vma_scraped)

us() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN { if (n <= 0) print "nan"; else printf "%.3f", t / hz * 1e6 / n }'; }
pushed=$((s1_rw - s0_rw)); forwarded=$((v1 - v0))
cpu_push=$(us $(( (c1_rw - c0_rw) - (c1_base - c0_base) )) "$pushed")
mkdir -p "$TMP/diskbuf"
read -r cpu_disk disk_bytes < <(build/bench/push-diskbuf "$TMP/diskbuf" "$N" 30)
cpu_vma=$(us $((c1_v - c0_v)) "$forwarded")
cpu_sample=$(us $((c1_base - c0_base)) $(( series * WINDOW )))

# Outage: the receiver stops for OUTAGE samples; rw queues them.
rss0=$(rss_anon_kb "$rw_PID")
kill -TERM "$VM_PID"; wait "$VM_PID" 2>/dev/null || true # the second one: rw's
kill -KILL "$REC_PID"; wait "$REC_PID" 2>/dev/null || true
sleep "$OUTAGE"
kill -USR1 "$rw_PID"; sleep 0.5
queued=$(metric "$rw_ADDR" 'memagent_sink_queue_samples{sink="vm"}')
rss1=$(rss_anon_kb "$rw_PID")
bytes_per=$(awk -v a="$rss0" -v b="$rss1" -v q="$queued" 'BEGIN { printf "%.1f", (b - a) * 1024 / q }')
# Drain: from the receiver answering again until it has taken the backlog.
# The backlog is the queue the agent's newest snapshot reports at that
# moment (at most a second old: it may miss the last snapshot's samples);
# what the receiver has taken is counted at the receiver, polled every 50 ms
# (the agent's own gauges change once a second).
start_vm "$vm2_port" vm2
start_rec "$rec_port"
t0=$(date +%s%N)
queue_of() { metric "$1" 'memagent_sink_queue_samples{sink="vm"}'; }
vm_rows() { curl -sf -m 10 "http://127.0.0.1:$vm2_port/metrics" | awk '/^vm_rows_inserted_total\{type="promremotewrite"\}/ { print $2 }'; }
backlog=$(queue_of "$rw_ADDR")
drain_s="" drain_rec="" i=0
limit=$((t0 + 120000000000))
while [ "$(date +%s%N)" -lt "$limit" ]; do
	now=$(date +%s%N)
	i=$((i + 1))
	[ -z "$drain_s" ] && [ "$(vm_rows || echo 0)" -ge "$backlog" ] && drain_s=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	# rw-rec's whole /metrics (36 k lines) every 50 ms would take CPU from the
	# drain being measured; its gauge changes once a second anyway.
	[ -z "$drain_rec" ] && [ $((i % 5)) = 0 ] && [ "$(queue_of "$rwrec_ADDR")" -lt "$series" ] && drain_rec=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	[ -n "$drain_s" ] && [ -n "$drain_rec" ] && break
	sleep 0.05
done
# Not drained within two minutes: said so, not waited for.
drain_s=${drain_s:-">120"}
drain_rec=${drain_rec:-">120"}
dropped=$(metric "$rw_ADDR" 'memagent_sink_dropped_samples_total{sink="vm"}')

ratio=$(awk -v a="$cpu_vma" -v b="$cpu_push" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }')
{
	printf 'system\tn\tsamples_per_snapshot\tcpu_us_per_pushed_sample\tdisk_us_per_sample\tdisk_bytes_per_sample\toutage_queued\toutage_bytes_per_sample\tdrain_s\tdropped\n'
	printf 'memagent\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$series" "$cpu_push" "$cpu_disk" "$disk_bytes" "$queued" "$bytes_per" "$drain_s" "$dropped"
	printf 'memagent-to-recorder\t%s\t%s\t\t\t\t\t\t%s\t\n' "$N" "$series" "$drain_rec"
	printf 'vmagent\t%s\t%s\t%s\t\t\t\t\t\t\n' "$N" "$series" "$cpu_vma"
	printf 'memagent-sampling\t%s\t%s\t%s\t\t\t\t\t\t\n' "$N" "$series" "$cpu_sample"
} >"$TSV"
cat "$TSV"
echo "bench-push: vmagent / memagent CPU per forwarded sample: ${ratio}x"

met() { awk -v v="$1" -v t="$2" 'BEGIN { print (v ~ /^[0-9.]+$/ && v + 0 <= t) ? "met" : "NOT met" }'; }
block=$(cat <<MD
<!-- bench-push:begin (generated by make bench-push: do not edit by hand) -->
Made by \`make bench-push\` on $(date -u +%F): $N idle processes in one per_process target,
$series samples per snapshot, one sample a second, VictoriaMetrics 1.79 as the receivers
(rows in bench/results/push.tsv).

| measure | memagent | vmagent (peer) | target |
|---|---:|---:|---|
| CPU per pushed sample | $cpu_push µs | $cpu_vma µs (${ratio}x) | ≤ 1 µs: $(met "$cpu_push" 1) |
| disk buffer write (diskbuf_append), CPU per sample | $cpu_disk µs ($disk_bytes bytes written per sample) | | |
| memory growth per queued sample (outage of ${OUTAGE} samples, $queued queued) | $bytes_per B | | ≤ 32 B: $(met "$bytes_per" 32) |
| drain of the outage's backlog ($OUTAGE s of samples, $backlog queued when the receiver returned; 50 ms resolution) into VictoriaMetrics | $drain_s s ($dropped dropped) | | ≤ 5 s: $(met "$drain_s" 5) |
| the same into the recording receiver (the agent's own drain rate; 1 s resolution) | $drain_rec s | | ≤ 5 s: $(met "$drain_rec" 5) |

For scale: sampling itself costs $cpu_sample µs of CPU per sample (the base agent).
Load average when the run ended: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (the drain is wall time:
the receiver's ingestion on a loaded machine dominates it; CPU figures are per-process CPU time).
<!-- bench-push:end -->
MD
)
if grep -q 'bench-push:begin' "$RESULTS"; then
	awk -v b="$block" '/bench-push:begin/ { print b; skip = 1 } /bench-push:end/ { skip = 0; next } !skip' "$RESULTS" >"$TMP/r.md"
	cp "$TMP/r.md" "$RESULTS"
else
	printf '\n## Push sinks (make bench-push)\n\n%s\n' "$block" >>"$RESULTS"
fi
