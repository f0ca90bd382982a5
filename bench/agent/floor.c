/* SPDX-License-Identifier: MIT */
/* bench floor: the least CPU that reading memagent's per-process files can cost.
 *
 * Usage: floor K
 *        floor serve
 *
 * Opens /proc/PID/status of every process the embedded default config
 * watches (every process that is neither a kernel thread nor a zombie: the
 * same test memagent applies, PF_KTHREAD in /proc/PID/stat) and keeps the
 * descriptors. After one untimed pass it times cycles of two kinds:
 *   floor          one pread of each kept status fd per cycle
 *   floor+readdir  the same plus one readdir pass over /proc per cycle
 *                  (memagent lists /proc every tick to find new processes)
 * "floor K" runs K cycles of each and prints the means. "floor serve" prints
 * "ready FILES" and then runs one cycle per line read from stdin ("p" for
 * floor, "r" for floor+readdir), answering each with the cycle's CPU ns: the
 * bench driver interleaves these with memagent's cycles so both are measured
 * under the same conditions.
 * CPU is this process's on-CPU time (CLOCK_PROCESS_CPUTIME_ID: the scheduler's
 * sum_exec_runtime, what schedstat field 1 shows), taken around each loop. Nothing is parsed: it is a floor, not an agent.
 * Output: key=value lines on stdout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (16 * 1024) /* memagent's FILE_BUF */
#define PF_KTHREAD 0x00200000u

static char buf[BUF_SIZE];

/* This process's on-CPU ns. /proc/self/schedstat would be stale here: the
 * kernel folds the running task's current slice into it only at a tick or a
 * switch, while CLOCK_PROCESS_CPUTIME_ID (the same sum_exec_runtime) brings
 * it up to date first. */
static long long self_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Is pid a process memagent watches? Reads its stat once. */
static int watched(int proc_fd, const char *pid)
{
	char path[300];
	unsigned long flags;
	char state;
	const char *p;
	int fd, n;

	snprintf(path, sizeof(path), "%s/stat", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = (int)pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* ") S ppid pgrp session tty_nr tpgid flags" */
	if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return 0;
	return !(flags & PF_KTHREAD) && state != 'Z' && state != 'X';
}

static size_t read_all(const int *fds, size_t n)
{
	size_t ok = 0;

	for (size_t i = 0; i < n; i++)
		if (pread(fds[i], buf, sizeof(buf) - 1, 0) > 0)
			ok++;
	return ok;
}

static size_t list_proc(DIR *d)
{
	struct dirent *de;
	size_t n = 0;

	rewinddir(d);
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			n++;
	return n;
}

/* One cycle of the given kind; returns its CPU ns. */
static long long cycle(const int *fds, size_t n, DIR *d, int with_readdir)
{
	long long c0 = self_cpu_ns();

	if (with_readdir)
		list_proc(d);
	read_all(fds, n);
	return self_cpu_ns() - c0;
}

static int serve(const int *fds, size_t n, DIR *d)
{
	char line[16];

	printf("ready %zu\n", n);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (line[0] != 'p' && line[0] != 'r')
			return 64;
		printf("%lld\n", cycle(fds, n, d, line[0] == 'r'));
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct dirent *de;
	long long sum_p = 0, sum_r = 0;
	size_t n = 0, cap = 1024;
	int *fds = malloc(cap * sizeof(*fds)), proc_fd, k = 0, ret = 0;
	DIR *d;

	if (argc != 2 || (strcmp(argv[1], "serve") != 0 && (k = atoi(argv[1])) < 1)) {
		fprintf(stderr, "usage: floor K | floor serve\n");
		return 64;
	}
	/* One kept fd per process, as memagent keeps them. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = opendir("/proc");
	if (!fds || proc_fd < 0 || !d) {
		perror("floor: /proc");
		return 1;
	}
	while ((de = readdir(d))) {
		char path[300];
		int fd;

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || !watched(proc_fd, de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/status", de->d_name);
		fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			continue;
		if (n == cap) {
			int *nf = realloc(fds, 2 * cap * sizeof(*fds));

			if (!nf)
				return 1;
			fds = nf;
			cap *= 2;
		}
		fds[n++] = fd;
	}
	read_all(fds, n); /* untimed: the first read of each file */

	if (k == 0) {
		ret = serve(fds, n, d);
	} else {
		for (int i = 0; i < k; i++)
			sum_p += cycle(fds, n, d, 0);
		for (int i = 0; i < k; i++)
			sum_r += cycle(fds, n, d, 1);
		printf("files=%zu\n", n);
		printf("listed=%zu\n", list_proc(d));
		printf("k=%d\n", k);
		printf("cpu_ms_per_cycle=%.3f\n", (double)sum_p / 1e6 / k);
		printf("cpu_ms_per_cycle_readdir=%.3f\n", (double)sum_r / 1e6 / k);
		printf("us_per_file=%.3f\n", n ? (double)sum_p / 1e3 / k / (double)n : 0);
	}
	closedir(d);
	close(proc_fd);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return ret;
}
