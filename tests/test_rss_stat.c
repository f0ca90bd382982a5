/* SPDX-License-Identifier: MIT */
/* Tests of collectors/rss_stat: interval peaks from tp_btf/rss_stat, loaded into the running kernel. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "test.h"
#include "rss_stat.h"
#include "bpf_support.h"
#include "procfs.h"
#include "helpers/memchild.h"

#define MIB (1024ull * 1024)

static struct bpf_failure fl;

/* The process's start time, /proc/PID/stat field 22 (its identity). */
static uint64_t start_of(pid_t pid)
{
	char path[64], buf[1024];
	struct procfs_stat ps;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || procfs_parse_stat(buf, (size_t)n, &ps) < 0)
		return 0;
	return ps.start_ticks;
}

/* The module, or NULL after skipping (with the reason) when BPF is unavailable. */
static struct rss_stat *open_rss(size_t max_watch)
{
	struct rss_stat *r = NULL;

	if (rss_stat_new(max_watch, &r, &fl) < 0)
		return NULL;
	return r;
}

/* What the collector reports as the interval's peak: the kernel's peak when
 * rss changed, and never less than the rss now. */
static uint64_t interval_peak(struct rss_stat *r, pid_t pid, uint64_t *ret_current)
{
	struct rss_stat_peak p[4];
	size_t n = 0;
	uint64_t cur = (uint64_t)proc_status_kb(pid, "VmRSS") * 1024, peak = 0;

	if (rss_stat_read(r, p, 4, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i].pid == pid && p[i].err == 0 && p[i].changed)
			peak = p[i].peak_bytes;
	*ret_current = cur;
	return peak > cur ? peak : cur;
}

/* The scenario: a spike between two samples shows in the next
 * sample only, as an interval peak, not as a lifetime high-water mark. */
static void test_interval_peaks(void)
{
	struct memchild c = { .pid = -1, .to = -1, .from = -1 };
	struct rss_stat *r = open_rss(4);
	uint64_t peak, cur;

	if (!r)
		TEST_SKIP_UNLESS_CI(fl.why);
	REQUIRE(memchild_start(&c, NULL) == 0);
	REQUIRE(memchild_cmd(&c, "t 1") == 0);
	CHECK_EQ(rss_stat_watch(r, c.pid, start_of(c.pid)), 0);
	CHECK(rss_stat_watching(r, c.pid));

	/* sample k */
	peak = interval_peak(r, c.pid, &cur);
	CHECK_CMP(cur, <, 20 * MIB);
	CHECK_CMP(peak, <, 20 * MIB);

	/* sample k+1: 200 MiB came and went */
	CHECK_EQ(memchild_cmd(&c, "t 200"), 0);
	CHECK_EQ(memchild_cmd(&c, "f"), 0);
	peak = interval_peak(r, c.pid, &cur);
	CHECK_CMP(peak, >=, 200 * MIB);
	CHECK_CMP(cur, <, 50 * MIB);

	/* sample k+2: nothing happened; the old spike is not reported again */
	peak = interval_peak(r, c.pid, &cur);
	CHECK_CMP(peak, <, 50 * MIB);

	/* sample k+3: a 100 MiB spike */
	CHECK_EQ(memchild_cmd(&c, "t 100"), 0);
	CHECK_EQ(memchild_cmd(&c, "f"), 0);
	peak = interval_peak(r, c.pid, &cur);
	CHECK_CMP(peak, >=, 100 * MIB);
	CHECK_CMP(peak, <=, 150 * MIB);

	memchild_stop(&c);
	rss_stat_free(r);
}

/* Without any rss change the interval reports "unchanged", and a peak is
 * never below what was resident when it was set. */
