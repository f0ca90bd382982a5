/* SPDX-License-Identifier: MIT */
/* procfs: stat, status, smaps_rollup and cmdline parsers on real, odd,
 * truncated, empty and garbage input. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "test.h"

static void test_stat_real(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/stat.txt", &len);
	struct procfs_stat st;
	unsigned long long start = 0, vsize = 0, minflt = 0;
	int threads = 0;

	REQUIRE(buf);
	CHECK_EQ(procfs_parse_stat(buf, len, &st), 0);
	CHECK_STR(st.comm, "sleep");
	/* Cross-check with sscanf over the same fields (comm has no spaces here). */
	REQUIRE(sscanf(buf, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %llu %*u %*u %*u %*u %*u %*d %*d "
			    "%*d %*d %d %*d %llu %llu", &minflt, &threads, &start, &vsize) == 4);
	CHECK_U64(st.minflt, minflt);
	CHECK_EQ(st.threads, threads);
	CHECK_U64(st.start_ticks, start);
	CHECK_U64(st.vsize, vsize);
	CHECK(!(st.flags & PROCFS_PF_KTHREAD));
	free(buf);

	buf = test_slurp("tests/fixtures/proc/stat-kthread.txt", &len);
	REQUIRE(buf);
	CHECK_EQ(procfs_parse_stat(buf, len, &st), 0);
	CHECK(st.flags & PROCFS_PF_KTHREAD);
	CHECK_STR(st.comm, "kthreadd");
	free(buf);
}

static void test_stat_odd_comm(void)
{
	const char *s = "77 (a) (b c)) R 1 77 77 0 -1 4194304 10 0 2 0 0 0 0 0 20 0 3 0 555 8192 1 "
			"18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
	struct procfs_stat st;

	CHECK_EQ(procfs_parse_stat(s, strlen(s), &st), 0);
	CHECK_STR(st.comm, "a) (b c)");
	CHECK_EQ(st.state, 'R');
	CHECK_EQ(st.ppid, 1);
	CHECK_U64(st.minflt, 10);
	CHECK_U64(st.majflt, 2);
	CHECK_EQ(st.threads, 3);
	CHECK_U64(st.start_ticks, 555);
	CHECK_U64(st.vsize, 8192);
}

static void test_stat_bad(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/stat.txt", &len);
	struct procfs_stat st;
	const char *vsize_end;
	uint64_t seed = 3;
	char junk[400];

	REQUIRE(buf);
	CHECK_EQ(procfs_parse_stat("", 0, &st), -EBADMSG);
	CHECK_EQ(procfs_parse_stat("1 (x", 4, &st), -EBADMSG);
	/* Any cut before the vsize field (23) is complete fails. */
	vsize_end = buf;
	for (int f = 0; f < 23; f++)
		vsize_end = strchr(vsize_end, ' ') + 1;
	for (size_t cut = 0; cut + 1 < (size_t)(vsize_end - buf); cut++)
		CHECK_EQ(procfs_parse_stat(buf, cut, &st), -EBADMSG);
	/* The same cuts in buffers of exactly that size: a number at the end
	 * must not be read past len (ASan catches it). */
	for (size_t cut = 1; cut + 1 < (size_t)(vsize_end - buf); cut++) {
		char *exact = malloc(cut);

		REQUIRE(exact);
		memcpy(exact, buf, cut);
		CHECK_EQ(procfs_parse_stat(exact, cut, &st), -EBADMSG);
		free(exact);
	}
	for (int round = 0; round < 3000; round++) {
		size_t n = test_rand(&seed) % sizeof(junk);

		for (size_t i = 0; i < n; i++)
			junk[i] = "0123456789 ()-RSZ\n"[test_rand(&seed) % 18];
		(void)procfs_parse_stat(junk, n, &st);
	}
	free(buf);
}

static void test_status_real(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/status.txt", &len);
	struct procfs_status st;
	unsigned long long rss = 0, anon = 0;

	REQUIRE(buf);
	CHECK_EQ(procfs_parse_status(buf, len, &st), 0);
	CHECK_STR(st.comm, "sleep");
	CHECK(st.present & PROCFS_HAS_MEM);
	CHECK(st.present & PROCFS_HAS_SPLIT);
	REQUIRE(sscanf(strstr(buf, "VmRSS:"), "VmRSS: %llu kB", &rss) == 1);
	REQUIRE(sscanf(strstr(buf, "RssAnon:"), "RssAnon: %llu kB", &anon) == 1);
	CHECK_U64(st.rss, rss * 1024);
	CHECK_U64(st.rss_anon, anon * 1024);
	CHECK_U64(st.rss, st.rss_anon + st.rss_file + st.rss_shmem);
	CHECK_EQ(st.threads, 1);
	free(buf);

	buf = test_slurp("tests/fixtures/proc/status-kthread.txt", &len);
	REQUIRE(buf);
	CHECK_EQ(procfs_parse_status(buf, len, &st), 0);
	CHECK(!(st.present & PROCFS_HAS_MEM));
	CHECK_U64(st.rss, 0);
	free(buf);
}

