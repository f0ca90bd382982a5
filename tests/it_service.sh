#!/bin/bash
# SPDX-License-Identifier: MIT
# The unit under a real systemd: PID 1 here is not systemd, so a qemu guest
# boots the host's own systemd as its PID 1 (tests/kernels/systemd_guest.sh,
# Debian's 6.12 kernel, cached in build/kernels) and runs
# tests/kernels/service_checks.sh there as a service: make install,
# systemctl start/reload, the sandbox as applied, apps of nobody's started
# afterwards, BPF, the watchdog. Their PASS/FAIL lines are this test's.
. "$(dirname "$0")/lib.sh"

for c in qemu-system-x86_64 busybox depmod; do
    if ! command -v "$c" >/dev/null; then
        [ -n "${CI:-}" ] && { fail service_guest "$c is not installed (scripts/setup.sh test)"; finish; }
        skip service_guest "$c is not installed (scripts/setup.sh test)"
        finish
    fi
done
if [ ! -x /lib/systemd/systemd ]; then
    skip service_guest "no /lib/systemd/systemd on this host to boot"
    finish
fi
if [ -z "${MEMAGENT_RELEASE:-}" ]; then
    [ -n "${CI:-}" ] && { fail service_guest "no release build (make test builds build/memagent)"; finish; }
    skip service_guest "no release build beside $BUILD: the unit runs the release binary"
    finish
fi
# make install here, into a DESTDIR the guest lays onto its root.
stage=$TMP/stage
if ! make -s O="$(dirname "$MEMAGENT_RELEASE")" install DESTDIR="$stage" PREFIX=/usr/local >"$TMP/install.log" 2>&1; then
    fail make_install_stage "$(tail -5 "$TMP/install.log")"
    finish
fi
chmod 0755 "$TMP"
# The Node client, packed and installed from its tarball here as
# tests/it_node.sh does (npm over 9p under emulation is slow): the guest's
# node (the host's /usr/bin/node) runs an app of nobody's from the stage.
if command -v node >/dev/null && command -v npm >/dev/null; then
    napp=$stage/usr/local/share/memagent-it/node-app
    mkdir -p "$napp"
    src=$PWD
    (cd "$TMP" && npm pack --silent "$src/clients/node" >"$TMP/pack.out" 2>"$TMP/pack.err")
    echo '{"name":"memagent-it-service","private":true}' >"$napp/package.json"
    (cd "$napp" && npm install --offline --no-audit --no-fund --silent "$TMP/$(tail -1 "$TMP/pack.out")" \
        >"$TMP/npm.log" 2>&1)
    check node_client_staged test -f "$napp/node_modules/memagent-node/register.js"
    chmod -R a+rX "$stage/usr/local/share/memagent-it"
fi
GUEST_STAGE=$stage tests/kernels/systemd_guest.sh "$BUILD" tests/kernels/service_checks.sh "${SERVICE_KERNEL:-debian-6.12}" \
    >"$TMP/guest.out" 2>"$TMP/guest.err"
rc=$?
cat "$TMP/guest.out"
sed 's/^/  /' "$TMP/guest.err"
check guest_checks_passed test $rc -eq 0
check guest_checks_ran grep -q '^PASS make_install' "$TMP/guest.out"
finish
