/* SPDX-License-Identifier: MIT */
/* Tests of collectors/task_iter: one iter/task pass agrees with /proc, loaded into the running kernel. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "memcg.h"
#include "bpf_support.h"
#include "task_iter.h"
#include "helpers/memchild.h"

#define NCHILD 5

static struct bpf_failure fl;

static const struct task_iter_proc *find(const struct task_iter_proc *p, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].pid == pid)
			return &p[i];
	return NULL;
}

/* Steady processes (stopped with SIGSTOP) read the same through the
 * iterator and through /proc: rss by kind within a page, everything else
 * equal. Between them: anonymous, shared (memfd) and file memory, and
 * threads with faults of their own. */
static void agrees_with_proc(bool walk)
{
	static const char *const setup[NCHILD][2] = {
		{ "t 10", NULL }, { "s 6", "t 1" }, { "r 5", NULL }, { "p 3", "t 2" },
		{ "p 1", "s 1" },
	};
	struct memchild c[NCHILD];
	struct task_iter *t = NULL;
	const struct task_iter_proc *procs;
	size_t n = 0;
	long page_kb = sysconf(_SC_PAGESIZE) / 1024;

	if (!walk)
		setenv("MEMAGENT_TASK_ITER_NO_WALK", "1", 1);
	if (task_iter_new(0, &t, &fl) < 0)
		TEST_SKIP_UNLESS_CI(fl.why);
	unsetenv("MEMAGENT_TASK_ITER_NO_WALK");
	for (int i = 0; i < NCHILD; i++) {
		c[i].pid = c[i].to = c[i].from = -1;
		REQUIRE(memchild_start(&c[i], NULL) == 0);
		for (int k = 0; k < 2 && setup[i][k]; k++)
			REQUIRE(memchild_cmd(&c[i], setup[i][k]) == 0);
	}
	for (int i = 0; i < NCHILD; i++) {
		int status;

		REQUIRE(kill(c[i].pid, SIGSTOP) == 0);
		REQUIRE(waitpid(c[i].pid, &status, WUNTRACED) == c[i].pid && WIFSTOPPED(status));
	}

	REQUIRE(task_iter_read(t, &procs, &n) > 0);
	for (int i = 0; i < NCHILD; i++) {
		const struct task_iter_proc *p = find(procs, n, c[i].pid);
		struct proc_stat s;

		REQUIRE(p != NULL);
		REQUIRE(proc_stat_read(c[i].pid, &s) == 0);
		CHECK_CMP(llabs((long long)p->rss_anon_bytes / 1024 -
				proc_status_kb(c[i].pid, "RssAnon")), <=, page_kb);
		CHECK_CMP(llabs((long long)p->rss_file_bytes / 1024 -
				proc_status_kb(c[i].pid, "RssFile")), <=, page_kb);
		CHECK_CMP(llabs((long long)p->rss_shmem_bytes / 1024 -
				proc_status_kb(c[i].pid, "RssShmem")), <=, page_kb);
		CHECK_EQ(p->swap_bytes / 1024, proc_status_kb(c[i].pid, "VmSwap"));
		CHECK_EQ(p->vsize_bytes / 1024, proc_status_kb(c[i].pid, "VmSize"));
		CHECK_EQ(p->hwm_bytes / 1024, proc_status_kb(c[i].pid, "VmHWM"));
		CHECK_EQ(p->threads, proc_status_kb(c[i].pid, "Threads"));
		CHECK_U64(p->min_flt, s.minflt);
		CHECK_U64(p->maj_flt, s.majflt);
		CHECK_U64(p->start_ticks, s.start);
		CHECK_U64(p->vsize_bytes, s.vsize);
		CHECK_EQ(p->ppid, s.ppid);
		CHECK_STR(p->comm, s.comm);
		CHECK_U64(p->memcg_id, memcg_ino(c[i].pid));
		CHECK(!p->kthread);
		CHECK(!p->no_mm);
	}
	/* The fault counts above matched with threads in the process: the
	 * threads' records were folded in. */
	CHECK_EQ(find(procs, n, c[3].pid)->threads, 4);
	/* Which backend ran: the walk wherever the kernel has it, so a walk
	 * that silently stopped loading fails here. */
	{
		struct task_iter_stats st;
		bool can_walk = bpf_support_task_walk("MEMAGENT_TASK_ITER_NO_WALK");

		task_iter_stats(t, &st);
		CHECK_U64(st.walks, walk && can_walk ? 1 : 0);
		CHECK_U64(st.walk_fallbacks, 0);
	}

	for (int i = 0; i < NCHILD; i++)
		memchild_stop(&c[i]);
	task_iter_free(t);
}

/* The task-list walk (6.7+, the default there) and iter/task both. */
static void test_agrees_with_proc(void)
{
	agrees_with_proc(true);
}

static void test_agrees_with_proc_iter_task(void)
{
	agrees_with_proc(false);
}

/* A pass is every process: sorted by pid, unique, kernel threads flagged,
 * and the same set /proc lists (processes that came or went during the two
 * reads aside, so this compares in one direction with a margin). */
static void test_whole_system(void)
{
	struct task_iter *t = NULL;
	struct task_iter_stats st;
	const struct task_iter_proc *procs;
	size_t n = 0, missing = 0, listed = 0;
	const struct task_iter_proc *self, *kthreadd;
	struct dirent *de;
	DIR *d;

	if (task_iter_new(0, &t, &fl) < 0)
		TEST_SKIP_UNLESS_CI(fl.why);
	REQUIRE(task_iter_read(t, &procs, &n) > 0);
	for (size_t i = 1; i < n; i++)
		CHECK_CMP(procs[i - 1].pid, <, procs[i].pid);
	self = find(procs, n, getpid());
	REQUIRE(self != NULL);
	CHECK(!self->kthread);
	CHECK_CMP(self->rss_anon_bytes + self->rss_file_bytes, >, 0);
	kthreadd = find(procs, n, 2);
	REQUIRE(kthreadd != NULL);
	CHECK(kthreadd->kthread);
	CHECK(kthreadd->no_mm);
	CHECK_U64(kthreadd->rss_anon_bytes, 0);

	d = opendir("/proc");
	REQUIRE(d != NULL);
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0)
			continue;
		listed++;
		if (!find(procs, n, pid))
			missing++;
	}
	closedir(d);
	CHECK_CMP(missing, <=, 5);
	CHECK_CMP(listed, >, 0);
	task_iter_stats(t, &st);
	CHECK_U64(st.reads, 1);
	CHECK_U64(st.procs, n);
	CHECK_U64(st.overflow, 0);
	CHECK_U64(st.malformed, 0);
	CHECK_EQ(st.programs, 1);
	task_iter_free(t);
}

/* max_procs bounds a pass; the rest is counted, not stored. */
static void test_overflow_counted(void)
{
	struct task_iter *t = NULL;
	struct task_iter_stats st;
	const struct task_iter_proc *procs;
	size_t n = 0;

	if (task_iter_new(4, &t, &fl) < 0)
		TEST_SKIP_UNLESS_CI(fl.why);
	CHECK_EQ(task_iter_read(t, &procs, &n), 4);
	CHECK_EQ(n, 4);
	task_iter_stats(t, &st);
	CHECK_CMP(st.overflow, >, 0);
	CHECK_U64(st.walks, 0); /* 4 records: the walk's array overflowed, iter/task ran */
	task_iter_free(t);
}

int main(void)
{
	RUN(test_agrees_with_proc);
	RUN(test_agrees_with_proc_iter_task);
	RUN(test_whole_system);
	RUN(test_overflow_counted);
	return test_done();
}
