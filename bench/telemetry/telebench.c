/* SPDX-License-Identifier: MIT */
/* make bench-telemetry: what the telemetry page costs the app and the agent, side by side in one run.
 *
 *   telebench --gc BENCH_GC_GENGC [--pairs N] [--instrumented N] [--procs N] --tsv F --md F
 *
 * 1. The page update, in process: scavenges of a heap with a 50 MiB old
 *    space, telemetry on against off (the difference is the update), and
 *    gengc_queue_report() alone.
 * 2. The app: binary-trees 20 (build/bench/gc/gengc) with GENGC_TELEMETRY=1
 *    and =0, in alternating order, N pairs of wall-clock times; and the
 *    estimate updates x ns per update / run time (the target: <= 0.1%).
 * 3. The agent: the heap collector's read (the real module) with N
 *    instrumented processes, CPU time per cycle; then a full rescan
 *    (SIGUSR1's) with --procs processes on the host, CPU time.
 * Rows to the TSV, a section "## Telemetry" to the Markdown file.
 */
#include <dirent.h>
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
#include "gengc.h"
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

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- 1. the update in process ---------------------------------------------------- */

static double scavenges_s(int telemetry, int n)
{
	struct gengc_options o;
	struct gengc_type t = { .name = "cell", .size = 48, .flags = GENGC_TYPE_ALL_POINTERS };
	struct gengc_heap *h;
	uint32_t cell;
	void **keep;
	double t0;

	gengc_options_init(&o);
	o.telemetry = (uint32_t)telemetry;
	h = gengc_heap_new(&o);
	if (!h || gengc_type_register(h, &t, &cell) < 0)
		exit(1);
	keep = gengc_handle(h, NULL);
	for (int i = 0; i < 50 * 1024 * 1024 / 56; i++) {     /* a 50 MiB list: ~200 old pages */
		void **c = gengc_alloc(h, cell);

		gengc_write(h, c, &c[0], *keep);
		*keep = c;
	}
	gengc_collect(h, GENGC_GC_SCAVENGE);
	gengc_collect(h, GENGC_GC_SCAVENGE);
	t0 = now_s(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++)
		gengc_collect(h, GENGC_GC_SCAVENGE);
	t0 = now_s(CLOCK_MONOTONIC) - t0;
	gengc_heap_free(h);
	return t0;
}

static double queue_report_ns(int n)
{
	struct gengc_heap *h = gengc_heap_new(NULL);
	double t0;

	if (!h)
		exit(1);
	t0 = now_s(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++)
		gengc_queue_report(h, "jobs", (uint64_t)i);
	t0 = now_s(CLOCK_MONOTONIC) - t0;
	gengc_heap_free(h);
	return t0 / n * 1e9;
}

/* ---- 2. the app ------------------------------------------------------------------------ */

/* Runs binary-trees 20 with GENGC_TELEMETRY=on; returns wall seconds, and
 * the GC count from its last line when ret_gcs is not NULL. */
