#!/bin/bash
# SPDX-License-Identifier: MIT
# memagent-node with the machine's real node: the client packed with npm pack
# and installed from the tarball into a fresh app (no registry), run with
# node -r; the agent with no configuration discovers it and exports exactly
# what the app's own V8 reports (old_space after gc(), heap_size_limit under
# --max-old-space-size=64); a heap snapshot asked for by the agent is written
# and its leaking class counted and ranked by an independent reader
# (tests/heapsnapshot.h); hostile pages (wrong sizes, a writer killed in
# the middle of an update) are counted and export nothing.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)
NODE_TESTS=$SRC/tests/node

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    skip node_client "node and npm not installed (scripts/setup.sh says how: Node >= 18, not Debian's nodejs over another)"
    finish
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    skip node_client "node $(node --version) is older than 18"
    finish
fi

# --- the package, from its tarball -------------------------------------------------
APP_DIR=$TMP/app
mkdir -p "$APP_DIR"
(cd "$TMP" && npm pack --silent "$SRC/clients/node" >"$TMP/pack.out" 2>"$TMP/pack.err")
TARBALL=$TMP/$(tail -1 "$TMP/pack.out")
check npm_pack test -f "$TARBALL"
echo '{"name":"memagent-node-it","private":true}' >"$APP_DIR/package.json"
(cd "$APP_DIR" && npm install --offline --no-audit --no-fund --silent "$TARBALL" >"$TMP/install.log" 2>&1)
check npm_install_from_tarball test -f "$APP_DIR/node_modules/memagent-node/register.js"
check package_has_no_dependencies test "$(node -p "Object.keys(require('$APP_DIR/node_modules/memagent-node/package.json').dependencies || {}).length")" = 0
cp "$NODE_TESTS"/*.js "$APP_DIR/"

start_agent --interval 3600000 || { fail agent_start; finish; }
# The first sample (slow on a loaded host) ends before any app starts, so
# every sample_now below is a sample taken after its app was running.
check first_sample wait_until 120 samples_at_least 1

# run_app OUT [node options...] SCRIPT [args]: a Node app in the app folder; sets APP.
run_app() {
    local out=$1
    shift
    (cd "$APP_DIR" && exec node "$@") >"$out.log" 2>&1 &
    APP=$!
    PIDS+=("$APP")
    wait_until 20 grep -qs ready "$out"
}

# --- exact values ------------------------------------------------------------------
out=$TMP/exact.out
check exact_app_ready run_app "$out" --expose-gc --max-old-space-size=64 -r memagent-node/register exact_app.js "$out"
EXACT=$APP
l="target=\"node-exact\",pid=\"$EXACT\",heap=\"1\""
# discovered() samples and says whether the app's page is exported yet.
discovered() { sample_now && scrape >"$TMP/m1" && grep -q "^memagent_heap_used_bytes{$l} " "$TMP/m1"; }
wait_until 30 discovered
own_old=$(sed -n 's/^old_space_used=//p' "$out")
own_limit=$(sed -n 's/^heap_size_limit=//p' "$out")
got_old=$(awk -v p="memagent_heap_space_used_bytes{$l,space=\"old_space\"} " 'index($0, p) == 1 { print $NF }' "$TMP/m1")
got_limit=$(awk -v p="memagent_heap_size_limit_bytes{$l} " 'index($0, p) == 1 { print $NF }' "$TMP/m1")
echo "  old_space used: app $own_old, agent $got_old; heap_size_limit: app $own_limit, agent $got_limit"
check discovered_with_no_config test -n "$got_old"
check old_space_used_equals_v8 test "$got_old" = "$own_old"
check heap_size_limit_equals_v8 test "$got_limit" = "$own_limit"
# --max-old-space-size=64: V8's limit is 64 MiB of old space plus its young
# generation's reservation, so above 64 MiB and below 128 MiB.
check heap_size_limit_follows_max_old_space test "$got_limit" -gt 67108864 -a "$got_limit" -lt 134217728
check every_v8_space_exported test "$(grep -c "^memagent_heap_space_size_bytes{$l," "$TMP/m1")" -ge 5
check code_space_by_v8_name grep -q "^memagent_heap_space_used_bytes{$l,space=\"code_space\"} " "$TMP/m1"
check major_gc_counted_as_mark_compact grep -q "^memagent_gc_collections_total{$l,kind=\"mark_compact\"} [1-9]" "$TMP/m1"
check old_space_after_full_gc grep -q "^memagent_heap_old_space_after_full_gc_bytes{$l} [1-9]" "$TMP/m1"
check queue_depth grep -q "^memagent_queue_depth{$l,queue=\"jobs\"} 3$" "$TMP/m1"
check array_buffers grep -q "^memagent_heap_array_buffers_bytes{$l} [0-9]" "$TMP/m1"
p50=$(awk -v p="memagent_event_loop_delay_seconds{target=\"node-exact\",pid=\"$EXACT\",quantile=\"0.5\"} " 'index($0, p) == 1 { print $NF }' "$TMP/m1")
p99=$(awk -v p="memagent_event_loop_delay_seconds{target=\"node-exact\",pid=\"$EXACT\",quantile=\"0.99\"} " 'index($0, p) == 1 { print $NF }' "$TMP/m1")
check loop_delay_quantiles test -n "$p50" -a -n "$p99"
check loop_delay_p50_le_p99 awk -v a="$p50" -v b="$p99" 'BEGIN { exit !(a <= b) }'
"$MEMAGENT" --heap-snapshot "$EXACT" >"$TMP/noflag.out" 2>"$TMP/noflag.err"
check snapshot_refused_when_not_allowed test $? = 1 -a ! -s "$TMP/noflag.out"
check snapshots_not_allowed_by_default grep -q 'does not allow' "$TMP/noflag.err"
check no_snapshot_counter_when_not_allowed sh -c "! grep -q '^memagent_heap_snapshots_total{$l}' '$TMP/m1'"

# --- the client never keeps an app alive --------------------------------------------
check app_exits_by_itself sh -c "cd '$APP_DIR' && node -r memagent-node/register -e 'let x = 0; for (let i = 0; i < 1e5; i++) x += i' && echo done" 

# --- a heap snapshot on request -----------------------------------------------------
out=$TMP/snap.out
SNAPS=$TMP/snaps
MEMAGENT_SNAPSHOT_DIR=$SNAPS check snapshot_app_ready run_app "$out" -r memagent-node/register snapshot_app.js "$out" 3000
SNAP_APP=$APP
own_count=$(sed -n 's/^count=//p' "$out")
path=$("$MEMAGENT" --heap-snapshot "$SNAP_APP" 2>"$TMP/snap.err")
echo "  snapshot: $path $(cat "$TMP/snap.err")"
check snapshot_written test -s "$path"
check snapshot_in_the_configured_dir test "$(dirname "$path")" = "$SNAPS"
"$HELPERS/heapsnap_classes" "$path" 6 LeakyThing >"$TMP/classes" 2>&1
sed 's/^/  /' "$TMP/classes"
check leaking_class_count_equals_the_apps test "$(awk '$1 == "class" && $2 == "LeakyThing" { print $4 }' "$TMP/classes")" = "$own_count"
check leaking_class_is_top_by_retained_size test "$(sed -n 's/^top //p' "$TMP/classes")" = LeakyThing
check second_request_within_interval_is_busy sh -c "! '$MEMAGENT' --heap-snapshot $SNAP_APP 2>'$TMP/busy.err'"
check busy_says_why grep -q "interval" "$TMP/busy.err"
sock=$(ss -xlpH 2>/dev/null | grep "pid=$SNAP_APP," | grep -o 'memagent-node\.[0-9]*\.[0-9a-f]*' | head -1)
check wrong_token_refused test "$(cd "$APP_DIR" && node ask_snapshot.js "$sock")" = refused
check one_snapshot_file test "$(ls "$SNAPS" | wc -l)" = 1
sample_now
check snapshots_total_is_one grep -q "^memagent_heap_snapshots_total{target=\"snapshot_app\",pid=\"$SNAP_APP\",heap=\"1\"} 1$" <(scrape)

# --- hostile pages ------------------------------------------------------------------
err_of() { awk -v p="memagent_telemetry_errors_total{reason=\"$1\"} " 'index($0, p) == 1 { print $NF }' "$2"; }
scrape >"$TMP/h0"
out=$TMP/size.out
check hostile_size_ready run_app "$out" hostile_page.js size "$out"
out=$TMP/torn.out
check hostile_torn_ready run_app "$out" hostile_page.js torn "$out"
sample_now
sample_now
scrape >"$TMP/h1"
echo "  errors size $(err_of size "$TMP/h0") -> $(err_of size "$TMP/h1"), torn $(err_of torn "$TMP/h0") -> $(err_of torn "$TMP/h1")"
check wrong_sizes_counted test "$(err_of size "$TMP/h1")" -ge $(( $(err_of size "$TMP/h0") + 2 ))
check killed_writer_counted_torn test "$(err_of torn "$TMP/h1")" -gt "$(err_of torn "$TMP/h0")"
check hostile_pages_export_nothing sh -c "! grep -q 'target=\"hostile-' '$TMP/h1'"
check others_still_exported grep -q "^memagent_heap_used_bytes{$l} " "$TMP/h1"

check agent_exits_cleanly stop_agent
finish
