#!/bin/bash
# SPDX-License-Identifier: MIT
# Push sinks into the real receivers from Debian's packages, all on
# 127.0.0.1 and stopped after: Prometheus 2.42 (remote-write receiver, behind
# TLS), VictoriaMetrics (remote_write and line protocol), InfluxDB 1.6
# (/write), the Pushgateway. One agent feeds them all and, as the reference of
# what was sent, the tests' recording receiver (line protocol, the same
# snapshots): every store must hold exactly the (timestamp, value) pairs the
# agent sent, with the right labels.
. "$(dirname "$0")/lib.sh"

need() {
    command -v "$1" >/dev/null && return 0
    if [ "${CI:-}" = true ]; then
        fail "${1}_installed" "$1 missing (scripts/setup.sh test installs it)"
    else
        skip "sinks_$1" "$1 is not installed (scripts/setup.sh test installs it)"
    fi
    return 1
}
have_prom=0; have_vm=0; have_influx=0; have_pg=0
need prometheus && need openssl && have_prom=1
need victoria-metrics && have_vm=1
need influxd && have_influx=1
need prometheus-pushgateway && have_pg=1

fx=$TMP/proc
mkdir -p "$fx"
cp tests/fixtures/proc/meminfo.txt "$fx/meminfo"
printf 'cpu 1\nbtime 1700000000\n' >"$fx/stat"

# ---- the receivers ------------------------------------------------------------
mkdir -p "$TMP/rec"
"$HELPERS/http_recorder" "$TMP/rec" &
PIDS+=($!)
wait_until 20 test -s "$TMP/rec/port" || { fail recorder_start; finish; }
rec_port=$(cat "$TMP/rec/port")

sinks=""
add_sink() { sinks="$sinks${sinks:+,}$1"; }
add_sink "{\"name\": \"rec\", \"type\": \"influx\", \"url\": \"http://127.0.0.1:$rec_port/write\", \"interval_ms\": 0}"

if [ $have_prom = 1 ]; then
    # A CA, a server certificate for 127.0.0.1 signed by it, and another CA.
    (cd "$TMP" &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca &&
        openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
        printf 'subjectAltName=IP:127.0.0.1\n' >san.ext &&
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
            -extfile san.ext) >"$TMP/openssl.log" 2>&1 || fail tls_certificates "$(tail -3 "$TMP/openssl.log")"
    printf 'tls_server_config:\n  cert_file: %s/srv.pem\n  key_file: %s/srv.key\n' "$TMP" "$TMP" >"$TMP/web.yml"
    printf 'global:\n  scrape_interval: 1h\n' >"$TMP/prom.yml"
    prom_port=$(free_port)
    prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/tsdb" --web.config.file="$TMP/web.yml" \
        --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver --log.level=warn \
        >"$TMP/prometheus.log" 2>&1 &
    PIDS+=($!)
    prom="https://127.0.0.1:$prom_port"
    add_sink "{\"name\": \"prom\", \"type\": \"remote_write\", \"url\": \"$prom/api/v1/write\", \"interval_ms\": 0,
               \"tls\": {\"ca_file\": \"$TMP/ca.pem\"}}"
    add_sink "{\"name\": \"prom_other_ca\", \"type\": \"remote_write\", \"url\": \"$prom/api/v1/write\",
               \"interval_ms\": 0, \"tls\": {\"ca_file\": \"$TMP/other.pem\"}}"
    # No CA given: the system's, which do not know the test CA (verification is on by default).
    add_sink "{\"name\": \"prom_system_ca\", \"type\": \"remote_write\", \"url\": \"$prom/api/v1/write\", \"interval_ms\": 0}"
    add_sink "{\"name\": \"prom_insecure\", \"type\": \"remote_write\", \"url\": \"$prom/api/v1/write\",
               \"interval_ms\": 0, \"tls\": {\"insecure_skip_verify\": true}}"
fi
if [ $have_vm = 1 ]; then
    vm_port=$(free_port)
    victoria-metrics -httpListenAddr="127.0.0.1:$vm_port" -storageDataPath="$TMP/vm" -search.latencyOffset=1s \
        -influxSkipSingleField -loggerLevel=ERROR >"$TMP/vm.log" 2>&1 &
    PIDS+=($!)
    vm="http://127.0.0.1:$vm_port"
    add_sink "{\"name\": \"vm\", \"type\": \"remote_write\", \"url\": \"$vm/api/v1/write\", \"interval_ms\": 0}"
    add_sink "{\"name\": \"vm_influx\", \"type\": \"influx\", \"url\": \"$vm/write?db=lp\", \"interval_ms\": 0}"
