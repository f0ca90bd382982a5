/* SPDX-License-Identifier: MIT */
/* process: the collector on fixture trees (vanished, unreadable, garbage,
 * kernel threads, zombies) and on real children (rss, limits, groups,
 * counters that never go backwards, comm changes). */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "helpers/memchild.h"
#include "process.h"
#include "procfs.h"
#include "snapcheck.h"
#include "test.h"

#define MiB (1024.0 * 1024.0)

/* --- a child we can steer ---------------------------------------------------- */

struct child {
	pid_t pid;
	int cmd, ack;
};

struct cmd {
	char op;       /* 'n' rename, 't' touch MiB, 'f' fault pages, 'e' exec, 'x' exit */
	unsigned arg;
	char name[16]; /* 'e': the marker argument */
};

static char self_exe[PATH_MAX];

static void child_main(int cmd, int ack)
{
	struct cmd c;
	char *mem = NULL;

	while (read(cmd, &c, sizeof(c)) == sizeof(c)) {
		switch (c.op) {
		case 'n':
			prctl(PR_SET_NAME, c.name);
			break;
		case 't': /* touch arg MiB and keep it */
			mem = mmap(NULL, (size_t)c.arg << 20, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (mem != MAP_FAILED)
				memset(mem, 1, (size_t)c.arg << 20);
			break;
		case 'f': /* arg minor faults, memory returned after */
			for (unsigned i = 0; i < c.arg; i++) {
				char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

				if (p == MAP_FAILED)
					break;
				p[0] = 1;
				munmap(p, 4096);
			}
			break;
		case 'e': { /* this binary again, so the comm stays: "--idle MARKER" */
			char *const argv[] = { self_exe, "--idle", c.name, NULL };

			execv(self_exe, argv);
			_exit(1);
		}
		case 'x':
			_exit(0);
		}
		if (write(ack, "k", 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static int child_start(struct child *ch, const char *name)
{
	int cmd[2], ack[2];

	if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(ack, O_CLOEXEC) < 0)
		return -1;
	ch->pid = fork();
	if (ch->pid < 0)
		return -1;
	if (ch->pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		child_main(cmd[0], ack[1]);
	}
	close(cmd[0]);
	close(ack[1]);
	ch->cmd = cmd[1];
	ch->ack = ack[0];
	if (name) {
		struct cmd c = { .op = 'n' };

		snprintf(c.name, sizeof(c.name), "%s", name);
		char k;

		if (write(ch->cmd, &c, sizeof(c)) != sizeof(c) || read(ch->ack, &k, 1) != 1)
			return -1;
	}
	return 0;
}

/* Sends a command and waits until the child has carried it out. */
static int child_do(struct child *ch, char op, unsigned arg, const char *name)
{
	struct cmd c = { .op = op, .arg = arg };
	char k;

	if (name)
		snprintf(c.name, sizeof(c.name), "%s", name);
	if (write(ch->cmd, &c, sizeof(c)) != sizeof(c))
		return -1;
	return read(ch->ack, &k, 1) == 1 ? 0 : -1;
}

/* Ends the child and reaps it: afterwards its pid is gone from /proc. */
static void child_stop(struct child *ch)
{
	if (ch->pid <= 0)
		return;
	close(ch->cmd);
	close(ch->ack);
	kill(ch->pid, SIGKILL);
	waitpid(ch->pid, NULL, 0);
	ch->pid = 0;
}

/* --- running the collector ------------------------------------------------- */

struct run {
	struct config *cfg;
	struct collector_ctx ctx;
	struct collector_errors err;
	void *state;
	struct snapshot *snap;
};

static int run_start_bpf(struct run *r, const char *json, const char *proc_root, bool bpf);

static int run_start(struct run *r, const char *json, const char *proc_root)
{
	return run_start_bpf(r, json, proc_root, false);
}

static int run_start_bpf(struct run *r, const char *json, const char *proc_root, bool bpf)
{
	char e[CONFIG_ERROR_MAX];

	memset(r, 0, sizeof(*r));
	if (config_parse(json, strlen(json), "test", &r->cfg, e) < 0) {
		printf("  config: %s\n", e);
		return -1;
	}
	r->ctx = (struct collector_ctx){ .proc_root = proc_root, .cgroup_root = "/sys/fs/cgroup",
					 .targets = &r->cfg->targets,
					 .limits = { r->cfg->limits.max_processes, r->cfg->limits.max_groups },
					 .use_bpf = bpf };
	return process_collector.init(&r->ctx, &r->state);
}

static int run_tick(struct run *r)
{
	snapshot_unref(r->snap);
	r->snap = snapshot_new();
	return process_collector.read(r->state, r->snap, &r->err);
}

static void run_stop(struct run *r)
{
	process_collector.done(r->state);
	snapshot_unref(r->snap);
	config_free(r->cfg);
}

static double value(struct run *r, const char *name, const char *const *kv)
{
	return snapcheck_value(r->snap, name, kv);
}

/* --- fixture tree ------------------------------------------------------------ */

/* Writes pid's stat (and status when given) from the real fixtures with the
 * comm and state replaced. */
static int fixture_proc(const char *root, int pid, const char *comm, char state, bool status)
{
	char *stat = test_slurp("tests/fixtures/proc/stat.txt", NULL);
	char *st = test_slurp("tests/fixtures/proc/status.txt", NULL);
	char rel[64], text[4096], *close_paren, *nl;
	int r = -1;

	if (!stat || !st)
		goto out;
	close_paren = strrchr(stat, ')');
	snprintf(text, sizeof(text), "%d (%s) %c%s", pid, comm, state, close_paren + 3);
	snprintf(rel, sizeof(rel), "%d/stat", pid);
	if (test_write_file(root, rel, text) < 0)
		goto out;
	if (status) {
		nl = strchr(st, '\n');
		snprintf(text, sizeof(text), "Name:\t%s%s", comm, nl);
		snprintf(rel, sizeof(rel), "%d/status", pid);
		if (test_write_file(root, rel, text) < 0)
			goto out;
	}
	r = 0;
out:
	free(stat);
	free(st);
	return r;
}

static void test_fixture_tree(void)
{
	char root[] = "/tmp/memagent-proc-XXXXXX", path[128];
	const char *json = "{\"targets\": [{\"name\": \"app\", \"match\": {\"comm\": \"app\"}},"
			   "{\"name\": \"all\", \"match\": {}, \"group_by\": \"comm\"}]}";
	char *kstat = test_slurp("tests/fixtures/proc/stat-kthread.txt", NULL);
	char *kstatus = test_slurp("tests/fixtures/proc/status-kthread.txt", NULL);
	unsigned long long rss_kb = 0;
	char *status = test_slurp("tests/fixtures/proc/status.txt", NULL);
	struct run r;

	REQUIRE(mkdtemp(root) && kstat && kstatus && status);
	REQUIRE(sscanf(strstr(status, "VmRSS:"), "VmRSS: %llu kB", &rss_kb) == 1);
	REQUIRE(test_write_file(root, "stat", "cpu  1 2 3\nbtime 1700000000\n") == 0);
	REQUIRE(fixture_proc(root, 100, "app", 'S', true) == 0);
	REQUIRE(fixture_proc(root, 200, "app", 'S', false) == 0); /* listed, status gone */
	REQUIRE(fixture_proc(root, 300, "app", 'S', false) == 0);
	snprintf(path, sizeof(path), "%s/300/status", root);
	REQUIRE(mkdir(path, 0755) == 0); /* a folder where the file should be */
	REQUIRE(fixture_proc(root, 400, "app", 'Z', true) == 0); /* zombie */
	REQUIRE(fixture_proc(root, 500, "app", 'S', false) == 0);
	REQUIRE(test_write_file(root, "500/status", "Name:\tapp\nState:\tS\nVmRSS:\tlots\n") == 0);
	REQUIRE(test_write_file(root, "2/stat", kstat) == 0);
	REQUIRE(test_write_file(root, "2/status", kstatus) == 0);
	REQUIRE(test_write_file(root, "self/stat", "not a pid") == 0);

	REQUIRE(run_start(&r, json, root) == 0);
	CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "app")) == 1);
	CHECK(value(&r, "memagent_process_resident_bytes", SNAP_LABELS("target", "app")) == rss_kb * 1024.0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "all", "comm", "app")) == 1);
	CHECK(isnan(value(&r, "memagent_process_count", SNAP_LABELS("target", "all", "comm", "kthreadd"))));
	CHECK_EQ(r.err.n[COLLECTOR_VANISHED], 1);
	CHECK_EQ(r.err.n[COLLECTOR_UNREADABLE], 1);
	CHECK_EQ(r.err.n[COLLECTOR_PARSE], 1);
	/* Again: the same counts again, nothing crashes, the good one still reads. */
	CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "app")) == 1);
	CHECK_EQ(r.err.n[COLLECTOR_UNREADABLE], 2);
	run_stop(&r);
	test_rm_rf(root);
	free(kstat);
	free(kstatus);
	free(status);
}

