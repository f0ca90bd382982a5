/* SPDX-License-Identifier: MIT */
/* Heap snapshots on request (collectors/heapdump.c): the page found in a real fd table, the socket, every answer. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapdump.h"
#include "telemetry.h"
#include "test.h"

static const char hex[] = "0123456789abcdef";

/* The app side, in a child: a version-2 page on /dev/shm (unlinked) that
 * allows snapshots (or not: mode "noflag"), an abstract socket (the name
 * NUL-padded to sun_path in mode "padded", as libuv binds it), and one
 * answer per connection as the mode says. Tells ready on fd. */
/* The page of the app with that pid (the parent builds the same one for
 * heapdump_send()). */
static void fill_page(struct gengc_telemetry_page *p, pid_t pid, bool allow)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->magic, GENGC_TELEMETRY_MAGIC, 8);
	p->version = GENGC_TELEMETRY_VERSION;
	p->size = GENGC_TELEMETRY_SIZE;
	p->protocol = GENGC_TELEMETRY_PWRITE;
	p->pid = (uint32_t)pid;
	p->seq = p->seq_end = 2;
	p->heap_id = 1;
	strcpy(p->name, "dump-app");
	if (allow) {
		p->flags = GENGC_TELEMETRY_SNAPSHOT_ALLOWED;
		snprintf(p->snapshot_socket, sizeof(p->snapshot_socket), "memagent-test.%d", pid);
		for (int i = 0; i < GENGC_TELEMETRY_TOKEN_BYTES; i++)
			p->snapshot_token[i] = (uint8_t)(i * 37 + 11);
	}
}

static void app(const char *mode, int ready)
{
	struct gengc_telemetry_page p;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[] = "/dev/shm/gengc-stats-test-XXXXXX", name[64], want[128], req[256];
	socklen_t len;
	int fd, s;

	fill_page(&p, getpid(), strcmp(mode, "noflag") != 0);
	snprintf(name, sizeof(name), "memagent-test.%d", getpid());
	fd = mkstemp(path);
	if (fd < 0 || pwrite(fd, &p, sizeof(p), 0) != (ssize_t)sizeof(p) || unlink(path) < 0)
		_exit(2);
	strcpy(sa.sun_path + 1, name);
	len = strcmp(mode, "padded") == 0 ? (socklen_t)sizeof(sa)
					   : (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, len) < 0 || listen(s, 4) < 0)
		_exit(3);
	size_t n = (size_t)snprintf(want, sizeof(want), "snapshot ");
	for (int i = 0; i < GENGC_TELEMETRY_TOKEN_BYTES; i++) {
		want[n++] = hex[p.snapshot_token[i] >> 4];
		want[n++] = hex[p.snapshot_token[i] & 15];
	}
	want[n++] = '\n';
	want[n] = 0;
	if (write(ready, "r", 1) != 1)
		_exit(4);
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		ssize_t got;
		const char *answer;

		if (c < 0)
			_exit(5);
		got = read(c, req, sizeof(req) - 1);
		req[got > 0 ? got : 0] = 0;
		if (strcmp(mode, "silent") == 0) {
			pause();
		}
		if (strcmp(mode, "count") == 0 && strcmp(req, want) == 0 && write(ready, "g", 1) != 1)
			_exit(7);
		if (strcmp(req, want) != 0)
			answer = "refused\n";      /* the token did not arrive intact */
		else if (!strcmp(mode, "busy"))
			answer = "busy\n";
		else if (!strcmp(mode, "error"))
			answer = "error ENOSPC: no space left\n";
		else if (!strcmp(mode, "garbage"))
			answer = "sure, whatever\n";
		else
			answer = "ok /var/tmp/dump-app-1.heapsnapshot\n";
		if (write(c, answer, strlen(answer)) < 0)
			_exit(6);
		close(c);
	}
}