fi
if [ $have_influx = 1 ]; then
    ip=$(free_port); rp=$(free_port)
    cat >"$TMP/influx.toml" <<TOML
reporting-disabled = true
bind-address = "127.0.0.1:$rp"
[meta]
  dir = "$TMP/influx/meta"
[data]
  dir = "$TMP/influx/data"
  wal-dir = "$TMP/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$ip"
  log-enabled = false
[monitor]
  store-enabled = false
TOML
    influxd run -config "$TMP/influx.toml" >"$TMP/influxd.log" 2>&1 &
    PIDS+=($!)
    influx="http://127.0.0.1:$ip"
    add_sink "{\"name\": \"influxdb\", \"type\": \"influx\", \"url\": \"$influx/write?db=memagent\", \"interval_ms\": 0}"
fi
if [ $have_pg = 1 ]; then
    pg_port=$(free_port)
    prometheus-pushgateway --web.listen-address="127.0.0.1:$pg_port" --persistence.file="" --log.level=warn \
        >"$TMP/pushgateway.log" 2>&1 &
    PIDS+=($!)
    pg="http://127.0.0.1:$pg_port"
    add_sink "{\"name\": \"pg\", \"type\": \"pushgateway\", \"url\": \"$pg\", \"interval_ms\": 0, \"instance\": \"testhost\"}"
fi

[ $have_prom = 1 ] && { check prometheus_ready wait_until 60 curl -sf --cacert "$TMP/ca.pem" "$prom/-/ready" -o /dev/null || have_prom=0; }
[ $have_vm = 1 ] && { check vm_ready wait_until 60 curl -sf "$vm/health" -o /dev/null || have_vm=0; }
if [ $have_influx = 1 ]; then
    check influxdb_ready wait_until 60 curl -sf "$influx/ping" -o /dev/null || have_influx=0
    curl -sf -XPOST "$influx/query" --data-urlencode 'q=CREATE DATABASE memagent' -o /dev/null
fi
[ $have_pg = 1 ] && { check pushgateway_ready wait_until 60 curl -sf "$pg/-/ready" -o /dev/null || have_pg=0; }

cat >"$TMP/agent.json" <<JSON
{ "targets": [], "heap": { "enabled": false }, "sinks": [ $sinks ] }
JSON
start_agent --interval 3600000 --no-bpf --proc-root "$fx" --config "$TMP/agent.json" || { fail agent_start; finish; }
for _ in 1 2 3 4 5; do sample_now; done
K=$(samples)

# The reference: what the agent sent, "TIMESTAMP_MS VALUE" per line.
ref() {
    awk -v m="$1" '$1 == m { sub("value=", "", $2); print substr($3, 1, length($3) - 6), $2 }' "$TMP/rec/bodies"
}
check reference_complete wait_until 30 eval '[ "$(ref memagent_samples_total | wc -l)" -ge "$K" ]'
ref memagent_samples_total | head -n "$K" >"$TMP/ref.samples"
ref 'memagent_collector_up,collector=meminfo' | head -n "$K" >"$TMP/ref.up"
check reference_in_order awk '$2 != NR { exit 1 }' "$TMP/ref.samples"
# same NAME REF GOT: PASS when the files are equal, else the first differences.
same() {
    if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(diff "$2" "$3" | head -6 | tr '\n' ' ')"; fi
}
sink() { metric "$1" "sink=\"$2\"${3:+,$3}"; }

