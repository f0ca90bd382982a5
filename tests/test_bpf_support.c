/* SPDX-License-Identifier: MIT */
/* Tests of collectors/bpf_support: checks, reasons, the loader and its test hooks, privilege. */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "test.h"
#include "memcg.h"
#include "rss_stat.h"
#include "bpf_support.h"
#include "cgroupfs.h"
#include "probe.h"
#include "process_exit.h"
#include "mark_victim.h"
#include "task_iter.h"

#define CGROOT "/sys/fs/cgroup"

static struct bpf_failure fl;

/* Skips unless this process may use BPF at all. */
static bool bpf_usable(void)
{
	return bpf_support_check("test", NULL, NULL, &fl) == 0;
}

/* Arguments of BTF tracepoint tp by bpftool's reading of the kernel's BTF
 * (an oracle independent of our libbpf code): the commas of
 * "typedef void (*btf_trace_tp)(void *, ...);". -1 when absent. */
static int nargs_by_bpftool(const char *tp)
{
	char cmd[256], line[1024], want[128];
	int n = -1;
	FILE *p;

	snprintf(want, sizeof(want), "(*btf_trace_%s)(", tp);
	snprintf(cmd, sizeof(cmd), "bpftool btf dump file /sys/kernel/btf/vmlinux format c 2>/dev/null");
	p = popen(cmd, "re");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		if (strstr(line, want)) {
			n = 0;
			for (const char *c = strstr(line, want); *c && *c != ';'; c++)
				n += *c == ',';
		}
	}
	pclose(p);
	return n;
}

/* The argument counts follow the kernel's own prototypes: rss_stat has 3
 * before 6.2 (mm, member, count) and 2 since; sched_process_exit 1 before
 * 6.16 and 2 since (group_dead). */
static void test_tracepoints(void)
{
	int nargs = -1, want;

	if (!bpf_usable())
		TEST_SKIP_UNLESS_CI(fl.why);
	want = nargs_by_bpftool("rss_stat");
	REQUIRE(want >= 2);
	CHECK_EQ(bpf_support_check("t", "rss_stat", &nargs, &fl), 0);
	CHECK_EQ(nargs, want);
	want = nargs_by_bpftool("sched_process_exit");
	REQUIRE(want >= 1);
	CHECK_EQ(bpf_support_check("t", "sched_process_exit", &nargs, &fl), 0);
	CHECK_EQ(nargs, want);
	CHECK_EQ(bpf_support_check("t", "no_such_tracepoint", &nargs, &fl), -EOPNOTSUPP);
	CHECK_EQ(fl.reason, BPF_REASON_MISSING_KERNEL_FEATURE);
	CHECK_CONTAINS(fl.why, "no BTF tracepoint no_such_tracepoint");
}

static void emit(libbpf_print_fn_t fn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fn(LIBBPF_WARN, fmt, ap);
	va_end(ap);
}

/* A load failure becomes one line: the program and the verifier's error,
 * which is the last line of the log, not the statistics after it. */
static void test_verifier_reason(void)
{
	libbpf_print_fn_t fn;

	struct bpf_failure f;

	bpf_support_check("t", NULL, NULL, &fl); /* installs the capture */
	fn = libbpf_set_print(NULL);
	libbpf_set_print(fn);
	REQUIRE(fn != NULL);
	emit(fn, "libbpf: prog '%s': BPF program load failed: %s\n", "on_thing",
	     "Permission denied");
	emit(fn, "libbpf: prog '%s': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n",
	     "on_thing",
	     "0: R1=ctx() R10=fp0\n1: (79) r2 = *(u64 *)(r1 +0)\n"
	     "R1 invalid mem access 'scalar'\n"
	     "processed 2 insns (limit 1000000) max_states_per_insn 0\n");
	emit(fn, "libbpf: prog '%s': failed to load: %d\n", "on_thing", -13);
	CHECK_EQ(bpf_support_libbpf_error(-EACCES, "thing", "load", &f), -EACCES);
	CHECK_EQ(f.reason, BPF_REASON_VERIFIER);
	CHECK_STR(f.why, "thing: load: verifier rejected prog 'on_thing': "
			 "R1 invalid mem access 'scalar'");

	/* A helper the kernel lacks is named as the missing feature. */
	bpf_support_check("t", NULL, NULL, &fl); /* clears the capture */
	emit(fn, "libbpf: prog '%s': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n",
	     "on_thing", "0: R1=ctx() R10=fp0\nunknown func bpf_map_lookup_percpu_elem#195\n"
	     "processed 2 insns (limit 1000000) max_states_per_insn 0\n");
	CHECK_EQ(bpf_support_libbpf_error(-EINVAL, "thing", "load", &f), -EINVAL);
	CHECK_EQ(f.reason, BPF_REASON_MISSING_KERNEL_FEATURE);
	CHECK_CONTAINS(f.why, "lacks the helper bpf_map_lookup_percpu_elem");

	/* No log: a permission error is about privilege. */
	bpf_support_check("t", NULL, NULL, &fl); /* clears the capture */
	CHECK_EQ(bpf_support_libbpf_error(-EPERM, "thing", "load", &f), -EPERM);
	CHECK_EQ(f.reason, BPF_REASON_NO_PRIVILEGE);
	CHECK_CONTAINS(f.why, "no privilege");
	CHECK_EQ(bpf_support_libbpf_error(-ENOENT, "thing", "attach", &f), -ENOENT);
	CHECK_EQ(f.reason, BPF_REASON_ATTACH);
	CHECK_STR(bpf_reason_name(BPF_REASON_MISSING_KERNEL_FEATURE), "missing_kernel_feature");
	CHECK_STR(bpf_reason_name(BPF_REASON_MAX), "?");
}

