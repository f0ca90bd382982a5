/* SPDX-License-Identifier: MIT */
/* queuebench: what reading every socket's queues costs, BPF pass against sock_diag + inode map against ss, side by side.
 *
 *   queuebench [--tsv FILE] [--md FILE] [--procs N] [--sockets N]
 *
 * Builds the population itself: N sockets (TCP connections over loopback,
 * a few listeners and UDP sockets, UNIX stream pairs, a little data queued
 * in each) held by `procs` children that sleep; raises RLIMIT_NOFILE (the
 * accept queue's other ends pass through this process). Then, in one run on that population, measures
 * CPU time (user + system of the reading process; for ss, of the child)
 * per cycle of:
 *   - the BPF pass alone (sock_iter_read), both programs: iter/task_file
 *     (MEMAGENT_SOCK_ITER_NO_WALK=1, the pass before the fd-table walk and
 *     the fallback) and the fd-table walk (6.7+), interleaved in two rounds,
 *     with the median of the per-pass CPU times (CLOCK_PROCESS_CPUTIME_ID)
 *     beside the mean;
 *   - the queues collector on the BPF backend, every process a target;
 *   - the queues collector on sock_diag with its inode map cached (the
 *     steady state: the map is built by the first read, measured apart);
 *   - `ss -tuxanp`, which lists every process's fd table for each run.
 * Needs root (BPF, descriptors). Writes the rows to --tsv and the "## Kernel
 * queues" section of --md.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bpf_support.h"
#include "config.h"
#include "queues.h"
#include "sock_iter.h"
#include "results.h"

struct row {
	const char *what;
	double cpu_ms;      /* per cycle */
	double sys_ms;      /* its system (kernel) part */
	double wall_ms;
	int cycles;
	long sockets;
	double median_ms;   /* median CPU per cycle, where measured per cycle; else the mean */
};

static struct row rows[12];
static int nrows;
static int nprocs = 3000, nsockets = 10000;
static pid_t *kids;
static long seen_sockets;
static int host_procs; /* processes on the host during the run, ours included */

static int count_procs(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
	closedir(d);
	return n;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "queuebench: %s: %s\n", what, strerror(err));
	exit(1);
}

static double tv_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

/* CPU time of this process so far; *sys_ms its system part. */
static double cpu_ms(double *sys_ms)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*sys_ms = tv_ms(ru.ru_stime);
	return tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
}

static double wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit", errno);
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit(RLIMIT_NOFILE) (root needed)", errno);
}

static struct sockaddr_in conn_addr = { .sin_family = AF_INET };
static int conn_lfd = -1, n_tcp, n_listen;

/* Makes k sockets for one child (whole pairs where it can: TCP
 * connections, both ends here, then UNIX pairs; an odd one is a listener
 * or a UDP socket), a little data queued in each pair. */
static void make_share(int k)
{
	char data[100];

	memset(data, 'b', sizeof(data));
	for (; k >= 2; k -= 2) {
		if (n_tcp < nsockets / 10) {
			int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), srv;

			if (c < 0 || connect(c, (struct sockaddr *)&conn_addr, sizeof(conn_addr)) < 0)
				die("connect", errno);
			srv = accept4(conn_lfd, NULL, NULL, SOCK_CLOEXEC);
			if (srv < 0)
				die("accept", errno);
			if (write(c, data, sizeof(data)) != (ssize_t)sizeof(data))
				die("write", errno);
			n_tcp++;
		} else {
			int sp[2];

			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
				die("socketpair", errno);
			if (write(sp[0], data, sizeof(data)) != (ssize_t)sizeof(data))
				die("write", errno);
		}
	}
	if (k == 1) {
		struct sockaddr_in b = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		bool listener = n_listen < 10;
		int fd = socket(AF_INET, (listener ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&b, sizeof(b)) < 0 ||
		    (listener && listen(fd, 128) < 0))
			die("listener/udp", errno);
		n_listen += listener;
	}
}

/* nprocs children holding nsockets in all. Each child's sockets are made
 * just before its fork and closed in the parent after it, so every fd
 * table stays small, as a real process's is (the iterator and a /proc fd
 * listing walk a table up to its size, and a child of a parent holding
 * 10,000 descriptors would inherit a table that large). */