/* /proc is listed only when a pid was allocated since the listing before
 * (/proc/loadavg's last pid), and again once after that to catch a process
 * that was not visible yet; exits are caught by the kept descriptors. */
static void test_listing_only_after_forks(void)
{
	char root[] = "/tmp/memagent-proc-XXXXXX";
	const char *json = "{\"targets\": [{\"name\": \"app\", \"match\": {\"comm\": \"app\"}}]}";
	struct run r;

	REQUIRE(mkdtemp(root));
	REQUIRE(test_write_file(root, "loadavg", "0.00 0.00 0.00 1/90 100\n") == 0);
	REQUIRE(fixture_proc(root, 100, "app", 'S', true) == 0);
	REQUIRE(run_start(&r, json, root) == 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "app")) == 1);
	/* A process that appears without a new pid (impossible on a real
	 * /proc) is not seen: the listing was skipped. */
	REQUIRE(fixture_proc(root, 101, "app", 'S', true) == 0);
	CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "app")) == 1);
	/* A new last pid: listed, found. */
	REQUIRE(test_write_file(root, "loadavg", "0.00 0.00 0.00 1/91 101\n") == 0);
	CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "app")) == 2);
	run_stop(&r);
	test_rm_rf(root);
}

/* A member that cannot be read for a sample (garbage, EACCES, EIO) is still a
 * member: the counters of its targets keep its last counts instead of
 * dropping them for that sample and jumping back on the next one. */