/* The test hook makes the real load fail in the kernel's verifier: every
 * module then reports the verifier as the reason, names its program, and
 * frees what it made; with the hook off the same module loads. Portable
 * variants load on any kernel. */
static void test_rejected_load(void)
{
	struct rss_stat *r = NULL;
	struct task_iter *t = NULL;
	struct process_exit *x = NULL;
	struct mark_victim *o = NULL;

	if (!bpf_usable())
		TEST_SKIP_UNLESS_CI(fl.why);
	setenv("MEMAGENT_BPF_TEST_REJECT", "rss_stat,task_iter,sched_process_exit,mark_victim", 1);
	CHECK(bpf_support_test_reject("task_iter"));
	CHECK(!bpf_support_test_reject("task"));
	CHECK_EQ(rss_stat_new(4, &r, &fl), -EACCES);
	CHECK(r == NULL);
	CHECK_EQ(fl.reason, BPF_REASON_VERIFIER);
	CHECK_CONTAINS(fl.why, "rss_stat: load: verifier rejected prog 'on_rss_stat");
	CHECK_CONTAINS(fl.why, "invalid mem access");
	CHECK_CMP(task_iter_new(0, &t, &fl), <, 0);
	CHECK_EQ(fl.reason, BPF_REASON_VERIFIER);
	CHECK_CMP(process_exit_new(0, &x, &fl), <, 0);
	CHECK_EQ(fl.reason, BPF_REASON_VERIFIER);
	CHECK_CMP(mark_victim_new(0, &o, &fl), <, 0);
	CHECK_EQ(fl.reason, BPF_REASON_VERIFIER);
	setenv("MEMAGENT_BPF_TEST_REJECT", "mark_victim", 1);
	CHECK_EQ(rss_stat_new(4, &r, &fl), 0);
	CHECK(r != NULL);
	r = rss_stat_free(r);
	unsetenv("MEMAGENT_BPF_TEST_REJECT");

	setenv("MEMAGENT_BPF_PORTABLE", "1", 1);
	CHECK_EQ(task_iter_new(0, &t, &fl), 0);
	if (t) {
		CHECK(task_iter_portable(t));
		t = task_iter_free(t);
	}
	CHECK_EQ(process_exit_new(0, &x, &fl), 0);
	if (x) {
		struct process_exit_stats es;

		process_exit_stats(x, &es);
		CHECK(es.portable);
		x = process_exit_free(x);
	}
	unsetenv("MEMAGENT_BPF_PORTABLE");
}

static void test_nr_cpus(void)
{
	CHECK_EQ(bpf_support_nr_cpus(), libbpf_num_possible_cpus());
}

/* Runs in a child that gave up root: every module refuses with a reason
 * naming the missing privilege, and the probe says so. Returns the number
 * of failed expectations. */
static int unprivileged_checks(const char *memcg_own, uint64_t memcg_id)
{
	struct bpf_feature_status st[BPF_FEATURE_MAX];
	struct rss_stat *r = NULL;
	struct mark_victim *o = NULL;
	struct process_exit *x = NULL;
	struct task_iter *t = NULL;
	struct bpf_failure f;
	char buf[512];
	int bad = 0;

	bad += bpf_support_check("t", NULL, NULL, &f) != -EPERM;
	bad += strstr(f.why, "no privilege") == NULL;
	bad += f.reason != BPF_REASON_NO_PRIVILEGE;
	bad += rss_stat_new(4, &r, &f) != -EPERM || r != NULL;
	bad += strstr(f.why, "CAP_BPF") == NULL;
	bad += mark_victim_new(0, &o, &f) != -EPERM || o != NULL;
	bad += process_exit_new(0, &x, &f) != -EPERM || x != NULL;
	bad += task_iter_new(0, &t, &f) != -EPERM || t != NULL;
	bad += f.reason != BPF_REASON_NO_PRIVILEGE;
	bad += probe_run(st) > 3;
	bad += !st[BPF_FEATURE_BTF].available;
	bad += st[BPF_FEATURE_PRIVILEGE].available;
	bad += st[BPF_FEATURE_RSS_STAT].available || st[BPF_FEATURE_TASK_ITER].available;
	bad += strstr(st[BPF_FEATURE_TASK_ITER].why, "no privilege") == NULL;
	/* Without CAP_DAC_READ_SEARCH the id is resolved by walking. */
	if (memcg_own[0]) {
		struct cgroupfs_hier h;

		bad += cgroupfs_detect(CGROOT, &h) < 0;
		bad += cgroupfs_path_of_id(&h, memcg_id, buf, sizeof(buf)) < 0;
		bad += strcmp(buf, memcg_own) != 0;
	}
	return bad;
}

static void test_unprivileged(void)
{
	char own[512], dir[1024];
	uint64_t id = 0;
	struct stat st;
	pid_t pid;
	int status = 0;

	if (getuid() != 0)
		TEST_SKIP("needs root to drop root");
	if (memcg_of(getpid(), own, sizeof(own), dir, sizeof(dir)) && stat(dir, &st) == 0)
		id = (uint64_t)st.st_ino;
	else
		own[0] = '\0';
	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int bad;

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(100);
		bad = unprivileged_checks(own, id);
		/* _exit: the leak checker cannot stop the world as nobody. */
		_exit(bad > 99 ? 99 : bad);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

int main(void)
{
	RUN(test_tracepoints);
	RUN(test_verifier_reason);
	RUN(test_rejected_load);
	RUN(test_nr_cpus);
	RUN(test_unprivileged);
	return test_done();
}
