/* SPDX-License-Identifier: MIT */
/* Tests of collectors/bpf_support: feature detection with reasons, privilege checks, memcg id -> path. */
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
#include "bpf_rss.h"
#include "bpf_support.h"
#include "exits.h"
#include "oomkill.h"
#include "taskiter.h"

#define CGROOT "/sys/fs/cgroup"

static char why[256];

/* Skips unless this process may use BPF at all. */
static bool bpf_usable(void)
{
	return bpf_support_check(NULL, NULL, why, sizeof(why)) == 0;
}

/* As root on a kernel with BTF every feature is there, each with a detail. */
static void test_probe_all(void)
{
	struct bpf_feature_status st[BPF_FEATURE_MAX];
	int n;

	if (!bpf_usable())
		TEST_SKIP_UNLESS_CI(why);
	n = bpf_support_probe(st);
	for (int f = 0; f < BPF_FEATURE_MAX; f++) {
		CHECK(strcmp(bpf_feature_name(f), "?") != 0);
		CHECK(st[f].why[0] != '\0');
		if (!st[f].available)
			printf("  %s: %s\n", bpf_feature_name(f), st[f].why);
		CHECK(st[f].available);
		CHECK_EQ(st[f].err, 0);
	}
	CHECK_EQ(n, BPF_FEATURE_MAX);
	CHECK_CONTAINS(st[BPF_FEATURE_TASK_ITER].why, "processes");
	CHECK_CONTAINS(st[BPF_FEATURE_MEMLOCK].why, "not needed");
	CHECK_STR(bpf_feature_name(BPF_FEATURE_MAX), "?");
}

static void test_tracepoints(void)
{
	int nargs = -1;

	if (!bpf_usable())
		TEST_SKIP_UNLESS_CI(why);
	CHECK_EQ(bpf_support_check("rss_stat", &nargs, why, sizeof(why)), 0);
	CHECK_EQ(nargs, 2);
	/* 6.16+: (task, group_dead). */
	CHECK_EQ(bpf_support_check("sched_process_exit", &nargs, why, sizeof(why)), 0);
	CHECK_EQ(nargs, 2);
	CHECK_EQ(bpf_support_check("no_such_tracepoint", &nargs, why, sizeof(why)), -EOPNOTSUPP);
	CHECK_CONTAINS(why, "kernel too old");
	CHECK_CONTAINS(why, "no_such_tracepoint");
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
	char buf[256];

	bpf_support_check(NULL, NULL, why, sizeof(why)); /* installs the capture */
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
	CHECK_EQ(bpf_support_libbpf_error(-EACCES, "thing: load", buf, sizeof(buf)), -EACCES);
	CHECK_STR(buf, "thing: load: verifier rejected prog 'on_thing': "
		       "R1 invalid mem access 'scalar'");

	/* No log: a permission error is about privilege. */
	bpf_support_check(NULL, NULL, why, sizeof(why)); /* clears the capture */
	CHECK_EQ(bpf_support_libbpf_error(-EPERM, "thing: load", buf, sizeof(buf)), -EPERM);
	CHECK_CONTAINS(buf, "no privilege");
	CHECK_EQ(bpf_support_libbpf_error(-ENOENT, "thing: attach", buf, sizeof(buf)), -ENOENT);
	CHECK_CONTAINS(buf, "kernel too old");
}

static void test_nr_cpus(void)
{
	CHECK_EQ(bpf_support_nr_cpus(), libbpf_num_possible_cpus());
}

/* Path of this process's memory cgroup from /proc/self/cgroup (v1), or "". */
static void own_memcg(char *path, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "re");

	path[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, ":memory:");

		line[strcspn(line, "\n")] = '\0';
		if (p)
			snprintf(path, len, "%s", p + 8);
	}
	fclose(f);
}

static void test_memcg_path(void)
{
	char own[512], dir[700], buf[512], tiny[2];
	struct stat st;

	own_memcg(own, sizeof(own));
	if (!own[0] || access(CGROOT "/memory/memory.usage_in_bytes", F_OK) != 0)
		TEST_SKIP("memory controller not on cgroup v1 here");
	snprintf(dir, sizeof(dir), CGROOT "/memory%s", own);
	REQUIRE(stat(dir, &st) == 0);
	CHECK_EQ(bpf_support_memcg_path(CGROOT, (uint64_t)st.st_ino, buf, sizeof(buf)),
		 (int)strlen(own));
	CHECK_STR(buf, own);
	REQUIRE(stat(CGROOT "/memory", &st) == 0);
	CHECK_EQ(bpf_support_memcg_path(CGROOT, (uint64_t)st.st_ino, buf, sizeof(buf)), 1);
	CHECK_STR(buf, "/");
	CHECK_EQ(bpf_support_memcg_path(CGROOT, UINT64_MAX - 7, buf, sizeof(buf)), -ENOENT);
	CHECK_EQ(bpf_support_memcg_path(CGROOT, (uint64_t)st.st_ino, tiny, sizeof(tiny)), 1);
	CHECK_EQ(bpf_support_memcg_path("/nonexistent", 1, buf, sizeof(buf)), -ENOENT);
}

/* Runs in a child that gave up root: every module refuses with a reason
 * naming the missing privilege, and the probe says so. Returns the number
 * of failed expectations. */
static int unprivileged_checks(const char *memcg_own, uint64_t memcg_id)
{
	struct bpf_feature_status st[BPF_FEATURE_MAX];
	struct bpf_rss *r = NULL;
	struct oomkill *o = NULL;
	struct exits *x = NULL;
	struct taskiter *t = NULL;
	char buf[512];
	int bad = 0;

	bad += bpf_support_check(NULL, NULL, buf, sizeof(buf)) != -EPERM;
	bad += strstr(buf, "no privilege") == NULL;
	bad += bpf_rss_new(4, &r, buf, sizeof(buf)) != -EPERM || r != NULL;
	bad += strstr(buf, "CAP_BPF") == NULL;
	bad += oomkill_new(0, &o, buf, sizeof(buf)) != -EPERM || o != NULL;
	bad += exits_new(0, &x, buf, sizeof(buf)) != -EPERM || x != NULL;
	bad += taskiter_new(0, &t, buf, sizeof(buf)) != -EPERM || t != NULL;
	bad += bpf_support_probe(st) > 3;
	bad += !st[BPF_FEATURE_BTF].available;
	bad += st[BPF_FEATURE_PRIVILEGE].available;
	bad += st[BPF_FEATURE_RSS_STAT].available || st[BPF_FEATURE_TASK_ITER].available;
	bad += strstr(st[BPF_FEATURE_TASK_ITER].why, "no privilege") == NULL;
	/* Without CAP_DAC_READ_SEARCH the id is resolved by walking. */
	if (memcg_own[0]) {
		bad += bpf_support_memcg_path(CGROOT, memcg_id, buf, sizeof(buf)) < 0;
		bad += strcmp(buf, memcg_own) != 0;
	}
	return bad;
}

static void test_unprivileged(void)
{
	char own[512], dir[700];
	uint64_t id = 0;
	struct stat st;
	pid_t pid;
	int status = 0;

	if (getuid() != 0)
		TEST_SKIP("needs root to drop root");
	own_memcg(own, sizeof(own));
	snprintf(dir, sizeof(dir), CGROOT "/memory%s", own);
	if (own[0] && stat(dir, &st) == 0)
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
	RUN(test_probe_all);
	RUN(test_tracepoints);
	RUN(test_verifier_reason);
	RUN(test_nr_cpus);
	RUN(test_memcg_path);
	RUN(test_unprivileged);
	return test_done();
}
