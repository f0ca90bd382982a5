/* SPDX-License-Identifier: MIT */
/* Heap snapshots on request: asking an instrumented app, over the socket its page names, to write one.
 *
 * The channel needs no capability of the agent: no signal (a service has no
 * CAP_KILL over the apps it watches), only a connect() to the abstract UNIX
 * socket the app's page names. Who may ask is decided by who can read the
 * page: it is reached only through /proc/PID/fd (ptrace read access: root,
 * CAP_SYS_PTRACE or the app's own user), and it carries a random token the
 * request must repeat. The wire protocol is one line each way:
 *
 *   agent -> app   "snapshot HEX-TOKEN\n"
 *   app -> agent   "ok PATH\n" | "busy\n" | "refused\n" | "error TEXT\n"
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "heapdump.h"
#include "telemetry.h"

_Static_assert(HEAPDUMP_PATH_BYTES == GENGC_TELEMETRY_PATH_BYTES, "the page's path field");

#define ANSWER_BYTES (GENGC_TELEMETRY_PATH_BYTES + 64)

/* The first page in pid's fd table that reads whole and allows snapshots
 * (a process with worker threads has one page per thread; the main
 * thread's is the one with the socket). */
static int find_page(const char *proc_root, int pid, struct gengc_telemetry_page *ret)
{
	char path[PATH_MAX];
	bool found = false, any = false;
	struct dirent *de;
	DIR *d;
	int dfd;

	snprintf(path, sizeof(path), "%s/%d/fd", proc_root, pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno == -ENOENT ? -ESRCH : -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -ENOMEM;
	}
	while (!found && (de = readdir(d))) {
		struct gengc_telemetry_page p;
		struct stat sb;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = telemetry_page_open(dfd, de->d_name, &sb);
		if (fd < 0)
			continue;
		if (telemetry_read(fd, &p) == TELEMETRY_OK) {
			any = true;
			if (p.flags & GENGC_TELEMETRY_SNAPSHOT_ALLOWED) {
				*ret = p;
				found = true;
			}
		}
		close(fd);
	}
	closedir(d);
	return found ? 0 : any ? -EOPNOTSUPP : -ENOENT;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line from fd into buf (NUL-terminated, without the newline), before
 * deadline (CLOCK_MONOTONIC ms). */
static int read_line(int fd, char *buf, size_t cap, long long deadline)
{
	size_t n = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t got;
		char *nl;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!pfd.revents)
			continue;
		got = read(fd, buf + n, cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EPROTO;         /* closed before a whole line */
		n += (size_t)got;
		buf[n] = 0;
		nl = memchr(buf, '\n', n);
		if (nl) {
			*nl = 0;
			return 0;
		}
		if (n == cap - 1)
			return -EPROTO;
	}
}

/* The request line for page p: "snapshot HEX\n". Returns its length. */
static size_t request_of(const struct gengc_telemetry_page *p, char *req, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = (size_t)snprintf(req, cap, "snapshot ");

	for (size_t i = 0; i < GENGC_TELEMETRY_TOKEN_BYTES; i++) {
		req[n++] = hex[p->snapshot_token[i] >> 4];
		req[n++] = hex[p->snapshot_token[i] & 15];
	}
	req[n++] = '\n';
	return n;
}

/* Sends the request on the connected socket fd and reads the answer. */
static int ask(int fd, const struct gengc_telemetry_page *p, long long deadline, char *ret_path, size_t path_len)
{
	char req[16 + 2 * GENGC_TELEMETRY_TOKEN_BYTES], answer[ANSWER_BYTES];
	size_t n = request_of(p, req, sizeof(req));
	int r;

	if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -EPROTO;
	r = read_line(fd, answer, sizeof(answer), deadline);
	if (r < 0)
		return r;
	if (strncmp(answer, "ok /", 4) == 0) {
		if (strlen(answer + 3) >= path_len)
			return -ENAMETOOLONG;
		strcpy(ret_path, answer + 3);
		return 0;
	}
	if (strcmp(answer, "busy") == 0)
		return -EBUSY;
	if (strcmp(answer, "refused") == 0)
		return -EACCES;
	if (strncmp(answer, "error", 5) == 0)
		return -EIO;
	return -EPROTO;
}

/* A socket connected to the abstract address page p names: the name alone,
 * or (libuv before uv_pipe_bind2, so Node 20) the name NUL-padded to the
 * whole sun_path; an abstract address is all its bytes, so both are tried.
 * Returns the fd or -errno (-ENOENT: nothing listens). */
static int connect_page(const struct gengc_telemetry_page *p, int flags)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* telemetry_read() checked the name: terminated, 1..63 bytes. */
	size_t name_len = strlen(p->snapshot_socket);
	int r = -ENOENT;

	memcpy(sa.sun_path + 1, p->snapshot_socket, name_len);
	for (int padded = 0; padded < 2; padded++) {
		socklen_t len = padded ? (socklen_t)sizeof(sa)
				       : (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + name_len);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, len) == 0)
			return fd;
		r = errno == ECONNREFUSED ? -ENOENT : -errno;
		close(fd);
	}
	return r;
}

int heapdump_request(const char *proc_root, int pid, int timeout_ms, char *ret_path, size_t path_len)
{
	struct gengc_telemetry_page p;
	long long deadline = now_ms() + timeout_ms;
	int fd, r;

	r = find_page(proc_root, pid, &p);
	if (r < 0)
		return r;
	fd = connect_page(&p, 0);
	if (fd < 0)
		return fd;
	r = ask(fd, &p, deadline, ret_path, path_len);
	close(fd);
	return r;
}

int heapdump_send(const struct gengc_telemetry_page *p)
{
	char req[16 + 2 * GENGC_TELEMETRY_TOKEN_BYTES];
	size_t n;
	int fd;

	if (!(p->flags & GENGC_TELEMETRY_SNAPSHOT_ALLOWED))
		return -EOPNOTSUPP;
	/* Non-blocking: a full backlog is a refusal (EAGAIN), never a wait. */
	fd = connect_page(p, SOCK_NONBLOCK);
	if (fd < 0)
		return fd;
	n = request_of(p, req, sizeof(req));
	if (send(fd, req, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n) {
		int r = errno ? -errno : -EIO;

		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

const char *heapdump_strerror(int r)
{
	switch (r) {
	case -ENOENT:
		return "no telemetry page (or its socket) in the process";
	case -ESRCH:
		return "no such process";
	case -EOPNOTSUPP:
		return "the app does not allow heap snapshots (memagent-node: snapshotDir unset)";
	case -EBUSY:
		return "the app wrote one sooner than its snapshot interval allows";
	case -EACCES:
		return "permission denied (the page, or the app refused the request)";
	case -EIO:
		return "the app failed to write the snapshot";
	case -ETIMEDOUT:
		return "no answer in time";
	case -EPROTO:
		return "an answer outside the protocol";
	default:
		return strerror(-r);
	}
}