static void spawn(int ready_w, int ready_r)
{
	socklen_t alen = sizeof(conn_addr);
	int first;

	kids = calloc((size_t)nprocs, sizeof(*kids));
	if (!kids)
		die("calloc", ENOMEM);
	conn_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	conn_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn_lfd < 0 || bind(conn_lfd, (struct sockaddr *)&conn_addr, sizeof(conn_addr)) < 0 ||
	    listen(conn_lfd, 4096) < 0 || getsockname(conn_lfd, (struct sockaddr *)&conn_addr, &alen) < 0)
		die("listener", errno);
	first = conn_lfd + 1;
	for (int i = 0; i < nprocs; i++) {
		/* The parent's listener is one of the sockets. */
		int lo = (int)((long)(nsockets - 1) * i / nprocs);
		int hi = (int)((long)(nsockets - 1) * (i + 1) / nprocs);
		pid_t p;

		make_share(hi - lo);
		p = fork();
		if (p < 0)
			die("fork", errno);
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(ready_r);
			close(conn_lfd);
			if (write(ready_w, "x", 1) != 1)
				_exit(1);
			close(ready_w);
			for (;;)
				pause();
		}
		kids[i] = p;
		syscall(SYS_close_range, first, ~0u, 0);
	}
	for (int got = 0; got < nprocs;) {
		char buf[512];
		ssize_t n = read(ready_r, buf, sizeof(buf));

		if (n <= 0)
			die("waiting for children", n < 0 ? errno : EPIPE);
		got += (int)n;
	}
}

static void add_row(const char *what, double cpu, double sys, double wall, int cycles, long socks)
{
	rows[nrows++] = (struct row){ what, cpu / cycles, sys / cycles, wall / cycles, cycles, socks,
				      cpu / cycles };
	printf("%-52s %9.3f ms CPU/cycle (%.3f system) %9.3f ms wall/cycle (%d cycles)\n", what,
	       cpu / cycles, sys / cycles, wall / cycles, cycles);
	fflush(stdout);
}

static double proc_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define PASS_CYCLES 20
#define PASS_ROUNDS 2

/* One of the two BPF passes: per-cycle CPU samples and totals, summed
 * over the rounds. */
struct pass_run {
	const char *what;
	bool no_walk;
	double samples[PASS_CYCLES * PASS_ROUNDS];
	int n;
	double cpu, sys, wall;
	long sockets;
	bool walked;
};

static void bench_pass_round(struct pass_run *p)
{
	struct sock_iter *it;
	struct sock_iter_stats st;
	struct bpf_failure f;
	const struct sockq *s;
	size_t n = 0;
	double c0, c1, w0, s0, s1 = 0;

	if (p->no_walk)
		setenv("MEMAGENT_SOCK_ITER_NO_WALK", "1", 1);
	else
		unsetenv("MEMAGENT_SOCK_ITER_NO_WALK");
	if (sock_iter_new(0, &it, &f) < 0) {
		fprintf(stderr, "queuebench: sock_iter: %s\n", f.why);
		unsetenv("MEMAGENT_SOCK_ITER_NO_WALK");
		return;
	}
	unsetenv("MEMAGENT_SOCK_ITER_NO_WALK");
	sock_iter_read(it, &s, &n); /* warm */
	c0 = cpu_ms(&s0);
	w0 = wall_ms();
	for (int i = 0; i < PASS_CYCLES; i++) {
		double t0 = proc_cpu_ms();

		if (sock_iter_read(it, &s, &n) < 0)
			die("sock_iter_read", errno);
		p->samples[p->n++] = proc_cpu_ms() - t0;
	}
	c1 = cpu_ms(&s1);
	p->cpu += c1 - c0;
	p->sys += s1 - s0;
	p->wall += wall_ms() - w0;
	p->sockets = (long)n;
	sock_iter_stats(it, &st);
	p->walked = st.walks == st.reads;
	seen_sockets = (long)n;
	sock_iter_free(it);
}

/* Both BPF passes on the same population, interleaved (task_file, walk,
 * task_file, walk), so load on the shared machine falls on both alike. */
