/* SPDX-License-Identifier: MIT */
/* notify: the service manager's notification protocol (sd_notify(3)), in the few lines it takes. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

/* Parses a decimal environment value in 1..UINT64_MAX. */
static int env_u64(const char *name, uint64_t *ret)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long x;

	if (!v)
		return 0;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || end == v || *end || x == 0)
		return -EINVAL;
	*ret = x;
	return 1;
}

/* The watchdog: sd_watchdog_enabled(3)'s rules. WATCHDOG_PID, when set,
 * names the process the manager watches; a child that inherited the
 * variables must not ping for its parent. */
static uint64_t watchdog_from_env(void)
{
	uint64_t usec = 0, pid = 0;

	if (env_u64("WATCHDOG_USEC", &usec) <= 0)
		return 0;
	if (env_u64("WATCHDOG_PID", &pid) < 0 || (pid && pid != (uint64_t)getpid()))
		return 0;
	return usec;
}

static int socket_address(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	/* A path, or "@name" for the abstract namespace (a leading NUL). */
	if ((path[0] != '/' && path[0] != '@') || n < 2 || n >= sizeof(sa->sun_path))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@')
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	return 0;
}

int notify_init(struct notify *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r;

	n->fd = -1;
	n->watchdog_usec = 0;
	if (!path)
		return 0;
	r = socket_address(path, &sa, &len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Connected once: every later message is a plain send(), and
	 * SystemCallFilter= need not allow more than the socket calls. */
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	n->fd = fd;
	n->watchdog_usec = watchdog_from_env();
	return 0;
}

void notify_done(struct notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	n->watchdog_usec = 0;
}

int notify_send(const struct notify *n, const char *text)
{
	if (n->fd < 0)
		return 0;
	/* MSG_NOSIGNAL: a manager gone away must not kill us with SIGPIPE. */
	if (send(n->fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

/* Sends head, then "STATUS=status" when status is not NULL. */
static int send_with_status(const struct notify *n, const char *head, const char *status)
{
	char msg[512];
	int len;

	if (n->fd < 0)
		return 0;
	if (status)
		len = snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", head, head[0] ? "\n" : "", status);
	else
		len = snprintf(msg, sizeof(msg), "%s", head);
	if (len < 0 || (size_t)len >= sizeof(msg))
		return -ENAMETOOLONG;
	return notify_send(n, msg);
}

int notify_ready(const struct notify *n, const char *status)
{
	return send_with_status(n, "READY=1", status);
}

int notify_reloading(const struct notify *n)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	return notify_send(n, msg);
}

int notify_stopping(const struct notify *n)
{
	return send_with_status(n, "STOPPING=1", "stopping");
}

int notify_watchdog(const struct notify *n)
{
	return n->watchdog_usec ? notify_send(n, "WATCHDOG=1") : 0;
}

int notify_watchdog_interval_ms(const struct notify *n)
{
	uint64_t ms;

	if (!n->watchdog_usec)
		return -1;
	ms = n->watchdog_usec / 2000;
	if (ms > 0x7fffffff)
		ms = 0x7fffffff;
	return ms ? (int)ms : 1;
}