static void test_counters_survive_failed_read(void)
{
	char root[] = "/tmp/memagent-proc-XXXXXX";
	const char *json = "{\"limits\": {\"max_processes\": 1}, \"targets\": ["
			   "{\"name\": \"agg\", \"match\": {\"comm\": \"app\"}},"
			   "{\"name\": \"pp\", \"match\": {\"comm\": \"app\"}, \"per_process\": true}]}";
	struct run r;
	double agg, other;

	REQUIRE(mkdtemp(root));
	for (int pid = 100; pid <= 102; pid++)
		REQUIRE(fixture_proc(root, pid, "app", 'S', true) == 0);
	REQUIRE(run_start(&r, json, root) == 0);
	CHECK_EQ(run_tick(&r), 0);
	agg = value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "agg"));
	other = value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "pp", "pid", "other"));
	CHECK(agg > 0);
	CHECK(other > 0);
	/* Two of the three turn unreadable: at least one of them is in "other". */
	REQUIRE(test_write_file(root, "101/status", "Name:\tapp\nState:\tS\nVmRSS:\tlots\n") == 0);
	REQUIRE(test_write_file(root, "102/status", "Name:\tapp\nState:\tS\nVmRSS:\tlots\n") == 0);
	CHECK_EQ(run_tick(&r), 0);
	CHECK_EQ(r.err.n[COLLECTOR_PARSE], 2);
	CHECK(value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "agg")) >= agg);
	CHECK(value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "pp", "pid", "other")) >= other);
	run_stop(&r);
	test_rm_rf(root);
}

