#!/bin/bash
# SPDX-License-Identifier: MIT
# Every system call the release build makes is allowed by the unit's
# SystemCallFilter=. Recorded here, at test time, with `strace -f` over a
# run that exercises what exists: BPF loading, a USDT attach to a libgengc
# app started afterwards (uprobe_multi links on 6.6+, perf uprobes before),
# a telemetry page, scrapes in both formats, a good
# and a broken reload, an OOM kill, SIGTERM. The filter's groups are
# resolved with `systemd-analyze syscall-filter`, so the check stays true
# as the code (and the unit) change.
. "$(dirname "$0")/lib.sh"

unit=systemd/memagent.service
rel=${MEMAGENT_RELEASE:-}
if ! command -v strace >/dev/null; then skip syscalls "strace is not installed (scripts/setup.sh test)"; finish; fi
if ! command -v systemd-analyze >/dev/null; then skip syscalls "systemd-analyze is not installed"; finish; fi
if [ -z "$rel" ] || [ ! -x "$rel" ]; then
    skip syscalls "no release build beside $BUILD (make test builds build/memagent)"
    finish
fi

# --- the filter, resolved ----------------------------------------------------------
# resolve NAME...: syscall names, groups expanded (recursively).
resolve() {
    local n
    for n in "$@"; do
        case "$n" in
        @*) resolve $(systemd-analyze syscall-filter "$n" | awk 'NR > 1 && NF && $1 !~ /^#/ { print $1 }') ;;
        *) echo "$n" ;;
        esac
    done
}
filter=$(sed -n 's/^SystemCallFilter=//p' "$unit")
check filter_is_an_allow_list bash -c "! grep -q '^SystemCallFilter=~' '$unit'"
# Without uprobe_multi links (before 6.6) USDT goes through perf uprobes:
# perf_event_open, which the drop-in for those kernels adds (docs/service.md).
multi=0
ASAN_OPTIONS=detect_leaks=0 "$rel" --probe 2>/dev/null | grep -q 'gc_usdt .*uprobe_multi links' && multi=1
[ "$multi" = 0 ] && filter="$filter $(sed -n 's/^SystemCallFilter=//p' systemd/memagent-usdt.conf)"
# shellcheck disable=SC2086
resolve $filter | sort -u >"$TMP/allowed"
check filter_resolves test "$(wc -l <"$TMP/allowed")" -gt 100

