#!/bin/bash
# SPDX-License-Identifier: MIT
# The unit under a real systemd: run as root by systemd inside the guest of
# tests/kernels/systemd_guest.sh (tests/it_service.sh), cwd the tree.
# make install, systemctl start (active only once READY=1 came, after the
# first sample), the sandbox as the kernel sees it, apps started as nobody
# afterwards found (USDT attached, telemetry page read, fds counted),
# every BPF program enabled, systemctl reload, and the watchdog restarting
# a stalled sampling loop. PASS/FAIL/SKIP lines as tests/lib.sh prints.
export MEMAGENT_BUILD=$GUEST_BUILD
. tests/lib.sh
# The agent's journal goes back with the results, whatever happens.
trap 'journalctl -u memagent --no-pager >/.matrix/journal 2>&1; cleanup' EXIT
rel_o=$GUEST_BUILD
[ -n "${GUEST_RELEASE:-}" ] && rel_o=$(dirname "$GUEST_RELEASE")
AGENT_ADDR=127.0.0.1:9470

echo "  [t=${SECONDS}s since the checks began]"
# --- install and start -------------------------------------------------------------
# `make install` ran on the host into $GUEST_STAGE (DESTDIR; make over 9p
# under emulation takes most of a minute): laid onto this root as is.
# Without a stage, make install here.
if [ -n "${GUEST_STAGE:-}" ] && [ -d "$GUEST_STAGE" ]; then
    cp -a "$GUEST_STAGE/." / && pass make_install || { fail make_install "cannot copy $GUEST_STAGE"; finish; }
elif make -s O="$rel_o" install PREFIX=/usr/local >"$TMP/install.log" 2>&1; then
    pass make_install
else
    fail make_install "$(tail -5 "$TMP/install.log")"
    finish
fi
systemd-sysusers
cat >/etc/memagent/memagent.json <<'JSON'
{
  "interval_ms": 1000,
  "listen": "127.0.0.1:9470",
  "targets": [
    { "name": "all", "match": {}, "group_by": "comm" },
    { "name": "server", "match": { "cmdline": "^nobody-server " }, "per_process": true }
  ]
}
JSON
# The test's own: a shorter watchdog and the stall hook (tests/it_notify.sh).
# Not shorter than 12 s: under emulation a reload, which loads the BPF
# programs again, takes several seconds of the loop's time.
mkdir -p /etc/systemd/system/memagent.service.d
printf '[Service]\nWatchdogSec=12s\nEnvironment=MEMAGENT_TEST_STALL=/run/memagent-test-stall\n' \
    >/etc/systemd/system/memagent.service.d/test.conf
systemctl daemon-reload
check unit_found test "$(systemctl show -P FragmentPath memagent)" = /usr/local/lib/systemd/system/memagent.service
if ! systemctl start memagent; then
    fail systemctl_start "$(journalctl -u memagent --no-pager | tail -20)"
    finish
fi
# start returns once READY=1 came: the first sample is served by then.
check active_after_start test "$(systemctl is-active memagent)" = active
check ready_after_first_sample samples_at_least 1
check status_text systemctl show -P StatusText memagent
systemctl show -P StatusText memagent | sed 's/^/  status: /'
pid=$(systemctl show -P MainPID memagent)

echo "  [t=${SECONDS}s since the checks began]"
# --- the sandbox, as the kernel applies it --------------------------------------------
st() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
# CAP_DAC_READ_SEARCH 2, CAP_SYS_PTRACE 19, CAP_PERFMON 38, CAP_BPF 39.
caps=000000c000080004
check cap_effective test "$(st CapEff)" = $caps
check cap_bounding test "$(st CapBnd)" = $caps
check cap_ambient test "$(st CapAmb)" = $caps
check no_new_privs test "$(st NoNewPrivs)" = 1
check seccomp_filter test "$(st Seccomp)" = 2
check runs_as_memagent test "$(st Uid)" = "$(id -u memagent)"
check own_mount_namespace test "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)"
mounts=/proc/$pid/mountinfo
check protect_proc_invisible grep -qE ' /proc .* proc .*hidepid=invisible' "$mounts"
check protect_system_strict awk '$5 == "/" && $6 ~ /^ro/ { found = 1 } END { exit !found }' "$mounts"
check state_directory test -d /var/lib/memagent -a "$(stat -c %U /var/lib/memagent)" = memagent
check private_tmp test "$(nsenter -t "$pid" -m stat -c %i /tmp)" != "$(stat -c %i /tmp)"
check memory_max test "$(cat "/sys/fs/cgroup/system.slice/memagent.service/memory.max")" = $((128 << 20))
check nofile_limit grep -qE '^Max open files +32768 +32768' "/proc/$pid/limits"

