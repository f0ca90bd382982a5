#!/bin/bash
# SPDX-License-Identifier: MIT
# The endpoint with TLS and basic auth (docs/web.md), driven by real curl and
# a real Prometheus: certificates made here by openssl (two CAs), a bcrypt
# hash by libcrypt; a certificate replaced on disk is served after SIGHUP;
# client certificates are verified; repeated scrapes cost one bcrypt check.
. "$(dirname "$0")/lib.sh"

for cmd in openssl curl prometheus; do
    if ! command -v "$cmd" >/dev/null; then
        skip web_tls "$cmd is not installed (scripts/setup.sh test installs it)"
        finish
    fi
done

C=$TMP/certs
mkdir -p "$C"
gen_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -keyout "$C/$1.key" -out "$C/$1.pem" -subj "/CN=memagent test $1" 2>/dev/null
}
# gen_leaf NAME CA EXTENSIONS: a key and a certificate signed by CA.
gen_leaf() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$C/$1.key" -out "$C/$1.csr" -subj "/CN=$1" 2>/dev/null &&
    printf '%b\n' "$3" >"$C/$1.ext" &&
    openssl x509 -req -in "$C/$1.csr" -CA "$C/$2.pem" -CAkey "$C/$2.key" -CAcreateserial \
        -days 2 -extfile "$C/$1.ext" -out "$C/$1.pem" 2>/dev/null
}
SERVER_EXT="subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"
if ! { gen_ca ca1 && gen_ca ca2 && gen_leaf server ca1 "$SERVER_EXT" &&
       gen_leaf client1 ca1 "extendedKeyUsage=clientAuth" &&
       gen_leaf client2 ca2 "extendedKeyUsage=clientAuth"; }; then
    fail certificates "openssl could not make the test certificates"
    finish
fi
cp "$C/server.pem" "$C/served.pem"
cp "$C/server.key" "$C/served.key"

# Cost 5: the checks count, not their price.
HASH_PROM=$("$HELPERS/bcrypt_hash" 'pr0m secret' 5)
HASH_OTHER=$("$HELPERS/bcrypt_hash" other-pass 5)
check bcrypt_hashes_made test "${#HASH_PROM}" -eq 60 -a "${#HASH_OTHER}" -eq 60

# write_config [CLIENT_AUTH_JSON]: the agent's configuration.
write_config() {
    cat >"$TMP/agent.json" <<JSON
{ "interval_ms": 500,
  "targets": [],
  "web": {
    "tls_server_config": { "cert_file": "$C/served.pem", "key_file": "$C/served.key",
                           "min_version": "TLS12" ${1:-} },
    "basic_auth_users": { "prom": "$HASH_PROM", "other": "$HASH_OTHER" } },
  "limits": { "http_header_timeout_s": 1 } }
JSON
}
write_config
"$MEMAGENT" --check-config "$TMP/agent.json" >/dev/null
check config_valid test $? -eq 0
start_agent --no-bpf --config "$TMP/agent.json" || { fail agent_start; finish; }
check log_says_https grep -q "serving https://$AGENT_ADDR/metrics" "$AGENT_LOG"
URL=https://$AGENT_ADDR

# status ARGS...: the HTTP status curl got (000 when there was no answer).
status() { curl -s -o /dev/null -w '%{http_code}' --cacert "$C/ca1.pem" "$@"; }
# value SERIES: a series' value, scraped with the right password.
value() {
    curl -sf --cacert "$C/ca1.pem" -u 'prom:pr0m secret' "$URL/metrics" |
        awk -v p="$1 " 'index($0, p) == 1 { print $NF; exit }'
}
bcrypt_checks() {
    local m n
    m=$(value 'memagent_http_auth_bcrypt_checks_total{result="match"}')
    n=$(value 'memagent_http_auth_bcrypt_checks_total{result="mismatch"}')
    echo $(( ${m:-999} + ${n:-999} ))
}

