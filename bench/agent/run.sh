#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench-agent: memagent's cost per sample + scrape against prometheus-process-exporter
# and against the floor (bare preads of the same /proc files), for N idle processes.
#
# Run through `make bench-agent` (it builds build/memagent and build/bench/agent-*),
# as root: it creates v1 memory and cpuacct cgroups and spawns N processes.
#
# Environment:
#   BENCH_N   the process counts, side by side in one run (default "500 3000 10000")
#   BENCH_K     measured cycles of memagent and of the floor (default 50, at least 20)
#   BENCH_K_PE  measured scrapes of process-exporter (default 20, at least 20; each
#               costs it about a second of CPU at N = 3000)
#
# Rows (the system column): memagent (the agent as shipped: BPF task iterator when
# it loads), memagent-no-bpf (--no-bpf: the /proc backend), process-exporter,
# floor (one pread per kept /proc/PID/status fd per cycle) and floor+readdir
# (the same plus one readdir pass over /proc per cycle).
#
# Output:
#   bench/results/agent.tsv   this run's rows (replaced every run; header first)
#   build/bench/agent-DATE.tsv, agent-DATE.md   copies kept per run (not committed)
#   bench/RESULTS.md          the generated block of "## Agent sampling (make bench-agent)",
#                             between the bench-agent:begin/end markers; nothing else
#                             in the file is touched
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

NS=${BENCH_N:-"500 3000 10000"}
K=${BENCH_K:-50}
K_PE=${BENCH_K_PE:-20}
BIN=build/bench
AGENT=build/memagent
PE=prometheus-process-exporter
TSV=bench/results/agent.tsv
RESULTS=bench/RESULTS.md
CMD="make bench-agent"
[[ -n "${BENCH_N:-}${BENCH_K:-}${BENCH_K_PE:-}" ]] && CMD="BENCH_N=\"$NS\" BENCH_K=$K BENCH_K_PE=$K_PE make bench-agent"

