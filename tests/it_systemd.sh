#!/bin/bash
# SPDX-License-Identifier: MIT
# make install lays out what the unit expects; the unit passes
# `systemd-analyze verify` and keeps a low exposure score (PID 1 here is not
# systemd: both run offline on the file).
. "$(dirname "$0")/lib.sh"

# The shipped example config is valid for the binary the unit runs.
check shipped_config_valid "$MEMAGENT" --check-config systemd/memagent.json

# --- make install, under DESTDIR ----------------------------------------------------
root=$TMP/root
if make -s O="$BUILD" SANITIZE=1 OPT="-O1 -g" install DESTDIR="$root" PREFIX=/usr/local >"$TMP/install.log" 2>&1; then
    pass make_install
    for f in usr/local/bin/memagent usr/local/lib/systemd/system/memagent.service \
             usr/local/lib/sysusers.d/memagent.conf usr/local/lib/tmpfiles.d/memagent.conf \
             etc/memagent/memagent.json usr/local/share/doc/memagent/README.md \
             usr/local/include/gengc.h usr/local/lib/pkgconfig/gengc.pc; do
        check "installed_${f//\//_}" test -e "$root/$f"
    done
    check installed_config_valid "$MEMAGENT" --check-config "$root/etc/memagent/memagent.json"
    check installed_unit_execstart grep -q '^ExecStart=/usr/local/bin/memagent --config /etc/memagent/memagent.json$' \
        "$root/usr/local/lib/systemd/system/memagent.service"
else
    fail make_install "$(tail -5 "$TMP/install.log")"
fi

# --- the unit -------------------------------------------------------------------------
if ! command -v systemd-analyze >/dev/null; then
    skip systemd_unit "systemd-analyze is not installed"
    finish
fi
# verify insists that ExecStart exists: point it at the build.
sed "s|/usr/local/bin/memagent|$MEMAGENT|" systemd/memagent.service >"$TMP/memagent.service"
out=$(systemd-analyze verify --man=no "$TMP/memagent.service" 2>&1)
check unit_verifies test -z "$out"
[ -n "$out" ] && echo "$out" | sed 's/^/    /'

score=$(systemd-analyze security --offline=yes "$TMP/memagent.service" 2>&1 |
    sed -n 's/.*Overall exposure level for memagent.service: \([0-9.]*\).*/\1/p')
echo "  exposure level: ${score:-?}"
check unit_exposure_at_most_3 awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }'
finish
