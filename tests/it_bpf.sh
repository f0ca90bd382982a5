#!/bin/bash
# SPDX-License-Identifier: MIT
# What polling cannot see, through the running agent: rss peaks between two
# samples, OOM kills, 500 short-lived processes; and the agent without BPF
# (--no-bpf, unprivileged) still serving /proc metrics. Samples are driven
# with SIGUSR1 and awaited on memagent_samples_total, never on sleeps.
. "$(dirname "$0")/lib.sh"

MIB=1048576
# needs_bpf NAME: true when BPF works here; otherwise a SKIP (a FAIL under CI).
needs_bpf() {
    if "$MEMAGENT" --probe >"$TMP/probe" 2>&1; then return 0; fi
    if [ "${CI:-}" = true ]; then
        fail "$1" "BPF unavailable under CI: $(grep unavailable "$TMP/probe" | head -1)"
    else
        skip "$1" "BPF unavailable here: $(grep unavailable "$TMP/probe" | head -1)"
    fi
    return 1
}
between() { awk -v v="${1:-x}" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v ~ /^[0-9.e+]+$/ && v >= lo && v <= hi) }'; }
below() { awk -v v="${1:-x}" -v hi="$2" 'BEGIN { exit !(v ~ /^[0-9.e+]+$/ && v < hi) }'; }

# memcg_create NAME: a memory cgroup for this test (v2 where the memory
# controller is, else v1); sets CG (its folder), CG_PATH (its path in the
# hierarchy, as targets match it) and CG_V. Returns 1 when there is none.
memcg_create() {
    if [ -e /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
        CG_V=2; CG=/sys/fs/cgroup/$1
    elif [ -d /sys/fs/cgroup/memory ]; then
        CG_V=1; CG=/sys/fs/cgroup/memory/$1
    else
        return 1
    fi
    CG_PATH=/$1
    mkdir "$CG"
}
# in_cgroup CMD...: runs CMD inside $CG (the shell enters it, then execs).
in_cgroup() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }

# --- interval peaks ------------------------------------------------------------
peaks() {
    coproc MC { exec "$HELPERS/memchild"; }
    local pid=$MC_PID
    PIDS+=("$pid")
    mc() { echo "$1" >&"${MC[1]}"; local ans; read -r ans <&"${MC[0]}"; [ "$ans" = ok ]; }
    cat >"$TMP/peaks.json" <<JSON
{ "targets": [ { "name": "spiky", "match": { "pid": $pid }, "per_process": true } ] }
JSON
    start_agent --interval 3600000 --config "$TMP/peaks.json" || { fail peaks_agent_start; return; }
    local l="target=\"spiky\",pid=\"$pid\""

    check peak_rss_stat_enabled test "$(metric memagent_bpf_enabled 'program="rss_stat"')" = 1
    # sample k: a quiet child under 20 MiB
    sample_now
    check peak_k_under_20mib below "$(metric memagent_process_resident_bytes "$l")" $((20 * MIB))
    # between k and k+1: 200 MiB touched and freed
    mc "t 200" && mc "f"
    sample_now
    local peak rss
    peak=$(metric memagent_process_resident_peak_bytes "$l")
    rss=$(metric memagent_process_resident_bytes "$l")
    echo "  k+1: peak $((${peak%.*} / MIB)) MiB, resident $((${rss%.*} / MIB)) MiB"
    check peak_k1_at_least_200mib between "$peak" $((200 * MIB)) $((400 * MIB))
    check peak_k1_resident_under_50mib below "$rss" $((50 * MIB))
    # k+2: nothing happened: the peak is this interval's, not the lifetime's
    sample_now
    check peak_k2_under_50mib below "$(metric memagent_process_resident_peak_bytes "$l")" $((50 * MIB))
    check peak_k2_hwm_remembers_200mib between "$(metric memagent_process_resident_hwm_bytes "$l")" $((200 * MIB)) $((400 * MIB))
    # k+3: a 100 MiB spike
    mc "t 100" && mc "f"
    sample_now
    peak=$(metric memagent_process_resident_peak_bytes "$l")
    echo "  k+3: peak $((${peak%.*} / MIB)) MiB"
    check peak_k3_100_to_150mib between "$peak" $((100 * MIB)) $((150 * MIB))
    check peaks_agent_clean_exit stop_agent
    mc x
}