echo "  [t=${SECONDS}s since the checks began]"
# --- apps started as nobody, after the agent --------------------------------------------
app=$TMP/nobody
mkdir -m 0777 "$app"
chmod o+x "$TMP"
# An array, not a function: "$!" must be the app's own pid (setpriv execs it).
as_nobody=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
GENGC_TELEMETRY=0 "${as_nobody[@]}" "$HELPERS/gc_usdt_app" "$app/usdt" 3 2 >/dev/null 2>&1 &
usdt=$!
PIDS+=("$usdt")
"${as_nobody[@]}" "$HELPERS/gc_telemetry_app" "$app/tele" nobody-app 1 >/dev/null 2>&1 &
PIDS+=($!)
# A server of nobody's with sockets open (argv[0] names it), its fds counted.
"${as_nobody[@]}" bash -c 'exec -a nobody-server python3 -c "
import socket, sys, time
s = [socket.socket() for _ in range(5)]
for x in s: x.bind((\"127.0.0.1\", 0)); x.listen()
print(\"ready\", flush=True)
time.sleep(3600)"' >"$app/server" 2>&1 &
server=$!
PIDS+=("$server")
check nobody_apps_started wait_until 30 grep -qs waiting "$app/usdt"
wait_until 30 grep -qs ready "$app/tele"
wait_until 30 grep -qs ready "$app/server"
# SIGUSR1: sample now and look for new processes (systemctl kill, as operators do).
systemctl kill -s SIGUSR1 --kill-who=main memagent
# The shipped unit has no CAP_SYS_ADMIN: on 6.6+ (uprobe_multi links) it
# attaches without; before, the uprobe PMU asks for it on patched kernels
# (docs/service.md): the attach is refused, and counted.
gc_bpf_errors() { metric memagent_collector_errors_total 'collector="gc_events",reason="bpf"'; }
refused() { local n; n=$(gc_bpf_errors); [ "${n:-0}" -gt 0 ]; }
traced_or_refused() { grep -qs traced "$app/usdt" || refused; }
usdt_done=0
if awk -F. '{ exit !($1 > 6 || ($1 == 6 && $2 >= 6)) }' <<<"$(uname -r)"; then
    check usdt_attached_with_shipped_unit wait_until 60 grep -qs traced "$app/usdt"
    not_refused() { ! refused; }
    check usdt_no_refusal_counted not_refused
    check usdt_no_perf_event_open_allowed bash -c "! systemctl show -P SystemCallFilter memagent | grep -qw perf_event_open"
else
    check usdt_attached_or_refusal_counted wait_until 60 traced_or_refused
fi
if grep -qs traced "$app/usdt"; then
    pass usdt_attached_without_sys_admin
    usdt_done=1
fi
heap_seen() { scrape | grep -q '^memagent_heap_used_bytes{target="nobody-app"'; }
check nobody_telemetry_page_read wait_until 30 heap_seen
fds_seen() { [ -n "$(metric memagent_process_open_fds "target=\"server\",pid=\"$server\"")" ]; }
if awk -F. '{ exit !($1 > 6 || ($1 == 6 && $2 >= 2)) }' <<<"$(uname -r)"; then
    check nobody_server_fds_counted wait_until 30 fds_seen
    metric memagent_process_open_fds "target=\"server\",pid=\"$server\"" | sed 's/^/  nobody-server fds: /'
fi

# --- a Node app of nobody's, started after the agent ---------------------------------
# memagent-node was packed and installed from its tarball into the stage on
# the host (tests/it_service.sh); node is the host's own /usr/bin/node.
node_app=/usr/local/share/memagent-it/node-app
if ! command -v node >/dev/null || [ ! -f "$node_app/node_modules/memagent-node/register.js" ]; then
    skip node_app_discovered "node or the staged memagent-node client is missing (tests/it_service.sh stages it when node and npm are installed)"
else
    (cd "$node_app" && MEMAGENT_NAME=nobody-node exec "${as_nobody[@]}" node -r memagent-node/register -e '
        globalThis.keep = Array.from({ length: 20000 }, (_, i) => ({ i, s: "x" + i }));
        setInterval(() => {}, 1000);
        console.log("ready");') >"$app/node" 2>&1 &
    node_pid=$!
    PIDS+=("$node_pid")
    check nobody_node_app_started wait_until 60 grep -qs ready "$app/node"
    systemctl kill -s SIGUSR1 --kill-who=main memagent
    node_seen() {
        scrape >"$TMP/node.m" &&
            grep -q "^memagent_heap_used_bytes{target=\"nobody-node\",pid=\"$node_pid\",heap=\"1\"} [1-9]" "$TMP/node.m"
    }
    check node_app_discovered wait_until 60 node_seen
    check node_v8_spaces_exported grep -q "^memagent_heap_space_used_bytes{target=\"nobody-node\",pid=\"$node_pid\",heap=\"1\",space=\"old_space\"} " "$TMP/node.m"
    grep "^memagent_heap_used_bytes{target=\"nobody-node\"" "$TMP/node.m" | sed 's/^/  /'
fi

# --- a nobody server's socket queues (the queues collector, docs/queues.md) ------------
# A second server of nobody's, in the "server" target: a TCP listener
# (backlog 8) that never accepts, three connections from root waiting in its
# accept queue, and a UNIX stream pair with 1000 unread bytes. Its other
# listeners are the first server's, which have no waiting connections, and
# pending connections are in no member's fd table: the target's receive
# bytes are exactly the pair's.
"${as_nobody[@]}" bash -c 'exec -a nobody-server python3 -c "
import socket, time
l = socket.socket(); l.bind((\"127.0.0.1\", 0)); l.listen(8)
a, b = socket.socketpair(); a.send(b\"x\" * 1000)
print(\"port\", l.getsockname()[1], flush=True)
time.sleep(3600)"' >"$app/qserver" 2>&1 &
PIDS+=($!)
if check nobody_queue_server_started wait_until 30 grep -qs '^port ' "$app/qserver"; then
    qport=$(awk '$1 == "port" { print $2 }' "$app/qserver")
    python3 -c "
import socket, sys, time
c = [socket.create_connection(('127.0.0.1', $qport)) for _ in range(3)]
print('connected', flush=True)
time.sleep(3600)" >"$app/qclients" 2>&1 &
    PIDS+=($!)
    wait_until 30 grep -qs connected "$app/qclients"
    systemctl kill -s SIGUSR1 --kill-who=main memagent
    ql="target=\"server\",listener=\"tcp:$qport\""
    backlog_seen() { [ "$(metric memagent_listen_backlog "$ql")" = 3 ]; }
    check nobody_server_listen_backlog wait_until 30 backlog_seen
    scrape >"$TMP/q.m"
    grep -E "^memagent_(listen_backlog|listen_backlog_max|socket_queue_bytes|queue_backend)\{" "$TMP/q.m" | grep -E 'target="server"|backend' | sed 's/^/  /'
    check nobody_server_listen_backlog_max grep -q "^memagent_listen_backlog_max{$ql} 8$" "$TMP/q.m"
    check nobody_server_unread_bytes grep -q '^memagent_socket_queue_bytes{target="server",direction="receive"} 1000$' "$TMP/q.m"
    check queues_on_bpf_under_the_unit grep -q '^memagent_queue_backend{backend="bpf"} 1$' "$TMP/q.m"
fi

scrape >"$TMP/m"
grep '^memagent_bpf_enabled' "$TMP/m" | sed 's/^/  /'
check bpf_programs_listed grep -q '^memagent_bpf_enabled{' "$TMP/m"
check bpf_every_program_enabled bash -c "! grep '^memagent_bpf_enabled{' '$TMP/m' | grep -qv ' 1\$'"

echo "  [t=${SECONDS}s since the checks began]"
# --- systemctl reload ----------------------------------------------------------------
sed -i 's/"name": "server"/"name": "server2"/' /etc/memagent/memagent.json
check systemctl_reload systemctl reload memagent
reloaded() { [ -n "$(metric memagent_process_count 'target="server2"')" ]; }
check reload_applied wait_until 30 reloaded
check reload_same_pid test "$(systemctl show -P MainPID memagent)" = "$pid"
check active_after_reload test "$(systemctl is-active memagent)" = active
check reload_logged bash -c "journalctl -u memagent --no-pager | grep -q 'configuration reloaded'"
check journal_priorities bash -c "journalctl -u memagent -p notice --no-pager -o cat | grep -q 'configuration reloaded'"

echo "  [t=${SECONDS}s since the checks began]"
# --- a queued sink's samples survive systemctl reload ----------------------------------
# An influx sink with a disk buffer in the unit's StateDirectory=, its
# receiver (tests/helpers/http_recorder) down: samples queue; a second
# reload (a changed timeout) keeps them; the receiver comes up and every
# sample since the sink was added arrives, once, in order.
conf=/etc/memagent/memagent.json
rec_port=$(free_port)
rec_dir=$TMP/rec
sink_set() {
    jq --arg url "http://127.0.0.1:$rec_port/write?db=t" --argjson t "$1" \
        '.sinks = [{ name: "rec", type: "influx", url: $url, interval_ms: 0, timeout_ms: $t, buffer: "disk" }]' \
        "$conf" >"$TMP/conf.json" && cat "$TMP/conf.json" >"$conf"
}
sink_q() { metric memagent_sink_queue_samples 'sink="rec"'; }
sink_queued() { local q; q=$(sink_q); [ "${q:-0}" -gt 0 ]; }
reloads_ok() { local n; n=$(metric memagent_config_reloads_total 'result="success"'); [ "${n:-0}" -ge "$1" ]; }
sent_values() { awk '$1 == "memagent_samples_total" { sub("value=", "", $2); print $2 }' "$rec_dir/bodies" 2>/dev/null; }
sent_has() { sent_values | grep -qx "$1"; }
reloads0=$(metric memagent_config_reloads_total 'result="success"')
# The programs the agent holds (its descriptors' fdinfo): a reload keeps them.
prog_ids() { cat /proc/"$pid"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un | tr '\n' ' '; }
progs_before=$(prog_ids)
sink_set 500
check sink_added_by_reload systemctl reload memagent
check sink_reload_applied wait_until 30 reloads_ok $(( ${reloads0:-0} + 1 ))
check sink_queues_while_receiver_down wait_until 30 sink_queued
first_queued=$(samples)
check sink_k_samples_queued wait_until 60 samples_at_least $(( first_queued + 3 ))
q_before=$(sink_q)
check sink_disk_buffer_in_state_dir test -s /var/lib/memagent/sink-rec.buf -a "$(stat -c %U /var/lib/memagent/sink-rec.buf 2>/dev/null)" = memagent
sink_set 600
check sink_second_reload systemctl reload memagent
check sink_second_reload_applied wait_until 30 reloads_ok $(( ${reloads0:-0} + 2 ))
check sink_reload_kept_queue test "$(sink_q)" -ge "$q_before"
echo "  programs held: $progs_before"
check reload_kept_bpf_programs test -n "$progs_before" -a "$(prog_ids)" = "$progs_before"
mkdir -p "$rec_dir"
"$HELPERS/http_recorder" "$rec_dir" "$rec_port" 2>"$rec_dir/stderr" &
PIDS+=($!)
check sink_receiver_up wait_until 20 test -s "$rec_dir/port"
taken=$(samples)
check sink_drained wait_until 90 sent_has "$taken"
sent_values >"$TMP/sink.values"
echo "  sink: first queued at sample $first_queued, $q_before samples queued before the second reload, received $(head -1 "$TMP/sink.values")..$(tail -1 "$TMP/sink.values")"
check sink_first_queued_sample_arrived test "$(head -1 "$TMP/sink.values")" -le "$first_queued"
check sink_every_sample_once_in_order awk 'NR == 1 { f = $1 } $1 != f + NR - 1 { exit 1 } END { exit NR == 0 }' "$TMP/sink.values"
check sink_no_drops test "$(metric memagent_sink_dropped_samples_total 'sink="rec"')" = 0

echo "  [t=${SECONDS}s since the checks began]"
# --- alerts reach an Alertmanager from under the unit ----------------------------------
# Debian's Alertmanager (clustering off) on 127.0.0.1; a reload adds it and
# an rss rule on the nobody server (target "server2" since the reload above).
am_bin=$(command -v prometheus-alertmanager || command -v alertmanager || true)
if [ -z "$am_bin" ]; then
    skip alert_reaches_alertmanager "prometheus-alertmanager is not installed (scripts/setup.sh test installs it)"
else
    am_port=$(free_port)
    mkdir -p "$TMP/am"
    printf 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n' >"$TMP/am.yml"
    "$am_bin" --config.file="$TMP/am.yml" --storage.path="$TMP/am" --web.listen-address="127.0.0.1:$am_port" \
        --cluster.listen-address= >"$TMP/am.log" 2>&1 &
    PIDS+=($!)
    check alertmanager_started wait_until 60 curl -sf "http://127.0.0.1:$am_port/-/ready" -o /dev/null
    jq --arg am "http://127.0.0.1:$am_port" \
        '.alerts = { alertmanagers: [$am], rules: [{ alert: "NobodyServerRss", kind: "rss", threshold: 1, match: { target: "server2" } }] }' \
        "$conf" >"$TMP/conf.json" && cat "$TMP/conf.json" >"$conf"
    reloads1=$(metric memagent_config_reloads_total 'result="success"')
    check alerts_added_by_reload systemctl reload memagent
    check alerts_reload_applied wait_until 30 reloads_ok $(( ${reloads1:-0} + 1 ))
    am_has() {
        curl -sf "http://127.0.0.1:$am_port/api/v2/alerts?active=true" |
            jq -e --arg p "$server" 'any(.[]; .labels.alertname == "NobodyServerRss" and .labels.pid == $p)' >/dev/null
    }
    check alert_reaches_alertmanager wait_until 60 am_has
fi

echo "  [t=${SECONDS}s since the checks began]"
# --- a stalled sampling loop: the watchdog restarts the service ------------------------
# The restart also brings in the opt-in USDT drop-in (CAP_SYS_ADMIN) when the
# shipped unit's attach was refused: one BPF load fewer under emulation.
if [ "$usdt_done" = 0 ]; then
    cp /usr/local/share/memagent/usdt.conf /etc/systemd/system/memagent.service.d/usdt.conf
    systemctl daemon-reload
fi
touch /run/memagent-test-stall
restarted() { local p; p=$(systemctl show -P MainPID memagent); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$pid" ]; }
check watchdog_restarted wait_until 60 restarted
rm -f /run/memagent-test-stall
check watchdog_logged bash -c "journalctl -u memagent --no-pager | grep -qi 'watchdog timeout'"
check restarts_counted test "$(systemctl show -P NRestarts memagent)" -ge 1
active() { [ "$(systemctl is-active memagent)" = active ]; }
check active_after_restart wait_until 60 active
check serves_after_restart wait_until 30 samples_at_least 1

# --- the opt-in USDT drop-in: the app started before is attached ---------------------
echo "  [t=${SECONDS}s since the checks began]"
if [ "$usdt_done" = 0 ]; then
    pid=$(systemctl show -P MainPID memagent)
    check usdt_dropin_adds_only_sys_admin test "$(awk '$1 == "CapEff:" { print $2 }' /proc/$pid/status)" = 000000c000280004
    systemctl kill -s SIGUSR1 --kill-who=main memagent
    check usdt_attached_with_dropin wait_until 60 grep -qs traced "$app/usdt"
fi
touch "$app/usdt.go"
check usdt_app_ran wait_until 30 grep -qs done "$app/usdt"
gc_counted() {
    [ "$(metric memagent_gc_events_total "target=\"gc_usdt_app\",pid=\"$usdt\",kind=\"mark_sweep\"")" = 3 ]
}
check nobody_usdt_events_counted wait_until 30 gc_counted

check systemctl_stop systemctl stop memagent
check stopped_cleanly test "$(systemctl show -P Result memagent)" = success
finish
