#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped Prometheus rules (systemd/memagent.rules.yml): promtool finds
# them valid, and its unit tests (tests/promtool/memagent.rules.test.yml:
# each alert firing on some series and not on others) pass. A broken copy
# must fail, so the unit tests can fail at all.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
    skip rules "promtool is not installed (scripts/setup.sh test installs prometheus)"
    finish
fi

out=$(promtool check rules systemd/memagent.rules.yml 2>&1)
check check_rules sh -c "echo '$out' | grep -q 'SUCCESS: 8 rules found'"
out=$(promtool test rules tests/promtool/memagent.rules.test.yml 2>&1)
rc=$?
if [ $rc -eq 0 ]; then pass test_rules; else fail test_rules "$out"; fi

# Each alert of the rules file has a unit test.
for a in $(sed -n 's/^ *- alert: //p' systemd/memagent.rules.yml); do
    check "unit_test_for_$a" grep -q "alertname: $a\$" tests/promtool/memagent.rules.test.yml
done

# The same tests on a copy whose leak alert never fires must fail.
mkdir -p "$TMP/systemd" "$TMP/tests/promtool"
sed 's/memagent_heap_leak_suspected == 1/memagent_heap_leak_suspected == 2/' systemd/memagent.rules.yml \
    >"$TMP/systemd/memagent.rules.yml"
cp tests/promtool/memagent.rules.test.yml "$TMP/tests/promtool/"
promtool test rules "$TMP/tests/promtool/memagent.rules.test.yml" >/dev/null 2>&1
check broken_rules_fail test $? -ne 0
finish
