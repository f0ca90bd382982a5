/* SPDX-License-Identifier: MIT */
/* make bench-node: what memagent-node costs a Node app and what its pages cost the agent, side by side in one run.
 *
 *   nodebench --app DIR [--pairs N] [--depth D] [--pages N] --tsv F --md F
 *
 * DIR is an app folder with memagent-node installed from its npm pack
 * tarball and the scripts of bench/node copied in (the make target does both).
 * 1. The client in process (client_cost.js): CPU time of one page update
 *    and of one GC-entry batch, over 20000 calls each.
 * 2. The app: binary-trees DEPTH in JS, with -r memagent-node/register and
 *    without, in alternating order, N pairs of wall-clock times; the "on"
 *    runs report their updates and GC batches (report.js), and the cost is
 *    (update CPU x updates + batch CPU x batches) / run time off
 *    (the target: <= 0.5%).
 * 3. The agent: the heap collector's read (the real module) over N Node
 *    pages (pages.js: one node process holding N pages of the client's
 *    writer, rewritten every 100 ms), CPU time per cycle.
 * Rows to the TSV, a section "## Node.js client" to the Markdown file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "heap.h"
#include "snapshot.h"
#include "results.h"

extern char **environ;

static double now_s(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *in, int n)
{
	double v[128];

	memcpy(v, in, (size_t)n * sizeof(*v));
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void min_max(const double *v, int n, double *lo, double *hi)
{
	*lo = *hi = v[0];
	for (int i = 1; i < n; i++) {
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
}

static double last_cpu_s;     /* user + system of the last run_node() child */

/* Runs node with argv (NULL-terminated, argv[0] "node") in the app folder,
 * stdout into out (cap bytes, NUL-terminated) when out is not NULL;
 * returns wall seconds (its CPU seconds in last_cpu_s), or exits on failure. */
static double run_node(char *const argv[], char *out, size_t cap)
{
	struct rusage ru;
	posix_spawn_file_actions_t fa;
	int p[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	double t0;
	char dump[4096];

	if (pipe(p) < 0)
		exit(1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	t0 = now_s(CLOCK_MONOTONIC);
	if (posix_spawnp(&pid, "node", &fa, NULL, argv, environ) != 0) {
		perror("nodebench: node");
		exit(1);
	}
	close(p[1]);
	while ((n = read(p[0], out ? out + got : dump, out ? cap - 1 - got : sizeof(dump))) > 0)
		if (out)
			got += (size_t)n;
	wait4(pid, &status, 0, &ru);
	t0 = now_s(CLOCK_MONOTONIC) - t0;
	last_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		     (double)ru.ru_stime.tv_usec / 1e6;
	close(p[0]);
	posix_spawn_file_actions_destroy(&fa);
	if (out)
		out[got] = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "nodebench: %s %s failed\n", argv[1], argv[2] ? argv[2] : "");
		exit(1);
	}
	return t0;
}

static double field(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtod(p + strlen(key), NULL) : -1;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return buf;
}

static double read_cpu_s(void *st, size_t *ret_samples)
{
	struct collector_errors err = { 0 };
	struct snapshot *s = snapshot_new();
	double t0 = now_s(CLOCK_THREAD_CPUTIME_ID);

	if (!s || heap_collector.read(st, s, &err) < 0)
		exit(1);
	t0 = now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
	if (ret_samples)
		*ret_samples = snapshot_n_samples(s);
	snapshot_unref(s);
	return t0;
}


