/* SPDX-License-Identifier: MIT */
/* Tests of collectors/queues: what a target's kernel queues add up to, with both backends, on sockets and queues made here.
 *
 * The target is this program (comm "test_queues") and a child it forks,
 * which inherits every descriptor: each socket and queue is then held by
 * two members, and must count once. Each case runs on the BPF backend and
 * on sock_diag (MEMAGENT_QUEUES_BACKEND=netlink) and expects the same; the
 * BPF cases run twice, with the pass the kernel allows (the fd-table walk on
 * 6.7+) and with iter/task_file forced (MEMAGENT_SOCK_ITER_NO_WALK=1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "bpf_support.h"
#include "config.h"
#include "queues.h"
#include "snapcheck.h"

#define BACKLOG 4

/* The BPF cases: iter/task_file forced instead of the fd-table walk. */
static bool no_walk;

struct run {
	struct config *cfg;
	struct collector_ctx ctx;
	struct collector_errors err;
	void *state;
	struct snapshot *snap;
};

static int run_start(struct run *r, const char *json, bool netlink)
{
	char e[CONFIG_ERROR_MAX];

	memset(r, 0, sizeof(*r));
	if (config_parse(json, strlen(json), "test", &r->cfg, e) < 0) {
		printf("  config: %s\n", e);
		return -1;
	}
	r->ctx = (struct collector_ctx){ .proc_root = "/proc", .cgroup_root = "/sys/fs/cgroup",
					 .targets = &r->cfg->targets,
					 .limits = { .max_listeners = r->cfg->limits.max_listeners,
						     .max_message_queues = r->cfg->limits.max_message_queues },
					 .use_bpf = true };
	if (netlink)
		setenv("MEMAGENT_QUEUES_BACKEND", "netlink", 1);
	else
		unsetenv("MEMAGENT_QUEUES_BACKEND");
	if (no_walk)
		setenv("MEMAGENT_SOCK_ITER_NO_WALK", "1", 1);
	else
		unsetenv("MEMAGENT_SOCK_ITER_NO_WALK");
	return queues_collector.init(&r->ctx, &r->state);
}

static int run_tick(struct run *r)
{
	snapshot_unref(r->snap);
	r->snap = snapshot_new();
	return queues_collector.read(r->state, r->snap, &r->err);
}

/* The first sample; on the netlink backend, the samples until the inode
 * map is built (a rebuild lists /proc over several samples on a big host). */
static int run_first(struct run *r)
{
	for (int i = 0; i < 10000; i++) {
		int e = run_tick(r);
		double n;

		if (e < 0)
			return e;
		n = snapcheck_value(r->snap, "memagent_queue_inode_map_rebuilds_total", NULL);
		if (isnan(n) || n >= 1)
			return 0;
	}
	return -ETIMEDOUT;
}

static void run_stop(struct run *r)
{
	queues_collector.done(r->state);
	snapshot_unref(r->snap);
	config_free(r->cfg);
	r->snap = NULL;
}

static double value(struct run *r, const char *name, const char *const *kv)
{
	return snapcheck_value(r->snap, name, kv);
}

static const char *const cfg_json =
	"{\"targets\": [{\"name\": \"t\", \"match\": {\"comm\": \"test_queues\"}},"
	" {\"name\": \"off\", \"match\": {\"comm\": \"test_queues\"}, \"queues\": false}]}";

