/* SPDX-License-Identifier: MIT */
/* bench driver: drives sample/scrape cycles against an agent and times them from the client side.
 *
 * Usage:
 *   driver free-port
 *       prints a TCP port on 127.0.0.1 that was free a moment ago
 *   driver wait-port PORT TIMEOUT_MS
 *       returns once something accepts connections on 127.0.0.1:PORT
 *   driver memagent PID PORT K CPUACCT_DIR FLOOR BODY_FILE
 *       waits for the first sample (discovery), then K cycles of: SIGUSR1,
 *       poll /healthz until samples_total shows the next number, one GET
 *       /metrics; then one cycle of each kind of "FLOOR serve" (see
 *       floor.c), interleaved so both see the same machine. Then calibrates
 *       what one /healthz poll costs the agent: cpu_ms_per_cycle is the
 *       cgroup's CPU delta less the polls' share (the raw one is printed
 *       too).
 *   driver scrapes PORT K CPUACCT_DIR BODY_FILE
 *       one untimed warm-up GET /metrics, then K timed ones (an exporter
 *       that collects on scrape).
 *
 * Output: key=value lines on stdout, for bench/agent/run.sh. CPU comes from
 * the cgroup's cpuacct.usage (ns; the cgroup holds only the agent); for
 * memagent the sum of /proc/PID/task/TID/schedstat field 1 is printed
 * beside it as a cross-check. Scrape latency is measured here with
 * CLOCK_MONOTONIC, from before socket() until the server closed the
 * connection after the last byte (HTTP/1.1, Connection: close).
 * cpu_pressure_some_pct is the share of the measuring loop's wall time in
 * which some task on the machine waited for a CPU (/proc/pressure/cpu): the
 * load of everything else running, which moves the latency tail most.
 * The last /metrics body is written to BODY_FILE, so the script can check
 * that the agent saw the processes it was meant to see.
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (64u << 20)
#define LAT_N 20 /* scrapes the latency percentiles are taken over */
#define K_MAX 4096