/* /proc/stat grows with CPUs and interrupts: on a large host btime comes
 * after tens of KiB of cpu and intr lines. The start time must still be
 * there. */
static void test_start_time_long_proc_stat(void)
{
	char root[] = "/tmp/memagent-proc-XXXXXX";
	const char *json = "{\"targets\": [{\"name\": \"app\", \"match\": {\"comm\": \"app\"}, "
			   "\"per_process\": true}]}";
	size_t cap = 64 * 1024, n = 0;
	char *text = malloc(cap);
	struct run r;
	double start;

	REQUIRE(text && mkdtemp(root));
	n += (size_t)snprintf(text + n, cap - n, "cpu  1 2 3 4 5 6 7 8 9 10\nintr 12345");
	while (n + 64 < cap)
		n += (size_t)snprintf(text + n, cap - n, " 0");
	snprintf(text + n, cap - n, "\nctxt 99\nbtime 1700000000\nprocesses 5\n");
	REQUIRE(test_write_file(root, "stat", text) == 0);
	REQUIRE(fixture_proc(root, 100, "app", 'S', true) == 0);
	REQUIRE(run_start(&r, json, root) == 0);
	CHECK_EQ(run_tick(&r), 0);
	start = value(&r, "memagent_process_start_time_seconds", SNAP_LABELS("target", "app", "pid", "100"));
	CHECK(start >= 1700000000.0 && start < 1700000000.0 + 86400.0 * 365);
	run_stop(&r);
	test_rm_rf(root);
	free(text);
}

/* --- real processes ---------------------------------------------------------- */

static void test_rss_of_child(void)
{
	struct child ch = {0};
	char json[256], pid[16];
	struct run r;
	double rss, anon;

	REQUIRE(child_start(&ch, "rss-child") == 0);
	REQUIRE(child_do(&ch, 't', 64, NULL) == 0);
	snprintf(json, sizeof(json),
		 "{\"targets\": [{\"name\": \"c\", \"match\": {\"pid\": %d}, \"per_process\": true}]}", ch.pid);
	snprintf(pid, sizeof(pid), "%d", ch.pid);
	REQUIRE(run_start(&r, json, "/proc") == 0);
	CHECK_EQ(run_tick(&r), 0);
	rss = value(&r, "memagent_process_resident_bytes", SNAP_LABELS("target", "c", "pid", pid));
	anon = value(&r, "memagent_process_resident_anon_bytes", SNAP_LABELS("target", "c", "pid", pid));
	CHECK(rss >= 64 * MiB && rss <= 80 * MiB);
	CHECK(anon >= 64 * MiB && anon <= rss);
	CHECK(value(&r, "memagent_process_threads", SNAP_LABELS("target", "c", "pid", pid)) == 1);
	CHECK(value(&r, "memagent_process_open_fds", SNAP_LABELS("target", "c", "pid", pid)) >= 3);
	CHECK(value(&r, "memagent_process_start_time_seconds", SNAP_LABELS("target", "c", "pid", pid)) > 1e9);
	CHECK(value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "c", "pid", pid)) >= 64 * 256 / 512);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "c")) == 1);
	CHECK(value(&r, "memagent_process_kept_fds", NULL) == 3); /* status, stat, fd */
	run_stop(&r);
	child_stop(&ch);
}

/* A group's counters keep exited members' counts: they never go backwards,
 * for an aggregate target and for the overflow series of a per_process one. */