static void test_status_escaped_name(void)
{
	const char *s = "Name:\ta\\nb\\\\c\nState:\tS (sleeping)\nVmRSS:\t     8 kB\n";
	struct procfs_status st;

	CHECK_EQ(procfs_parse_status(s, strlen(s), &st), 0);
	CHECK_STR(st.comm, "a\nb\\c");
	CHECK_U64(st.rss, 8192);
}

static void test_status_bad(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/status.txt", &len);
	struct procfs_status st;
	uint64_t seed = 11;
	char junk[600];

	REQUIRE(buf);
	CHECK_EQ(procfs_parse_status("", 0, &st), -EBADMSG);
	CHECK_EQ(procfs_parse_status("State:\tS\n", 9, &st), -EBADMSG); /* no Name */
	const char *bad_kb = "Name:\tx\nState:\tS\nVmRSS:\t12 MB\n";

	CHECK_EQ(procfs_parse_status(bad_kb, strlen(bad_kb), &st), -EBADMSG);
	/* Truncated inside a line up to Threads (the last line used): rejected.
	 * Anything after Threads is not read: same values as the whole file. */
	struct procfs_status full;
	size_t threads_end = (size_t)(strchr(strstr(buf, "\nThreads:") + 1, '\n') - buf) + 1;

	REQUIRE(procfs_parse_status(buf, len, &full) == 0);
	for (size_t cut = 1; cut < len; cut++) {
		int r = procfs_parse_status(buf, cut, &st);

		if (cut < threads_end && buf[cut - 1] != '\n')
			CHECK_EQ(r, -EBADMSG);
		if (cut >= threads_end) {
			CHECK_EQ(r, 0);
			CHECK(st.rss == full.rss && st.rss_anon == full.rss_anon && st.swap == full.swap &&
			      st.hwm == full.hwm && st.threads == full.threads && st.state == full.state &&
			      strcmp(st.comm, full.comm) == 0 && st.present == full.present);
		}
	}
	for (int round = 0; round < 3000; round++) {
		size_t n = test_rand(&seed) % sizeof(junk);

		for (size_t i = 0; i < n; i++)
			junk[i] = "NameStVmRSsAn:\t 0123456789kB\n"[test_rand(&seed) % 29];
		(void)procfs_parse_status(junk, n, &st);
	}
	free(buf);
}

static void test_smaps(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/smaps_rollup.txt", &len);
	struct procfs_smaps sm;
	unsigned long long pss = 0, pc = 0, pd = 0;

	REQUIRE(buf);
	CHECK_EQ(procfs_parse_smaps(buf, len, &sm), 0);
	REQUIRE(sscanf(strstr(buf, "\nPss:"), "\nPss: %llu kB", &pss) == 1);
	REQUIRE(sscanf(strstr(buf, "Private_Clean:"), "Private_Clean: %llu kB", &pc) == 1);
	REQUIRE(sscanf(strstr(buf, "Private_Dirty:"), "Private_Dirty: %llu kB", &pd) == 1);
	CHECK_U64(sm.pss, pss * 1024);
	CHECK_U64(sm.uss, (pc + pd) * 1024);
	CHECK_EQ(procfs_parse_smaps("", 0, &sm), -EBADMSG);
	/* Header only (a process without memory): no Pss line, rejected. */
	CHECK_EQ(procfs_parse_smaps(buf, (size_t)(strchr(buf, '\n') - buf + 1), &sm), -EBADMSG);
	free(buf);
}

static void test_cmdline(void)
{
	char a[] = "python3\0-m\0http.server\0\0";
	char b[] = "";
	char c[] = "x";

	procfs_join_cmdline(a, sizeof(a) - 1);
	CHECK_STR(a, "python3 -m http.server");
	procfs_join_cmdline(b, 0);
	CHECK_STR(b, "");
	procfs_join_cmdline(c, 1);
	CHECK_STR(c, "x");
}