struct body {
	char *buf;
	size_t len, cap;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
	struct timespec ts = { (time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int connect_port(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* GET path; fills b with the body (headers stripped) and returns the HTTP
 * status, or a negative errno. *ret_ms is the client-side wall time. */
static int http_get(int port, const char *path, struct body *b, double *ret_ms)
{
	char req[256];
	double t0 = now_ms();
	size_t len = 0;
	int fd, n, status = -EPROTO;
	char *hdr_end;

	fd = connect_port(port);
	if (fd < 0)
		return fd;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: memagent-bench\r\n"
		     "Accept: text/plain\r\nConnection: close\r\n\r\n", path, port);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -EIO;
	}
	for (;;) {
		ssize_t r;

		if (b->cap - len < 65536) {
			size_t cap = b->cap ? b->cap * 2 : 1u << 20;
			char *nb = cap <= BODY_MAX ? realloc(b->buf, cap) : NULL;

			if (!nb) {
				close(fd);
				return -ENOMEM;
			}
			b->buf = nb;
			b->cap = cap;
		}
		r = read(fd, b->buf + len, b->cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			close(fd);
			return (int)r;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*ret_ms = now_ms() - t0;
	close(fd);
	b->buf[len] = '\0';
	if (sscanf(b->buf, "HTTP/1.%*d %d", &status) != 1)
		return -EPROTO;
	hdr_end = strstr(b->buf, "\r\n\r\n");
	if (!hdr_end)
		return -EPROTO;
	hdr_end += 4;
	b->len = len - (size_t)(hdr_end - b->buf);
	memmove(b->buf, hdr_end, b->len + 1);
	return status;
}

/* Reads a small file into buf (NUL-terminated); false when empty or unreadable. */
static bool read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

static long long read_ll(const char *path)
{
	char buf[64];

	return read_small(path, buf, sizeof(buf)) ? strtoll(buf, NULL, 10) : -1;
}

static long long cpuacct_ns(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/cpuacct.usage", dir);
	return read_ll(path);
}

/* Sums over the threads of pid (0: this process) of schedstat field 1 (ns
 * on a CPU) and field 2 (ns runnable but waiting for a CPU). */
static int schedstat_sum(int pid, long long *ret_run, long long *ret_wait)
{
	char path[64];
	long long run = 0, wait = 0;
	struct dirent *de;
	DIR *d;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/task");
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char p[400], buf[128];
		long long r, w;
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/schedstat", path, de->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (sscanf(buf, "%lld %lld", &r, &w) == 2) {
			run += r;
			wait += w;
		}
	}
	closedir(d);
	*ret_run = run;
	*ret_wait = wait;
	return 0;
}

static long long schedstat_ns(int pid)
{
	long long run, wait;

	return schedstat_sum(pid, &run, &wait) < 0 ? -1 : run;
}

/* ns that pid's threads and ours spent waiting for a CPU so far. */
static long long runq_wait_ns(int pid)
{
	long long run, w1 = 0, w2 = 0;

	schedstat_sum(pid, &run, &w1);
	schedstat_sum(0, &run, &w2);
	return w1 + w2;
}

/* /proc/pressure/cpu "some" total (µs tasks waited for a CPU), or -1. It
 * tells how contended the machine was while we measured. */
static long long cpu_pressure_us(void)
{
	char buf[256];
	const char *p;

	if (!read_small("/proc/pressure/cpu", buf, sizeof(buf)))
		return -1;
	p = strstr(buf, "total=");
	return p ? strtoll(p + 6, NULL, 10) : -1;
}

static void print_pressure(long long p0, double w0)
{
	long long p1 = cpu_pressure_us();

	if (p0 >= 0 && p1 >= 0)
		printf("cpu_pressure_some_pct=%.1f\n", (double)(p1 - p0) / 10 / (now_ms() - w0));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median (mean of the middle two for an even count) and p99 by nearest
 * rank (for 20 values: the slowest). */
static void percentiles(double *v, int n, double *p50, double *p99)
{
	int rank = (99 * n + 99) / 100;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	*p50 = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*p99 = v[rank - 1];
}

/* Writes the last scraped body to path, for the script's checks. */
static int save_body(const struct body *b, const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f || fwrite(b->buf, 1, b->len, f) != b->len) {
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* samples_total from /healthz, or -1. */
static long long healthz(int port, struct body *b)
{
	double ms;
	const char *p;

	if (http_get(port, "/healthz", b, &ms) != 200 || !(p = strstr(b->buf, "samples_total=")))
		return -1;
	return strtoll(p + 14, NULL, 10);
}

static int cmd_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("free-port");
		return 1;
	}
	printf("%u\n", ntohs(sa.sin_port));
	close(fd);
	return 0;
}

static int cmd_wait_port(int port, double timeout_ms)
{
	double end = now_ms() + timeout_ms;

	for (;;) {
		int fd = connect_port(port);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (now_ms() > end) {
			fprintf(stderr, "driver: nothing listens on 127.0.0.1:%d after %.0f ms\n", port, timeout_ms);
			return 1;
		}
		sleep_ms(5);
	}
}

/* Waits until /healthz reports at least want samples. The first poll comes
 * after first_ms (an estimate of the sample's duration, so polls do not
 * pile up on the agent while it samples), then every poll_ms. Returns the
 * polls made, or -1 on timeout. */
static int wait_sample(int port, long long want, double first_ms, double poll_ms, double timeout_ms,
		       struct body *b)
{
	double end = now_ms() + timeout_ms;
	int polls = 0;

