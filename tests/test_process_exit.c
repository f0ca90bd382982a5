/* SPDX-License-Identifier: MIT */
/* Tests of collectors/process_exit: exit records from tp_btf/sched_process_exit, loaded into the running kernel. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "memcg.h"
#include "bpf_support.h"
#include "process_exit.h"
#include <linux/types.h>
#include "process_exit_abi.h"
#include "helpers/memchild.h"

#define MIB (1024ull * 1024)
#define NCHILD 500

static struct bpf_failure fl;

struct tally {
	pid_t parent;
	const pid_t *pids;
	const uint64_t *minflt; /* each child's, as wait4() reported it */
	size_t npids;
	bool legacy; /* the kernel's tracepoint is the pre-6.16 one */
	size_t n, unknown, in_bucket, comm_ok, faults_ok, code_ok, peak_ok;
	uint64_t min_hwm, max_hwm;
	struct process_exit_event bad; /* the first event whose faults were off */
	uint64_t bad_want;
	bool have_bad;
};

/* Index of pid among the children, or -1. */
static long child_of(const struct tally *t, pid_t pid)
{
	for (size_t i = 0; i < t->npids; i++)
		if (t->pids[i] == pid)
			return (long)i;
	return -1;
}

static void on_exit_event(void *arg, const struct process_exit_event *ev)
{
	struct tally *t = arg;

	long i;

	if (ev->ppid != t->parent)
		return;
	t->n++;
	i = child_of(t, ev->pid);
	if (i < 0) {
		t->unknown++;
		return;
	}
	/* The peak the agent exports: the final image's high-water mark
	 * (6.16+), or ru_maxrss when the mm was already gone (before). That
	 * one also covers the image execve() replaced, here the forked copy
	 * of this (large) test process: only its lower bound holds there. */
	if (ev->peak_rss_bytes >= 8 * MIB && (t->legacy || ev->peak_rss_bytes < 16 * MIB))
		t->in_bucket++;
	if (t->min_hwm == 0 || ev->peak_rss_bytes < t->min_hwm)
		t->min_hwm = ev->peak_rss_bytes;
	if (ev->peak_rss_bytes > t->max_hwm)
		t->max_hwm = ev->peak_rss_bytes;
	t->comm_ok += strcmp(ev->comm, "memchild") == 0;
	/* The faults wait4() reported for the child (how many 8 MiB takes
	 * depends on the kernel's THP policy), less at most the few of the
	 * exit after the tracepoint. */
	if (ev->min_flt <= t->minflt[i] && ev->min_flt + 16 >= t->minflt[i] && t->minflt[i] > 0 &&
	    ev->lifetime_ns > 0 && ev->no_mm == t->legacy) {
		t->faults_ok++;
	} else if (!t->have_bad) {
		t->bad = *ev;
		t->bad_want = t->minflt[i];
		t->have_bad = true;
	}
	t->code_ok += ev->exit_code == 0;
	if (t->legacy)
		t->peak_ok += ev->legacy && ev->peak_rss_bytes == ev->maxrss_bytes &&
			      ev->hiwater_rss_bytes == 0;
	else
		t->peak_ok += !ev->legacy && ev->peak_rss_bytes == ev->hiwater_rss_bytes;
}

/* The scenario: 500 short-lived children each touching 8 MiB give
 * exactly 500 records (their parent filters them), each with a high-water
 * mark in the 8-16 MiB bucket, and nothing is lost. */
static void test_short_lived_children(void)
{
	static pid_t pids[NCHILD];
	static uint64_t minflt[NCHILD];
	const char *args[] = { "--touch", "8", NULL };
	struct tally t = { .parent = getpid(), .pids = pids, .minflt = minflt };
	struct process_exit *x = NULL;
	struct process_exit_stats st;

	if (process_exit_new(0, &x, &fl) < 0)
		TEST_SKIP_UNLESS_CI(fl.why);
	process_exit_stats(x, &st);
	t.legacy = st.legacy;
	for (int i = 0; i < NCHILD; i++) {
		struct memchild c = { .pid = -1, .to = -1, .from = -1 };
		struct rusage ru = { 0 };
		int status = 0;

		REQUIRE(memchild_start(&c, args) == 0);
		pids[i] = c.pid;
		while (wait4(c.pid, &status, 0, &ru) < 0 && errno == EINTR)
			;
		minflt[i] = (uint64_t)ru.ru_minflt;
		t.npids++;
		c.pid = -1;
		memchild_stop(&c);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		/* Drain as we go, as the agent would. */
		CHECK_CMP(process_exit_poll(x, on_exit_event, &t), >=, 0);
	}
	/* Each record is submitted before its process can be reaped. */
	CHECK_CMP(process_exit_poll(x, on_exit_event, &t), >=, 0);
	CHECK_EQ(t.n, NCHILD);
	CHECK_EQ(t.unknown, 0);
	CHECK_EQ(t.in_bucket, NCHILD);
	CHECK_EQ(t.comm_ok, NCHILD);
	CHECK_EQ(t.faults_ok, NCHILD);
	CHECK_EQ(t.code_ok, NCHILD);
	CHECK_EQ(t.peak_ok, NCHILD);
	if (t.in_bucket != NCHILD)
		printf("  high-water marks from %llu to %llu bytes\n",
		       (unsigned long long)t.min_hwm, (unsigned long long)t.max_hwm);
	if (t.have_bad)
		printf("  first event off: min_flt %llu (wait4: %llu) lifetime %llu ns no_mm %d "
		       "legacy %d\n",
		       (unsigned long long)t.bad.min_flt, (unsigned long long)t.bad_want,
		       (unsigned long long)t.bad.lifetime_ns, t.bad.no_mm, t.bad.legacy);
	process_exit_stats(x, &st);
	CHECK_U64(st.lost, 0);
	CHECK_U64(st.malformed, 0);
	CHECK_EQ(st.programs, 1);
	process_exit_free(x);
}