static double run_app(const char *gc_bin, int on, long *ret_gcs)
{
	char *argv[] = { (char *)gc_bin, "binary-trees", "20", NULL };
	int out[2];
	posix_spawn_file_actions_t fa;
	char buf[65536];
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	double t0;
	int status;

	setenv("GENGC_TELEMETRY", on ? "1" : "0", 1);
	if (pipe(out) < 0)
		exit(1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);       /* its summary line */
	posix_spawn_file_actions_addclose(&fa, out[0]);
	t0 = now_s(CLOCK_MONOTONIC);
	if (posix_spawn(&pid, gc_bin, &fa, NULL, argv, environ) != 0)
		exit(1);
	close(out[1]);
	while ((n = read(out[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	waitpid(pid, &status, 0);
	t0 = now_s(CLOCK_MONOTONIC) - t0;
	close(out[0]);
	posix_spawn_file_actions_destroy(&fa);
	buf[got] = 0;
	if (ret_gcs) {
		const char *p = strstr(buf, "gengc: ");
		long scav = 0, full = 0;

		if (p && sscanf(p, "gengc: %ld scavenges", &scav) == 1 && (p = strstr(p, "), ")))
			sscanf(p, "), %ld full GCs", &full);
		*ret_gcs = scav + full;
	}
	return t0;
}

/* ---- 3. the agent ---------------------------------------------------------------------- */

static pid_t *kids;
static int n_kids;

/* A child that has a heap and a page (instrumented) or nothing (idle),
 * says so on fd and waits to be killed. */
static void spawn_kid(int instrumented, int fd)
{
	pid_t pid = fork();

	if (pid < 0)
		exit(1);
	if (pid == 0) {
		if (instrumented) {
			struct gengc_heap *h = gengc_heap_new(NULL);

			if (!h)
				_exit(1);
			gengc_telemetry_name(h, "telebench");
			gengc_collect(h, GENGC_GC_MARK_SWEEP);
		}
		if (write(fd, "x", 1) != 1)
			_exit(1);
		/* Nothing of the bench's own (the collector's page descriptors
		 * among them) in the children's fd tables: a host's processes
		 * do not hold the agent's files. */
		if (!instrumented)
			close_range(3, ~0u, 0);
		for (;;)
			pause();
	}
	kids[n_kids++] = pid;
}

static void spawn_kids(int n, int instrumented)
{
	int p[2];
	char c;

	if (pipe(p) < 0)
		exit(1);
	for (int i = 0; i < n; i++)
		spawn_kid(instrumented, p[1]);
	for (int i = 0; i < n; i++)
		if (read(p[0], &c, 1) != 1)
			exit(1);
	close(p[0]);
	close(p[1]);
}

static double read_cpu_s(const struct collector *c, void *st, size_t *ret_samples)
{
	struct collector_errors err = { 0 };
	struct snapshot *s = snapshot_new();
	double t0 = now_s(CLOCK_THREAD_CPUTIME_ID);

	if (!s || c->read(st, s, &err) < 0)
		exit(1);
	t0 = now_s(CLOCK_THREAD_CPUTIME_ID) - t0;
	if (ret_samples)
		*ret_samples = snapshot_n_samples(s);
	snapshot_unref(s);
	return t0;
}

static int count_procs(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
	if (d)
		closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	const char *gc_bin = NULL, *tsv = NULL, *md = NULL;
	int pairs = 15, instrumented = 100, procs = 3000;
	FILE *t, *m;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--gc"))
			gc_bin = argv[i + 1];
		else if (!strcmp(argv[i], "--pairs"))
			pairs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--instrumented"))
			instrumented = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--procs"))
			procs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--tsv"))
			tsv = argv[i + 1];
		else if (!strcmp(argv[i], "--md"))
			md = argv[i + 1];
	}
	if (!gc_bin || !tsv || !md || pairs < 1 || pairs > 100 || instrumented < 1 || procs < instrumented) {
		fprintf(stderr, "usage: %s --gc BIN [--pairs N] [--instrumented N] [--procs N] --tsv F --md F\n",
			argv[0]);
		return 64;
	}

	/* 1 */
	const int N = 20000;
	double on = scavenges_s(1, N), off = scavenges_s(0, N);
	double update_ns = (on - off) / N * 1e9, queue_ns = queue_report_ns(1000000);

	fprintf(stderr, "update: %.0f ns (scavenge %.0f ns on, %.0f off); queue report %.0f ns\n", update_ns,
		on / N * 1e9, off / N * 1e9, queue_ns);

	/* 2 */
	double won[100], woff[100];
	long gcs = 0;

	for (int i = 0; i < pairs; i++) {
		if (i % 2) {
			woff[i] = run_app(gc_bin, 0, NULL);
			won[i] = run_app(gc_bin, 1, i == 1 ? &gcs : NULL);
		} else {
			won[i] = run_app(gc_bin, 1, i == 0 ? &gcs : NULL);
			woff[i] = run_app(gc_bin, 0, NULL);
		}
		fprintf(stderr, "pair %d: on %.3f s, off %.3f s\n", i + 1, won[i], woff[i]);
	}
	unsetenv("GENGC_TELEMETRY");
	double on_min = won[0], on_max = won[0], off_min = woff[0], off_max = woff[0];

	for (int i = 1; i < pairs; i++) {
		on_min = won[i] < on_min ? won[i] : on_min;
		on_max = won[i] > on_max ? won[i] : on_max;
		off_min = woff[i] < off_min ? woff[i] : off_min;
		off_max = woff[i] > off_max ? woff[i] : off_max;
	}
	double son[100], soff[100];

	memcpy(son, won, sizeof(son));
	memcpy(soff, woff, sizeof(soff));
	double on_med = median(son, pairs), off_med = median(soff, pairs);
	double est_pct = update_ns > 0 ? update_ns * 1e-9 * (double)gcs / off_med * 100 : 0;

	/* 3 */
	kids = calloc((size_t)procs + 1, sizeof(*kids));
	if (!kids)
		return 1;
	spawn_kids(instrumented, 1);
	struct collector_ctx ctx = { .proc_root = "/proc", .cgroup_root = "/sys/fs/cgroup",
				     .limits = { .max_processes = 100, .max_groups = 500,
						 .max_instrumented = 256 } };
	void *st = NULL;
	double cyc[64], first, resc[8];
	size_t samples = 0;
	const int cycles = 30;

	if (heap_collector.init(&ctx, &st) < 0)
		return 1;
	first = read_cpu_s(&heap_collector, st, &samples);
	for (int i = 0; i < cycles; i++)
		cyc[i] = read_cpu_s(&heap_collector, st, NULL);
	double cyc_med = median(cyc, cycles);
	int host0 = count_procs();

	spawn_kids(procs - instrumented, 0);
	int host1 = count_procs();

	for (int i = 0; i < 5; i++) {
		ctx.rescan_requests++;
		resc[i] = read_cpu_s(&heap_collector, st, NULL);
	}
	double resc_med = median(resc, 5), big[16];

	/* The same cycle on the big host: the /proc listing grows with it. */
	for (int i = 0; i < 15; i++)
		big[i] = read_cpu_s(&heap_collector, st, NULL);
	double big_med = median(big, 15);

	heap_collector.done(st);
	for (int i = 0; i < n_kids; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < n_kids; i++)
		waitpid(kids[i], NULL, 0);

	t = fopen(tsv, "w");
	if (!t)
		return 1;
	fprintf(t, "row\tvalue\tunit\tdetail\n");
	fprintf(t, "page_update\t%.0f\tns\tscavenge with a 50 MiB old space, telemetry on minus off (%d each)\n",
		update_ns, N);
	fprintf(t, "queue_report\t%.0f\tns\tgengc_queue_report(), one name\n", queue_ns);
	fprintf(t, "app_gcs\t%ld\tupdates\tbinary-trees 20: GCs = page updates per run\n", gcs);
	fprintf(t, "app_estimate\t%.4f\tpct\tupdates x ns per update / run time off\n", est_pct);
	fprintf(t, "app_wall_on\t%.3f\ts\tmedian of %d (min %.3f, max %.3f)\n", on_med, pairs, on_min, on_max);
	fprintf(t, "app_wall_off\t%.3f\ts\tmedian of %d (min %.3f, max %.3f)\n", off_med, pairs, off_min, off_max);
	for (int i = 0; i < pairs; i++)
		fprintf(t, "app_pair_%d\t%.3f/%.3f\ts\ton/off\n", i + 1, won[i], woff[i]);
	fprintf(t, "agent_cycle\t%.3f\tms\theap collector read, %d instrumented, median of %d (first, with discovery: %.3f ms; %zu samples)\n",
		cyc_med * 1e3, instrumented, cycles, first * 1e3, samples);
	fprintf(t, "agent_cycle_big\t%.3f\tms\theap collector read, %d instrumented, %d processes on the host, median of 15\n",
		big_med * 1e3, instrumented, host1);
	fprintf(t, "agent_rescan\t%.3f\tms\tfull rescan, %d processes on the host (%d before the idle ones), median of 5\n",
		resc_med * 1e3, host1, host0);
	fclose(t);

	/* The Markdown section replaces its old self. */
	char *sec = NULL;
	size_t sec_len = 0;

	m = open_memstream(&sec, &sec_len);
	if (!m)
		return 1;
	fprintf(m, "## Telemetry (make bench-telemetry)\n\n"
		"The telemetry page (docs/telemetry.md) against no page, one run, this machine (2 shared vCPUs: "
		"wall-clock pairs are informative, not a gate). Rows: `bench/results/telemetry.tsv`.\n\n");
	fprintf(m, "| what | result | target |\n|---|---|---|\n");
	fprintf(m, "| page update (in the scavenge, 50 MiB old space) | %.0f ns | |\n", update_ns);
	fprintf(m, "| `gengc_queue_report()` | %.0f ns | |\n", queue_ns);
	fprintf(m, "| binary-trees 20: updates × ns / run time | %.4f %% (%ld updates, %.3f s) | ≤ 0.1 %% |\n",
		est_pct, gcs, off_med);
	fprintf(m, "| binary-trees 20 wall, page on | median %.3f s (%.3f .. %.3f), %d runs | |\n", on_med, on_min,
		on_max, pairs);
	fprintf(m, "| binary-trees 20 wall, page off | median %.3f s (%.3f .. %.3f), %d runs | |\n", off_med,
		off_min, off_max, pairs);
	fprintf(m, "| agent: heap collector per cycle, %d instrumented processes | %.3f ms CPU | ≤ 0.3 ms |\n",
		instrumented, cyc_med * 1e3);
	fprintf(m, "| agent: the same, %d processes on the host (quiet: no fork, so no listing; exits through pidfds) | %.3f ms CPU | |\n",
		host1, big_med * 1e3);
	fprintf(m, "| agent: full discovery rescan, %d processes | %.3f ms CPU | ≤ 50 ms |\n", host1, resc_med * 1e3);
	if (fclose(m) != 0 || results_md_put(md, "## Telemetry (make bench-telemetry)", sec) < 0)
		return 1;
	free(sec);
	return 0;
}