	if (first_ms > 0)
		sleep_ms(first_ms);
	for (;;) {
		polls++;
		if (healthz(port, b) >= want)
			return polls;
		if (now_ms() > end)
			return -1;
		sleep_ms(poll_ms);
	}
}

/* Starts "FLOOR serve" on pipes; returns its pid and fills *in (its stdin)
 * and *out (its stdout), or -1. */
static pid_t start_floor(const char *floor, FILE **in, FILE **out, long *ret_files)
{
	int to[2], from[2];
	char line[64];
	pid_t pid;

	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		execl(floor, floor, "serve", (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	*in = fdopen(to[1], "w");
	*out = fdopen(from[0], "r");
	/* Lines via fgets: a scanf format ending in "\n" would wait for the
	 * next non-blank character, which never comes. */
	if (!*in || !*out || !fgets(line, sizeof(line), *out) || sscanf(line, "ready %ld", ret_files) != 1)
		return -1;
	return pid;
}

/* One floor cycle of kind 'p' or 'r'; its CPU ns, or -1. */
static long long floor_cycle(FILE *in, FILE *out, char kind)
{
	char line[64];
	long long ns;

	if (fprintf(in, "%c\n", kind) < 0 || fflush(in) != 0 || !fgets(line, sizeof(line), out) ||
	    sscanf(line, "%lld", &ns) != 1)
		return -1;
	return ns;
}

static double mean_ll(const long long *v, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += (double)v[i];
	return s / n;
}

static double median_d(const double *v, int n)
{
	double *c = malloc((size_t)n * sizeof(*c)), m, unused;

	if (!c)
		return -1;
	memcpy(c, v, (size_t)n * sizeof(*c));
	percentiles(c, n, &m, &unused);
	free(c);
	return m;
}

static int cmd_memagent(int pid, int port, int k, const char *cg, const char *floor, const char *body_file)
{
	static long long agent_ns[K_MAX], floor_ns[K_MAX], floor_rd_ns[K_MAX];
	static double lat[K_MAX], per_cycle[K_MAX];
	static long long runq[K_MAX];
	static int polls[K_MAX];
	int slowest = k - LAT_N;
	struct body b = {0};
	double lat_sorted[LAT_N], p50, p99, min_wait = 1e9, hz_ns, ht0, ht1;
	long long s0, c0, c1, t0, t1, h0, h1, pr0;
	double pw0;
	int polls_total = 0, hz_n = 200;
	FILE *fin, *fout;
	long files;
	pid_t floor_pid;

	if (k < LAT_N || k > K_MAX) {
		fprintf(stderr, "driver: K must be in %d..%d\n", LAT_N, K_MAX);
		return 64;
	}
	floor_pid = start_floor(floor, &fin, &fout, &files);
	if (floor_pid < 0) {
		fprintf(stderr, "driver: cannot start %s serve\n", floor);
		return 1;
	}
	/* The first sample is taken at start-up: discovery of every process. */
	if (wait_sample(port, 1, 0, 2, 60000, &b) < 0) {
		fprintf(stderr, "driver: no first sample from memagent within 60 s\n");
		return 1;
	}
	s0 = healthz(port, &b);
	pr0 = cpu_pressure_us();
	pw0 = now_ms();
	c0 = cpuacct_ns(cg);
	t0 = schedstat_ns(pid);
	/* Interleaved: each memagent cycle is followed by one floor cycle of
	 * each kind, so a change in machine load hits all three alike. */
	for (int i = 0; i < k; i++) {
		long long a0 = cpuacct_ns(cg), rq;
		double w0 = now_ms(), ms;
		int n;

		if (kill(pid, SIGUSR1) < 0) {
			perror("driver: kill memagent");
			return 1;
		}
		/* Poll from 90% of the fastest sample seen so far, then every 0.5 ms. */
		n = wait_sample(port, s0 + i + 1, i ? 0.9 * min_wait : 0, 0.5, 60000, &b);
		if (n < 0) {
			fprintf(stderr, "driver: sample %lld did not appear within 60 s\n", s0 + i + 1);
			return 1;
		}
		polls[i] = n;
		polls_total += n;
		if (now_ms() - w0 < min_wait)
			min_wait = now_ms() - w0;
		rq = runq_wait_ns(pid);
		if (http_get(port, "/metrics", &b, &ms) != 200) {
			fprintf(stderr, "driver: GET /metrics failed\n");
			return 1;
		}
		runq[i] = runq_wait_ns(pid) - rq;
		lat[i] = ms;
		agent_ns[i] = cpuacct_ns(cg) - a0;
		floor_ns[i] = floor_cycle(fin, fout, 'p');
		floor_rd_ns[i] = floor_cycle(fin, fout, 'r');
		if (floor_ns[i] < 0 || floor_rd_ns[i] < 0) {
			fprintf(stderr, "driver: floor cycle failed\n");
			return 1;
		}
	}
	c1 = cpuacct_ns(cg);
	t1 = schedstat_ns(pid);
	print_pressure(pr0, pw0);
	fclose(fin);
	fclose(fout);
	waitpid(floor_pid, NULL, 0);
	if (save_body(&b, body_file) < 0) {
		perror(body_file);
		return 1;
	}
	printf("metrics_bytes=%zu\n", b.len);

	/* What one /healthz poll costs the agent, to tell the harness's share
	 * of the CPU delta apart from the agent's own work. */
	h0 = cpuacct_ns(cg);
	ht0 = now_ms();
	for (int i = 0; i < hz_n; i++)
		if (healthz(port, &b) < 0)
			return 1;
	ht1 = now_ms();
	h1 = cpuacct_ns(cg);
	hz_ns = (double)(h1 - h0) / hz_n;
	for (int i = 0; i < k; i++)
		per_cycle[i] = ((double)agent_ns[i] - polls[i] * hz_ns) / 1e6;

	for (int i = k - LAT_N; i < k; i++)
		if (lat[i] > lat[slowest])
			slowest = i;
	memcpy(lat_sorted, lat + k - LAT_N, sizeof(lat_sorted));
	percentiles(lat_sorted, LAT_N, &p50, &p99);
	printf("k=%d\n", k);
	/* Whether the slowest scrape was slow for want of a CPU (the agent's
	 * threads and the client's, waiting runnable) or for work. */
	printf("slowest_scrape_ms=%.3f\nslowest_scrape_runq_wait_ms=%.3f\n", lat[slowest],
	       (double)runq[slowest] / 1e6);
	printf("cpu_ms_per_cycle_raw=%.3f\n", (double)(c1 - c0) / 1e6 / k);
	printf("schedstat_ms_per_cycle_raw=%.3f\n", (double)(t1 - t0) / 1e6 / k);
	printf("healthz_polls=%d\n", polls_total);
	printf("healthz_cpu_us=%.2f\n", hz_ns / 1e3);
	printf("healthz_wall_us=%.2f\n", (ht1 - ht0) * 1e3 / hz_n);
	/* The whole loop's delta, as the cycles' sum would miss what the agent
	 * does after the client saw the end of a response. */
	printf("cpu_ms_per_cycle=%.3f\n", ((double)(c1 - c0) - polls_total * hz_ns) / 1e6 / k);
	printf("cpu_ms_median=%.3f\n", median_d(per_cycle, k));
	printf("scrape_ms_p50=%.3f\nscrape_ms_p99=%.3f\n", p50, p99);
	printf("floor_files=%ld\n", files);
	printf("floor_cpu_ms_per_cycle=%.3f\n", mean_ll(floor_ns, k) / 1e6);
	printf("floor_readdir_cpu_ms_per_cycle=%.3f\n", mean_ll(floor_rd_ns, k) / 1e6);
	for (int i = 0; i < k; i++)
		per_cycle[i] = (double)floor_ns[i] / 1e6;
	printf("floor_cpu_ms_median=%.3f\n", median_d(per_cycle, k));
	for (int i = 0; i < k; i++)
		per_cycle[i] = (double)floor_rd_ns[i] / 1e6;
	printf("floor_readdir_cpu_ms_median=%.3f\n", median_d(per_cycle, k));
	free(b.buf);
	return 0;
}

static int cmd_scrapes(int port, int k, const char *cg, const char *body_file)
{
	struct body b = {0};
	static double lat[K_MAX];
	double lat_sorted[LAT_N], ms, p50, p99, pw0;
	long long c0, c1, pr0;

	if (k < LAT_N || k > K_MAX) {
		fprintf(stderr, "driver: K must be in %d..%d\n", LAT_N, K_MAX);
		return 64;
	}
	/* Warm-up: the first scrape discovers every process. */
	if (http_get(port, "/metrics", &b, &ms) != 200) {
		fprintf(stderr, "driver: warm-up GET /metrics failed\n");
		return 1;
	}
	printf("first_scrape_ms=%.3f\n", ms);
	pr0 = cpu_pressure_us();
	pw0 = now_ms();
	c0 = cpuacct_ns(cg);
	for (int i = 0; i < k; i++) {
		if (http_get(port, "/metrics", &b, &lat[i]) != 200) {
			fprintf(stderr, "driver: GET /metrics failed\n");
			return 1;
		}
	}
	c1 = cpuacct_ns(cg);
	print_pressure(pr0, pw0);
	if (save_body(&b, body_file) < 0) {
		perror(body_file);
		return 1;
	}
	printf("metrics_bytes=%zu\n", b.len);
	memcpy(lat_sorted, lat + k - LAT_N, sizeof(lat_sorted));
	percentiles(lat_sorted, LAT_N, &p50, &p99);
	printf("k=%d\n", k);
	printf("cpu_ms_per_cycle=%.3f\n", (double)(c1 - c0) / 1e6 / k);
	printf("scrape_ms_p50=%.3f\nscrape_ms_p99=%.3f\n", p50, p99);
	free(b.buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "free-port") == 0)
		return cmd_free_port();
	if (strcmp(cmd, "wait-port") == 0 && argc == 4)
		return cmd_wait_port(atoi(argv[2]), atof(argv[3]));
	if (strcmp(cmd, "memagent") == 0 && argc == 8)
		return cmd_memagent(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argv[5], argv[6], argv[7]);
	if (strcmp(cmd, "scrapes") == 0 && argc == 6)
		return cmd_scrapes(atoi(argv[2]), atoi(argv[3]), argv[4], argv[5]);
	fprintf(stderr, "usage: driver free-port | wait-port PORT TIMEOUT_MS |\n"
			"       memagent PID PORT K CPUACCT_DIR FLOOR BODY_FILE |\n"
			"       scrapes PORT K CPUACCT_DIR BODY_FILE\n");
	return 64;
}
