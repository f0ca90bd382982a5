# SPDX-License-Identifier: MIT
# Shared helpers for the integration tests (tests/it_*.sh). They print the
# same PASS/FAIL/SKIP lines as the C tests (see tests/test.h).
set -u
BUILD=${MEMAGENT_BUILD:?set MEMAGENT_BUILD (tests/run.sh does)}
MEMAGENT=$BUILD/memagent
HELPERS=$BUILD/tests/helpers
TMP=$(mktemp -d /tmp/memagent-it.XXXXXX)
FAILED=0
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: ${2:-}"; FAILED=1; }
skip() { echo "SKIP $1: $2"; }
# check NAME CONDITION-COMMAND...: PASS when the command succeeds.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "$*"; fi; }

# Polls a command until it succeeds, at most $1 seconds: for waiting on a
# condition (a server ready, a sample taken), never as a fixed delay.
wait_until() {
    local limit=$1 deadline
    shift
    deadline=$(( $(date +%s%N) + limit * 1000000000 ))
    until "$@"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# start_agent [memagent options...]: starts the agent on a free port; sets
# AGENT_PID, AGENT_ADDR (host:port) and AGENT_LOG.
start_agent() {
    launch_agent --listen 127.0.0.1:0 "$@"
}

# launch_agent [memagent options...]: start_agent without the --listen, for a
# configuration that names its own address.
launch_agent() {
    AGENT_LOG=$TMP/agent.$RANDOM.log
    "$MEMAGENT" "$@" 2>"$AGENT_LOG" &
    AGENT_PID=$!
    PIDS+=("$AGENT_PID")
    if ! wait_until 20 grep -Eq 'serving https?://' "$AGENT_LOG"; then
        echo "agent did not start; log:"; cat "$AGENT_LOG"; return 1
    fi
    AGENT_ADDR=$(grep -Eo 'serving https?://[^/]*' "$AGENT_LOG" | head -1 | sed -E 's|serving https?://||')
    # "serving" is logged before the first sample is published: a scrape in
    # between finds no snapshot. Plain-HTTP agents are waited for until one is
    # served (or auth is asked for); TLS tests wait in their own terms.
    if grep -q 'serving http://' "$AGENT_LOG"; then
        wait_until 20 first_sample_served || { echo "agent served no sample; log:"; cat "$AGENT_LOG"; return 1; }
    fi
}

# first_sample_served: /healthz answers 200 (a sample is published) or 401.
first_sample_served() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://$AGENT_ADDR/healthz")
    [ "$code" = 200 ] || [ "$code" = 401 ]
}

# stop_agent: SIGTERM, then the exit status (0 expected: clean, leak-free).
stop_agent() {
    kill -TERM "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID"
}

scrape() { curl -sf "http://$AGENT_ADDR/metrics" "$@"; }

# metric NAME [LABELS]: the value of the series NAME{LABELS} (LABELS exactly
# as in the exposition, e.g. 'target="a",pid="1"'), or nothing.
metric() {
    local series=$1
    [ $# -gt 1 ] && series="$1{$2}"
    scrape | awk -v p="$series " 'index($0, p) == 1 { print $NF; exit }'
}

samples() { curl -sf "http://$AGENT_ADDR/healthz" | sed -n 's/^ok samples_total=//p'; }
# samples_at_least N: the served snapshot is sample N or later.
samples_at_least() { local n; n=$(samples); [ -n "$n" ] && [ "$n" -ge "$1" ]; }

# sample_now: asks for a sample with SIGUSR1 and waits until it is served.
sample_now() {
    local before
    before=$(samples)
    kill -USR1 "$AGENT_PID"
    wait_until 20 samples_at_least $(( ${before:-0} + 1 ))
}

# reloads_are RESULT N: after a sample taken now, memagent_config_reloads_total
# {result=RESULT} is N (for wait_until after a SIGHUP).
reloads_are() { sample_now && [ "$(metric memagent_config_reloads_total "result=\"$1\"")" = "$2" ]; }

# start_memhog MIB [COMM]: a process of a known size; sets HOG_PID.
start_memhog() {
    local out=$TMP/hog.$RANDOM
    "$HELPERS/memhog" "$@" >"$out" &
    HOG_PID=$!
    PIDS+=("$HOG_PID")
    wait_until 20 grep -q ready "$out"
}

# start_prometheus YML: Debian's Prometheus on a free port with that config,
# waited for until ready; sets PROM_PID and PROM_API (its /api/v1 URL).
start_prometheus() {
    local port
    port=$(free_port)
    prometheus --config.file="$1" --storage.tsdb.path="$TMP/tsdb.$port" \
        --web.listen-address="127.0.0.1:$port" --log.level=warn >"$TMP/prometheus.$port.log" 2>&1 &
    PROM_PID=$!
    PIDS+=("$PROM_PID")
    PROM_API="http://127.0.0.1:$port/api/v1"
    wait_until 60 curl -sf "http://127.0.0.1:$port/-/ready" -o /dev/null
}

# prom_query EXPR [TIME]: the first result's value (at TIME, unix seconds),
# empty until Prometheus has one.
prom_query() {
    curl -sf "$PROM_API/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} |
        jq -r '.data.result[0].value[1] // empty'
}

# target_up: Prometheus (start_prometheus) has the agent's job up.
target_up() { [ "$(prom_query 'up{job="memagent"}')" = 1 ]; }

# free_port: a TCP port nothing listens on (for servers that need one named).
# It is below the kernel's ephemeral range, whose ports outgoing connections
# take (a listener there can meet one a connection holds: the suspected cause
# of a Prometheus that died at start in one full run), and no TCP socket of
# any state uses it.
free_port() {
    local p low
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
    [ "$low" -gt 21000 ] || low=50000
    while :; do
        p=$(( 20000 + RANDOM % (low - 20000) ))
        ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
    done
}

# fuzz_replay NAME MAX_LEN: replays the libFuzzer target NAME's corpus
# (tests/fuzz/corpus/NAME, in the tree), then mutates it for FUZZ_RUNS
# (20000) runs from a fixed seed: the same inputs on every run of the suite.
# New inputs go to a scratch folder, never into the tree's corpus.
fuzz_replay() {
    local name=$1 max_len=$2 fuzz corpus runs=${FUZZ_RUNS:-20000} rc
    fuzz=$BUILD/fuzz/fuzz_$name
    corpus=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fuzz/corpus/$name
    if [ ! -x "$fuzz" ]; then
        fail "fuzz_${name}_built" "$fuzz missing (make tests builds it; needs libclang-rt-14-dev)"
        return
    fi
    check corpus_not_empty test "$(ls "$corpus" | wc -l)" -ge 5
    mkdir -p "$TMP/new"
    (cd "$TMP" && "$fuzz" -seed=1 -runs="$runs" -max_len="$max_len" -artifact_prefix="$TMP/" \
        "$TMP/new" "$corpus") >"$TMP/fuzz.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && grep -q "Done $runs runs" "$TMP/fuzz.log"; then
        pass "fuzz_${name}_replay_and_${runs}_runs"
    else
        fail "fuzz_${name}_replay" "exit $rc: $(grep -m3 -E 'ERROR|SUMMARY|Done|crash' "$TMP/fuzz.log")"
    fi
    check "fuzz_${name}_no_crash_files" test -z "$(ls "$TMP" | grep -E '^(crash|leak|timeout|oom)-')"
}

finish() { exit "$FAILED"; }
