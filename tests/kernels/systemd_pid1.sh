#!/bin/bash
# SPDX-License-Identifier: MIT
# PID 1 of a systemd guest (tests/kernels/systemd_guest.sh), after
# tests/kernels/init: prepares the overlay root for a quick boot and hands
# PID 1 to the host's own systemd, with a target of ours that runs the
# checks (/.matrix/checks.sh) as a service and powers off after them.
set -u
. /.matrix/env
# The host's fstab names its devices, which this guest has not: the root is
# the overlay, nothing else is mounted.
: >/etc/fstab
mkdir -p /etc/systemd/system
# Boot-time jobs that walk the host's trees over 9p (tmpfiles --remove
# empties the host's /tmp into overlay whiteouts) or rebuild its caches:
# minutes under emulation, and nothing the checks need (systemd itself
# makes the unit's StateDirectory=).
for u in systemd-tmpfiles-setup.service ldconfig.service systemd-hwdb-update.service \
         systemd-journal-catalog-update.service systemd-update-done.service \
         systemd-udev-trigger.service systemd-udevd.service systemd-networkd.service \
         systemd-resolved.service; do
    ln -sf /dev/null "/etc/systemd/system/$u"
done
cat >/etc/systemd/system/guest-checks.service <<UNIT
[Unit]
Description=the checks of tests/kernels/systemd_guest.sh
After=basic.target
[Service]
Type=oneshot
WorkingDirectory=$GUEST_SRC
Environment=GUEST_SRC=$GUEST_SRC GUEST_BUILD=$GUEST_BUILD GUEST_RELEASE=$GUEST_RELEASE CI=$GUEST_CI
Environment=GUEST_STAGE=$GUEST_STAGE
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
ExecStart=/bin/bash -c '/bin/bash /.matrix/checks.sh >/.matrix/checks.out 2>/.matrix/checks.err; echo \$? >/.matrix/checks.rc'
ExecStartPost=/bin/sh -c 'sync; echo o >/proc/sysrq-trigger'
TimeoutStartSec=infinity
UNIT
cat >/etc/systemd/system/guest.target <<UNIT
[Unit]
Description=the systemd guest's checks
Requires=basic.target guest-checks.service
After=basic.target guest-checks.service
AllowIsolate=yes
UNIT
# Nothing of the host's own boot: no gettys, no network managers.
exec /lib/systemd/systemd --unit=guest.target --log-level=notice