# --- OOM kill in a 64 MiB memory cgroup ------------------------------------------
oom() {
    memcg_create "memagent-it-oom-$$" || { skip oom_kill "no memory cgroup controller"; return; }
    if [ "$CG_V" = 2 ]; then
        echo $((64 * MIB)) >"$CG/memory.max"; echo 0 >"$CG/memory.swap.max" 2>/dev/null
    else
        echo $((64 * MIB)) >"$CG/memory.limit_in_bytes"
        echo $((64 * MIB)) >"$CG/memory.memsw.limit_in_bytes" 2>/dev/null
    fi
    # Matched by cgroup, so that other memchild processes on the machine
    # (another test run) cannot count here.
    cat >"$TMP/oom.json" <<JSON
{ "targets": [ { "name": "hog", "match": { "cgroup": "$CG_PATH" } } ] }
JSON
    start_agent --interval 3600000 --config "$TMP/oom.json" || { fail oom_agent_start; rmdir "$CG"; return; }
    local before status
    before=$(metric memagent_oom_kills_total 'target="hog"')
    # The child enters the cgroup before it execs, then touches memory until killed.
    in_cgroup "$HELPERS/memchild" --hog >/dev/null 2>&1
    status=$?
    check oom_child_killed test $status -eq 137
    check oom_logged wait_until 20 grep -q "oom kill: pid [0-9]* comm memchild .*cgroup $CG_PATH target hog" "$AGENT_LOG"
    sample_now
    check oom_kills_total_increments test "$(metric memagent_oom_kills_total 'target="hog"')" = $(( ${before:-0} + 1 ))
    grep 'oom kill' "$AGENT_LOG" | sed 's/^/  /'
    check oom_agent_clean_exit stop_agent
    rmdir "$CG"
    check oom_cgroup_removed test ! -d "$CG"
}

# --- 500 short-lived processes ---------------------------------------------------
exits() {
    memcg_create "memagent-it-exits-$$" || { skip exits "no memory cgroup controller"; return; }
    # Matched by cgroup: exits are attributed from what the event carries.
    cat >"$TMP/exits.json" <<JSON
{ "targets": [ { "name": "burst", "match": { "cgroup": "$CG_PATH" } } ] }
JSON
    start_agent --interval 3600000 --config "$TMP/exits.json" || { fail exits_agent_start; rmdir "$CG"; return; }
    local l='target="burst"' e0 c0 b0 b1 e1 c1 bb1 bb0 i
    e0=$(metric memagent_process_exits_total "$l")
    c0=$(metric memagent_process_exit_peak_resident_bytes_count "$l")
    b0=$(metric memagent_process_exit_peak_resident_bytes_bucket "$l,le=\"16777216\"")
    bb0=$(metric memagent_process_exit_peak_resident_bytes_bucket "$l,le=\"8388608\"")
    # Each child enters the cgroup itself before it execs: exactly 500
    # processes ever live there.
    for i in $(seq 500); do in_cgroup "$HELPERS/memchild" --touch 8 || break; done
    sample_now
    e1=$(metric memagent_process_exits_total "$l")
    c1=$(metric memagent_process_exit_peak_resident_bytes_count "$l")
    b1=$(metric memagent_process_exit_peak_resident_bytes_bucket "$l,le=\"16777216\"")
    bb1=$(metric memagent_process_exit_peak_resident_bytes_bucket "$l,le=\"8388608\"")
    echo "  exits $e0 -> $e1, histogram count $c0 -> $c1"
    check exits_total_rises_by_500 test $(( e1 - e0 )) -eq 500
    check exit_histogram_count_rises_by_500 test $(( c1 - c0 )) -eq 500
    check exit_peaks_all_in_8_16mib test $(( (b1 - b0) - (bb1 - bb0) )) -eq 500
    check exits_nothing_lost test "$(metric memagent_bpf_events_lost_total 'program="sched_process_exit"')" = 0
    # After a reload the collectors have new ring buffers: more exits than one
    # buffer holds (~2300) between two samples must still all arrive, which
    # needs the new buffer's fd watched between samples.
    kill -HUP "$AGENT_PID"
    wait_until 20 grep -q 'configuration reloaded' "$AGENT_LOG"
    sample_now
    e0=$(metric memagent_process_exits_total "$l")
    for i in $(seq 3000); do in_cgroup "$HELPERS/memchild" --touch 1 || break; done
    sample_now
    e1=$(metric memagent_process_exits_total "$l")
    echo "  after a reload: exits $e0 -> $e1"
    check exits_after_reload_rise_by_3000 test $(( e1 - e0 )) -eq 3000
    check exits_after_reload_nothing_lost test "$(metric memagent_bpf_events_lost_total 'program="sched_process_exit"')" = 0
    check exits_agent_clean_exit stop_agent
    rmdir "$CG"
}