die() { echo "bench-agent: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (cgroups, N processes)"
[[ -f /sys/fs/cgroup/memory/memory.usage_in_bytes ]] || die "no cgroup v1 memory controller at /sys/fs/cgroup/memory"
[[ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]] || die "no cgroup v1 cpuacct controller at /sys/fs/cgroup/cpuacct"
for f in "$AGENT" "$BIN/agent-idle" "$BIN/agent-driver" "$BIN/agent-floor"; do
	[[ -x $f ]] || die "$f missing: run 'make bench-agent'"
done
command -v "$PE" >/dev/null || die "$PE missing: scripts/setup.sh bench installs it"
(( K >= 20 && K_PE >= 20 )) || die "BENCH_K and BENCH_K_PE must be at least 20"

TMP=$(mktemp -d /tmp/bench-agent.XXXXXX)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
PIDS=()      # processes we started and must stop
CGROUPS=()   # cgroup folders we created and must remove
PID_MAX_OLD=""

# Stops what we started, by pid, and removes our cgroups; runs on every exit.
cleanup() {
	local p cg i
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for i in $(seq 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
	for cg in "${CGROUPS[@]}"; do
		for i in $(seq 100); do
			[[ -d $cg ]] || break
			rmdir "$cg" 2>/dev/null && break
			sleep 0.05
		done
	done
	CGROUPS=()
	[[ -n $PID_MAX_OLD ]] && echo "$PID_MAX_OLD" >/proc/sys/kernel/pid_max
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# stop PID: SIGTERM, wait for it, forget it.
stop() {
	local p=$1 i keep=()
	kill -TERM "$p" 2>/dev/null || true
	for i in $(seq 200); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for i in "${PIDS[@]}"; do [[ $i == "$p" ]] || keep+=("$i"); done
	PIDS=("${keep[@]}")
}

# start_in_cgroup NAME LOG CMD...: runs CMD in fresh memory and cpuacct
# cgroups NAME. The subshell moves itself into both BEFORE exec, so every
# page and kernel object the program allocates is charged there. Sets
# STARTED_PID, MEMCG and CPUCG.
start_in_cgroup() {
	local name=$1 log=$2
	shift 2
	MEMCG=/sys/fs/cgroup/memory/$name
	CPUCG=/sys/fs/cgroup/cpuacct/$name
	mkdir "$MEMCG" "$CPUCG"
	CGROUPS+=("$MEMCG" "$CPUCG")
	( echo "$BASHPID" >"$MEMCG/cgroup.procs" && echo "$BASHPID" >"$CPUCG/cgroup.procs" && exec "$@" ) \
		>"$log" 2>&1 &
	STARTED_PID=$!
	PIDS+=("$STARTED_PID")
}

# remove_cgroups: after the program in them exited.
remove_cgroups() {
	local cg i keep=()
	for cg in "$MEMCG" "$CPUCG"; do
		for i in $(seq 100); do
			rmdir "$cg" 2>/dev/null && break
			sleep 0.05
		done
	done
	for cg in "${CGROUPS[@]}"; do [[ $cg == "$MEMCG" || $cg == "$CPUCG" ]] || keep+=("$cg"); done
	CGROUPS=("${keep[@]}")
}

# kv FILE KEY: the value of KEY=value in FILE.
kv() { sed -n "s/^$2=//p" "$1" | head -n1; }

# metric BODY SERIES KEY: "KEY=value" of the sample SERIES in a scraped body.
metric() { awk -v s="$2" -v k="$3" 'index($0, s " ") == 1 { v = $2 } END { print k "=" v }' "$1"; }

# Memory of PID and of its cgroup, as key=value lines.
memory_of() {
	local pid=$1 cg=$2
	awk '$1 == "RssAnon:" { print "rss_anon_kib=" $2 } $1 == "VmRSS:" { print "rss_kib=" $2 }' "/proc/$pid/status"
	echo "cgroup_kib=$(( $(cat "$cg/memory.usage_in_bytes") / 1024 ))"
	echo "kmem_kib=$(( $(cat "$cg/memory.kmem.usage_in_bytes") / 1024 ))"
	awk '$1 == "rss" { print "stat_rss_kib=" $2 / 1024 } $1 == "cache" { print "stat_cache_kib=" $2 / 1024 }' "$cg/memory.stat"
	local fds=("/proc/$pid/fd/"*)
	echo "fds=${#fds[@]}"
}

# row N SYSTEM FILE: one TSV row from a result file.
row() {
	local f=$3
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(kv "$f" cpu_ms_per_cycle)" \
		"$(kv "$f" scrape_ms_p50)" "$(kv "$f" scrape_ms_p99)" "$(kv "$f" rss_anon_kib)" \
		"$(kv "$f" rss_kib)" "$(kv "$f" cgroup_kib)" >>"$TMP/rows.tsv"
}

# Processes now (a glob, not ls: a pid may vanish between listing and stat).
procs_now() { local a=(/proc/[0-9]*); echo "${#a[@]}"; }

# --- set-up ---------------------------------------------------------------------
max_n=0
for n in $NS; do (( n > max_n )) && max_n=$n; done
need=$(( 2 * (max_n + $(procs_now)) + 1024 ))
if (( $(cat /proc/sys/kernel/pid_max) < need )); then
	PID_MAX_OLD=$(cat /proc/sys/kernel/pid_max)
	echo "$need" >/proc/sys/kernel/pid_max
fi

# Load both programs once outside the cgroups: their text is then already in
# the page cache, so the cgroups are charged with what the programs
# allocate (anonymous memory, kernel objects), not with first-read file pages.
"$AGENT" --version >/dev/null
"$PE" -version >/dev/null 2>&1 || true

cat >"$TMP/pe.yml" <<'EOF'
process_names:
  - name: "{{.Comm}}"
    cmdline:
      - '.+'
EOF
PE_ARGS=(-config.path "$TMP/pe.yml" -gather-smaps=false)

# The agent's config: the embedded default with discovery of instrumented
# apps off (limits.max_instrumented 0: no heap or gc_events collector). Each
# cycle is a SIGUSR1, and SIGUSR1 also asks those collectors for a full
# rescan of every process's fd table and maps, which is not what a cycle at
# the interval does; their cost is bench-telemetry's to measure.
printf '{"limits": {"max_instrumented": 0}}\n' >"$TMP/agent.json"

printf 'n_procs\tsystem\tcpu_ms_per_cycle\tscrape_ms_p50\tscrape_ms_p99\trss_anon_kib\trss_kib\tcgroup_kib\n' >"$TMP/rows.tsv"
: >"$TMP/notes"

for n in $NS; do
	echo "bench-agent: N=$n: spawning $n idle processes" >&2
	mkfifo "$TMP/ready.$n"
	"$BIN/agent-idle" "$n" bench-idle >"$TMP/ready.$n" &
	idle_pid=$!
	PIDS+=("$idle_pid")
	read -r word count <"$TMP/ready.$n" || die "idle spawner failed"
	[[ $word == ready && $count == "$n" ]] || die "idle spawner: '$word $count'"
	total=$(procs_now)

	# memagent, agent.json (above), samples only on SIGUSR1: as shipped
	# (BPF task iterator when it loads) and with --no-bpf (the /proc backend,
	# which is what the floor models).
	for sys in memagent memagent-no-bpf; do
		args=(--config "$TMP/agent.json" --interval 3600000)
		[[ $sys == memagent-no-bpf ]] && args+=(--no-bpf)
		port=$("$BIN/agent-driver" free-port)
		start_in_cgroup "memagent-bench.$$.$sys.$n" "$TMP/$sys.$n.log" \
			"$AGENT" "${args[@]}" --listen "127.0.0.1:$port"
		agent_pid=$STARTED_PID
		out=$TMP/$sys.$n
		"$BIN/agent-driver" memagent "$agent_pid" "$port" "$K" "$CPUCG" "$BIN/agent-floor" \
			"$TMP/$sys.$n.metrics" >"$out" ||
			{ cat "$TMP/$sys.$n.log" >&2; die "$sys run failed (N=$n)"; }
		memory_of "$agent_pid" "$MEMCG" >>"$out"
		stop "$agent_pid"
		remove_cgroups
		metric "$TMP/$sys.$n.metrics" 'memagent_process_count{target="all",comm="bench-idle"}' bench_idle >>"$out"
		metric "$TMP/$sys.$n.metrics" 'memagent_bpf_enabled{program="task_iter"}' bpf_task_iter >>"$out"
		metric "$TMP/$sys.$n.metrics" 'memagent_process_kept_fds' kept_fds >>"$out"
		metric "$TMP/$sys.$n.metrics" 'memagent_collector_duration_seconds{collector="process"}' process_collector_s >>"$out"
		[[ $(kv "$out" bench_idle) == "$n" ]] ||
			die "$sys counted '$(kv "$out" bench_idle)' bench-idle processes, not $n"
		row "$n" "$sys" "$out"
	done

	# prometheus-process-exporter: collects on every scrape.
	port=$("$BIN/agent-driver" free-port)
	start_in_cgroup "memagent-bench.$$.pe.$n" "$TMP/pe.$n.log" \
		"$PE" "${PE_ARGS[@]}" -web.listen-address "127.0.0.1:$port"
	pe_pid=$STARTED_PID
	out=$TMP/pe.$n
	"$BIN/agent-driver" wait-port "$port" 30000 ||
		{ cat "$TMP/pe.$n.log" >&2; die "$PE did not start"; }
	"$BIN/agent-driver" scrapes "$port" "$K_PE" "$CPUCG" "$TMP/pe.$n.metrics" >"$out" ||
		{ cat "$TMP/pe.$n.log" >&2; die "$PE run failed (N=$n)"; }
	memory_of "$pe_pid" "$MEMCG" >>"$out"
	stop "$pe_pid"
	remove_cgroups
	metric "$TMP/pe.$n.metrics" 'namedprocess_namegroup_num_procs{groupname="bench-idle"}' bench_idle >>"$out"
	[[ $(kv "$out" bench_idle) == "$n" ]] ||
		die "$PE counted '$(kv "$out" bench_idle)' bench-idle processes, not $n"
	row "$n" process-exporter "$out"

	# The floor rows: the floor cycles interleaved with the memagent-no-bpf
	# run's, the backend the floor models (reads of /proc/PID/status through
	# kept fds). The load of the machine drifts between runs, so the floor is
	# taken beside the run it is compared with; the floor interleaved with the
	# default run is in the details.
	for f in floor floor_readdir; do
		sed -n "s/^${f}_cpu_ms_per_cycle=/cpu_ms_per_cycle=/p" "$TMP/memagent-no-bpf.$n" >"$TMP/$f.$n"
	done
	row "$n" floor "$TMP/floor.$n"
	row "$n" floor+readdir "$TMP/floor_readdir.$n"

	stop "$idle_pid"
	rm -f "$TMP/ready.$n"
	{
		echo "n=$n total_procs=$total"
		echo "memagent: $(tr '\n' ' ' <"$TMP/memagent.$n")"
		echo "memagent-no-bpf: $(tr '\n' ' ' <"$TMP/memagent-no-bpf.$n")"
		echo "process-exporter: $(tr '\n' ' ' <"$TMP/pe.$n")"
	} >>"$TMP/notes"
done

# --- results --------------------------------------------------------------------
mkdir -p "$BIN" bench/results
cp "$TMP/rows.tsv" "$BIN/agent-$STAMP.tsv"
cp "$TMP/rows.tsv" "$TSV.tmp" && mv "$TSV.tmp" "$TSV"
cp "$TMP/notes" "$BIN/agent-$STAMP.notes"

# The summary: the table and, at each N, the ratios the issue sets targets for
# (the targets apply at N = 3000).
summary() {
	local cpu model
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	cpu="$(nproc) CPUs ($model)"
	echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n): Linux $(uname -r), $cpu,"
	echo "$(awk '$1 == "MemTotal:" { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM;" \
		"memagent $("$AGENT" --version | awk '{ print $2 }') at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- agent collectors exporters 2>/dev/null || echo ' (+ uncommitted changes in agent/ collectors/ exporters/)')," \
		"$(dpkg-query -W -f='${Package} ${Version}' "$PE" 2>/dev/null || echo "$PE")."
	echo "Command: \`$CMD\` (K = $K cycles of memagent and of the floor, interleaved; $K_PE scrapes of"
	echo "process-exporter; idle processes named bench-idle). Started as:"
	echo
	echo "- memagent: \`build/memagent --config agent.json --interval 3600000 --listen 127.0.0.1:PORT\` with"
	echo "  agent.json = \`{\"limits\": {\"max_instrumented\": 0}}\` (the embedded default without heap discovery;"
	echo "  memagent-no-bpf adds \`--no-bpf\`), one SIGUSR1 per cycle, then one GET /metrics"
	echo "- process-exporter: \`$PE ${PE_ARGS[*]//$TMP\//} -web.listen-address 127.0.0.1:PORT\`"
	echo "  with pe.yml = \`process_names: [{name: \"{{.Comm}}\", cmdline: ['.+']}]\`, one GET /metrics per cycle"
	echo
	echo "| n_procs | system | cpu_ms_per_cycle | scrape_ms_p50 | scrape_ms_p99 | rss_anon_kib | rss_kib | cgroup_kib |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|"
	tail -n +2 "$TMP/rows.tsv" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
	echo
	echo "Ratios (targets apply at N = 3000; memagent is the agent as shipped, memagent-no-bpf its /proc backend;"
	echo "the floor rows were measured interleaved with the memagent-no-bpf cycles):"
	echo
	echo "| n_procs | system | ÷ floor (≤ 1.5) | process-exporter ÷ it (≥ 15) | scrape p99 ms (≤ 5) | RssAnon MiB (≤ 8) | cgroup MiB (≤ 40) | ÷ floor+readdir |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' 'NR > 1 { v[$1, $2] = $3; p99[$1, $2] = $5; anon[$1, $2] = $6; cg[$1, $2] = $8; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
		function ok(c) { return t ? (c ? " ✓" : " ✗") : "" }
		END {
			for (i = 1; i <= n; i++) {
				N = order[i]; t = (N == 3000)
				for (j = 1; j <= 2; j++) {
					S = j == 1 ? "memagent" : "memagent-no-bpf"
					if (!((N, S) in v)) continue
					r1 = v[N, S] / v[N, "floor"]; r2 = v[N, "process-exporter"] / v[N, S]
					printf "| %s | %s | %.2f%s | %.1f%s | %.2f%s | %.2f%s | %.1f%s | %.2f |\n", N, S,
						r1, ok(r1 <= 1.5), r2, ok(r2 >= 15), p99[N, S], ok(p99[N, S] <= 5),
						anon[N, S] / 1024, ok(anon[N, S] <= 8192), cg[N, S] / 1024, ok(cg[N, S] <= 40960),
						v[N, S] / v[N, "floor+readdir"]
				}
			}
		}' "$TMP/rows.tsv"
	echo
	echo "At N = 10000 (the next scale operators hit): the BPF path's CPU per cycle (≤ 10 ms, 1 % of a"
	echo "core at a 1 s interval) and its scrape p99 (≤ 2 ms), process-exporter beside it at its own pace:"
	echo
	echo "| n_procs | system | cpu_ms_per_cycle (≤ 10) | scrape p99 ms (≤ 2) | process-exporter ÷ it |"
	echo "|---:|---|---:|---:|---:|"
	awk -F'\t' 'NR > 1 { v[$1, $2] = $3; p99[$1, $2] = $5 }
		END {
			N = 10000; S = "memagent"
			if (!((N, S) in v)) { print "| 10000 | memagent | (not run) | | |"; exit }
			printf "| %s | %s | %.3f%s | %.3f%s | %s |\n", N, S, v[N, S], v[N, S] <= 10 ? " ✓" : " ✗",
				p99[N, S], p99[N, S] <= 2 ? " ✓" : " ✗",
				((N, "process-exporter") in v) ? sprintf("%.1f", v[N, "process-exporter"] / v[N, S]) : "-"
		}' "$TMP/rows.tsv"
	echo
	echo "Memory charged to each cgroup (memory.usage_in_bytes; on this v1 hierarchy it includes the"
	echo "kernel memory that memory.kmem.usage_in_bytes shows, e.g. kept /proc descriptors, BPF maps),"
	echo "how busy the rest of the machine was (/proc/pressure/cpu; a high share moves the tails), the"
	echo "slowest scrape, and per-cycle medians against the floor cycles interleaved with each run:"
	echo
	awk '/^n=/ { split($1, a, "="); N = a[2] }
		/^(memagent|memagent-no-bpf|process-exporter):/ {
			sys = $1; sub(":", "", sys); delete f
			for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			printf "- N=%s %s: usage %d KiB = rss %d + cache %d + kmem %d (+ %d other); %d fds open", N, sys, f["cgroup_kib"], f["stat_rss_kib"], f["stat_cache_kib"], f["kmem_kib"], f["cgroup_kib"] - f["stat_rss_kib"] - f["stat_cache_kib"] - f["kmem_kib"], f["fds"]
			if (sys != "process-exporter") printf " (%s kept on /proc files), BPF task iterator %s", f["kept_fds"], f["bpf_task_iter"] == 1 ? "on" : "off"
			printf "; machine CPU pressure (some) %s%% during its loop", f["cpu_pressure_some_pct"]
			if (sys != "process-exporter") {
				printf "; slowest scrape %s ms, of it %s ms runnable waiting for a CPU (agent + client threads)", f["slowest_scrape_ms"], f["slowest_scrape_runq_wait_ms"]
				printf "; per-cycle CPU median %s ms against the floor interleaved with it, median %s ms (%.2fx; means %s / %s ms)", f["cpu_ms_median"], f["floor_cpu_ms_median"], f["cpu_ms_median"] / f["floor_cpu_ms_median"], f["cpu_ms_per_cycle"], f["floor_cpu_ms_per_cycle"]
			}
			printf "\n"
			if (sys == "memagent-no-bpf") { nn++; mn[nn] = N; mk[nn] = f["kmem_kib"]; mf[nn] = f["kept_fds"] }
		}
		END {
			if (nn >= 2 && mf[nn] != mf[1])
				printf "- memagent-no-bpf kernel memory per kept descriptor (kmem slope from N=%s to N=%s): %.1f KiB\n", mn[1], mn[nn], (mk[nn] - mk[1]) / (mf[nn] - mf[1])
		}' "$TMP/notes"
	echo
	echo "Details (driver and floor output, memory of the cgroups):"
	echo
	echo '```'
	cat "$TMP/notes"
	echo '```'
}
summary >"$BIN/agent-$STAMP.md"
cat "$BIN/agent-$STAMP.md"

# Replace only the generated block of our section, re-reading the file right
# before writing it (others edit their own sections of it).
update_results() {
	local head='## Agent sampling (make bench-agent)'
	local begin='<!-- bench-agent:begin (generated by bench/agent/run.sh; edits inside are overwritten) -->'
	local end='<!-- bench-agent:end -->'
	[[ -f $RESULTS ]] || printf '# Benchmark results\n' >"$RESULTS"
	if ! grep -qF -- "${begin%% (*}" "$RESULTS"; then
		grep -qxF -- "$head" "$RESULTS" || printf '\n%s\n' "$head" >>"$RESULTS"
		# Put the block at the end of our section: before the next "## ".
		awk -v head="$head" -v b="$begin" -v e="$end" '
			$0 == head { print; insec = 1; next }
			insec && /^## / { print b; print e; print ""; insec = 0; done = 1 }
			{ print }
			END { if (insec && !done) { print ""; print b; print e } }' "$RESULTS" >"$RESULTS.tmp.$$"
		mv "$RESULTS.tmp.$$" "$RESULTS"
	fi
	awk -v bp="${begin%% (*}" -v e="$end" -v gen="$BIN/agent-$STAMP.md" '
		index($0, bp) == 1 { print; while ((getline l < gen) > 0) print l; skip = 1; next }
		skip && $0 == e { skip = 0 }
		!skip { print }' "$RESULTS" >"$RESULTS.tmp.$$"
	mv "$RESULTS.tmp.$$" "$RESULTS"
}
update_results
echo "bench-agent: rows in $TSV, summary in $RESULTS (and $BIN/agent-$STAMP.md)" >&2