/* Runs the app in mode and asks it; returns heapdump_request()'s result. */
static int ask(const char *mode, int timeout_ms, char *path, size_t n)
{
	int p[2], r;
	char c;
	pid_t pid;

	if (pipe(p) < 0)
		return -999;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		app(mode, p[1]);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		r = -998;
	else
		r = heapdump_request("/proc", pid, timeout_ms, path, n);
	close(p[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return r;
}

static void test_answers(void)
{
	char path[HEAPDUMP_PATH_BYTES] = "untouched";

	CHECK_EQ(ask("ok", 5000, path, sizeof(path)), 0);
	CHECK_STR(path, "/var/tmp/dump-app-1.heapsnapshot");
	strcpy(path, "untouched");
	CHECK_EQ(ask("padded", 5000, path, sizeof(path)), 0);        /* Node 20's libuv binding */
	CHECK_STR(path, "/var/tmp/dump-app-1.heapsnapshot");
	strcpy(path, "untouched");
	CHECK_EQ(ask("busy", 5000, path, sizeof(path)), -EBUSY);
	CHECK_EQ(ask("error", 5000, path, sizeof(path)), -EIO);
	CHECK_EQ(ask("garbage", 5000, path, sizeof(path)), -EPROTO);
	CHECK_EQ(ask("silent", 200, path, sizeof(path)), -ETIMEDOUT);
	CHECK_EQ(ask("noflag", 5000, path, sizeof(path)), -EOPNOTSUPP);
	CHECK_EQ(ask("ok", 5000, path, 10), -ENAMETOOLONG);
	CHECK_STR(path, "untouched");   /* written only on success */
}

/* heapdump_send(): the request arrives, nothing waits for the answer. */
static void test_send(void)
{
	struct gengc_telemetry_page p;
	int pp[2];
	char c = 0;
	pid_t pid;

	REQUIRE(pipe(pp) == 0);
	pid = fork();
	if (pid == 0) {
		close(pp[0]);
		app("count", pp[1]);
	}
	close(pp[1]);
	CHECK(read(pp[0], &c, 1) == 1 && c == 'r');
	fill_page(&p, pid, true);
	CHECK_EQ(heapdump_send(&p), 0);
	CHECK(read(pp[0], &c, 1) == 1 && c == 'g');            /* the app got the token */
	fill_page(&p, pid, false);
	CHECK_EQ(heapdump_send(&p), -EOPNOTSUPP);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fill_page(&p, pid, true);
	CHECK_EQ(heapdump_send(&p), -ENOENT);                   /* nobody listens any more */
	close(pp[0]);
}

static void test_no_page(void)
{
	char path[HEAPDUMP_PATH_BYTES];

	CHECK_EQ(heapdump_request("/proc", getpid(), 100, path, sizeof(path)), -ENOENT);
	CHECK_EQ(heapdump_request("/proc", 0x3fffffff, 100, path, sizeof(path)), -ESRCH);
	CHECK(strstr(heapdump_strerror(-EOPNOTSUPP), "does not allow") != NULL);
	CHECK(strstr(heapdump_strerror(-ENOSPC), "space") != NULL);
}

static void test_page_link(void)
{
	bool memfd;
	const char *a = "/memfd:gengc-stats (deleted)", *b = "/dev/shm/gengc-stats-4242-1-ab (deleted)";
	const char *c = "/dev/shm/gengc-stats-4242-1-ab", *d = "/dev/shm/other (deleted)";

	CHECK(telemetry_page_link(a, strlen(a), &memfd) && memfd);
	CHECK(telemetry_page_link(b, strlen(b), &memfd) && !memfd);
	CHECK(!telemetry_page_link(c, strlen(c), &memfd));      /* still linked: not a page */
	CHECK(!telemetry_page_link(d, strlen(d), &memfd));
}

/* What a page link opens is checked too: a linked /dev/shm file whose
 * name merely ends in " (deleted)" is no page; unlinked, it is. */
static void test_page_open(void)
{
	char path[] = "/dev/shm/gengc-stats-open-XXXXXX (deleted)", name[16];
	struct stat sb;
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, got;

	REQUIRE(dir >= 0);
	fd = mkstemps(path, (int)strlen(" (deleted)"));
	REQUIRE(fd >= 0);
	snprintf(name, sizeof(name), "%d", fd);
	CHECK_EQ(telemetry_page_open(dir, name, &sb), -ENOENT);
	REQUIRE(unlink(path) == 0);
	got = telemetry_page_open(dir, name, &sb);
	CHECK(got >= 0 && sb.st_nlink == 0);
	if (got >= 0)
		close(got);
	close(fd);
	fd = memfd_create("gengc-stats", MFD_CLOEXEC);
	REQUIRE(fd >= 0);
	snprintf(name, sizeof(name), "%d", fd);
	got = telemetry_page_open(dir, name, &sb);
	CHECK(got >= 0);
	if (got >= 0)
		close(got);
	close(fd);
	CHECK_EQ(telemetry_page_open(dir, "0", &sb), -ENOENT);   /* stdin: no page */
	close(dir);
}

int main(void)
{
	if (access("/dev/shm", W_OK) != 0) {
		printf("SKIP test_heapdump: /dev/shm not writable\n");
		return 0;
	}
	RUN(test_answers);
	RUN(test_send);
	RUN(test_no_page);
	RUN(test_page_link);
	RUN(test_page_open);
	return test_done();
}