# --- without BPF ------------------------------------------------------------------
without() {
    start_agent --interval 3600000 --no-bpf || { fail no_bpf_start; return; }
    check no_bpf_serves_proc test -n "$(metric memagent_system_memory_total_bytes)"
    check no_bpf_process_metrics test -n "$(metric memagent_process_count 'target="all",comm="memagent"')"
    check no_bpf_enabled_0 test "$(metric memagent_bpf_enabled 'program="task_iter"')" = 0
    check no_bpf_logged grep -q 'bpf disabled by --no-bpf' "$AGENT_LOG"
    check no_bpf_clean_exit stop_agent

    # Unprivileged: no capabilities at all; BPF fails to load, the reason is
    # logged once per program, /proc metrics are served.
    if ! command -v setpriv >/dev/null; then skip unprivileged "setpriv missing"; return; fi
    chmod 755 "$TMP"
    AGENT_LOG=$TMP/unpriv.log
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
        "$MEMAGENT" --listen 127.0.0.1:0 --interval 3600000 2>"$AGENT_LOG" &
    AGENT_PID=$!
    PIDS+=("$AGENT_PID")
    if wait_until 20 grep -q 'serving http://' "$AGENT_LOG"; then
        AGENT_ADDR=$(grep -o 'serving http://[^/]*' "$AGENT_LOG" | head -1 | sed 's|serving http://||')
        check unprivileged_serves_proc test -n "$(metric memagent_system_memory_total_bytes)"
        check unprivileged_bpf_enabled_0 test "$(metric memagent_bpf_enabled 'program="rss_stat"')" = 0
        check unprivileged_reason_logged grep -q 'bpf rss_stat unavailable.*no privilege' "$AGENT_LOG"
        check unprivileged_reason_once test "$(grep -c 'bpf rss_stat unavailable' "$AGENT_LOG")" = 1
        check unprivileged_clean_exit stop_agent
    else
        fail unprivileged_start "$(cat "$AGENT_LOG")"
    fi
}

# --- a program the kernel refuses --------------------------------------------
# The test hook makes the kernel's verifier refuse rss_stat for real
# (MEMAGENT_BPF_TEST_REJECT, collectors/bpf_support.h): the agent runs on,
# exports why, logs it once, and keeps no more memory than when the program
# loads. The memory figure is the release build's (glibc's allocator, as
# operators run it; ASan's allocator keeps freed blocks in quarantine).
rss_anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
rejected() {
    start_agent --interval 3600000 || { fail rejected_agent_start; return; }
    sample_now
    check rejected_control_enabled test "$(metric memagent_bpf_enabled 'program="rss_stat"')" = 1
    check rejected_control_no_reason test -z "$(metric memagent_bpf_unavailable 'program="rss_stat"')"
    stop_agent
    MEMAGENT_BPF_TEST_REJECT=rss_stat start_agent --interval 3600000 || { fail rejected_start; return; }
    sample_now
    check rejected_enabled_0 test "$(metric memagent_bpf_enabled 'program="rss_stat"')" = 0
    check rejected_reason_verifier test "$(metric memagent_bpf_unavailable 'program="rss_stat",reason="verifier"')" = 1
    check rejected_others_loaded test "$(metric memagent_bpf_enabled 'program="task_iter"')" = 1
    check rejected_serves_proc test -n "$(metric memagent_process_count 'target="all",comm="memagent"')"
    check rejected_logged_once test "$(grep -c 'bpf rss_stat unavailable.*verifier rejected' "$AGENT_LOG")" = 1
    check rejected_clean_exit stop_agent

    local rel=${MEMAGENT_RELEASE:-}
    if [ -z "$rel" ] || [ ! -x "$rel" ]; then
        fail rejected_rss_anon "no release build (MEMAGENT_RELEASE); make test builds one"
        return
    fi
    local m=$MEMAGENT a b
    MEMAGENT=$rel
    start_agent --interval 3600000 || { MEMAGENT=$m; fail rejected_release_start; return; }
    sample_now
    a=$(rss_anon_kb "$AGENT_PID")
    stop_agent
    MEMAGENT_BPF_TEST_REJECT=rss_stat start_agent --interval 3600000 || { MEMAGENT=$m; fail rejected_release_start; return; }
    sample_now
    b=$(rss_anon_kb "$AGENT_PID")
    check rejected_release_refused test "$(metric memagent_bpf_enabled 'program="rss_stat"')" = 0
    stop_agent
    MEMAGENT=$m
    echo "  RssAnon: ${a:-?} kB with rss_stat loaded, ${b:-?} kB with it refused"
    check rejected_rss_anon_within_1mib awk -v a="${a:-x}" -v b="${b:-y}" \
        'BEGIN { exit !(a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b - a <= 1024) }'
}