static void test_counters_never_decrease(void)
{
	struct child ch[4] = {{0}};
	const char *json = "{\"limits\": {\"max_processes\": 1}, \"targets\": ["
			   "{\"name\": \"agg\", \"match\": {\"comm\": \"mono-child\"}},"
			   "{\"name\": \"pp\", \"match\": {\"comm\": \"mono-child\"}, \"per_process\": true}]}";
	struct run r;
	double agg_prev, other_prev, v;

	for (int i = 0; i < 4; i++) {
		REQUIRE(child_start(&ch[i], "mono-child") == 0);
		REQUIRE(child_do(&ch[i], 'f', 2000, NULL) == 0);
	}
	REQUIRE(run_start(&r, json, "/proc") == 0);
	CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "agg")) == 4);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "pp")) == 4);
	CHECK(value(&r, "memagent_target_overflow_processes", SNAP_LABELS("target", "pp")) == 3);
	CHECK_EQ(snapcheck_count(r.snap, "memagent_process_resident_bytes", "pid", NULL), 2); /* 1 + other */
	agg_prev = value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "agg"));
	other_prev = value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "pp", "pid", "other"));
	CHECK(agg_prev >= 4 * 2000);
	CHECK(other_prev >= 3 * 2000);

	/* Members leave one by one; whichever owned the pid series, the
	 * aggregates must not drop. */
	for (int i = 0; i < 4; i++) {
		child_stop(&ch[i]);
		CHECK_EQ(run_tick(&r), 0);
		CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "agg")) == 3 - i);
		v = value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "agg"));
		CHECK(v >= agg_prev);
		agg_prev = v;
		v = value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "pp", "pid", "other"));
		CHECK(v >= other_prev);
		other_prev = v;
	}
	CHECK(agg_prev >= 4 * 2000);
	/* Exits between samples are ordinary, whether or not /proc was
	 * listed (test_listing_only_after_forks): never "vanished". */
	CHECK_EQ(r.err.n[COLLECTOR_VANISHED], 0);
	run_stop(&r);
}

static void test_group_limit(void)
{
	struct child ch[3] = {{0}};
	const char *names[3] = { "grp-a", "grp-b", "grp-c" };
	char json[1400];
	struct run r;
	double total = 0;

	for (int i = 0; i < 3; i++)
		REQUIRE(child_start(&ch[i], names[i]) == 0);
	/* Only this test program and its children: match on our own command
	 * line, which the forked children share, quoted into a regex (another
	 * run of this suite elsewhere on the machine has another path). */
	char self[512], re[1100], *q = re;
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int n = procfs_read_cmdline(proc_fd, getpid(), self, sizeof(self));

	close(proc_fd);
	REQUIRE(n > 0);
	*q++ = '^';
	for (const char *c = self; *c; c++) {
		if (strchr("\\.[]{}()*+?^$|", *c))
			*q++ = '\\', *q++ = '\\';
		*q++ = *c;
	}
	*q++ = '$';
	*q = '\0';
	snprintf(json, sizeof(json),
		 "{\"limits\": {\"max_groups\": 2}, \"targets\": [{\"name\": \"g\", "
		 "\"match\": {\"cmdline\": \"%s\"}, \"group_by\": \"comm\"}]}", re);
	REQUIRE(run_start(&r, json, "/proc") == 0);
	CHECK_EQ(run_tick(&r), 0);
	/* 4 processes, 4 comms, 2 groups allowed: 2 groups + "(other)" holding 2. */
	CHECK_EQ(snapcheck_count(r.snap, "memagent_process_count", "comm", NULL), 3);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "g", "comm", "(other)")) == 2);
	CHECK(value(&r, "memagent_target_overflow_processes", SNAP_LABELS("target", "g")) == 2);
	for (const struct snapshot_family *f = snapshot_families(r.snap); f; f = f->next)
		if (strcmp(f->desc->name, "memagent_process_count") == 0)
			for (const struct snapshot_sample *x = f->samples; x; x = x->next)
				total += x->value;
	CHECK(total == 4);
	/* Census targets report count, rss and swap only. */
	CHECK_EQ(snapcheck_count(r.snap, "memagent_process_minor_faults_total", "target", NULL), 0);
	CHECK_EQ(snapcheck_count(r.snap, "memagent_process_swap_bytes", "target", "g"), 3);
	run_stop(&r);
	for (int i = 0; i < 3; i++)
		child_stop(&ch[i]);
}

