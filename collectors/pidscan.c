/* SPDX-License-Identifier: MIT */
/* pidscan: sorted listings of /proc, what is new since the last one, and when a listing can be skipped. */
#include "pidscan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procfile.h"
#include "procfs.h"

struct pidscan {
	DIR *dir;
	int loadavg_fd;             /* /proc/loadavg: the last pid allocated; -1: none */
	int *known, *fresh, *now;   /* sorted: last listing, new at it, this one */
	int *look;                  /* this listing's pids to look at */
	size_t n_known, n_fresh, n_now, n_look, cap;
	uint64_t last_rescan_ns, rescan_seen;
	uint64_t last_pid;
	bool last_pid_confirmed;    /* last_pid was the same at the call before */
	bool listed_once;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static bool has_pid(const int *v, size_t n, int pid)
{
	return bsearch(&pid, v, n, sizeof(int), cmp_int) != NULL;
}

struct pidscan *pidscan_new(int proc_dirfd)
{
	struct pidscan *s = calloc(1, sizeof(*s));
	int dfd;

	if (!s)
		return NULL;
	dfd = fcntl(proc_dirfd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0 || !(s->dir = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		free(s);
		return NULL;
	}
	s->loadavg_fd = openat(proc_dirfd, "loadavg", O_RDONLY | O_CLOEXEC);
	return s;
}

struct pidscan *pidscan_free(struct pidscan *s)
{
	if (!s)
		return NULL;
	closedir(s->dir);
	if (s->loadavg_fd >= 0)
		close(s->loadavg_fd);
	free(s->known);
	free(s->fresh);
	free(s->now);
	free(s->look);
	free(s);
	return NULL;
}

/* Grows every array to hold twice as many pids. */
static int grow(struct pidscan *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	int **v[] = { &s->known, &s->fresh, &s->now, &s->look };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int *p = realloc(*v[i], cap * sizeof(int));

		if (!p)
			return -ENOMEM;
		*v[i] = p;
	}
	s->cap = cap;
	return 0;
}

static int list(struct pidscan *s)
{
	struct dirent *de;

	rewinddir(s->dir);
	s->n_now = 0;
	while ((de = readdir(s->dir))) {
		char *end;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		if (s->n_now == s->cap && grow(s) < 0)
			return -ENOMEM;
		s->now[s->n_now++] = (int)pid;
	}
	qsort(s->now, s->n_now, sizeof(int), cmp_int);
	return 0;
}

/* Whether a process may have been born since the call before the last: a
 * last pid unchanged over two calls says none was (the process collector's
 * rule, collectors/process.c). */
static bool may_be_born(struct pidscan *s)
{
	char buf[128];
	uint64_t last = 0;
	int r = s->loadavg_fd >= 0 ? procfile_pread(s->loadavg_fd, buf, sizeof(buf)) : -1;
	bool quiet;

	if (r <= 0 || procfs_parse_last_pid(buf, (size_t)r, &last) < 0)
		last = 0;
	quiet = last && last == s->last_pid && s->last_pid_confirmed;
	s->last_pid_confirmed = last && last == s->last_pid;
	s->last_pid = last;
	return !quiet;
}

int pidscan_run(struct pidscan *s, uint64_t rescan_requests, bool need_list)
{
	uint64_t t = mono_ns();
	bool rescan = !s->listed_once || t - s->last_rescan_ns >= PIDSCAN_RESCAN_NS ||
		      rescan_requests != s->rescan_seen;
	bool born = may_be_born(s);
	size_t n_fresh = 0;
	int r;

	s->n_look = 0;
	if (!rescan && !need_list && !born && !s->n_fresh)
		return 0;
	r = list(s);
	if (r < 0)
		return r;
	if (rescan) {
		s->last_rescan_ns = t;
		s->rescan_seen = rescan_requests;
	}
	for (size_t i = 0; i < s->n_now; i++) {
		int pid = s->now[i];
		bool is_new = s->listed_once && !has_pid(s->known, s->n_known, pid);

		if (rescan || is_new || has_pid(s->fresh, s->n_fresh, pid))
			s->look[s->n_look++] = pid;
		if (is_new)
			s->fresh[n_fresh++] = pid; /* sorted: a subsequence of now */
	}
	s->n_fresh = n_fresh;
	memcpy(s->known, s->now, s->n_now * sizeof(int));
	s->n_known = s->n_now;
	s->listed_once = true;
	return rescan ? 2 : 1;
}

const int *pidscan_look(const struct pidscan *s, size_t *ret_n)
{
	*ret_n = s->n_look;
	return s->look;
}

bool pidscan_gone(const struct pidscan *s, int pid)
{
	return s->listed_once && !has_pid(s->known, s->n_known, pid);
}
