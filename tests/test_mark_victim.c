/* SPDX-License-Identifier: MIT */
/* Tests of collectors/oomkill: a real OOM kill in a memory cgroup this test creates and removes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "bpf_support.h"
#include "cgroupfs.h"
#include "mark_victim.h"
#include "helpers/memchild.h"

#define MIB (1024ull * 1024)
#define CGROOT "/sys/fs/cgroup"

static struct bpf_failure fl;

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[1024];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Creates a memory cgroup limited to limit bytes: v1 under
 * /sys/fs/cgroup/memory, else v2 where the memory controller is. Writes its
 * directory to dir and the file that takes a pid to procs. */
static int make_cgroup(char *dir, size_t len, uint64_t limit)
{
	char val[32];
	int r;

	snprintf(val, sizeof(val), "%llu", (unsigned long long)limit);
	if (access(CGROOT "/memory/memory.limit_in_bytes", F_OK) == 0) {
		snprintf(dir, len, CGROOT "/memory/memagent-test-oom-%d", (int)getpid());
		if (mkdir(dir, 0755) < 0)
			return -errno;
		r = write_file(dir, "memory.limit_in_bytes", val);
		if (r == 0) /* no swap here, but a host with swap must not page the hog out */
			(void)write_file(dir, "memory.memsw.limit_in_bytes", val);
		return r;
	}
	for (int i = 0; i < 2; i++) {
		const char *root = i == 0 ? CGROOT "/unified" : CGROOT;
		char probe[600];

		snprintf(dir, len, "%s/memagent-test-oom-%d", root, (int)getpid());
		snprintf(probe, sizeof(probe), "%s/memory.max", dir);
		if (mkdir(dir, 0755) < 0)
			continue;
		if (access(probe, F_OK) == 0) {
			(void)write_file(dir, "memory.swap.max", "0");
			return write_file(dir, "memory.max", val);
		}
		rmdir(dir);
	}
	return -ENOENT;
}

/* Removes the cgroup once the kernel lets go of it (a dying memcg may stay
 * busy for a moment after its last task was reaped): bounded retries. */
static void remove_cgroup(const char *dir)
{
	uint64_t deadline = now_ms() + 10000;

	while (rmdir(dir) < 0 && errno == EBUSY && now_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

struct seen {
	pid_t pid;
	int n;
	struct mark_victim_event ev;
	char path[512];
};

static void on_kill(void *arg, const struct mark_victim_event *ev)
{
	struct seen *s = arg;

	if (ev->pid != s->pid)
		return;
	s->n++;
	s->ev = *ev;
	snprintf(s->path, sizeof(s->path), "%s", ev->memcg_path);
	s->ev.memcg_path = s->path;
}

/* The scenario: a child in a memory cgroup limited to 64 MiB
 * allocates until the kernel kills it; the event names it. */
static void test_oom_kill_in_memcg(void)
{
	struct mark_victim *o = NULL;
	struct mark_victim_stats st;
	struct seen s = { 0 };
	char dir[512], path[512], name[64], pidstr[16], helper[512];
	uint64_t deadline;
	struct stat cst;
	int status = 0, go[2] = { -1, -1 }, ep, r;
	pid_t pid;

	if (mark_victim_new(0, &o, &fl) < 0)
		TEST_SKIP_UNLESS_CI(fl.why);
	if (memchild_path(helper, sizeof(helper)) < 0) {
		mark_victim_free(o);
		REQUIRE(!"tests/helpers/memchild is built");
	}
	r = make_cgroup(dir, sizeof(dir), 64 * MIB);
	if (r < 0) {
		snprintf(fl.why, sizeof(fl.why), "cannot create a memory cgroup: %s", strerror(-r));
		mark_victim_free(o);
		TEST_SKIP_UNLESS_CI(fl.why);
	}
	/* From here on every path goes through out: the cgroup is removed. */
	if (stat(dir, &cst) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		CHECK(!"cgroup directory and pipe");
		goto out;
	}
	/* The child waits on a pipe until it was moved into the cgroup, then
	 * execs the hog, so every page of the hog is charged to the cgroup. It
	 * is never let go outside the cgroup. */
	pid = fork();
	if (pid < 0) {
		CHECK(!"fork");
		goto out;
	}
	if (pid == 0) {
		char b;

		if (read(go[0], &b, 1) != 1)
			_exit(126);
		execl(helper, "memchild", "--hog", (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	go[0] = -1;
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	r = write_file(dir, "cgroup.procs", pidstr);
	CHECK_EQ(r, 0);
	if (r == 0)
		CHECK_EQ(write(go[1], "g", 1), 1);
	else
		kill(pid, SIGKILL);
	close(go[1]);
	go[1] = -1;
	s.pid = pid;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r != 0)
		goto out;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* mark_victim fires before the kill is delivered, so the record is
	 * in the ring by now; wait on the fd anyway, bounded. */
	ep = mark_victim_fd(o);
	deadline = now_ms() + 10000;
	while (s.n == 0 && now_ms() < deadline) {
		struct epoll_event e;

		epoll_wait(ep, &e, 1, 100);
		CHECK_CMP(mark_victim_poll(o, on_kill, &s), >=, 0);
	}
	CHECK_EQ(s.n, 1);
	CHECK_STR(s.ev.comm, "memchild");
	CHECK_EQ(s.ev.tid, s.pid);
	CHECK(!s.ev.no_mm);
	CHECK_CMP(s.ev.rss_anon_bytes, >=, 32 * MIB);
	CHECK_CMP(s.ev.rss_bytes, <=, 80 * MIB);
	CHECK_U64(s.ev.rss_bytes,
		  s.ev.rss_anon_bytes + s.ev.rss_file_bytes + s.ev.rss_shmem_bytes);
	CHECK_U64(s.ev.memcg_id, (uint64_t)cst.st_ino);
	snprintf(name, sizeof(name), "/memagent-test-oom-%d", (int)getpid());
	CHECK_STR(s.ev.memcg_path, name);
	CHECK(!s.ev.memcg_path_truncated);
	/* The user-space resolution agrees while the cgroup exists. */
	{
		struct cgroupfs_hier h;

		REQUIRE(cgroupfs_detect(CGROOT, &h) == 0);
		CHECK_CMP(cgroupfs_path_of_id(&h, s.ev.memcg_id, path, sizeof(path)), >, 0);
	}
	CHECK_STR(path, name);

	mark_victim_stats(o, &st);
	CHECK_U64(st.lost, 0);
	CHECK_U64(st.malformed, 0);
	CHECK_CMP(st.events, >=, 1);
	CHECK_EQ(st.programs, 1);
out:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	remove_cgroup(dir);
	CHECK(access(dir, F_OK) < 0);
	mark_victim_free(o);
}

/* Nothing happens without an OOM: polling an idle ring returns 0. */
static void test_idle_poll(void)
{
	struct mark_victim *o = NULL;
	struct seen s = { .pid = -1 };

	if (mark_victim_new(4096 * 4, &o, &fl) < 0)
		TEST_SKIP_UNLESS_CI(fl.why);
	CHECK_CMP(mark_victim_fd(o), >=, 0);
	CHECK_EQ(mark_victim_poll(o, on_kill, &s), 0);
	CHECK_EQ(s.n, 0);
	mark_victim_free(o);
}

int main(void)
{
	RUN(test_oom_kill_in_memcg);
	RUN(test_idle_poll);
	return test_done();
}
