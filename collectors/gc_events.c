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
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf_support.h"
#include "gc_events.h"
#include "gc_usdt.h"
#include "pidscan.h"
#include "procfile.h"
#include "procfs.h"


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
	struct tracked *t;
	size_t n_t, cap_t;
	struct pidscan *scan;           /* which pids to look at, when */
	struct pollfd *polls;           /* per tracked pid, cap_t of them */
	uint64_t attach_failed;         /* refused attaches since the last read */
	char buf[65536];
};

static double bounds[GC_USDT_PAUSE_BUCKETS - 1];

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
	int r = gc_usdt_attach(st->usdt, abs, sb.st_dev, sb.st_ino);

	/* A file with the probe the kernel would not let us attach to (before
	 * 6.6 the uprobe PMU wants CAP_SYS_ADMIN on patched kernels:
	 * docs/service.md) is counted, not silently missing. */
	if (r < 0 && r != -ENOENT)
		st->attach_failed++;
	return r >= 0;
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

static void untrack(struct state *st, size_t i)
{
	gc_usdt_forget(st->usdt, st->t[i].pid);
	if (st->t[i].pidfd >= 0)
		close(st->t[i].pidfd);
	st->t[i] = st->t[--st->n_t];
}

/* A tracked pid without a pidfd needs the listing to tell its exit. */
static bool need_list(const struct state *st)
{
	for (size_t i = 0; i < st->n_t; i++)
		if (st->t[i].pidfd < 0)
			return true;
	return false;
}

static int discover(struct state *st)
{
	const int *look;
	size_t n;
	int r;

	/* Exited tracked pids, whatever else happens: one poll over pidfds. */
	for (size_t i = 0; i < st->n_t; i++)
		st->polls[i] = (struct pollfd){ .fd = st->t[i].pidfd, .events = POLLIN };
	if (st->n_t && poll(st->polls, st->n_t, 0) > 0)
		for (size_t i = st->n_t; i-- > 0;)
			if (st->polls[i].revents & (POLLIN | POLLHUP | POLLERR))
				untrack(st, i);
	r = pidscan_run(st->scan, st->ctx->rescan_requests, need_list(st));
	if (r <= 0)
		return r;
	/* Tracked pids no longer listed (those without a pidfd): forgotten. */
	for (size_t i = st->n_t; i-- > 0;)
		if (pidscan_gone(st->scan, st->t[i].pid))
			untrack(st, i);
	look = pidscan_look(st->scan, &n);
	for (size_t i = 0; i < n; i++)
		if (!is_tracked(st, look[i]) && look_at(st, look[i]))
			track(st, look[i]);
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
	err->n[COLLECTOR_BPF] += st->attach_failed;
	st->attach_failed = 0;
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
	free(st->polls);
	pidscan_free(st->scan);
	if (st->proc_fd >= 0)
		close(st->proc_fd);
	free(st->t);
	free(st);
}

static int collector_init(const struct collector_ctx *ctx, void **ret_state)
{
	struct bpf_failure f = { 0 };
	struct state *st;
	int r;

	if (!ctx->use_bpf || !ctx->limits.max_instrumented)
		return -EOPNOTSUPP;     /* --no-bpf, or heap discovery off */
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->proc_fd = -1;
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
	st->scan = pidscan_new(st->proc_fd);
	if (!st->scan) {
		collector_done(st);
		return -ENOMEM;
	}
	*ret_state = st;
	return 0;
}

/* Nothing here follows the targets (series are named by comm and pid):
 * the programs, their attachments and counts stay as they are unless the
 * new bound on instrumented processes is below what is tracked, or heap
 * discovery was turned off (then -ERANGE, and done() and init() apply it). */
static int collector_reconfigure(void **state)
{
	struct state *st = *state;

	if (!st->ctx->limits.max_instrumented || st->n_t > st->ctx->limits.max_instrumented)
		return -ERANGE;
	return 0;
}

const struct collector gc_events_collector = {
	.name = "gc_events",
	.metrics = gc_events_metrics,
	.init = collector_init,
	.read = collector_read,
	.done = collector_done,
	.reconfigure = collector_reconfigure,
};