static void bench_pass(void)
{
	struct pass_run runs[2] = {
		{ .what = "BPF pass, iter/task_file (sock_iter_read; before)", .no_walk = true },
		{ .what = "BPF pass, fd-table walk (sock_iter_read; 6.7+)", .no_walk = false },
	};

	for (int r = 0; r < PASS_ROUNDS; r++)
		for (int k = 0; k < 2; k++)
			bench_pass_round(&runs[k]);
	for (int k = 0; k < 2; k++) {
		struct pass_run *p = &runs[k];

		if (p->n == 0)
			continue;
		if (!p->no_walk && !p->walked) {
			printf("(the fd-table walk did not run on this kernel: row skipped)\n");
			continue;
		}
		add_row(p->what, p->cpu, p->sys, p->wall, p->n, p->sockets);
		qsort(p->samples, (size_t)p->n, sizeof(double), cmp_double);
		rows[nrows - 1].median_ms = p->samples[p->n / 2];
		printf("%-52s %9.3f ms CPU median/cycle\n", p->what, rows[nrows - 1].median_ms);
	}
}

/* The value of family name's first sample in snap, or -1. */
static double family_value(const struct snapshot *snap, const char *name)
{
	for (const struct snapshot_family *f = snapshot_families(snap); f; f = f->next)
		if (strcmp(f->desc->name, name) == 0 && f->samples)
			return f->samples->value;
	return -1;
}

static void bench_collector(bool netlink, bool no_walk)
{
	static const char json[] = "{\"targets\": [{\"name\": \"all\", \"match\": {}}]}";
	char e[CONFIG_ERROR_MAX];
	struct config *cfg;
	struct collector_ctx ctx;
	struct collector_errors err = { { 0 } };
	void *st;
	double c0, c1, w0, s0, s1 = 0;
	const int cycles = 10;

	if (config_parse(json, sizeof(json) - 1, "bench", &cfg, e) < 0)
		die(e, EINVAL);
	ctx = (struct collector_ctx){ .proc_root = "/proc", .cgroup_root = "/sys/fs/cgroup",
				      .targets = &cfg->targets,
				      .limits = { .max_listeners = 256, .max_message_queues = 64 },
				      .use_bpf = true };
	if (netlink)
		setenv("MEMAGENT_QUEUES_BACKEND", "netlink", 1);
	else
		unsetenv("MEMAGENT_QUEUES_BACKEND");
	if (no_walk)
		setenv("MEMAGENT_SOCK_ITER_NO_WALK", "1", 1);
	if (queues_collector.init(&ctx, &st) < 0)
		die("queues init", errno);
	unsetenv("MEMAGENT_SOCK_ITER_NO_WALK");
	/* The first samples: on netlink, until the inode map is built (in
	 * slices of 50 ms a sample), measured as one cost. */
	c0 = cpu_ms(&s0);
	w0 = wall_ms();
	{
		int n = 0;
		double built;

		do {
			struct snapshot *snap = snapshot_new();

			queues_collector.read(st, snap, &err);
			built = family_value(snap, "memagent_queue_inode_map_rebuilds_total");
			snapshot_unref(snap);
			n++;
		} while (netlink && built < 1 && n < 100000);
		c1 = cpu_ms(&s1);
		if (netlink) {
			printf("inode map built over %d samples\n", n);
			add_row("netlink: inode map built (all its samples)", c1 - c0, s1 - s0,
				wall_ms() - w0, 1, seen_sockets);
		}
	}
	c0 = cpu_ms(&s0);
	w0 = wall_ms();
	for (int i = 0; i < cycles; i++) {
		struct snapshot *snap = snapshot_new();

		if (queues_collector.read(st, snap, &err) < 0)
			die("queues read", errno);
		snapshot_unref(snap);
	}
	c1 = cpu_ms(&s1);
	add_row(netlink	   ? "collector, netlink + cached inode map (steady)"
		: no_walk ? "collector, BPF backend, iter/task_file (before)"
			  : "collector, BPF backend",
		c1 - c0, s1 - s0, wall_ms() - w0, cycles, seen_sockets);
	queues_collector.done(st);
	config_free(cfg);
}