static void test_unchanged_interval(void)
{
	struct memchild c = { .pid = -1, .to = -1, .from = -1 };
	struct rss_stat *r = open_rss(4);
	struct rss_stat_peak p[4];
	size_t n = 0;

	if (!r)
		TEST_SKIP_UNLESS_CI(fl.why);
	REQUIRE(memchild_start(&c, NULL) == 0);
	REQUIRE(memchild_cmd(&c, "t 1") == 0);
	REQUIRE(rss_stat_watch(r, c.pid, start_of(c.pid)) == 0);
	CHECK_EQ(memchild_cmd(&c, "t 30"), 0);
	CHECK_EQ(rss_stat_read(r, p, 4, &n), 0);
	REQUIRE(n == 1);
	CHECK(p[0].changed);
	CHECK_CMP(p[0].peak_bytes, >=, 30 * MIB);
	/* The child is idle (blocked on its pipe) during this interval. */
	CHECK_EQ(rss_stat_read(r, p, 4, &n), 0);
	REQUIRE(n == 1);
	CHECK(!p[0].changed);
	CHECK_U64(p[0].peak_bytes, 0);
	memchild_stop(&c);
	rss_stat_free(r);
}

/* Changes to a process's memory made by another task (reclaim, here
 * process_madvise(MADV_PAGEOUT) run by this test) count for the mm's owner,
 * not for the task that happened to run. */
static void test_attributed_to_owner(void)
{
	struct memchild c = { .pid = -1, .to = -1, .from = -1 };
	struct rss_stat *r = open_rss(4);
	struct rss_stat_peak p[4];
	char path[64], line[512];
	unsigned long lo = 0, hi = 0;
	size_t n = 0;
	long before_kb, after_kb;
	int pidfd;
	FILE *f;

	if (!r)
		TEST_SKIP_UNLESS_CI(fl.why);
	REQUIRE(memchild_start(&c, NULL) == 0);
	REQUIRE(memchild_cmd(&c, "r 8") == 0);
	REQUIRE(rss_stat_watch(r, c.pid, start_of(c.pid)) == 0);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)c.pid);
	f = fopen(path, "re");
	REQUIRE(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/tmp/") && strstr(line, "(deleted)"))
			sscanf(line, "%lx-%lx", &lo, &hi);
	fclose(f);
	REQUIRE(hi > lo);
	CHECK_EQ(rss_stat_read(r, p, 4, &n), 0); /* start a clean interval */
	before_kb = proc_status_kb(c.pid, "VmRSS");
	pidfd = (int)syscall(SYS_pidfd_open, c.pid, 0);
	REQUIRE(pidfd >= 0);
	{
		struct iovec iov = { .iov_base = (void *)lo, .iov_len = hi - lo };

		/* MADV_PAGEOUT = 21 */
		CHECK_CMP(syscall(SYS_process_madvise, pidfd, &iov, 1, 21, 0), >, 0);
	}
	close(pidfd);
	after_kb = proc_status_kb(c.pid, "VmRSS");
	CHECK_CMP(after_kb, <, before_kb);
	CHECK_EQ(rss_stat_read(r, p, 4, &n), 0);
	REQUIRE(n == 1);
	CHECK(p[0].changed);
	/* The first change lowered rss by one page (or a batch) from before. */
	CHECK_CMP(p[0].peak_bytes, <=, (uint64_t)before_kb * 1024);
	CHECK_CMP(p[0].peak_bytes, >=, (uint64_t)after_kb * 1024);
	memchild_stop(&c);
	rss_stat_free(r);
}