static void test_kernel_threads_excluded(void)
{
	const char *json = "{\"limits\": {\"max_processes\": 100000}, \"targets\": "
			   "[{\"name\": \"every\", \"match\": {}, \"per_process\": true}]}";
	char self[16];
	struct run r;

	snprintf(self, sizeof(self), "%d", getpid());
	REQUIRE(run_start(&r, json, "/proc") == 0);
	CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_resident_bytes", SNAP_LABELS("target", "every", "pid", self)) > 0);
	/* kthreadd is pid 2 on every Linux. */
	CHECK(isnan(value(&r, "memagent_process_resident_bytes", SNAP_LABELS("target", "every", "pid", "2"))));
	CHECK_EQ(snapcheck_count(r.snap, "memagent_process_resident_bytes", "pid", "other"), 0);
	run_stop(&r);
}

/* A process whose comm changes (exec, prctl) is matched anew; the target it
 * leaves keeps its fault counts. */
static void test_comm_change(void)
{
	struct child ch = {0};
	const char *json = "{\"targets\": [{\"name\": \"one\", \"match\": {\"comm\": \"cc-one\"}},"
			   "{\"name\": \"two\", \"match\": {\"comm\": \"cc-two\"}}]}";
	struct run r;
	double faults;

	REQUIRE(child_start(&ch, "cc-one") == 0);
	REQUIRE(child_do(&ch, 'f', 500, NULL) == 0);
	REQUIRE(run_start(&r, json, "/proc") == 0);
	CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "one")) == 1);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "two")) == 0);
	faults = value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "one"));
	CHECK(faults >= 500);
	REQUIRE(child_do(&ch, 'n', 0, "cc-two") == 0);
	CHECK_EQ(run_tick(&r), 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "one")) == 0);
	CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "two")) == 1);
	CHECK(value(&r, "memagent_process_minor_faults_total", SNAP_LABELS("target", "one")) >= faults);
	run_stop(&r);
	child_stop(&ch);
}

/* The BPF iterator and /proc give the same numbers, sample for sample, for
 * processes held still (SIGSTOP) with anonymous, shared, file and thread
 * memory. */
static void test_backends_agree(void)
{
	enum { N = 3 };
	struct memchild c[N];
	const char *cmds[N][2] = { { "t 16", "p 3" }, { "s 8", "r 8" }, { "t 4", "s 2" } };
	const char *json = "{\"targets\": [{\"name\": \"mc\", \"match\": {\"comm\": \"memchild\"}, "
			   "\"per_process\": true}]}";
	static const char *const gauges[] = {
		"memagent_process_resident_bytes", "memagent_process_resident_anon_bytes",
		"memagent_process_resident_file_bytes", "memagent_process_resident_shmem_bytes",
		"memagent_process_swap_bytes", "memagent_process_virtual_bytes",
		"memagent_process_resident_hwm_bytes",
	};
	static const char *const exact[] = {
		"memagent_process_minor_faults_total", "memagent_process_major_faults_total",
		"memagent_process_threads", "memagent_process_start_time_seconds",
	};
	struct run procfs, iter;

	for (int i = 0; i < N; i++) {
		c[i] = (struct memchild){ .pid = -1, .to = -1, .from = -1 };
		REQUIRE(memchild_start(&c[i], NULL) == 0);
		REQUIRE(memchild_cmd(&c[i], cmds[i][0]) == 0 && memchild_cmd(&c[i], cmds[i][1]) == 0);
	}
	/* Stopped, and known to be: a thread still settling between the two
	 * backends' reads would fault in between. */
	for (int i = 0; i < N; i++) {
		int status;

		REQUIRE(kill(c[i].pid, SIGSTOP) == 0);
		REQUIRE(waitpid(c[i].pid, &status, WUNTRACED) == c[i].pid && WIFSTOPPED(status));
	}
	REQUIRE(run_start_bpf(&procfs, json, "/proc", false) == 0);
	REQUIRE(run_start_bpf(&iter, json, "/proc", true) == 0);
	for (int round = 0; round < 3; round++) {
		CHECK_EQ(run_tick(&procfs), 0);
		CHECK_EQ(run_tick(&iter), 0);
		if (round == 0 && value(&iter, "memagent_bpf_enabled", SNAP_LABELS("program", "task_iter")) != 1) {
			run_stop(&procfs);
			run_stop(&iter);
			for (int i = 0; i < N; i++)
				memchild_stop(&c[i]);
			TEST_SKIP_UNLESS_CI("the BPF task iterator did not load (see memagent --probe)");
		}
		CHECK(value(&procfs, "memagent_process_count", SNAP_LABELS("target", "mc")) == N);
		CHECK(value(&iter, "memagent_process_count", SNAP_LABELS("target", "mc")) == N);
		for (int i = 0; i < N; i++) {
			char pid[16];

			snprintf(pid, sizeof(pid), "%d", c[i].pid);
			for (size_t k = 0; k < sizeof(gauges) / sizeof(gauges[0]); k++) {
				double a = value(&procfs, gauges[k], SNAP_LABELS("target", "mc", "pid", pid));
				double b = value(&iter, gauges[k], SNAP_LABELS("target", "mc", "pid", pid));

				if (!(fabs(a - b) <= 4096))
					test_fail_at(__FILE__, __LINE__, "%s pid %s: /proc %.0f, iterator %.0f",
						     gauges[k], pid, a, b);
			}
			for (size_t k = 0; k < sizeof(exact) / sizeof(exact[0]); k++) {
				double a = value(&procfs, exact[k], SNAP_LABELS("target", "mc", "pid", pid));
				double b = value(&iter, exact[k], SNAP_LABELS("target", "mc", "pid", pid));

				if (!(a == b))
					test_fail_at(__FILE__, __LINE__, "%s pid %s: /proc %.0f, iterator %.0f",
						     exact[k], pid, a, b);
			}
		}
	}
	CHECK(value(&procfs, "memagent_bpf_enabled", SNAP_LABELS("program", "task_iter")) == 0);
	run_stop(&procfs);
	run_stop(&iter);
	for (int i = 0; i < N; i++)
		memchild_stop(&c[i]);
}