# 503 until the first sample is published: wait for it.
scrape_ok() { [ "$(status -u 'prom:pr0m secret' "$URL/metrics")" = 200 ]; }
check curl_cacert_ok wait_until 20 scrape_ok
check wrong_password_401 test "$(status -u 'prom:wrong' "$URL/metrics")" = 401
check unknown_user_401 test "$(status -u 'nobody:pr0m secret' "$URL/metrics")" = 401
check no_credentials_401 test "$(status "$URL/metrics")" = 401
curl -s -o /dev/null --max-time 5 "http://$AGENT_ADDR/metrics"
check plain_http_refused test $? -ne 0
curl -s -o /dev/null --max-time 5 "$URL/metrics" -u 'prom:pr0m secret'
check untrusted_server_cert_refused test $? -ne 0
check denied_counted test "$(value 'memagent_http_auth_failures_total{reason="denied"}')" -ge 2

# A client that opens a TCP connection and starts no handshake is closed at
# the header deadline, under TLS as without.
"$HELPERS/slowloris" "${AGENT_ADDR%:*}" "${AGENT_ADDR##*:}" 127.0.0.1 silent 1 3 >"$TMP/hold.out"
echo "  half-open client: $(cat "$TMP/hold.out")"
check tls_half_open_closed grep -Eq 'closed_by_server=[1-9]' "$TMP/hold.out"
check tls_header_timeout_counted \
    test "$(value 'memagent_http_connections_closed_total{reason="header_timeout"}')" -ge 1

# 100 scrapes with the right password, over new connections and kept ones,
# and 20 with a second user: at most one bcrypt check per credential.
before=$(bcrypt_checks)
urls=()
for _ in $(seq 50); do urls+=("$URL/metrics" -o /dev/null); done
ok=0
for _ in 1 2; do
    curl -sf --cacert "$C/ca1.pem" -u 'prom:pr0m secret' "${urls[@]}" && ok=$((ok + 1))
done
for _ in $(seq 20); do
    curl -sf --cacert "$C/ca1.pem" -u 'other:other-pass' "$URL/metrics" -o /dev/null && ok=$((ok + 1))
done
after=$(bcrypt_checks)
echo "  bcrypt checks: $before before, $after after 100 + 20 scrapes"
check hundred_scrapes_served test "$ok" -eq 22
# The value() calls themselves use the prom credential, already checked:
# the only new check is the other user's first.
check one_bcrypt_check_per_credential test $(( after - before )) -eq 1
check bcrypt_matches_are_distinct_credentials \
    test "$(value 'memagent_http_auth_bcrypt_checks_total{result="match"}')" -eq 2
check bcrypt_mismatches_are_the_wrong_ones \
    test "$(value 'memagent_http_auth_bcrypt_checks_total{result="mismatch"}')" -eq 2

# Prometheus scrapes over https with basic_auth and the CA.
printf '%s' 'pr0m secret' >"$TMP/password"
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: memagent
    scheme: https
    basic_auth:
      username: prom
      password_file: $TMP/password
    tls_config:
      ca_file: $C/ca1.pem
    static_configs:
      - targets: ['$AGENT_ADDR']
YML
check prometheus_ready start_prometheus "$TMP/prometheus.yml"
check prometheus_https_basic_auth_up wait_until 60 target_up