static void bench_ss(void)
{
	double cpu = 0, sys = 0, w0 = wall_ms();
	const int cycles = 3;

	for (int i = 0; i < cycles; i++) {
		struct rusage ru;
		int status;
		pid_t p = fork();

		if (p == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			execlp("ss", "ss", "-tuxanp", (char *)NULL);
			_exit(127);
		}
		if (p < 0 || wait4(p, &status, 0, &ru) != p || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			die("ss -tuxanp", ECHILD);
		cpu += tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
		sys += tv_ms(ru.ru_stime);
	}
	add_row("ss -tuxanp (the peer)", cpu, sys, wall_ms() - w0, cycles, seen_sockets);
}

static void write_tsv(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		die(path, errno);
	fprintf(f, "what\tprocs\tsockets\tcpu_ms_per_cycle\tsys_ms_per_cycle\twall_ms_per_cycle\tcycles\tvs_ss\tcpu_ms_median\n");
	for (int i = 0; i < nrows; i++)
		fprintf(f, "%s\t%d\t%ld\t%.3f\t%.3f\t%.3f\t%d\t%.1f\t%.3f\n", rows[i].what, nprocs,
			rows[i].sockets, rows[i].cpu_ms, rows[i].sys_ms, rows[i].wall_ms, rows[i].cycles,
			rows[nrows - 1].cpu_ms / (rows[i].cpu_ms > 0 ? rows[i].cpu_ms : 1e-9),
			rows[i].median_ms);
	fclose(f);
}


static char *markdown(const char *tsv)
{
	static char md[8192];
	size_t o = 0;
	struct utsname u;
	time_t now = time(NULL);
	char day[32];

	uname(&u);
	strftime(day, sizeof(day), "%Y-%m-%d", gmtime(&now));
#define PUT(...) o += (size_t)snprintf(md + o, o < sizeof(md) ? sizeof(md) - o : 0, __VA_ARGS__)
	PUT("## Kernel queues (make bench-queues)\n\n");
	PUT("`sudo make bench-queues` (bench/queues/queuebench.c), %s, kernel %s, %ld CPUs; rows in `%s`. "
	    "%d processes holding %d sockets made by the benchmark (TCP over loopback, listeners, UDP, "
	    "UNIX pairs; a little data queued); %d processes on the host in all during the run (the "
	    "pass visits every one's files). CPU time of the "
	    "reader per cycle (user + system; for ss the child's), the mean and, for the BPF passes "
	    "(%d cycles each, in %d interleaved rounds), the median of the per-pass times (other rows repeat the mean); `vs_ss` is "
	    "how many times less (by the mean) than `ss -tuxanp`, measured in the same run.\n\n",
	    day, u.release, sysconf(_SC_NPROCESSORS_ONLN), tsv, nprocs, nsockets, host_procs,
	    PASS_CYCLES, PASS_ROUNDS);
	PUT("| what | sockets seen | CPU ms/cycle | median | of it system | wall ms/cycle | vs ss |\n"
	    "|---|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < nrows; i++)
		PUT("| %s | %ld | %.3f | %.3f | %.3f | %.3f | %.1f× |\n", rows[i].what, rows[i].sockets,
		    rows[i].cpu_ms, rows[i].median_ms, rows[i].sys_ms, rows[i].wall_ms,
		    rows[nrows - 1].cpu_ms / (rows[i].cpu_ms > 0 ? rows[i].cpu_ms : 1e-9));
	PUT("\nTargets (issue): BPF pass <= 2 ms; netlink + cached inode map <= 10 ms in the steady state.\n\n");
#undef PUT
	return md;
}

int main(int argc, char **argv)
{
	const char *tsv = "bench/results/queues.tsv", *md = "bench/RESULTS.md";
	int ready[2];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tsv") == 0 && i + 1 < argc)
			tsv = argv[++i];
		else if (strcmp(argv[i], "--md") == 0 && i + 1 < argc)
			md = argv[++i];
		else if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc)
			nprocs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--sockets") == 0 && i + 1 < argc)
			nsockets = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--tsv FILE] [--md FILE] [--procs N] [--sockets N]\n",
				argv[0]);
			return 2;
		}
	}
	if (nprocs < 1 || nsockets < 100)
		die("--procs >= 1, --sockets >= 100", EINVAL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile((rlim_t)nsockets + 1024);
	if (pipe2(ready, O_CLOEXEC) < 0)
		die("pipe", errno);
	spawn(ready[1], ready[0]);
	close(ready[1]);
	close(ready[0]);
	host_procs = count_procs();
	printf("population: %d processes, %d sockets; %d processes on the host\n", nprocs, nsockets,
	       host_procs);
	bench_pass();
	bench_collector(false, true);
	bench_collector(false, false);
	bench_collector(true, false);
	bench_ss();
	for (int i = 0; i < nprocs; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < nprocs; i++)
		waitpid(kids[i], NULL, 0);
	write_tsv(tsv);
	{
		int wr = results_md_put(md, "## Kernel queues", markdown(tsv));

		if (wr < 0)
			die(md, -wr);
	}
	free(kids);
	return 0;
}