# --- the run -------------------------------------------------------------------------
cg=""
if [ -e /sys/fs/cgroup/cgroup.controllers ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers; then
    cg=/sys/fs/cgroup/memagent-it-sys-$$; mkdir "$cg" && echo $((64 << 20)) >"$cg/memory.max" &&
        { echo 0 >"$cg/memory.swap.max" 2>/dev/null || :; }
elif [ -d /sys/fs/cgroup/memory ]; then
    cg=/sys/fs/cgroup/memory/memagent-it-sys-$$; mkdir "$cg" && echo $((64 << 20)) >"$cg/memory.limit_in_bytes" &&
        { echo $((64 << 20)) >"$cg/memory.memsw.limit_in_bytes" 2>/dev/null || :; }
fi
"$MEMAGENT" --print-default-config |
    jq --arg cg "/memagent-it-sys-$$" '.targets += [ { "name": "hog", "match": { "cgroup": $cg } } ]' >"$TMP/cfg.json"
check config_valid "$MEMAGENT" --check-config "$TMP/cfg.json"

AGENT_LOG=$TMP/agent.log
strace -f -qq -o "$TMP/trace" "$rel" --listen 127.0.0.1:0 --interval 3600000 --config "$TMP/cfg.json" 2>"$AGENT_LOG" &
tracer=$!
PIDS+=("$tracer")
if ! wait_until 60 grep -q 'serving http://' "$AGENT_LOG"; then fail agent_start "$(cat "$AGENT_LOG")"; finish; fi
AGENT_ADDR=$(grep -o 'serving http://[^/]*' "$AGENT_LOG" | head -1 | sed 's|serving http://||')
AGENT_PID=$(pgrep -P "$tracer")
check agent_under_strace test -n "$AGENT_PID"
check first_sample wait_until 20 samples_at_least 1

# A USDT app and a telemetry-page app, both started after the agent.
usdt_out=$TMP/usdt.out
GENGC_TELEMETRY=0 "$HELPERS/gc_usdt_app" "$usdt_out" 2 2 >/dev/null 2>&1 &
PIDS+=($!)
wait_until 20 grep -qs waiting "$usdt_out"
"$HELPERS/gc_telemetry_app" "$TMP/tm.out" tm-app 1 >/dev/null 2>&1 &
PIDS+=($!)
wait_until 20 grep -qs ready "$TMP/tm.out"
sample_now
gc_up=$(metric memagent_collector_up 'collector="gc_events"')
if [ "$gc_up" = 1 ]; then
    check usdt_attached wait_until 20 grep -qs traced "$usdt_out"
    touch "$usdt_out.go"
    wait_until 20 grep -qs done "$usdt_out"
fi
sample_now
scrape -o /dev/null
curl -sf -H 'Accept: application/openmetrics-text; version=1.0.0' "http://$AGENT_ADDR/metrics" -o /dev/null
curl -sf "http://$AGENT_ADDR/healthz" -o /dev/null
curl -s "http://$AGENT_ADDR/nothing-here" -o /dev/null
# Reloads: a good one, then a broken one (kept the running configuration).
kill -HUP "$AGENT_PID"
reloads() { [ "$(grep -c 'configuration reloaded' "$AGENT_LOG")" -ge 1 ]; }
check reload_done wait_until 30 reloads
cp "$TMP/cfg.json" "$TMP/good.json"
echo '{ "targets": [ ' >"$TMP/cfg.json"
kill -HUP "$AGENT_PID"
bad_reload() { grep -q 'reload failed' "$AGENT_LOG"; }
check bad_reload_done wait_until 30 bad_reload
sample_now
# An OOM kill the agent sees (its ring buffer read under strace too).
if [ -n "$cg" ] && [ -d "$cg" ]; then
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$HELPERS/memchild" --hog >/dev/null 2>&1
    oom_seen() { grep -q 'oom kill: pid' "$AGENT_LOG"; }
    check oom_kill_seen wait_until 30 oom_seen
    sample_now
else
    skip oom_kill "no memory cgroup controller"
fi
kill -TERM "$AGENT_PID"
wait "$tracer"
check agent_clean_exit test $? -eq 0
[ -n "$cg" ] && rmdir "$cg" 2>/dev/null

# --- the check -----------------------------------------------------------------------
sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p; s/^[0-9]+ +<\.\.\. ([a-z_0-9]+) resumed>.*/\1/p' "$TMP/trace" | sort -u >"$TMP/called"
echo "  $(wc -l <"$TMP/called") distinct system calls recorded: $(tr '\n' ' ' <"$TMP/called")"
check recorded_bpf grep -qx bpf "$TMP/called"
if [ "$gc_up" = 1 ] && [ "$multi" = 1 ]; then
    check usdt_attach_without_perf_event_open bash -c "! grep -qx perf_event_open '$TMP/called'"
elif [ "$gc_up" = 1 ]; then
    check recorded_usdt_attach grep -qx perf_event_open "$TMP/called"
else
    [ -n "${CI:-}" ] && fail usdt_attach_recorded "BPF unavailable under CI" || skip recorded_usdt_attach "BPF unavailable here"
fi
denied=$(comm -23 "$TMP/called" "$TMP/allowed")
check every_syscall_allowed test -z "$denied"
for s in $denied; do
    echo "    not allowed by SystemCallFilter=: $s ($(grep -m1 -E "^[0-9]+ +$s\(" "$TMP/trace" | cut -c1-160))"
done
finish