struct one {
	pid_t pid;
	int n;
	struct process_exit_event ev;
};

static void on_one(void *arg, const struct process_exit_event *ev)
{
	struct one *o = arg;

	if (ev->pid == o->pid) {
		o->n++;
		o->ev = *ev;
	}
}

/* A process with threads is one record, when its last thread goes, with
 * the faults of all its threads: at least what /proc/PID/stat said while
 * it was stopped, its rss and high-water mark, memory cgroup and exit
 * status (killed: the signal). */
static void test_thread_group_once(void)
{
	struct memchild c = { .pid = -1, .to = -1, .from = -1 };
	struct process_exit *x = NULL;
	struct one o = { 0 };
	struct proc_stat ps;
	int status;

	if (process_exit_new(0, &x, &fl) < 0)
		TEST_SKIP_UNLESS_CI(fl.why);
	REQUIRE(memchild_start(&c, NULL) == 0);
	REQUIRE(memchild_cmd(&c, "p 4") == 0);
	REQUIRE(memchild_cmd(&c, "t 20") == 0);
	o.pid = c.pid;
	REQUIRE(kill(c.pid, SIGSTOP) == 0);
	REQUIRE(waitpid(c.pid, &status, WUNTRACED) == c.pid && WIFSTOPPED(status));
	REQUIRE(proc_stat_read(c.pid, &ps) == 0);
	status = memchild_stop(&c);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_CMP(process_exit_poll(x, on_one, &o), >=, 1);
	CHECK_EQ(o.n, 1);
	CHECK_CMP(o.ev.min_flt, >=, ps.minflt);
	CHECK_CMP(o.ev.min_flt, <=, ps.minflt + 64);
	CHECK_CMP(o.ev.maj_flt, >=, ps.majflt);
	CHECK_EQ(o.ev.exit_code & 0x7f, SIGKILL);
	{
		struct process_exit_stats es;

		process_exit_stats(x, &es);
		CHECK_EQ(o.ev.legacy, es.legacy);
		if (es.legacy) {
			/* Before 6.16 the record comes after exit_mm(): no
			 * final image, and ru_maxrss is the peak there is. */
			CHECK(o.ev.no_mm);
			CHECK_U64(o.ev.rss_bytes, 0);
			CHECK_CMP(o.ev.maxrss_bytes, >=, 20 * MIB);
			CHECK_U64(o.ev.peak_rss_bytes, o.ev.maxrss_bytes);
		} else {
			CHECK(!o.ev.no_mm);
			CHECK_CMP(o.ev.hiwater_rss_bytes, >=, 20 * MIB);
			CHECK_CMP(o.ev.hiwater_rss_bytes, >=, o.ev.rss_bytes);
			CHECK_CMP(o.ev.maxrss_bytes, >=, o.ev.hiwater_rss_bytes - MIB);
			CHECK_U64(o.ev.peak_rss_bytes, o.ev.hiwater_rss_bytes);
		}
	}
	CHECK(!o.ev.faults_truncated);
	/* Same memory cgroup as this test (the child inherited it), v1 or v2. */
	{
		uint64_t id = memcg_ino(getpid());

		if (id)
			CHECK_U64(o.ev.memcg_id, id);
	}
	process_exit_free(x);
}

/* Records as both programs write them: the 6.16+ one has the final image's
 * high-water mark; the legacy one (after exit_mm()) has none, and the peak
 * falls back to signal->maxrss. A short record is refused. */
static void test_decode_peak(void)
{
	struct process_exit_rec e = {
		.pid = 42, .ppid = 7, .rss_pages = 100, .hiwater_rss_pages = 300, .maxrss_pages = 500,
		.min_flt = 9, .comm = "worker",
	};
	struct process_exit_event ev = { .pid = -1 };

	CHECK_EQ(process_exit_decode(&e, sizeof(e), 4096, &ev), 0);
	CHECK_EQ(ev.pid, 42);
	CHECK_EQ(ev.ppid, 7);
	CHECK(!ev.no_mm && !ev.legacy);
	CHECK_EQ(ev.hiwater_rss_bytes, 300 * 4096);
	CHECK_EQ(ev.peak_rss_bytes, 300 * 4096);
	CHECK_EQ(ev.maxrss_bytes, 500 * 4096);
	CHECK(strcmp(ev.comm, "worker") == 0);

	e.flags = PROCESS_EXIT_F_NO_MM | PROCESS_EXIT_F_LEGACY;
	e.rss_pages = e.hiwater_rss_pages = 0;
	CHECK_EQ(process_exit_decode(&e, sizeof(e), 4096, &ev), 0);
	CHECK(ev.no_mm && ev.legacy);
	CHECK_EQ(ev.hiwater_rss_bytes, 0);
	CHECK_EQ(ev.peak_rss_bytes, 500 * 4096);

	ev.pid = -1;
	CHECK_EQ(process_exit_decode(&e, sizeof(e) - 1, 4096, &ev), -EBADMSG);
	CHECK_EQ(ev.pid, -1);
}

int main(void)
{
	RUN(test_decode_peak);
	RUN(test_short_lived_children);
	RUN(test_thread_group_once);
	return test_done();
}
