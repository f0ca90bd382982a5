/* SPDX-License-Identifier: MIT */
/* notify: the service manager's notification protocol (sd_notify(3)), in the few lines it takes.
 *
 * systemd documents the protocol as stable: one datagram of "KEY=VALUE\n"
 * lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name"
 * for the abstract namespace). Linking libsystemd for it would, on Debian
 * 12, mean installing libsystemd-dev, which upgrades systemd itself; this
 * client is the smaller dependency. Without $NOTIFY_SOCKET (run by hand, by
 * a test, by another supervisor) every call is a no-op returning 0.
 */
#ifndef MEMAGENT_NOTIFY_H
#define MEMAGENT_NOTIFY_H

#include <stdint.h>

struct notify {
	int fd;                   /* -1 when no service manager listens */
	uint64_t watchdog_usec;   /* 0: no watchdog asked for */
};

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID once (a watchdog
 * meant for another pid is ignored) and opens the datagram socket
 * (SOCK_CLOEXEC). Returns 0 with n usable (a no-op without the variable),
 * or a negative errno (-EINVAL for a malformed variable, the socket's
 * error) with n a no-op. Call before threads start: it reads environ. */
int notify_init(struct notify *n);
void notify_done(struct notify *n);

/* Sends text (lines "KEY=VALUE", '\n'-separated) as one datagram. Returns
 * 0 (also when nobody listens) or a negative errno: the manager is then
 * uninformed, the agent carries on. */
int notify_send(const struct notify *n, const char *text);

/* sd_notify's standard messages. status may be NULL (no STATUS= line). */
int notify_ready(const struct notify *n, const char *status);
/* RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, as systemd wants). */
int notify_reloading(const struct notify *n);
int notify_stopping(const struct notify *n);
int notify_watchdog(const struct notify *n);

/* How often to ping: half of WATCHDOG_USEC in milliseconds (at least 1),
 * or -1 without a watchdog: an epoll_wait() timeout as it stands. */
int notify_watchdog_interval_ms(const struct notify *n);

#endif