# ---- Prometheus: a range query gives back exactly what was sent --------------
if [ $have_prom = 1 ]; then
    # prom_range SELECTOR: "TIMESTAMP_MS VALUE" lines of SELECTOR[1h].
    prom_range() {
        curl -sf --cacert "$TMP/ca.pem" "$prom/api/v1/query" --data-urlencode "query=$1[1h]" |
            jq -r '.data.result[0].values[]? | "\((.[0] * 1000 | round)) \(.[1])"'
    }
    prom_has_all() { [ "$(prom_range memagent_samples_total | wc -l)" -ge "$K" ]; }
    check prometheus_received wait_until 30 prom_has_all
    prom_range memagent_samples_total | head -n "$K" >"$TMP/prom.samples"
    same prometheus_exact_samples "$TMP/ref.samples" "$TMP/prom.samples"
    prom_range 'memagent_collector_up{collector="meminfo"}' | head -n "$K" >"$TMP/prom.up"
    same prometheus_exact_labelled_series "$TMP/ref.up" "$TMP/prom.up"
    check prometheus_tls_errors_none test "$(sink memagent_sink_errors_total prom 'reason="tls"')" = 0
    # The other CA: refused, counted as tls, nothing sent.
    check tls_other_ca_refused_counted wait_until 20 eval 'sample_now && [ "$(sink memagent_sink_errors_total prom_other_ca reason=\"tls\")" -ge 1 ]'
    check tls_other_ca_sent_nothing test "$(sink memagent_sink_sent_samples_total prom_other_ca)" = 0
    check tls_verified_by_default wait_until 20 eval 'sample_now && [ "$(sink memagent_sink_errors_total prom_system_ca reason=\"tls\")" -ge 1 ]'
    check tls_default_sent_nothing test "$(sink memagent_sink_sent_samples_total prom_system_ca)" = 0
    check tls_insecure_skip_verify_sends wait_until 20 eval 'sample_now && [ "$(sink memagent_sink_sent_samples_total prom_insecure)" -gt 0 ]'
    check tls_insecure_no_tls_errors test "$(sink memagent_sink_errors_total prom_insecure 'reason="tls"')" = 0
fi

# ---- VictoriaMetrics: raw samples through /api/v1/export -----------------------
if [ $have_vm = 1 ]; then
    vm_export() {
        curl -sf "$vm/internal/force_flush" -o /dev/null
        curl -sf "$vm/api/v1/export" --data-urlencode "match[]=$1" |
            jq -r '[.timestamps, .values] | transpose[] | "\(.[0]) \(.[1])"' | sort -n
    }
    vm_has() { [ "$(vm_export "$1" | wc -l)" -ge "$K" ]; }
    check vm_remote_write_received wait_until 30 vm_has 'memagent_samples_total{db=""}'
    vm_export 'memagent_samples_total{db=""}' | head -n "$K" >"$TMP/vm.samples"
    same vm_remote_write_exact "$TMP/ref.samples" "$TMP/vm.samples"
    vm_export 'memagent_collector_up{collector="meminfo",db=""}' | head -n "$K" >"$TMP/vm.up"
    same vm_remote_write_exact_labelled "$TMP/ref.up" "$TMP/vm.up"
    check vm_influx_received wait_until 30 vm_has 'memagent_samples_total{db="lp"}'
    vm_export 'memagent_samples_total{db="lp"}' | head -n "$K" >"$TMP/vmlp.samples"
    same vm_line_protocol_exact "$TMP/ref.samples" "$TMP/vmlp.samples"
fi

# ---- InfluxDB 1.6 ----------------------------------------------------------------
if [ $have_influx = 1 ]; then
    influx_q() {
        curl -sf -G "$influx/query" --data-urlencode db=memagent --data-urlencode epoch=ms \
            --data-urlencode "q=$1" | jq -r '.results[0].series[0].values[]? | "\(.[0]) \(.[1])"'
    }
    influx_has() { [ "$(influx_q 'SELECT value FROM memagent_samples_total' | wc -l)" -ge "$K" ]; }
    check influxdb_received wait_until 30 influx_has
    influx_q 'SELECT value FROM memagent_samples_total' | head -n "$K" >"$TMP/influx.samples"
    same influxdb_exact "$TMP/ref.samples" "$TMP/influx.samples"
    influx_q "SELECT value FROM memagent_collector_up WHERE collector = 'meminfo'" | head -n "$K" >"$TMP/influx.up"
    same influxdb_exact_tagged "$TMP/ref.up" "$TMP/influx.up"
fi

# ---- Pushgateway: the latest push, no timestamps -------------------------------------
if [ $have_pg = 1 ]; then
    sample_now
    last=$(samples)
    pg_value() { curl -sf "$pg/metrics" | awk '/^memagent_samples_total\{/ && /instance="testhost"/ && /job="memagent"/ { print $2 }'; }
    check pushgateway_has_latest wait_until 30 eval '[ "$(pg_value)" = "$last" ]'
    # The Pushgateway refuses pushes with timestamps (400): none was refused.
    check pushgateway_no_timestamped_push test "$(sink memagent_sink_errors_total pg 'reason="http_4xx"')" = 0
    check pushgateway_pushes_accepted test "$(sink memagent_sink_sent_samples_total pg)" -ge 1
fi

check agent_clean_exit stop_agent
finish