static void test_comm(void)
{
	char comm[PROCFS_COMM_MAX];

	CHECK_EQ(procfs_parse_comm("bash\n", 5, comm), 0);
	CHECK_STR(comm, "bash");
	CHECK_EQ(procfs_parse_comm("a b) (c\n", 8, comm), 0);
	CHECK_STR(comm, "a b) (c");
	CHECK_EQ(procfs_parse_comm("0123456789abcdef\n", 17, comm), 0); /* cut as the kernel does */
	CHECK_STR(comm, "0123456789abcde");
	CHECK_EQ(procfs_parse_comm("\n", 1, comm), 0);
	CHECK_STR(comm, "");
	CHECK_EQ(procfs_parse_comm("bash", 4, comm), -EBADMSG);
	CHECK_EQ(procfs_parse_comm("", 0, comm), -EBADMSG);
}

static void test_btime(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/stat-system.txt", &len);
	uint64_t t = 0;

	REQUIRE(buf);
	CHECK_EQ(procfs_parse_btime(buf, len, &t), 1);
	CHECK_U64(t, 1796287571ull);
	free(buf);
	CHECK_EQ(procfs_parse_btime("cpu 1 2\nbtime 17\n", 17, &t), 1);
	CHECK_U64(t, 17);
	CHECK_EQ(procfs_parse_btime("btime 17\n", 9, &t), 1); /* first line */
	CHECK_EQ(procfs_parse_btime("cpu 1 2\nbtime 17", 16, &t), 0); /* not complete yet */
	CHECK_EQ(procfs_parse_btime("cpu 1 2\nctxt 5\n", 15, &t), 0);
	CHECK_EQ(procfs_parse_btime("xbtime 17\n", 10, &t), 0);
	CHECK_EQ(procfs_parse_btime("btime x\n", 8, &t), -EBADMSG);
	CHECK_EQ(procfs_parse_btime("btime 17 2\n", 11, &t), -EBADMSG);
}

/* /proc/stat of a large host: an intr line far longer than the buffer before
 * btime, read with every alignment of btime against the chunks. */
static void test_read_btime_chunked(void)
{
	char root[] = "/tmp/memagent-procfs-XXXXXX", *text, buf[512];
	size_t len = 0;
	uint64_t t;
	int fd;

	REQUIRE(mkdtemp(root));
	text = malloc(200000);
	REQUIRE(text);
	len += (size_t)sprintf(text + len, "cpu  1 2 3\nintr 123");
	for (int i = 0; i < 20000; i++)
		len += (size_t)sprintf(text + len, " %d", i % 10);
	len += (size_t)sprintf(text + len, "\nctxt 99\nbtime 1700000000\nprocesses 5\n");
	REQUIRE(test_write_file(root, "stat", text) == 0);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(fd >= 0);
	for (size_t cap = 256; cap <= sizeof(buf); cap += 7) {
		t = 0;
		CHECK_EQ(procfs_read_btime(fd, buf, cap, &t), 0);
		CHECK_U64(t, 1700000000);
	}
	REQUIRE(test_write_file(root, "stat", "cpu 1\nctxt 2\n") == 0);
	CHECK_EQ(procfs_read_btime(fd, buf, sizeof(buf), &t), -ENOENT);
	close(fd);
	free(text);
	test_rm_rf(root);
}

static void test_last_pid(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/loadavg.txt", &len);
	uint64_t v = 0;

	REQUIRE(buf);
	CHECK_EQ(procfs_parse_last_pid(buf, len, &v), 0);
	CHECK_U64(v, 22314);
	free(buf);
	CHECK_EQ(procfs_parse_last_pid("0.60 0.62 0.47 1/86 22314", 25, &v), -EBADMSG);
	CHECK_EQ(procfs_parse_last_pid("0.60 0.62 0.47 1/86 \n", 21, &v), -EBADMSG);
	CHECK_EQ(procfs_parse_last_pid("22314\n", 6, &v), -EBADMSG);
	CHECK_EQ(procfs_parse_last_pid("", 0, &v), -EBADMSG);
}

int main(void)
{
	RUN(test_stat_real);
	RUN(test_stat_odd_comm);
	RUN(test_stat_bad);
	RUN(test_status_real);
	RUN(test_status_escaped_name);
	RUN(test_status_bad);
	RUN(test_smaps);
	RUN(test_cmdline);
	RUN(test_comm);
	RUN(test_btime);
	RUN(test_read_btime_chunked);
	RUN(test_last_pid);
	return test_done();
}
