/* SPDX-License-Identifier: MIT */
/* GC events of libgengc apps from their USDT probe (gengc:gc__done), counted by BPF, telemetry page or not.
 *
 * Discovery as the heap collector's: a pid is looked at when first listed
 * and once more at the next sample, everyone again at most every 30 s and
 * on SIGUSR1. Looking at a pid is a stat of its executable and a read of
 * its maps for a libgengc.so; each file is handed to gc_usdt once (it
 * remembers files without the probe). A pid that maps a file carrying the
 * probe is tracked (at most limits.max_instrumented) and exported under
 * target (its comm), pid and kind; a tracked pid that exits (its pidfd
 * turns readable) is forgotten. As in the heap collector, /proc is listed
 * only when the last pid allocated moved.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bpf_support.h"
#include "gc_events.h"
#include "gc_usdt.h"
#include "procfile.h"
#include "procfs.h"

#define RESCAN_NS (30ull * 1000000000ull)

static const struct metric_desc m_events = {
	"memagent_gc_events_total", METRIC_COUNTER, NULL,
	"GCs of a libgengc app seen through its gengc:gc__done USDT probe, by kind.",
};
static const struct metric_desc m_pause = {
	"memagent_gc_event_pause_seconds", METRIC_HISTOGRAM, "seconds",
	"GC pauses of a libgengc app seen through its gengc:gc__done USDT probe, by kind.",
};
static const struct metric_desc m_dropped = {
	"memagent_gc_events_dropped_total", METRIC_COUNTER, NULL,
	"gc__done events BPF could not count: its per-process map was full.",
};
static const struct metric_desc *const gc_events_metrics[] = { &m_events, &m_pause, &m_dropped, NULL };

static const char *const kind_names[] = { "scavenge", "mark_sweep", "mark_compact" };

struct tracked {
	int pid;
	int pidfd;                      /* readable once it exited; -1: none */
	char comm[PROCFS_COMM_MAX];
};

struct state {
	const struct collector_ctx *ctx;
	struct gc_usdt *usdt;
	int proc_fd;
	DIR *proc_dir;
	struct tracked *t;
	size_t n_t, cap_t;
	int *known, *fresh, *now;
	size_t n_known, n_fresh, n_now, cap_pids;
	uint64_t last_rescan_ns, rescan_seen;
	bool scanned_once;
	int loadavg_fd;                 /* /proc/loadavg: the last pid allocated */
	uint64_t last_pid;
	bool last_pid_confirmed;
	struct pollfd *polls;           /* per tracked pid, cap_t of them */
	char buf[65536];
};

static double bounds[GC_USDT_PAUSE_BUCKETS - 1];

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool is_tracked(const struct state *st, int pid)
{
	for (size_t i = 0; i < st->n_t; i++)
		if (st->t[i].pid == pid)
			return true;
	return false;
}

/* Offers the file at path (as pid sees it) to gc_usdt; true when it carries the probe. */
static bool offer(struct state *st, const char *path)
{
	struct stat sb;

	if (fstatat(st->proc_fd, path, &sb, 0) < 0 || !S_ISREG(sb.st_mode))
		return false;
	char abs[PATH_MAX];

	snprintf(abs, sizeof(abs), "%s/%s", st->ctx->proc_root, path);
	return gc_usdt_attach(st->usdt, abs, sb.st_dev, sb.st_ino) >= 0;
}

/* Does pid run a file with the probe (its executable, or a libgengc.so it maps)? */
static bool look_at(struct state *st, int pid)
{
	char path[PATH_MAX];
	bool found;
	int r;

	snprintf(path, sizeof(path), "%d/exe", pid);
	found = offer(st, path);
	snprintf(path, sizeof(path), "%d/maps", pid);
	r = procfile_read(st->proc_fd, path, st->buf, sizeof(st->buf));
	for (const char *p = r > 0 ? strstr(st->buf, "/libgengc.so") : NULL; p && !found;
	     p = strstr(p + 1, "/libgengc.so")) {
		const char *start = p, *nl = strchr(p, '\n');

		while (start > st->buf && start[-1] != ' ' && start[-1] != '\n')
			start--;
		if (*start != '/' || !nl || nl - start > 400)
			continue;
		/* The library as pid sees it: through its root. */
		snprintf(path, sizeof(path), "%d/root%.*s", pid, (int)(nl - start), start);
		found = offer(st, path);
	}
	return found;
}

