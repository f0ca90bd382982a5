/* SPDX-License-Identifier: MIT */
/* Tests of collectors/sock_iter and collectors/sockdiag: queue depths of real sockets made here, against ss and each other.
 *
 * Every socket is made by the test on loopback (or in a network namespace
 * it makes with `ip netns add` and removes): listeners nobody accepts on,
 * a UDP socket nobody reads, a TCP connection whose receiver stopped
 * reading. ss (iproute2) is the reference: what it shows for a socket at
 * the same moment, and the two backends must agree with each other. The BPF
 * backend is loaded twice: as the kernel allows (the fd-table walk on 6.7+)
 * and with iter/task_file forced (MEMAGENT_SOCK_ITER_NO_WALK=1); every
 * record looked up in the first must be the same in the second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "bpf_support.h"
#include "sock_iter.h"
#include "sockdiag.h"
#include "sockq.h"

#define BACKLOG 4
#define MAX_SOCKS 16384

static struct sock_iter *iter;
static struct sock_iter *iter_tf; /* iter/task_file forced */
static const char *iter_why = "not loaded";
static struct bpf_failure fl;
static struct sockdiag *diag;
static uint32_t own_netns;

/* The loader's own rule for when the walk can run (the forcing variable
 * is unset wherever this is asked). */
static bool can_walk(void)
{
	return bpf_support_task_walk("MEMAGENT_SOCK_ITER_NO_WALK");
}

/* ---- helpers --------------------------------------------------------------- */