int main(int argc, char **argv)
{
	const char *app = NULL, *tsv = NULL, *md = NULL;
	int pairs = 9, depth = 18, n_pages = 100;
	char out[4096], depth_s[16], report[4096], pages_s[16], ready[4200];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--app"))
			app = argv[i + 1];
		else if (!strcmp(argv[i], "--pairs"))
			pairs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--depth"))
			depth = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--pages"))
			n_pages = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--tsv"))
			tsv = argv[i + 1];
		else if (!strcmp(argv[i], "--md"))
			md = argv[i + 1];
	}
	if (!app || !tsv || !md || pairs < 1 || pairs > 100 || depth < 6 || n_pages < 1 || n_pages > 256 ||
	    chdir(app) < 0) {
		fprintf(stderr, "usage: nodebench --app DIR [--pairs N] [--depth D] [--pages N] --tsv F --md F\n");
		return 64;
	}
	snprintf(depth_s, sizeof(depth_s), "%d", depth);
	snprintf(pages_s, sizeof(pages_s), "%d", n_pages);
	snprintf(report, sizeof(report), "%s/report.out", app);
	setenv("MEMAGENT_BENCH_REPORT", "report.out", 1);

	/* 1 */
	char *cost_argv[] = { "node", "client_cost.js", NULL };
	run_node(cost_argv, out, sizeof(out));
	double update_ns = field(out, "update_ns "), batch_ns = field(out, "gc_batch_ns ");

	/* 2 */
	char *off_argv[] = { "node", "binary_trees.js", depth_s, NULL };
	char *on_argv[] = { "node", "-r", "memagent-node/register", "-r", "./report.js", "binary_trees.js", depth_s,
			    NULL };
	double won[100], woff[100], con[100], coff[100], ratio[100], updates = 0, batches = 0, entries = 0;

	for (int i = 0; i < pairs; i++) {
		char *rep;

		if (i % 2) {
			woff[i] = run_node(off_argv, NULL, 0);
			coff[i] = last_cpu_s;
			won[i] = run_node(on_argv, NULL, 0);
			con[i] = last_cpu_s;
		} else {
			won[i] = run_node(on_argv, NULL, 0);
			con[i] = last_cpu_s;
			woff[i] = run_node(off_argv, NULL, 0);
			coff[i] = last_cpu_s;
		}
		ratio[i] = won[i] / woff[i];
		rep = slurp("report.out");
		if (!rep)
			return 1;
		updates += field(rep, "updates ");
		batches += field(rep, "gc_batches ");
		entries += field(rep, "gc_entries ");
	}
	updates /= pairs;
	batches /= pairs;
	entries /= pairs;
	double on_med = median(won, pairs), off_med = median(woff, pairs), on_lo, on_hi, off_lo, off_hi;

	min_max(won, pairs, &on_lo, &on_hi);
	min_max(woff, pairs, &off_lo, &off_hi);
	double est_pct = (update_ns * updates + batch_ns * batches) * 1e-9 / off_med * 100;
	double wall_pct = (median(ratio, pairs) - 1) * 100;
	double cpu_on = median(con, pairs), cpu_off = median(coff, pairs);

	/* 2b: the one-time cost, node -e 0 with and without the client */
	char *e0_off[] = { "node", "-e", "0", NULL };
	char *e0_on[] = { "node", "-r", "memagent-node/register", "-e", "0", NULL };
	double son[100], soff[100];

	for (int i = 0; i < 15; i++) {
		soff[i] = run_node(e0_off, NULL, 0);
		son[i] = run_node(e0_on, NULL, 0);
	}
	double start_on = median(son, 15), start_off = median(soff, 15);

	/* 3 */
	snprintf(ready, sizeof(ready), "%s/pages.ready", app);
	unlink(ready);
	char *pages_argv[] = { "node", "pages.js", pages_s, ready, NULL };
	posix_spawn_file_actions_t fa;
	pid_t holder;

	posix_spawn_file_actions_init(&fa);
	if (posix_spawnp(&holder, "node", &fa, NULL, pages_argv, environ) != 0)
		return 1;
	for (int i = 0; i < 2000 && access(ready, F_OK) < 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };   /* polls for the file, 20 s at most */

		nanosleep(&ts, NULL);
	}
	struct collector_ctx ctx = { .proc_root = "/proc", .cgroup_root = "/sys/fs/cgroup",
				     .limits = { .max_processes = 100, .max_groups = 500, .max_instrumented = 256 } };
	void *st = NULL;
	double cyc[64], first;
	size_t samples = 0;
	const int cycles = 30;

	if (heap_collector.init(&ctx, &st) < 0)
		return 1;
	first = read_cpu_s(st, &samples);
	for (int i = 0; i < cycles; i++)
		cyc[i] = read_cpu_s(st, i == cycles - 1 ? &samples : NULL);
	double cyc_med = median(cyc, cycles);

	heap_collector.done(st);
	kill(holder, SIGTERM);
	waitpid(holder, NULL, 0);
	posix_spawn_file_actions_destroy(&fa);

	char load[64] = "?";
	char *la = slurp("/proc/loadavg");
	double l1, l5, l15;

	if (la && sscanf(la, "%lf %lf %lf", &l1, &l5, &l15) == 3)
		snprintf(load, sizeof(load), "%.2f %.2f %.2f", l1, l5, l15);
	FILE *t = fopen(tsv, "we");

	if (!t)
		return 1;
	fprintf(t, "row\tvalue\tunit\tdetail\n");
	fprintf(t, "client_update\t%.0f\tns\tCPU of one page update (client_cost.js, 20000 calls, 2 queues)\n", update_ns);
	fprintf(t, "client_gc_batch\t%.0f\tns\tCPU of one perf_hooks GC-entry batch without a page write\n", batch_ns);
	fprintf(t, "app_updates\t%.1f\tupdates\tbinary-trees %d: page updates per run (mean of %d)\n", updates, depth, pairs);
	fprintf(t, "app_gc_batches\t%.1f\tbatches\tGC-entry batches per run (%.1f entries)\n", batches, entries);
	fprintf(t, "app_estimate\t%.4f\tpct\t(update x updates + batch x batches) / run time off\n", est_pct);
	fprintf(t, "app_wall_on\t%.3f\ts\tmedian of %d (min %.3f, max %.3f)\n", on_med, pairs, on_lo, on_hi);
	fprintf(t, "app_wall_off\t%.3f\ts\tmedian of %d (min %.3f, max %.3f)\n", off_med, pairs, off_lo, off_hi);
	fprintf(t, "app_wall_ratio\t%.4f\tratio\tmedian of the pairs' on / off\n", median(ratio, pairs));
	fprintf(t, "app_cpu_on\t%.3f\ts\tuser + system, median of %d\n", cpu_on, pairs);
	fprintf(t, "app_cpu_off\t%.3f\ts\tuser + system, median of %d\n", cpu_off, pairs);
	fprintf(t, "load\t%s\tloadavg\tat the end (the machine is shared)\n", load);
	fprintf(t, "startup_on\t%.1f\tms\tnode -e 0 with -r memagent-node/register, median of 15\n", start_on * 1e3);
	fprintf(t, "startup_off\t%.1f\tms\tnode -e 0, median of 15\n", start_off * 1e3);
	fprintf(t, "agent_cycle\t%.3f\tms\theap collector read, %d Node pages, median of %d (first, with discovery: %.3f ms; %zu samples)\n",
		cyc_med * 1e3, n_pages, cycles, first * 1e3, samples);
	fclose(t);

	char sec[8192];
	int n = snprintf(sec, sizeof(sec),
		"\n## Node.js client (make bench-node)\n\n"
		"memagent-node (clients/node) against no client, one run, this machine (2 shared vCPUs: "
		"wall-clock pairs are informative, not a gate; the gate is the CPU estimate). Node %s. "
		"Rows: `bench/results/node.tsv`. Command: `make bench-node`.\n\n"
		"| what | result | target |\n|---|---|---|\n"
		"| page update (CPU) | %.0f ns | |\n"
		"| GC-entry batch, no page write (CPU) | %.0f ns | |\n"
		"| binary-trees %d: (update × updates + batch × batches) / run time | %.4f %% (%.0f updates, %.0f batches, %.3f s) | ≤ 0.5 %% |\n"
		"| binary-trees %d wall, client on | median %.3f s (%.3f .. %.3f), %d runs | |\n"
		"| binary-trees %d wall, client off | median %.3f s (%.3f .. %.3f), %d runs | |\n"
		"| wall on / off, median of the pairs' ratios | %+.2f %% | informative |\n"
		"| CPU (user + system) on / off, medians | %.3f s / %.3f s (%+.2f %%) | informative |\n"
		"| startup, once per process (`node -e 0` on / off) | %.1f ms / %.1f ms | |\n"
		"| agent: heap collector per cycle, %d Node pages | %.3f ms CPU | |\n"
		"| load average at the end | %s | |\n",
		getenv("NODEBENCH_NODE_VERSION") ? getenv("NODEBENCH_NODE_VERSION") : "", update_ns, batch_ns, depth,
		est_pct, updates, batches, off_med, depth, on_med, on_lo, on_hi, pairs, depth, off_med, off_lo, off_hi,
		pairs, wall_pct, cpu_on, cpu_off, (cpu_on / cpu_off - 1) * 100, start_on * 1e3, start_off * 1e3, n_pages, cyc_med * 1e3, load);
	if (n < 0 || (size_t)n >= sizeof(sec) || results_md_put(md, "## Node.js client (make bench-node)", sec + 1) < 0)
		return 1;
	fputs(sec, stdout);
	return 0;
}