# --- a reload keeps the programs ----------------------------------------------------
# Issue 16: SIGHUP with other targets loads no program again (the program
# ids the agent's descriptors hold stay the same), yet the new targets take
# effect, rss_stat's peaks included: it follows the new target's process.
reload_keeps() {
    start_memhog 8 || { fail reload_keeps_hog_start; return; }
    coproc MC { exec "$HELPERS/memchild"; }
    local pid=$MC_PID before after peak
    PIDS+=("$pid")
    mc() { echo "$1" >&"${MC[1]}"; local ans; read -r ans <&"${MC[0]}"; [ "$ans" = ok ]; }
    echo "{ \"targets\": [ { \"name\": \"one\", \"match\": { \"pid\": $HOG_PID }, \"per_process\": true } ] }" \
        >"$TMP/keep.json"
    start_agent --interval 3600000 --config "$TMP/keep.json" || { fail reload_keeps_agent_start; return; }
    sample_now
    # prog_ids: the ids of the programs the agent holds (its program and
    # link descriptors' fdinfo; Debian's bpftool lists no owners), sorted.
    prog_ids() { cat /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un | tr '\n' ' '; }
    before=$(prog_ids)
    echo "  programs before the reload: $before"
    check reload_keeps_programs_listed test -n "$before"
    check reload_keeps_first_target test -n "$(metric memagent_process_resident_bytes "target=\"one\",pid=\"$HOG_PID\"")"
    echo "{ \"targets\": [ { \"name\": \"two\", \"match\": { \"pid\": $pid }, \"per_process\": true } ] }" \
        >"$TMP/keep.json"
    kill -HUP "$AGENT_PID"
    check reload_keeps_reloaded wait_until 20 reloads_are success 1
    after=$(prog_ids)
    echo "  programs after the reload:  $after"
    check reload_keeps_program_ids test "$after" = "$before"
    check reload_keeps_old_target_gone test -z "$(metric memagent_process_resident_bytes "target=\"one\",pid=\"$HOG_PID\"")"
    check reload_keeps_every_program_enabled bash -c "! curl -sf http://$AGENT_ADDR/metrics | grep '^memagent_bpf_enabled{' | grep -qv ' 1\$'"
    # Between two samples 200 MiB touched and freed by the new target's process.
    mc "t 200" && mc "f"
    sample_now
    peak=$(metric memagent_process_resident_peak_bytes "target=\"two\",pid=\"$pid\"")
    echo "  new target's interval peak: $((${peak%.*} / MIB)) MiB"
    check reload_keeps_rss_stat_follows_new_target between "$peak" $((200 * MIB)) $((400 * MIB))
    check reload_keeps_clean_exit stop_agent
    mc x
}

without
if needs_bpf bpf_probes; then
    rejected
    peaks
    oom
    exits
    reload_keeps
fi
finish