# A new certificate on disk (same CA, new key): served after SIGHUP.
fingerprint() {
    openssl s_client -connect "$AGENT_ADDR" -CAfile "$C/ca1.pem" </dev/null 2>/dev/null |
        openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
old_fp=$(fingerprint)
gen_leaf renewed ca1 "$SERVER_EXT"
new_fp=$(openssl x509 -in "$C/renewed.pem" -noout -fingerprint -sha256)
check old_certificate_served test -n "$old_fp" -a "$old_fp" != "$new_fp"
cp "$C/renewed.key" "$C/served.key"
cp "$C/renewed.pem" "$C/served.pem"
reloads=$(grep -c 'configuration reloaded' "$AGENT_LOG")
kill -HUP "$AGENT_PID"
reloaded() { [ "$(grep -c 'configuration reloaded' "$AGENT_LOG")" -gt "$reloads" ]; }
check reload_done wait_until 20 reloaded
check renewed_certificate_served test "$(fingerprint)" = "$new_fp"
check same_address_after_reload grep -q "serving https://$AGENT_ADDR/metrics" "$AGENT_LOG"
check renewed_curl_ok test "$(status -u 'prom:pr0m secret' "$URL/metrics")" = 200

# A broken certificate file: the reload fails, the served one stays.
echo garbage >"$C/served.pem"
reloads=$(grep -c 'reload failed' "$AGENT_LOG")
kill -HUP "$AGENT_PID"
failed() { [ "$(grep -c 'reload failed' "$AGENT_LOG")" -gt "$reloads" ]; }
check broken_certificate_reload_fails wait_until 20 failed
check broken_certificate_keeps_serving test "$(fingerprint)" = "$new_fp"
cp "$C/renewed.pem" "$C/served.pem"
# A key that does not match the certificate: refused the same way.
cp "$C/client1.key" "$C/served.key"
reloads=$(grep -c 'reload failed' "$AGENT_LOG")
kill -HUP "$AGENT_PID"
check mismatched_key_reload_fails wait_until 20 failed
check mismatched_key_keeps_serving test "$(fingerprint)" = "$new_fp"
cp "$C/renewed.key" "$C/served.key"

# Client certificates, required and verified against ca1 (a reload).
write_config ', "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": "'"$C/ca1.pem"'"'
reloads=$(grep -c 'configuration reloaded' "$AGENT_LOG")
kill -HUP "$AGENT_PID"
check client_auth_reload_done wait_until 20 reloaded
curl -s -o /dev/null --max-time 5 --cacert "$C/ca1.pem" -u 'prom:pr0m secret' "$URL/metrics"
check no_client_cert_refused test $? -ne 0
curl -s -o /dev/null --max-time 5 --cacert "$C/ca1.pem" -u 'prom:pr0m secret' \
    --cert "$C/client2.pem" --key "$C/client2.key" "$URL/metrics"
check other_ca_client_cert_refused test $? -ne 0
check right_client_cert_ok test "$(status -u 'prom:pr0m secret' --cert "$C/client1.pem" \
    --key "$C/client1.key" "$URL/metrics")" = 200

# A verifying client_auth_type without client_ca_file is a config error
# with its position.
cat >"$TMP/bad.json" <<JSON
{ "web": { "tls_server_config": { "cert_file": "$C/served.pem", "key_file": "$C/served.key",
    "client_auth_type": "RequireAndVerifyClientCert" } } }
JSON
# --check-config reads the certificate and key as the server would.
cp "$C/client1.key" "$TMP/wrong.key"
sed "s|$C/served.key|$TMP/wrong.key|" "$TMP/agent.json" >"$TMP/mismatch.json"
"$MEMAGENT" --check-config "$TMP/mismatch.json" 2>"$TMP/mismatch.err"
check check_config_mismatched_key test $? -eq 78
check check_config_mismatch_says_files grep -q "mismatch.json: web: $C/served.pem, $TMP/wrong.key: " \
    "$TMP/mismatch.err"
"$MEMAGENT" --check-config "$TMP/bad.json" 2>"$TMP/bad.err"
check bad_config_exit_78 test $? -eq 78
cat "$TMP/bad.err"
check bad_config_names_key grep -q "bad.json:2:25: web.tls_server_config.client_auth_type: " "$TMP/bad.err"

kill -TERM "$PROM_PID"; wait "$PROM_PID"
check prometheus_stopped test $? -eq 0
check agent_clean_exit stop_agent
finish