static void test_watch_limits(void)
{
	struct memchild a = { .pid = -1, .to = -1, .from = -1 }, b = a;
	struct rss_stat *r = open_rss(1);
	struct rss_stat_stats st;

	if (!r)
		TEST_SKIP_UNLESS_CI(fl.why);
	REQUIRE(memchild_start(&a, NULL) == 0 && memchild_start(&b, NULL) == 0);
	REQUIRE(memchild_cmd(&a, "t 1") == 0 && memchild_cmd(&b, "t 1") == 0);
	CHECK_EQ(rss_stat_watch(r, a.pid, start_of(a.pid)), 0);
	CHECK_EQ(rss_stat_watch(r, a.pid, start_of(a.pid)), 0); /* already watched */
	CHECK_EQ(rss_stat_watch(r, b.pid, start_of(b.pid)), -ENOSPC);
	rss_stat_stats(r, &st);
	CHECK_U64(st.map_full, 1);
	CHECK_U64(st.watched, 1);
	CHECK_EQ(st.programs, 1);
	CHECK_EQ(rss_stat_unwatch(r, b.pid), -ENOENT);
	CHECK_EQ(rss_stat_unwatch(r, a.pid), 0);
	CHECK(!rss_stat_watching(r, a.pid));
	CHECK_EQ(rss_stat_watch(r, b.pid, start_of(b.pid)), 0);
	CHECK_EQ(rss_stat_watch(r, 0, 0), -EINVAL);
	memchild_stop(&a);
	memchild_stop(&b);
	rss_stat_free(r);
}

/* A watched process that exits is reported once as gone and unwatched. */
static void test_vanished(void)
{
	struct memchild c = { .pid = -1, .to = -1, .from = -1 };
	struct rss_stat *r = open_rss(2);
	struct rss_stat_peak p[2];
	struct rss_stat_stats st;
	pid_t pid;
	size_t n = 0;

	if (!r)
		TEST_SKIP_UNLESS_CI(fl.why);
	REQUIRE(memchild_start(&c, NULL) == 0);
	REQUIRE(memchild_cmd(&c, "t 1") == 0);
	pid = c.pid;
	REQUIRE(rss_stat_watch(r, pid, start_of(pid)) == 0);
	memchild_stop(&c); /* killed and reaped */
	CHECK_EQ(rss_stat_read(r, p, 2, &n), 0);
	REQUIRE(n == 1);
	CHECK_EQ(p[0].pid, pid);
	CHECK_EQ(p[0].err, -ESRCH);
	CHECK(!rss_stat_watching(r, pid));
	rss_stat_stats(r, &st);
	CHECK_U64(st.vanished, 1);
	CHECK_U64(st.watched, 0);
	CHECK_EQ(rss_stat_read(r, p, 2, &n), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(rss_stat_watch(r, pid, 1), -ESRCH);
	rss_stat_free(r);
}

/* The start time is the identity: an entry for the same pid with another
 * start time (a reused pid) never collects that process's changes, and
 * watching again with the right one starts over. */
static void test_identity(void)
{
	struct memchild c = { .pid = -1, .to = -1, .from = -1 };
	struct rss_stat *r = open_rss(2);
	struct rss_stat_peak p[2];
	uint64_t start;
	size_t n = 0;

	if (!r)
		TEST_SKIP_UNLESS_CI(fl.why);
	REQUIRE(memchild_start(&c, NULL) == 0);
	REQUIRE(memchild_cmd(&c, "t 1") == 0);
	start = start_of(c.pid);
	REQUIRE(start > 0);
	REQUIRE(rss_stat_watch(r, c.pid, start + 1) == 0);
	CHECK_EQ(memchild_cmd(&c, "t 40"), 0);
	CHECK_EQ(rss_stat_read(r, p, 2, &n), 0);
	REQUIRE(n == 1);
	CHECK(!p[0].changed);
	CHECK_EQ(rss_stat_watch(r, c.pid, start), 0);
	CHECK(rss_stat_watching(r, c.pid));
	CHECK_EQ(memchild_cmd(&c, "f"), 0);
	CHECK_EQ(memchild_cmd(&c, "t 40"), 0);
	CHECK_EQ(rss_stat_read(r, p, 2, &n), 0);
	REQUIRE(n == 1);
	CHECK(p[0].changed);
	CHECK_CMP(p[0].peak_bytes, >=, 40 * MIB);
	memchild_stop(&c);
	rss_stat_free(r);
}

int main(void)
{
	RUN(test_interval_peaks);
	RUN(test_unchanged_interval);
	RUN(test_attributed_to_owner);
	RUN(test_watch_limits);
	RUN(test_vanished);
	RUN(test_identity);
	return test_done();
}