static uint64_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static uint32_t netns_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint32_t)st.st_ino : 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct sockq *find_in(struct sock_iter *it, uint64_t ino, int32_t pid)
{
	const struct sockq *s;
	size_t n;

	if (!it || sock_iter_read(it, &s, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (s[i].ino == ino && s[i].pid == pid)
			return &s[i];
	return NULL;
}

/* Whether two records of one socket say the same. */
static bool same_sockq(const struct sockq *a, const struct sockq *b)
{
	return a->pid == b->pid && a->start_ns == b->start_ns && a->ino == b->ino &&
	       a->netns == b->netns && a->kind == b->kind && a->family == b->family &&
	       a->listener == b->listener && a->has_max == b->has_max &&
	       a->rqueue == b->rqueue && a->wqueue == b->wqueue && a->port == b->port &&
	       a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/* The BPF record of inode ino held by pid, or NULL; the same record from
 * iter/task_file, checked. */
static const struct sockq *iter_find(uint64_t ino, int32_t pid)
{
	static struct sockq copy;
	const struct sockq *s = find_in(iter, ino, pid), *t;

	if (!s)
		return NULL;
	copy = *s;
	t = find_in(iter_tf, ino, pid);
	CHECK(t != NULL);
	if (t)
		CHECK(same_sockq(&copy, t));
	return &copy;
}

struct found {
	uint64_t ino;
	struct sockq s;
	bool hit;
};

static int find_cb(void *arg, const struct sockq *s)
{
	struct found *f = arg;

	if (s->ino == f->ino) {
		f->s = *s;
		f->hit = true;
	}
	return 0;
}

/* The sock_diag record of inode ino, or false. */
static bool diag_find(uint64_t ino, struct sockq *ret)
{
	struct found f = { .ino = ino };

	if (sockdiag_dump(diag, find_cb, &f) < 0 || !f.hit)
		return false;
	*ret = f.s;
	return true;
}

/* Whether ss's local address column t is needle, or ends in ":needle". */
static bool local_is(const char *t, const char *needle)
{
	size_t lt = strlen(t), ln = strlen(needle);

	return strcmp(t, needle) == 0 ||
	       (lt > ln && strcmp(t + lt - ln, needle) == 0 && t[lt - ln - 1] == ':');
}

/* Runs `ss -H ARGS` and reads Recv-Q and Send-Q of the line whose local
 * address is needle (see local_is()). Returns 0 or -1. */
static int ss_queues(const char *args, const char *needle, unsigned *rq, unsigned *sq)
{
	char cmd[256], line[1024];
	FILE *p;
	int rc = -1;

	snprintf(cmd, sizeof(cmd), "ss -H %s 2>/dev/null", args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (rc < 0 && fgets(line, sizeof(line), p)) {
		char *tok[16], *save = NULL;
		int nt = 0;

		for (char *t = strtok_r(line, " \t\n", &save); t && nt < 16; t = strtok_r(NULL, " \t\n", &save))
			tok[nt++] = t;
		for (int i = 0; i + 3 < nt; i++) {
			if ((strcmp(tok[i], "LISTEN") == 0 || strcmp(tok[i], "ESTAB") == 0 ||
			     strcmp(tok[i], "UNCONN") == 0) && local_is(tok[i + 3], needle)) {
				*rq = (unsigned)strtoul(tok[i + 1], NULL, 10);
				*sq = (unsigned)strtoul(tok[i + 2], NULL, 10);
				rc = 0;
				break;
			}
		}
	}
	pclose(p);
	return rc;
}

static bool have_ss(void)
{
	return system("ss -V >/dev/null 2>&1") == 0;
}

/* A listener on addr (port 0: any), backlog BACKLOG, never accepting. */
static int listen_inet(int family, uint16_t *ret_port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*ret_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* A non-blocking connect to the loopback port; the fd, or -1. */
static int connect_inet(int family, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		len = sizeof(*a);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Polls until the listener's accept queue (as sock_diag reports it, the
 * kernel's own count) reaches want; false at the deadline. */
static bool wait_backlog(uint64_t ino, unsigned want)
{
	int64_t end = now_ms() + 5000;
	struct sockq s;

	while (now_ms() < end) {
		if (diag_find(ino, &s) && s.rqueue >= want)
			return true;
		poll(NULL, 0, 5);
	}
	return false;
}

static uint64_t listen_overflows(void)
{
	char buf[16384];
	uint64_t v = 0;
	int fd = open("/proc/self/net/netstat", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || sockdiag_parse_listen_overflows(buf, (size_t)n, &v) < 0)
		return 0;
	return v;
}

/* ---- cases ----------------------------------------------------------------- */

/* A TCP listener nobody accepts on: BPF, sock_diag and ss show the same
 * accept queue and maximum; the queue holds up to backlog + 1, and once
 * full more SYNs raise TcpExt ListenOverflows. */
static void tcp_listener(int family)
{
	char port_s[16];
	uint16_t port;
	int lfd, cfd[BACKLOG + 4], nc = 0;
	unsigned rq = 0, sq = 0;
	const struct sockq *b;
	struct sockq d;
	uint64_t ino, over0;
	int64_t end;

	if (!have_ss())
		TEST_SKIP("ss (iproute2) is not installed");
	lfd = listen_inet(family, &port);
	if (lfd < 0 && family == AF_INET6)
		TEST_SKIP("no IPv6 loopback");
	REQUIRE(lfd >= 0);
	ino = ino_of(lfd);
	for (; nc < 3; nc++)
		REQUIRE((cfd[nc] = connect_inet(family, port)) >= 0);
	REQUIRE(wait_backlog(ino, 3));
	snprintf(port_s, sizeof(port_s), "%u", port);
	REQUIRE(ss_queues(family == AF_INET ? "-ltn4" : "-ltn6", port_s, &rq, &sq) == 0);
	CHECK_EQ(rq, 3);
	CHECK_EQ(sq, BACKLOG);
	REQUIRE(diag_find(ino, &d));
	CHECK(d.listener && d.has_max);
	CHECK_EQ(d.rqueue, rq);
	CHECK_EQ(d.wqueue, sq);
	CHECK_EQ(d.port, port);
	if (iter) {
		REQUIRE((b = iter_find(ino, getpid())) != NULL);
		CHECK(b->listener);
		CHECK_EQ(b->kind, SOCKQ_TCP);
		CHECK_EQ(b->rqueue, rq);
		CHECK_EQ(b->wqueue, sq);
		CHECK_EQ(b->port, port);
		CHECK_EQ(b->netns, own_netns);
	}
	/* Fill it: backlog + 1 wait, the next SYNs are dropped and counted. */
	over0 = listen_overflows();
	for (; nc < BACKLOG + 4; nc++)
		REQUIRE((cfd[nc] = connect_inet(family, port)) >= 0);
	REQUIRE(wait_backlog(ino, BACKLOG + 1));
	end = now_ms() + 5000;
	while (listen_overflows() <= over0 && now_ms() < end)
		poll(NULL, 0, 10);
	CHECK_CMP(listen_overflows(), >, over0);
	REQUIRE(ss_queues(family == AF_INET ? "-ltn4" : "-ltn6", port_s, &rq, &sq) == 0);
	CHECK_EQ(rq, BACKLOG + 1);
	if (iter) {
		REQUIRE((b = iter_find(ino, getpid())) != NULL);
		CHECK_EQ(b->rqueue, rq);
	}
	for (int i = 0; i < nc; i++)
		close(cfd[i]);
	close(lfd);
}

static void test_tcp4_listener(void) { tcp_listener(AF_INET); }
static void test_tcp6_listener(void) { tcp_listener(AF_INET6); }

/* UNIX stream listeners, a path and an abstract name: backlog as ss -lx
 * shows it, and the label. */
static void test_unix_listener(void)
{
	for (int abstract = 0; abstract < 2; abstract++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		socklen_t alen;
		char label[SOCKQ_LABEL_MAX], want[SOCKQ_LABEL_MAX], needle[120];
		int lfd, c[2];
		unsigned rq = 0, sq = 0;
		const struct sockq *b;
		struct sockq d;
		uint64_t ino;

		if (abstract) {
			snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "memq-test-%d", getpid());
			alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
			snprintf(want, sizeof(want), "unix:@%s", a.sun_path + 1);
			snprintf(needle, sizeof(needle), "@%s", a.sun_path + 1);
		} else {
			snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/memq-test-%d.sock", getpid());
			unlink(a.sun_path);
			alen = sizeof(a);
			snprintf(want, sizeof(want), "unix:%s", a.sun_path);
			snprintf(needle, sizeof(needle), "%s", a.sun_path);
		}
		REQUIRE((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
		REQUIRE(bind(lfd, (struct sockaddr *)&a, alen) == 0);
		REQUIRE(listen(lfd, BACKLOG) == 0);
		ino = ino_of(lfd);
		for (int i = 0; i < 2; i++) {
			REQUIRE((c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
			REQUIRE(connect(c[i], (struct sockaddr *)&a, alen) == 0);
		}
		if (have_ss()) {
			REQUIRE(ss_queues("-lx", needle, &rq, &sq) == 0);
			CHECK_EQ(rq, 2);
			CHECK_EQ(sq, BACKLOG);
		} else {
			rq = 2;
			sq = BACKLOG;
		}
		REQUIRE(diag_find(ino, &d));
		CHECK(d.listener);
		CHECK_EQ(d.kind, SOCKQ_UNIX_STREAM);
		CHECK_EQ(d.rqueue, rq);
		CHECK_EQ(d.wqueue, sq);
		CHECK_EQ(sockq_listener_label(&d, label, sizeof(label)), (int)strlen(want));
		CHECK_STR(label, want);
		if (iter) {
			REQUIRE((b = iter_find(ino, getpid())) != NULL);
			CHECK(b->listener);
			CHECK_EQ(b->rqueue, rq);
			CHECK_EQ(b->wqueue, sq);
			CHECK(sockq_listener_label(b, label, sizeof(label)) > 0);
			CHECK_STR(label, want);
		}
		close(c[0]);
		close(c[1]);
		close(lfd);
		if (!abstract)
			unlink(a.sun_path);
	}
}

/* A UDP socket nobody reads: its receive queue grows with each datagram
 * (bytes as the kernel charges them: ss shows the same), and a TCP
 * connection whose receiver stopped reading: the sender's send queue and
 * the receiver's receive queue, within one segment of ss. */
static void test_udp_and_tcp_queues(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char buf[1000], port_s[16];
	unsigned rq, sq, prev = 0;
	int r, s, lfd, cfd, afd;
	uint16_t port;
	struct sockq d;
	const struct sockq *b;

	if (!have_ss())
		TEST_SKIP("ss (iproute2) is not installed");
	memset(buf, 'x', sizeof(buf));
	REQUIRE((r = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	REQUIRE(bind(r, (struct sockaddr *)&a, sizeof(a)) == 0);
	REQUIRE(getsockname(r, (struct sockaddr *)&a, &alen) == 0);
	REQUIRE((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	snprintf(port_s, sizeof(port_s), "%u", ntohs(a.sin_port));
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 5; i++)
			REQUIRE(sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&a, sizeof(a)) ==
				(ssize_t)sizeof(buf));
		REQUIRE(ss_queues("-uan4", port_s, &rq, &sq) == 0);
		CHECK_CMP(rq, >, prev);
		CHECK_CMP(rq, >=, 5u * (round + 1) * sizeof(buf));
		prev = rq;
		REQUIRE(diag_find(ino_of(r), &d));
		CHECK_EQ(d.rqueue, rq);
		if (iter) {
			REQUIRE((b = iter_find(ino_of(r), getpid())) != NULL);
			CHECK_EQ(b->kind, SOCKQ_UDP);
			CHECK_EQ(b->rqueue, rq);
		}
	}

	REQUIRE((lfd = listen_inet(AF_INET, &port)) >= 0);
	REQUIRE((cfd = connect_inet(AF_INET, port)) >= 0);
	REQUIRE((afd = accept(lfd, NULL, NULL)) >= 0);
	{
		int small = 16384;

		setsockopt(afd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	/* Write until the kernel takes no more: the receiver never reads. */
	{
		int64_t end = now_ms() + 5000;
		char big[65536];

		memset(big, 'y', sizeof(big));
		while (now_ms() < end) {
			ssize_t w = send(cfd, big, sizeof(big), MSG_DONTWAIT);

			if (w < 0 && errno == EAGAIN) {
				struct pollfd pf = { .fd = cfd, .events = POLLOUT };

				if (poll(&pf, 1, 100) == 0)
					break; /* stalled for 100 ms: the window is shut */
				continue;
			}
			REQUIRE(w > 0);
		}
	}
	{
		/* ss shows both ends; find each by its own local port. */
		struct sockaddr_in la;
		socklen_t ll = sizeof(la);
		unsigned crq, csq, arq;
		char cport[16];

		REQUIRE(getsockname(cfd, (struct sockaddr *)&la, &ll) == 0);
		snprintf(cport, sizeof(cport), "%u", ntohs(la.sin_port));
		/* The accepted socket's local port is the listener's; the
		 * client's line is the one whose local address has cport. */
		REQUIRE(ss_queues("-tn4", cport, &crq, &csq) == 0);
		CHECK_CMP(csq, >, 0);
		REQUIRE(diag_find(ino_of(cfd), &d));
		CHECK_CMP(d.wqueue, >, 0);
		CHECK_CMP(llabs((long long)d.wqueue - (long long)csq), <=, 65536);
		REQUIRE(diag_find(ino_of(afd), &d));
		arq = d.rqueue;
		CHECK_CMP(arq, >, 0);
		(void)crq;
		if (iter) {
			REQUIRE((b = iter_find(ino_of(cfd), getpid())) != NULL);
			CHECK_CMP(llabs((long long)b->wqueue - (long long)csq), <=, 65536);
			REQUIRE((b = iter_find(ino_of(afd), getpid())) != NULL);
			CHECK_CMP(b->rqueue, >, 0);
			CHECK_CMP(llabs((long long)b->rqueue - (long long)arq), <=, 65536);
		}
	}
	close(afd);
	close(cfd);
	close(lfd);
	close(r);
	close(s);
}

/* A connected UNIX stream pair with unread data, and a datagram pair: the
 * figures unix_diag gives, exactly, from BPF too. */
static void test_unix_pairs(void)
{
	int sp[2], dp[2];
	char buf[1000];
	struct sockq d;
	const struct sockq *b;

	memset(buf, 'z', sizeof(buf));
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dp) == 0);
	for (int i = 0; i < 3; i++) {
		REQUIRE(write(sp[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf));
		REQUIRE(write(dp[0], buf, 100 * (i + 1)) == 100 * (i + 1));
	}
	REQUIRE(read(sp[1], buf, 10) == 10); /* a partly consumed buffer */
	REQUIRE(diag_find(ino_of(sp[1]), &d));
	CHECK_EQ(d.kind, SOCKQ_UNIX_STREAM);
	CHECK_EQ(d.rqueue, 2990);
	if (iter) {
		REQUIRE((b = iter_find(ino_of(sp[1]), getpid())) != NULL);
		CHECK_EQ(b->rqueue, 2990);
		REQUIRE((b = iter_find(ino_of(sp[0]), getpid())) != NULL);
		REQUIRE(diag_find(ino_of(sp[0]), &d));
		CHECK_EQ(b->wqueue, d.wqueue);
	}
	/* unix_diag gives a datagram socket the next datagram's size. */
	REQUIRE(diag_find(ino_of(dp[1]), &d));
	CHECK_EQ(d.kind, SOCKQ_UNIX_DGRAM);
	CHECK_EQ(d.rqueue, 100);
	if (iter) {
		REQUIRE((b = iter_find(ino_of(dp[1]), getpid())) != NULL);
		CHECK_EQ(b->rqueue, 100);
	}
	close(sp[0]);
	close(sp[1]);
	close(dp[0]);
	close(dp[1]);
}

struct collect {
	struct sockq *v;
	size_t n;
};

/* Static, so a failed REQUIRE leaks nothing. */
static struct sockq collect_buf[MAX_SOCKS];

static int collect_cb(void *arg, const struct sockq *s)
{
	struct collect *c = arg;

	if (c->n < MAX_SOCKS)
		c->v[c->n++] = *s;
	return 0;
}

/* Whole passes of both BPF programs at rest, for this process: the same
 * sockets (a named UNIX listener, a TCP pair, a UDP socket, a socket pair,
 * an O_PATH descriptor of a socket file, which is no socket) and the same
 * queue descriptors; and the pass that ran is the one the kernel allows. */
static void test_walk_agrees(void)
{
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	struct sock_iter_stats st, st_tf;
	const struct sockq *s, *t;
	const struct sock_iter_mq *ma, *mb;
	const struct sock_iter_proc *pv;
	size_t n, nt, nma, nmb, np, mine = 0, mine_tf = 0, qa = 0, qb = 0;
	int lfd, cfd, ufd, sp[2], opath;
	uint16_t port;
	bool proc_seen = false;

	if (!iter || !iter_tf)
		TEST_SKIP_UNLESS_CI(iter_why);
	snprintf(u.sun_path, sizeof(u.sun_path), "/tmp/memq-walk-%d.sock", getpid());
	unlink(u.sun_path);
	REQUIRE((ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	REQUIRE(bind(ufd, (struct sockaddr *)&u, sizeof(u)) == 0 && listen(ufd, BACKLOG) == 0);
	REQUIRE((opath = open(u.sun_path, O_PATH | O_CLOEXEC)) >= 0);
	REQUIRE((lfd = listen_inet(AF_INET, &port)) >= 0);
	REQUIRE((cfd = connect_inet(AF_INET, port)) >= 0);
	REQUIRE(wait_backlog(ino_of(lfd), 1));
	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp) == 0);
	REQUIRE(write(sp[0], "walk", 4) == 4);

	REQUIRE(sock_iter_read(iter_tf, &t, &nt) >= 0);
	REQUIRE(sock_iter_read(iter, &s, &n) >= 0);
	/* Both pass results stay valid: each iterator owns its arrays. */
	for (size_t i = 0; i < n; i++) {
		const struct sockq *b = NULL;

		if (s[i].pid != getpid())
			continue;
		mine++;
		for (size_t j = 0; j < nt && !b; j++)
			if (t[j].pid == s[i].pid && t[j].ino == s[i].ino)
				b = &t[j];
		CHECK(b != NULL);
		if (b)
			CHECK(same_sockq(&s[i], b));
		if (s[i].ino == ino_of(ufd)) {
			CHECK(s[i].listener);
			/* A path's length as bound: sizeof(u) counts its NUL. */
			CHECK_CMP(s[i].name_len, >=, strlen(u.sun_path));
			CHECK(memcmp(s[i].name, u.sun_path, strlen(u.sun_path)) == 0);
		}
	}
	for (size_t j = 0; j < nt; j++)
		mine_tf += t[j].pid == getpid();
	CHECK_CMP(mine, >=, 5);
	CHECK_EQ(mine, mine_tf);
	ma = sock_iter_mqs(iter, &nma);
	mb = sock_iter_mqs(iter_tf, &nmb);
	for (size_t i = 0; i < nma; i++)
		qa += ma[i].pid == getpid();
	for (size_t i = 0; i < nmb; i++)
		qb += mb[i].pid == getpid();
	CHECK_EQ(qa, qb);
	pv = sock_iter_procs(iter, &np);
	for (size_t i = 0; i < np; i++)
		if (pv[i].pid == getpid())
			proc_seen = proc_seen || strcmp(pv[i].comm, "test_sockets") == 0;
	CHECK(proc_seen);

	sock_iter_stats(iter, &st);
	sock_iter_stats(iter_tf, &st_tf);
	printf("# walk expected: %s; walks %llu of %llu passes\n", can_walk() ? "yes" : "no",
	       (unsigned long long)st.walks, (unsigned long long)st.reads);
	CHECK(sock_iter_learned(iter));
	CHECK_U64(st.walks, can_walk() ? st.reads : 0);
	CHECK_U64(st.walk_fallbacks, 0);
	CHECK_U64(st_tf.walks, 0);
	CHECK_CMP(st_tf.reads, >=, 1);
	close(opath);
	close(ufd);
	unlink(u.sun_path);
	close(lfd);
	close(cfd);
	close(sp[0]);
	close(sp[1]);
}

/* Every socket this process holds, read both ways at rest: the same kind,
 * the same queues, the same listener state. */
static void test_backends_agree(void)
{
	struct collect c = { .v = collect_buf };
	int sp[2], lfd, cfd, ufd;
	uint16_t port;
	const struct sockq *s;
	size_t n, compared = 0;
	char buf[777];

	REQUIRE(c.v);
	if (!iter)
		TEST_SKIP_UNLESS_CI(iter_why);
	memset(buf, 'q', sizeof(buf));
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0);
	REQUIRE(write(sp[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	REQUIRE((lfd = listen_inet(AF_INET, &port)) >= 0);
	REQUIRE((cfd = connect_inet(AF_INET, port)) >= 0);
	REQUIRE(wait_backlog(ino_of(lfd), 1));
	/* Unbound UDP sockets are in no table sock_diag walks: bind it. */
	ufd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ufd >= 0) {
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };

		if (bind(ufd, (struct sockaddr *)&a6, sizeof(a6)) < 0) {
			close(ufd);
			ufd = -1;
		} else {
			REQUIRE(sendto(ufd, buf, 100, 0, (struct sockaddr *)&a6, sizeof(a6)) < 0 ||
				true);
		}
	}
	REQUIRE(sockdiag_dump(diag, collect_cb, &c) > 0);
	REQUIRE(sock_iter_read(iter, &s, &n) >= 0);
	for (size_t i = 0; i < n; i++) {
		if (s[i].pid != getpid() || s[i].kind == SOCKQ_OTHER)
			continue;
		for (size_t j = 0; j < c.n; j++) {
			if (c.v[j].ino != s[i].ino)
				continue;
			CHECK_EQ(c.v[j].kind, s[i].kind);
			CHECK_EQ(c.v[j].listener, s[i].listener);
			CHECK_EQ(c.v[j].rqueue, s[i].rqueue);
			CHECK_EQ(c.v[j].wqueue, s[i].wqueue);
			CHECK_EQ(c.v[j].netns, s[i].netns);
			if (s[i].kind == SOCKQ_TCP || s[i].kind == SOCKQ_UDP)
				CHECK_EQ(c.v[j].port, s[i].port);
			compared++;
		}
	}
	CHECK_CMP(compared, >=, 5);
	close(sp[0]);
	close(sp[1]);
	close(lfd);
	close(cfd);
	if (ufd >= 0)
		close(ufd);
}

struct procnet_find {
	uint64_t ino;
	struct sockq s;
	bool hit;
};

/* A TCP server in a second network namespace, made with `ip netns add`:
 * BPF reads it in place (its namespace's inode), the netlink backend
 * through the server's /proc/PID/net/tcp. */
static void test_other_netns(void)
{
	char name[64], cmd[256], path[128];
	int sync[2];
	pid_t child;
	uint64_t ino = 0;
	uint32_t ns;

	if (geteuid() != 0 || system("ip -V >/dev/null 2>&1") != 0)
		TEST_SKIP_UNLESS_CI("needs root and ip (iproute2) for ip netns add");
	snprintf(name, sizeof(name), "memq-test-%d", getpid());
	snprintf(cmd, sizeof(cmd), "ip netns add %s && ip -n %s link set lo up", name, name);
	REQUIRE(system(cmd) == 0);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	ns = netns_of(path);
	REQUIRE(pipe2(sync, O_CLOEXEC) == 0);
	child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		int nsfd = open(path, O_RDONLY | O_CLOEXEC), lfd, c[2];
		uint16_t port;
		uint64_t lino;

		if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
			_exit(2);
		lfd = listen_inet(AF_INET, &port);
		if (lfd < 0)
			_exit(3);
		for (int i = 0; i < 2; i++)
			if ((c[i] = connect_inet(AF_INET, port)) < 0)
				_exit(4);
		lino = ino_of(lfd);
		/* Wait until both are queued (loopback: at once, nearly). */
		for (int k = 0; k < 500; k++) {
			struct sockaddr_in x;
			socklen_t xl = sizeof(x);
			struct pollfd pf = { .fd = c[1], .events = POLLOUT };

			if (poll(&pf, 1, 10) == 1 && getpeername(c[1], (struct sockaddr *)&x, &xl) == 0)
				break;
		}
		if (write(sync[1], &lino, sizeof(lino)) != sizeof(lino))
			_exit(5);
		pause();
		_exit(0);
	}
	close(sync[1]);
	CHECK_EQ(read(sync[0], &ino, sizeof(ino)), (ssize_t)sizeof(ino));
	close(sync[0]);
	if (ino) {
		char file[64], buf[65536];
		struct found f = { .ino = ino };
		int fd;
		ssize_t n;
		const struct sockq *b;
		int64_t end = now_ms() + 5000;

		CHECK(ns != own_netns);
		/* Not in our namespace's sock_diag. */
		{
			struct sockq d;

			CHECK(!diag_find(ino, &d));
		}
		snprintf(file, sizeof(file), "/proc/%d/net/tcp", child);
		while (!(f.hit && f.s.rqueue == 2) && now_ms() < end) {
			f.hit = false;
			fd = open(file, O_RDONLY | O_CLOEXEC);
			REQUIRE(fd >= 0);
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			REQUIRE(n > 0);
			CHECK_CMP(sockdiag_parse_procnet(buf, (size_t)n, SOCKQ_TCP, AF_INET, ns, find_cb, &f),
				  >=, 1);
			if (!(f.hit && f.s.rqueue == 2))
				poll(NULL, 0, 10);
		}
		CHECK(f.hit && f.s.listener);
		CHECK_EQ(f.s.rqueue, 2);
		CHECK(!f.s.has_max);
		CHECK_EQ(f.s.netns, ns);
		if (iter) {
			REQUIRE((b = iter_find(ino, child)) != NULL);
			CHECK(b->listener);
			CHECK_EQ(b->netns, ns);
			CHECK_EQ(b->rqueue, 2);
			CHECK_EQ(b->wqueue, BACKLOG);
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	snprintf(cmd, sizeof(cmd), "ip netns del %s", name);
	CHECK(system(cmd) == 0);
}

/* The text formats, on lines as the kernel writes them. */
static void test_parsers(void)
{
	static const char tcp[] =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n"
		"   1: 0100007F:9C40 0100007F:1F90 01 00001000:00000020 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 4 30 10 -1\n";
	static const char tcp6[] =
		"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
		"   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0\n";
	static const char netstat[] =
		"TcpExt: SyncookiesSent ListenOverflows ListenDrops\n"
		"TcpExt: 0 17 18\n"
		"IpExt: InNoRoutes\n"
		"IpExt: 0\n";
	struct collect c = { .v = collect_buf };
	uint64_t v = 0;

	REQUIRE(c.v);
	CHECK_EQ(sockdiag_parse_procnet(tcp, sizeof(tcp) - 1, SOCKQ_TCP, AF_INET, 7, collect_cb, &c), 2);
	CHECK(c.v[0].listener);
	CHECK_EQ(c.v[0].port, 8080);
	CHECK_EQ(c.v[0].rqueue, 3);
	CHECK_EQ(c.v[0].ino, 4242);
	CHECK(!c.v[1].listener);
	CHECK_EQ(c.v[1].rqueue, 0x20);
	CHECK_EQ(c.v[1].wqueue, 0x1000);
	CHECK_EQ(c.v[1].netns, 7);
	c.n = 0;
	CHECK_EQ(sockdiag_parse_procnet(tcp6, sizeof(tcp6) - 1, SOCKQ_TCP, AF_INET6, 7, collect_cb, &c), 1);
	CHECK_EQ(c.v[0].port, 80);
	CHECK_EQ(sockdiag_parse_procnet(tcp, sizeof(tcp) - 2, SOCKQ_TCP, AF_INET, 7, collect_cb, &c),
		 -EBADMSG);
	CHECK_EQ(sockdiag_parse_procnet("garbage\n", 8, SOCKQ_TCP, AF_INET, 7, collect_cb, &c), -EBADMSG);
	CHECK_EQ(sockdiag_parse_listen_overflows(netstat, sizeof(netstat) - 1, &v), 0);
	CHECK_U64(v, 17);
	CHECK_EQ(sockdiag_parse_listen_overflows("IpExt: a\nIpExt: 1\n", 18, &v), -ENOENT);
	CHECK_EQ(sockdiag_parse_listen_overflows("TcpExt: ListenOverflows\nTcpExt: x\n", 34, &v), -EBADMSG);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	own_netns = netns_of("/proc/self/ns/net");
	if (sockdiag_new(own_netns, &diag) < 0) {
		printf("FAIL sockdiag_new: %s\n", strerror(errno));
		return 1;
	}
	if (sock_iter_new(0, &iter, &fl) < 0) {
		iter = NULL;
		iter_why = fl.why;
		printf("# sock_iter unavailable: %s\n", fl.why);
		if (test_in_ci()) {
			printf("FAIL sock_iter_new: may not skip under CI: %s\n", fl.why);
			return 1;
		}
	} else {
		printf("# sock_iter loaded (%s reads)\n", sock_iter_portable(iter) ? "portable" : "fast");
		setenv("MEMAGENT_SOCK_ITER_NO_WALK", "1", 1);
		if (sock_iter_new(0, &iter_tf, &fl) < 0) {
			printf("FAIL sock_iter_new with iter/task_file forced: %s\n", fl.why);
			return 1;
		}
		unsetenv("MEMAGENT_SOCK_ITER_NO_WALK");
	}
	RUN(test_parsers);
	RUN(test_tcp4_listener);
	RUN(test_tcp6_listener);
	RUN(test_unix_listener);
	RUN(test_udp_and_tcp_queues);
	RUN(test_unix_pairs);
	RUN(test_backends_agree);
	RUN(test_walk_agrees);
	RUN(test_other_netns);
	sock_iter_free(iter);
	sock_iter_free(iter_tf);
	sockdiag_free(diag);
	return test_done();
}