static void track(struct state *st, int pid)
{
	char path[64], buf[64];
	struct tracked *t;
	int r;

	if (is_tracked(st, pid) || st->n_t >= st->ctx->limits.max_instrumented)
		return;
	if (st->n_t == st->cap_t) {
		size_t cap = st->cap_t ? st->cap_t * 2 : 16;
		struct tracked *nt = realloc(st->t, cap * sizeof(*nt));
		struct pollfd *np;

		if (!nt)
			return;
		st->t = nt;
		np = realloc(st->polls, cap * sizeof(*np));
		if (!np)
			return;
		st->polls = np;
		st->cap_t = cap;
	}
	t = &st->t[st->n_t];
	snprintf(path, sizeof(path), "%d/comm", pid);
	r = procfile_read(st->proc_fd, path, buf, sizeof(buf));
	if (r <= 0 || procfs_parse_comm(buf, (size_t)r, t->comm) < 0)
		snprintf(t->comm, sizeof(t->comm), "?");
	t->pid = pid;
	t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	st->n_t++;
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

static int list_pids(struct state *st)
{
	struct dirent *de;

	rewinddir(st->proc_dir);
	st->n_now = 0;
	while ((de = readdir(st->proc_dir))) {
		char *end;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		if (st->n_now == st->cap_pids) {
			size_t cap = st->cap_pids ? st->cap_pids * 2 : 1024;
			int *a = realloc(st->now, cap * sizeof(int)), *b, *c;

			if (!a)
				return -ENOMEM;
			st->now = a;
			if (!(b = realloc(st->known, cap * sizeof(int))))
				return -ENOMEM;
			st->known = b;
			if (!(c = realloc(st->fresh, cap * sizeof(int))))
				return -ENOMEM;
			st->fresh = c;
			st->cap_pids = cap;
		}
		st->now[st->n_now++] = (int)pid;
	}
	qsort(st->now, st->n_now, sizeof(int), cmp_int);
	return 0;
}

static void untrack(struct state *st, size_t i)
{
	gc_usdt_forget(st->usdt, st->t[i].pid);
	if (st->t[i].pidfd >= 0)
		close(st->t[i].pidfd);
	st->t[i] = st->t[--st->n_t];
}

/* The heap collector's rule (collectors/heap.c, must_list()): /proc is
 * listed when a process may have been born, or for a second look at new
 * pids, or when a tracked pid has no pidfd to tell its exit. */
static bool must_list(struct state *st, bool rescan)
{
	char buf[128];
	uint64_t last = 0;
	int r = st->loadavg_fd >= 0 ? procfile_pread(st->loadavg_fd, buf, sizeof(buf)) : -1;
	bool quiet;

	if (r <= 0 || procfs_parse_last_pid(buf, (size_t)r, &last) < 0)
		last = 0;
	quiet = last && last == st->last_pid && st->last_pid_confirmed;
	st->last_pid_confirmed = last && last == st->last_pid;
	st->last_pid = last;
	if (rescan || !quiet || st->n_fresh)
		return true;
	for (size_t i = 0; i < st->n_t; i++)
		if (st->t[i].pidfd < 0)
			return true;
	return false;
}

static int discover(struct state *st)
{
	uint64_t t = mono_ns();
	bool rescan = !st->scanned_once || t - st->last_rescan_ns >= RESCAN_NS ||
		      st->ctx->rescan_requests != st->rescan_seen;
	size_t n_fresh = 0;
	int r;

	/* Exited tracked pids, whatever else happens: one poll over pidfds. */
	for (size_t i = 0; i < st->n_t; i++)
		st->polls[i] = (struct pollfd){ .fd = st->t[i].pidfd, .events = POLLIN };
	if (st->n_t && poll(st->polls, st->n_t, 0) > 0)
		for (size_t i = st->n_t; i-- > 0;)
			if (st->polls[i].revents & (POLLIN | POLLHUP | POLLERR))
				untrack(st, i);
	if (!must_list(st, rescan))
		return 0;
	r = list_pids(st);
	if (r < 0)
		return r;
	if (rescan) {
		st->last_rescan_ns = t;
		st->rescan_seen = st->ctx->rescan_requests;
	}
	/* Tracked pids no longer listed (those without a pidfd): forgotten. */
	for (size_t i = st->n_t; i-- > 0;)
		if (!has_pid(st->now, st->n_now, st->t[i].pid))
			untrack(st, i);
	for (size_t i = 0; i < st->n_now; i++) {
		int pid = st->now[i];
		bool is_new = st->scanned_once && !has_pid(st->known, st->n_known, pid);

		if ((rescan || is_new || has_pid(st->fresh, st->n_fresh, pid)) && !is_tracked(st, pid) &&
		    look_at(st, pid))
			track(st, pid);
		if (is_new)
			st->fresh[n_fresh++] = pid;
	}
	st->n_fresh = n_fresh;
	memcpy(st->known, st->now, st->n_now * sizeof(int));
	st->n_known = st->n_now;
	st->scanned_once = true;
	return 0;
}

static int collector_read(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct state *st = state;
	int r = discover(st);

	if (r == -ENOMEM)
		return r;
	if (r < 0)
		err->n[COLLECTOR_UNREADABLE]++;
	for (size_t i = 0; i < st->n_t; i++) {
		char pid_s[16];
		const char *lv[] = { "target", st->t[i].comm, "pid", pid_s, "kind", NULL, NULL };

		snprintf(pid_s, sizeof(pid_s), "%d", st->t[i].pid);
		for (uint32_t k = 0; k < 3; k++) {
			struct gc_usdt_counts c = { 0 };

			gc_usdt_read(st->usdt, st->t[i].pid, k, &c);
			lv[5] = kind_names[k];
			if (snapshot_add(snap, &m_events, (double)c.count, lv) < 0 ||
			    snapshot_histogram(snap, &m_pause, lv, bounds, c.hist, GC_USDT_PAUSE_BUCKETS - 1,
					       (double)c.pause_sum_ns / 1e9) < 0)
				return -ENOMEM;
		}
	}
	if (snapshot_add(snap, &m_dropped, (double)gc_usdt_dropped(st->usdt), NULL) < 0)
		return -ENOMEM;
	return 0;
}

static void collector_done(void *state)
{
	struct state *st = state;

	if (!st)
		return;
	gc_usdt_free(st->usdt);
	for (size_t i = 0; i < st->n_t; i++)
		if (st->t[i].pidfd >= 0)
			close(st->t[i].pidfd);
	if (st->loadavg_fd >= 0)
		close(st->loadavg_fd);
	free(st->polls);
	if (st->proc_dir)
		closedir(st->proc_dir);
	if (st->proc_fd >= 0)
		close(st->proc_fd);
	free(st->t);
	free(st->known);
	free(st->fresh);
	free(st->now);
	free(st);
}

static int collector_init(const struct collector_ctx *ctx, void **ret_state)
{
	struct bpf_failure f = { 0 };
	struct state *st;
	int dfd, r;

	if (!ctx->use_bpf || !ctx->limits.max_instrumented)
		return -EOPNOTSUPP;     /* --no-bpf, or heap discovery off */
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->proc_fd = st->loadavg_fd = -1;
	st->ctx = ctx;
	for (int i = 0; i < GC_USDT_PAUSE_BUCKETS - 1; i++)
		bounds[i] = (double)(2ull << i) / 1e6;
	r = gc_usdt_new(&st->usdt, &f);
	if (r < 0) {
		collector_bpf_unavailable(ctx, "gc_usdt", f.why);
		collector_done(st);
		return r;
	}
	st->proc_fd = open(ctx->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->proc_fd < 0) {
		r = -errno;
		collector_done(st);
		return r;
	}
	dfd = fcntl(st->proc_fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0 || !(st->proc_dir = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		collector_done(st);
		return -ENOMEM;
	}
	st->loadavg_fd = openat(st->proc_fd, "loadavg", O_RDONLY | O_CLOEXEC);
	*ret_state = st;
	return 0;
}

const struct collector gc_events_collector = {
	.name = "gc_events",
	.metrics = gc_events_metrics,
	.init = collector_init,
	.read = collector_read,
	.done = collector_done,
};