/* A child found between its fork and its exec still has the parent's
 * command line; the exec keeps the comm (same binary), so only classifying
 * young processes once more catches it. Both backends. */
static void test_exec_after_discovery(void)
{
	for (int bpf = 0; bpf <= 1; bpf++) {
		struct child ch = { 0 };
		struct run r;
		char json[256], marker[16], k;

		snprintf(marker, sizeof(marker), "mx%d%d", (int)getpid(), bpf);
		snprintf(json, sizeof(json), "{\"targets\": [{\"name\": \"ex\", \"match\": "
			 "{\"cmdline\": \"--idle %s$\"}}]}", marker);
		REQUIRE(run_start_bpf(&r, json, "/proc", bpf) == 0);
		CHECK_EQ(run_tick(&r), 0);                /* a sample before the fork */
		REQUIRE(child_start(&ch, NULL) == 0);
		CHECK_EQ(run_tick(&r), 0);                /* finds it, not exec'd yet */
		CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "ex")) == 0);
		struct cmd c = { .op = 'e' };

		snprintf(c.name, sizeof(c.name), "%s", marker);
		REQUIRE(write(ch.cmd, &c, sizeof(c)) == sizeof(c));
		/* The ack pipe is close-on-exec: end of file once the exec is done. */
		CHECK_EQ(read(ch.ack, &k, 1), 0);
		CHECK_EQ(run_tick(&r), 0);
		CHECK(value(&r, "memagent_process_count", SNAP_LABELS("target", "ex")) == 1);
		run_stop(&r);
		child_stop(&ch);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--idle") == 0) {
		pause();        /* test_exec_after_discovery's exec'd child */
		return 0;
	}
	if (readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1) < 0)
		return 1;
	RUN(test_fixture_tree);
	RUN(test_listing_only_after_forks);
	RUN(test_counters_survive_failed_read);
	RUN(test_start_time_long_proc_stat);
	RUN(test_rss_of_child);
	RUN(test_counters_never_decrease);
	RUN(test_group_limit);
	RUN(test_kernel_threads_excluded);
	RUN(test_comm_change);
	RUN(test_backends_agree);
	RUN(test_exec_after_discovery);
	return test_done();
}