/* A child that holds everything we hold, until killed. */
static pid_t hold_child(void)
{
	pid_t c = fork();

	if (c == 0) {
		/* Gone with us, whatever happens to us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return c;
}

static void stop_child(pid_t c)
{
	if (c > 0) {
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
	}
}

static bool backend_is(struct run *r, const char *want)
{
	return value(r, "memagent_queue_backend", (const char *const[]){ "backend", want, NULL }) == 1;
}

/* Which BPF pass ran: the walk wherever the kernel has it (so a walk that
 * silently stopped loading fails here), iter/task_file elsewhere. */
static void check_pass(struct run *r)
{
	bool can_walk = bpf_support_task_walk("MEMAGENT_SOCK_ITER_NO_WALK"); /* set when no_walk */
	double walks = value(r, "memagent_queue_bpf_passes_total",
			     (const char *const[]){ "pass", "walk", NULL });
	double files = value(r, "memagent_queue_bpf_passes_total",
			     (const char *const[]){ "pass", "task_file", NULL });

	printf("# passes: walk %.0f, task_file %.0f (walk expected: %s)\n", walks, files,
	       can_walk ? "yes" : "no");
	CHECK(walks + files >= 1);
	CHECK(can_walk ? walks >= 1 && files == 0 : walks == 0);
}

/* Listeners, socket sums and message queues of the target, both backends. */
static void check_backend(bool netlink)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	socklen_t alen = sizeof(a);
	char label[64], ulabel[128], mqname[64], sysvq[32], buf[3000];
	int lfd, ufd, c[3], uc, sp[2], msqid;
	struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = 64 };
	mqd_t mq;
	pid_t child;
	struct run r;
	struct { long type; char text[40]; } msg = { .type = 1 };

	REQUIRE((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	REQUIRE(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, BACKLOG) == 0);
	REQUIRE(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
	for (int i = 0; i < 3; i++) {
		REQUIRE((c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
		REQUIRE(connect(c[i], (struct sockaddr *)&a, sizeof(a)) == 0);
	}
	snprintf(label, sizeof(label), "tcp:%u", ntohs(a.sin_port));
	snprintf(u.sun_path, sizeof(u.sun_path), "/tmp/memq-q-%d.sock", getpid());
	unlink(u.sun_path);
	REQUIRE((ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	REQUIRE(bind(ufd, (struct sockaddr *)&u, sizeof(u)) == 0 && listen(ufd, BACKLOG) == 0);
	REQUIRE((uc = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	REQUIRE(connect(uc, (struct sockaddr *)&u, sizeof(u)) == 0);
	snprintf(ulabel, sizeof(ulabel), "unix:%s", u.sun_path);
	/* 3000 unread bytes: the only receive queue with data we hold. */
	memset(buf, 'x', sizeof(buf));
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	REQUIRE(write(sp[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	/* A POSIX queue with 7 messages, a System V queue with 5. */
	snprintf(mqname, sizeof(mqname), "/memq-test-%d", getpid());
	mq_unlink(mqname);
	mq = mq_open(mqname, O_CREAT | O_RDWR | O_CLOEXEC, 0600, &attr);
	REQUIRE(mq != (mqd_t)-1);
	for (int i = 0; i < 7; i++)
		REQUIRE(mq_send(mq, "hello", 5, 0) == 0);
	msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	REQUIRE(msqid >= 0);
	memset(msg.text, 'm', sizeof(msg.text));
	for (int i = 0; i < 5; i++)
		REQUIRE(msgsnd(msqid, &msg, sizeof(msg.text), 0) == 0);
	snprintf(sysvq, sizeof(sysvq), "sysv:id%d", msqid);
	child = hold_child();
	REQUIRE(child > 0);

	REQUIRE(run_start(&r, cfg_json, netlink) == 0);
	REQUIRE(run_first(&r) == 0);
	if (!netlink && !backend_is(&r, "bpf")) {
		run_stop(&r);
		stop_child(child);
		TEST_SKIP_UNLESS_CI("sock_iter did not load");
	}
	CHECK(backend_is(&r, netlink ? "netlink" : "bpf"));
	if (!netlink)
		check_pass(&r);
	{
		int end = 500; /* loopback queues a connect at once, nearly: poll, bounded */

		while (value(&r, "memagent_listen_backlog",
			     (const char *const[]){ "target", "t", "listener", label, NULL }) != 3 && end--) {
			poll(NULL, 0, 10);
			REQUIRE(run_tick(&r) == 0);
		}
	}
	CHECK(value(&r, "memagent_listen_backlog", (const char *const[]){ "target", "t", "listener", label, NULL }) == 3);
	CHECK(value(&r, "memagent_listen_backlog_max", (const char *const[]){ "target", "t", "listener", label, NULL }) == BACKLOG);
	CHECK(value(&r, "memagent_listen_backlog", (const char *const[]){ "target", "t", "listener", ulabel, NULL }) == 1);
	CHECK(value(&r, "memagent_listen_backlog_max", (const char *const[]){ "target", "t", "listener", ulabel, NULL }) == BACKLOG);
	/* Held by us and the child: once. */
	CHECK_EQ(value(&r, "memagent_socket_queue_bytes", (const char *const[]){ "target", "t", "direction", "receive", NULL }), 3000);
	CHECK(value(&r, "memagent_socket_queue_bytes", (const char *const[]){ "target", "t", "direction", "send", NULL }) > 0);
	{
		char q[80];

		snprintf(q, sizeof(q), "posix:%s", mqname);
		CHECK(value(&r, "memagent_message_queue_messages", (const char *const[]){ "target", "t", "queue", q, NULL }) == 7);
		CHECK(value(&r, "memagent_message_queue_bytes", (const char *const[]){ "target", "t", "queue", q, NULL }) == 35);
		CHECK(value(&r, "memagent_message_queue_max_messages", (const char *const[]){ "target", "t", "queue", q, NULL }) == 10);
	}
	CHECK(value(&r, "memagent_message_queue_messages", (const char *const[]){ "target", "t", "queue", sysvq, NULL }) == 5);
	CHECK(value(&r, "memagent_message_queue_bytes", (const char *const[]){ "target", "t", "queue", sysvq, NULL }) == 5 * sizeof(msg.text));
	/* The opted-out target has nothing. */
	CHECK_EQ(snapcheck_count(r.snap, "memagent_socket_queue_bytes", "target", "off"), 0);
	CHECK_EQ(snapcheck_count(r.snap, "memagent_listen_backlog", "target", "off"), 0);
	CHECK_EQ(snapcheck_count(r.snap, "memagent_queue_growth_suspected", "target", "off"), 0);
	CHECK_EQ(snapcheck_count(r.snap, "memagent_listen_overflows_total", "netns", NULL), 1);
	CHECK(value(&r, "memagent_queue_overflow_entries", (const char *const[]){ "kind", "listener", NULL }) == 0);
	run_stop(&r);

	/* Caps: one listener series, one queue series, the rest counted. */
	REQUIRE(run_start(&r, "{\"limits\": {\"max_listeners\": 1, \"max_message_queues\": 1},"
			      " \"targets\": [{\"name\": \"t\", \"match\": {\"comm\": \"test_queues\"}}]}",
			  netlink) == 0);
	REQUIRE(run_first(&r) == 0);
	CHECK_EQ(snapcheck_count(r.snap, "memagent_listen_backlog", "target", "t"), 1);
	CHECK_EQ(value(&r, "memagent_queue_overflow_entries", (const char *const[]){ "kind", "listener", NULL }), 1);
	CHECK_EQ(snapcheck_count(r.snap, "memagent_message_queue_messages", "target", "t"), 1);
	CHECK_EQ(value(&r, "memagent_queue_overflow_entries", (const char *const[]){ "kind", "msgqueue", NULL }), 1);
	CHECK_CMP(r.err.n[COLLECTOR_OVERFLOW], >, 0);
	run_stop(&r);

	stop_child(child);
	msgctl(msqid, IPC_RMID, NULL);
	mq_close(mq);
	mq_unlink(mqname);
	close(sp[0]);
	close(sp[1]);
	close(uc);
	close(ufd);
	unlink(u.sun_path);
	for (int i = 0; i < 3; i++)
		close(c[i]);
	close(lfd);
}

static void test_bpf(void) { check_backend(false); }
static void test_bpf_task_file(void)
{
	no_walk = true;
	check_backend(false);
	no_walk = false;
}
static void test_netlink(void) { check_backend(true); }

/* A receive queue that keeps rising is growth; one that rose and drained
 * is not (core/trend's queue rule on the per-target sum). */
static void test_growth(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char buf[200];
	int rx, tx, n;
	struct run r;
	const char *const rk[] = { "target", "t", "pid", "", "queue", "receive", "kind", "socket", NULL };

	memset(buf, 'g', sizeof(buf));
	REQUIRE((rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	REQUIRE(bind(rx, (struct sockaddr *)&a, sizeof(a)) == 0);
	REQUIRE(getsockname(rx, (struct sockaddr *)&a, &alen) == 0);
	REQUIRE((tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
	REQUIRE(run_start(&r, "{\"targets\": [{\"name\": \"t\", \"match\": {\"comm\": \"test_queues\"}}]}",
			  false) == 0);
	/* Rising: two datagrams more each sample, never read. */
	for (n = 0; n < 16; n++) {
		for (int k = 0; k < 2; k++)
			REQUIRE(sendto(tx, buf, sizeof(buf), 0, (struct sockaddr *)&a, sizeof(a)) > 0);
		REQUIRE(run_tick(&r) == 0);
	}
	CHECK(value(&r, "memagent_queue_growth_suspected", rk) == 1);
	run_stop(&r);
	while (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	/* A burst that drains. */
	REQUIRE(run_start(&r, "{\"targets\": [{\"name\": \"t\", \"match\": {\"comm\": \"test_queues\"}}]}",
			  false) == 0);
	for (n = 0; n < 24; n++) {
		if (n < 4)
			for (int k = 0; k < 8; k++)
				REQUIRE(sendto(tx, buf, sizeof(buf), 0, (struct sockaddr *)&a, sizeof(a)) > 0);
		else
			recv(rx, buf, sizeof(buf), MSG_DONTWAIT);
		REQUIRE(run_tick(&r) == 0);
		CHECK(value(&r, "memagent_queue_growth_suspected", rk) == 0);
	}
	run_stop(&r);
	close(rx);
	close(tx);
}

/* A listener filled (backlog + 1 waiting): further SYNs are dropped and
 * memagent_listen_overflows_total rises; the backlog stays at its
 * maximum, no longer rising, and that is growth all the same. */
static void test_listener_full(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char label[32], ns_s[24];
	int lfd, c[BACKLOG + 3];
	struct run r;
	struct stat sb;
	double over0;

	REQUIRE(stat("/proc/self/ns/net", &sb) == 0);
	snprintf(ns_s, sizeof(ns_s), "%lu", (unsigned long)sb.st_ino);
	REQUIRE((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	REQUIRE(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, BACKLOG) == 0);
	REQUIRE(getsockname(lfd, (struct sockaddr *)&a, &alen) == 0);
	snprintf(label, sizeof(label), "tcp:%u", ntohs(a.sin_port));
	REQUIRE(run_start(&r, "{\"targets\": [{\"name\": \"t\", \"match\": {\"comm\": \"test_queues\"}}]}",
			  false) == 0);
	REQUIRE(run_tick(&r) == 0);
	over0 = value(&r, "memagent_listen_overflows_total", (const char *const[]){ "netns", ns_s, NULL });
	REQUIRE(!isnan(over0));
	for (int i = 0; i < BACKLOG + 3; i++) {
		REQUIRE((c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) >= 0);
		REQUIRE(connect(c[i], (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
	}
	{
		const char *gk[] = { "target", "t", "pid", NULL, "queue", label, "kind", "listener", NULL };
		char pid_s[16];
		int n;

		snprintf(pid_s, sizeof(pid_s), "%d", getpid());
		gk[3] = pid_s;
		for (n = 0; n < 500; n++) {
			REQUIRE(run_tick(&r) == 0);
			if (value(&r, "memagent_listen_backlog",
				  (const char *const[]){ "target", "t", "listener", label, NULL }) == BACKLOG + 1 &&
			    value(&r, "memagent_listen_overflows_total",
				  (const char *const[]){ "netns", ns_s, NULL }) > over0)
				break;
			poll(NULL, 0, 10);
		}
		REQUIRE(n < 500);
		/* Full, and the namespace's overflow counter rose. */
		CHECK(value(&r, "memagent_queue_growth_suspected", gk) == 0);
		for (n = 0; n < 12; n++)
			REQUIRE(run_tick(&r) == 0);
		CHECK(value(&r, "memagent_queue_growth_suspected", gk) == 1);
	}
	run_stop(&r);
	for (int i = 0; i < BACKLOG + 3; i++)
		close(c[i]);
	close(lfd);
}

/* A TCP server in a second network namespace (ip netns add, removed
 * after), a member of the target: both backends report its listener, the
 * netlink one through the server's /proc/PID/net/tcp (no maximum there),
 * and its namespace's overflow counter. */
static void check_netns(bool netlink)
{
	char name[64], cmd[256], path[128], label[32], ns_s[16];
	int sync[2];
	uint16_t port = 0;
	pid_t child;
	struct stat sb;
	struct run r;

	if (geteuid() != 0 || system("ip -V >/dev/null 2>&1") != 0)
		TEST_SKIP_UNLESS_CI("needs root and ip (iproute2) for ip netns add");
	snprintf(name, sizeof(name), "memq-q-%d-%d", getpid(), netlink);
	snprintf(cmd, sizeof(cmd), "ip netns add %s && ip -n %s link set lo up", name, name);
	REQUIRE(system(cmd) == 0);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	REQUIRE(stat(path, &sb) == 0);
	snprintf(ns_s, sizeof(ns_s), "%lu", (unsigned long)sb.st_ino);
	REQUIRE(pipe2(sync, O_CLOEXEC) == 0);
	child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t alen = sizeof(a);
		int nsfd = open(path, O_RDONLY | O_CLOEXEC), lfd, c, up[2];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
			_exit(2);
		/* UNIX sockets there: read by BPF, unseen without it. */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, up) < 0)
			_exit(6);
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, BACKLOG) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
			_exit(3);
		for (int i = 0; i < 2; i++) {
			c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
				_exit(4);
		}
		port = ntohs(a.sin_port);
		if (write(sync[1], &port, sizeof(port)) != sizeof(port))
			_exit(5);
		for (;;)
			pause();
	}
	close(sync[1]);
	CHECK_EQ(read(sync[0], &port, sizeof(port)), (ssize_t)sizeof(port));
	close(sync[0]);
	snprintf(label, sizeof(label), "tcp:%u", port);
	if (port && run_start(&r, cfg_json, netlink) == 0) {
		const char *const lv[] = { "target", "t", "listener", label, NULL };
		int n;

		REQUIRE(run_first(&r) == 0);
		for (n = 0; n < 500; n++) {
			REQUIRE(run_tick(&r) == 0);
			if (value(&r, "memagent_listen_backlog", lv) == 2)
				break;
			poll(NULL, 0, 10);
		}
		if (!netlink && !backend_is(&r, "bpf")) {
			run_stop(&r);
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			snprintf(cmd, sizeof(cmd), "ip netns del %s", name);
			CHECK(system(cmd) == 0);
			TEST_SKIP_UNLESS_CI("sock_iter did not load");
		}
		CHECK(value(&r, "memagent_listen_backlog", lv) == 2);
		if (!netlink)
			check_pass(&r);
		if (netlink) {
			CHECK(isnan(value(&r, "memagent_listen_backlog_max", lv)));
			CHECK(value(&r, "memagent_socket_unseen", (const char *const[]){ "target", "t", NULL }) >= 2);
		} else
			CHECK(value(&r, "memagent_listen_backlog_max", lv) == BACKLOG);
		CHECK(value(&r, "memagent_listen_overflows_total", (const char *const[]){ "netns", ns_s, NULL }) >= 0);
		run_stop(&r);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	snprintf(cmd, sizeof(cmd), "ip netns del %s", name);
	CHECK(system(cmd) == 0);
}

static void test_netns_bpf(void) { check_netns(false); }
static void test_netns_bpf_task_file(void)
{
	no_walk = true;
	check_netns(false);
	no_walk = false;
}
static void test_netns_netlink(void) { check_netns(true); }

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_bpf);
	RUN(test_bpf_task_file);
	RUN(test_netlink);
	RUN(test_growth);
	RUN(test_listener_full);
	RUN(test_netns_bpf);
	RUN(test_netns_bpf_task_file);
	RUN(test_netns_netlink);
	return test_done();
}
