/* SPDX-License-Identifier: MIT */
/* Heap generations of instrumented apps: telemetry pages found in each process's fd table.
 *
 * Discovery needs no configuration: a page is a file an app keeps open
 * (docs/telemetry.md), seen as the link "/memfd:gengc-stats (deleted)" or
 * ".../gengc-stats-* (deleted)" in /proc/PID/fd. Listing every process's fd
 * table is the expensive part, so it is bounded: a pid is checked when it is
 * first listed and once more at the next sample (a process seen between fork
 * and exec, or before its first heap, has no page yet), every process is
 * checked again by a full rescan at most every 30 s, and at once when the
 * agent is asked (SIGUSR1: ctx->rescan_requests).
 *
 * A page found is opened through the link (a new description of the same
 * file) with a descriptor of /proc/PID/fd kept beside it: that one pins the
 * process's identity, so a page whose process exited, or that the app closed
 * (its heap freed), is dropped at the next sample instead of being read
 * forever through our own descriptor. Pages are bounded by
 * limits.max_instrumented; past it they are counted, not read.
 *
 * Invariant: a sample exports the numbers of a page only if that page, read
 * in this sample, passed every check of telemetry_read(), belongs to the
 * process that holds it, and no counter went back since the last sample.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "heap.h"
#include "heapdump.h"
#include "heaptrend.h"
#include "pidscan.h"
#include "procfile.h"
#include "procfs.h"
#include "telemetry.h"

#define PATH_BUF 64

static const struct metric_desc m_space_used = {
	"memagent_heap_space_used_bytes", METRIC_GAUGE, "bytes",
	"Bytes used in a heap space of an instrumented app (space: new_space, old_space, large_object_space...).",
};
static const struct metric_desc m_space_size = {
	"memagent_heap_space_size_bytes", METRIC_GAUGE, "bytes",
	"Size of a heap space of an instrumented app.",
};
static const struct metric_desc m_space_avail = {
	"memagent_heap_space_available_bytes", METRIC_GAUGE, "bytes",
	"Bytes still available in a heap space of an instrumented app.",
};
static const struct metric_desc m_limit = {
	"memagent_heap_size_limit_bytes", METRIC_GAUGE, "bytes",
	"The most an instrumented app's heap may grow to (heap_size_limit).",
};
static const struct metric_desc m_used = {
	"memagent_heap_used_bytes", METRIC_GAUGE, "bytes", "Heap in use in an instrumented app (heapUsed).",
};
static const struct metric_desc m_total = {
	"memagent_heap_total_bytes", METRIC_GAUGE, "bytes", "Committed heap of an instrumented app (heapTotal).",
};
static const struct metric_desc m_external = {
	"memagent_heap_external_bytes", METRIC_GAUGE, "bytes",
	"Off-heap memory an instrumented app's heap objects keep alive (external).",
};
static const struct metric_desc m_array_buffers = {
	"memagent_heap_array_buffers_bytes", METRIC_GAUGE, "bytes",
	"ArrayBuffer and SharedArrayBuffer memory of an instrumented app (arrayBuffers, part of external).",
};
static const struct metric_desc m_loop_delay = {
	"memagent_event_loop_delay_seconds", METRIC_GAUGE, "seconds",
	"Event-loop delay of an instrumented app over its last update interval, by quantile (0.5, 0.99).",
};
static const struct metric_desc m_snapshots = {
	"memagent_heap_snapshots_total", METRIC_COUNTER, NULL,
	"Heap snapshots an instrumented app wrote on request (memagent --heap-snapshot PID).",
};
static const struct metric_desc m_snapshot_requests = {
	"memagent_heap_snapshot_requests_total", METRIC_COUNTER, NULL,
	"Heap-snapshot requests sent to apps whose leak flag rose (heap.snapshot_on_leak), by result (sent, failed).",
};
static const struct metric_desc m_after_full = {
	"memagent_heap_old_space_after_full_gc_bytes", METRIC_GAUGE, "bytes",
	"Old (and large-object) space used after the newest full GC: the leak signal's input.",
};
static const struct metric_desc m_collections = {
	"memagent_gc_collections_total", METRIC_COUNTER, NULL,
	"Garbage collections of an instrumented app by kind (scavenge, mark_sweep, mark_compact...).",
};
static const struct metric_desc m_pause = {
	"memagent_gc_pause_seconds", METRIC_HISTOGRAM, "seconds",
	"GC pauses of an instrumented app by kind, from the page's histograms.",
};
static const struct metric_desc m_promoted = {
	"memagent_heap_promoted_bytes_total", METRIC_COUNTER, NULL,
	"Bytes an instrumented app's GCs moved from the young to the old generation.",
};
static const struct metric_desc m_gc_seq = {
	"memagent_heap_gc_sequence", METRIC_GAUGE, NULL,
	"Sequence number of the newest full-GC record on the page (compare readings at equal sequence).",
};
static const struct metric_desc m_records = {
	"memagent_heap_gc_records_total", METRIC_COUNTER, NULL,
	"Full-GC records read from the page's ring since the agent found the page.",
};
static const struct metric_desc m_missed = {
	"memagent_heap_gc_records_missed_total", METRIC_COUNTER, NULL,
	"Full-GC records lost because more than 32 full GCs happened between two samples.",
};
static const struct metric_desc m_queue = {
	"memagent_queue_depth", METRIC_GAUGE, NULL, "Depth of an instrumented app's queue, as it last reported it.",
};
static const struct metric_desc m_tm_errors = {
	"memagent_telemetry_errors_total", METRIC_COUNTER, NULL,
	"Telemetry pages refused, by reason (magic, version, size, torn, owner, name, absurd, regressed, unreadable, overflow).",
};
static const struct metric_desc m_instrumented = {
	"memagent_heap_instrumented", METRIC_GAUGE, NULL,
	"Telemetry pages the agent reads (at most limits.max_instrumented).",
};
static const struct metric_desc m_rescans = {
	"memagent_heap_rescans_total", METRIC_COUNTER, NULL,
	"Full rescans of every process's fd table for telemetry pages (every 30 s at most, and on SIGUSR1).",
};
static const struct metric_desc *const heap_metrics[] = {
	&m_space_used, &m_space_size, &m_space_avail, &m_limit, &m_used, &m_total, &m_external,
	&m_array_buffers, &m_loop_delay, &m_snapshots, &m_after_full, &m_collections, &m_pause, &m_promoted,
	&m_gc_seq, &m_records, &m_missed, &m_queue, &m_tm_errors, &m_instrumented, &m_rescans,
	&heaptrend_m_leak, &heaptrend_m_growth, &heaptrend_m_queue_growth, &m_snapshot_requests, NULL,
};

struct page_slot {
	int pid;                        /* as the agent's /proc lists it */
	int fdnum;                      /* the page's number in the writer's fd table */
	int fd;                         /* the page, opened through the link */
	int fd_dir;                     /* O_PATH of /proc/PID/fd: pins the process */
	int pidfd;                      /* readable once the process exited; -1: none */
	dev_t dev;
	ino_t ino;
	uint32_t ns_pid;                /* the pid as the process sees it (last NSpid) */
	uint64_t start_ticks;
	bool have_prev;
	struct telemetry_counters prev;
	uint64_t records, missed;
	struct heaptrend *trend;        /* the leak and queue verdicts (docs/leaks.md); NULL: none yet */
	bool leak_asked;                /* a snapshot was asked for in this leak episode */
};

struct state {
	const struct collector_ctx *ctx;
	int proc_fd;
	unsigned cap;                   /* limits.max_instrumented */
	regex_t names;
	char *names_src;                /* the pattern names holds compiled (NULL: none), for reconfigure */
	struct page_slot *slots;
	uint64_t *ids;                  /* per slot: the heap id exported this sample, 0: none */
	size_t n;
	struct pidscan *scan;           /* which pids to look at, when */
	uint64_t rescans;
	struct pollfd *polls;           /* per slot, for the exit check */
	int self;                       /* our pid as proc_root lists it, or 0 */
	uint64_t errors[TELEMETRY_REASON_MAX];
	uint64_t snapshot_sent, snapshot_failed;
	char buf[4096];
};

static void slot_close(struct page_slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->fd_dir >= 0)
		close(s->fd_dir);
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->fd = s->fd_dir = s->pidfd = -1;
	s->trend = heaptrend_free(s->trend);
}

/* Drops slot i (order is not kept; the last slot and its poll result
 * take its place). */
static void slot_drop(struct state *st, size_t i)
{
	slot_close(&st->slots[i]);
	st->slots[i] = st->slots[--st->n];
	st->polls[i] = st->polls[st->n];
}

/* ---- discovery ------------------------------------------------------------------ */

/* The pid as the process itself sees it: the last NSpid of status (its own
 * namespace, what its getpid() says), or pid on kernels without NSpid. */
static uint32_t own_ns_pid(struct state *st, int pid)
{
	char path[PATH_BUF];
	const char *p, *nl;
	uint64_t v = (uint64_t)pid;
	int r;

	snprintf(path, sizeof(path), "%d/status", pid);
	r = procfile_read(st->proc_fd, path, st->buf, sizeof(st->buf));
	if (r < 0)
		return (uint32_t)pid;
	p = strstr(st->buf, "\nNSpid:");
	if (!p)
		return (uint32_t)pid;
	p += 7;
	nl = strchr(p, '\n');
	while (p && (!nl || p < nl)) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!procfile_u64(&p, &v))
			break;
	}
	return v <= UINT32_MAX ? (uint32_t)v : 0;
}

static bool slot_known(const struct state *st, int pid, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->slots[i].pid == pid && st->slots[i].ino == ino && st->slots[i].dev == dev)
			return true;
	return false;
}

/* Adds a slot for every page file in pid's fd table not read yet. */
static void scan_pid(struct state *st, int pid)
{
	char path[PATH_BUF];
	struct procfs_stat ps;
	bool identity = false;
	struct dirent *de;
	int dfd;
	DIR *d;

	snprintf(path, sizeof(path), "%d/fd", pid);
	dfd = openat(st->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;                 /* gone, a kernel thread's, or not ours to read */
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		struct page_slot s = { .pid = pid, .fd = -1, .fd_dir = -1, .pidfd = -1 };
		struct stat sb;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		s.fd = telemetry_page_open(dfd, de->d_name, &sb);
		if (s.fd == -ENOENT)
			continue;
		if (s.fd < 0) {
			st->errors[TELEMETRY_UNREADABLE]++;
			continue;
		}
		if (slot_known(st, pid, sb.st_dev, sb.st_ino)) {
			close(s.fd);
			continue;
		}
		if (st->n >= st->cap) {
			st->errors[TELEMETRY_OVERFLOW]++;
			close(s.fd);
			continue;
		}
		if (!identity) {
			char statbuf[1024];
			int r;

			snprintf(path, sizeof(path), "%d/stat", pid);
			r = procfile_read(st->proc_fd, path, statbuf, sizeof(statbuf));
			if (r < 0 || procfs_parse_stat(statbuf, (size_t)r, &ps) < 0) {
				close(s.fd);
				break;
			}
			identity = true;
		}
		snprintf(path, sizeof(path), "%d/fd", pid);
		s.fd_dir = openat(st->proc_fd, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (s.fd_dir < 0) {
			close(s.fd);
			continue;
		}
		/* Exits are seen without listing /proc: the pidfd turns readable. */
		s.pidfd = st->self ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
		s.fdnum = atoi(de->d_name);
		s.dev = sb.st_dev;
		s.ino = sb.st_ino;
		s.start_ticks = ps.start_ticks;
		s.ns_pid = own_ns_pid(st, pid);
		st->slots[st->n++] = s;
	}
	closedir(d);
}

/* Whether a page without a pidfd waits for the listing to tell its exit. */
static bool need_list(const struct state *st)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->slots[i].pidfd < 0)
			return true;
	return false;
}

/* New pids (and those new last time) are checked; everyone on a rescan
 * (pidscan). Returns 1 after a rescan, 0 otherwise, or -errno. */
static int discover(struct state *st)
{
	const int *look;
	size_t n;
	int r = pidscan_run(st->scan, st->ctx->rescan_requests, need_list(st));

	if (r <= 0)
		return r;
	if (r == 2)
		st->rescans++;
	look = pidscan_look(st->scan, &n);
	for (size_t i = 0; i < n; i++)
		/* Our own fd table holds every page we read: not a writer's. */
		if (look[i] != st->self)
			scan_pid(st, look[i]);
	return r == 2;
}

/* ---- reading and exporting ---------------------------------------------------------- */

/* Reads slot s into *p. Returns TELEMETRY_OK, a reason, or -1 when the page
 * is gone: the slot is then dropped. Gone is: its process is no longer
 * listed, its writer closed it (a zeroed magic), or, checked on rescans
 * only (a path lookup per page is most of a read's cost otherwise), the
 * page is no longer in the writer's fd table (a writer that closes without
 * zeroing: read until the next rescan, 30 s at most). */
static int read_slot(const struct state *st, struct page_slot *s, bool rescanned,
		     struct gengc_telemetry_page *p)
{
	char name[16];
	struct stat sb;
	enum telemetry_reason r;

	if (s->pidfd >= 0 ? (st->polls[s - st->slots].revents & (POLLIN | POLLHUP | POLLERR)) != 0
			  : pidscan_gone(st->scan, s->pid))
		return -1;
	if (rescanned) {
		snprintf(name, sizeof(name), "%d", s->fdnum);
		if (fstatat(s->fd_dir, name, &sb, 0) < 0 || sb.st_ino != s->ino || sb.st_dev != s->dev)
			return -1;
	}
	r = telemetry_read(s->fd, p);
	if (r == TELEMETRY_CLOSED)
		return -1;
	if (r != TELEMETRY_OK)
		return r;
	if (p->pid != s->ns_pid || (p->start_time && p->start_time != s->start_ticks))
		return TELEMETRY_OWNER;
	if (s->have_prev && telemetry_regressed(&s->prev, p))
		return TELEMETRY_REGRESSED;
	return TELEMETRY_OK;
}

/* Pause histogram bounds in seconds: bucket i holds [2^i, 2^(i+1)) us. */
static double pause_bounds[GENGC_TELEMETRY_BUCKETS - 1];

/* Queues of one process are one series per name (the queue family has no
 * heap label): the first page of the process that reports a name in this
 * sample exports it. */
struct queue_seen {
	const struct state *st;
	size_t upto;                    /* slots before this one */
	int pid;
};

static int queue_taken(void *ctx, const char *queue)
{
	const struct queue_seen *q = ctx;

	for (size_t j = 0; j < q->upto; j++)
		if (q->st->slots[j].pid == q->pid && q->st->ids[j] && q->st->slots[j].trend &&
		    heaptrend_has_queue(q->st->slots[j].trend, queue))
			return 1;
	return 0;
}

static int export_page(struct state *st, struct snapshot *snap, struct page_slot *s,
		       const struct gengc_telemetry_page *p)
{
	char pid_s[16], heap_s[24];
	const char *lv[12] = { "target", p->name, "pid", pid_s, "heap", heap_s, NULL };
	int r = 0;

	snprintf(pid_s, sizeof(pid_s), "%d", s->pid);
	snprintf(heap_s, sizeof(heap_s), "%llu", (unsigned long long)p->heap_id);
	r |= snapshot_add(snap, &m_limit, (double)p->heap_size_limit_bytes, lv);
	r |= snapshot_add(snap, &m_used, (double)p->heap_used_bytes, lv);
	r |= snapshot_add(snap, &m_total, (double)p->heap_total_bytes, lv);
	r |= snapshot_add(snap, &m_external, (double)p->external_bytes, lv);
	r |= snapshot_add(snap, &m_promoted, (double)p->promoted_bytes, lv);
	r |= snapshot_add(snap, &m_gc_seq, (double)p->gc_seq, lv);
	r |= snapshot_add(snap, &m_records, (double)s->records, lv);
	r |= snapshot_add(snap, &m_missed, (double)s->missed, lv);
	if (p->gc_seq)
		r |= snapshot_add(snap, &m_after_full,
				  (double)p->ring[p->gc_seq % GENGC_TELEMETRY_RING].old_used_after_bytes, lv);
	if (p->flags & GENGC_TELEMETRY_HAS_ARRAY_BUFFERS)
		r |= snapshot_add(snap, &m_array_buffers, (double)p->array_buffers_bytes, lv);
	if (p->flags & GENGC_TELEMETRY_SNAPSHOT_ALLOWED)
		r |= snapshot_add(snap, &m_snapshots, (double)p->snapshots, lv);
	if (p->flags & GENGC_TELEMETRY_HAS_LOOP_DELAY) {
		/* One event loop per process (the client reports it from the
		 * main thread only): no heap label. */
		const char *ql[] = { "target", p->name, "pid", pid_s, "quantile", "0.5", NULL };

		r |= snapshot_add(snap, &m_loop_delay, (double)p->loop_delay_p50_ns / 1e9, ql);
		ql[5] = "0.99";
		r |= snapshot_add(snap, &m_loop_delay, (double)p->loop_delay_p99_ns / 1e9, ql);
	}
	if (!s->trend)
		s->trend = heaptrend_new(s->start_ticks, p->heap_id);
	if (s->trend) {
		struct queue_seen seen = { .st = st, .upto = (size_t)(s - st->slots), .pid = s->pid };

		/* A queue not judged for want of memory is left out, not faked. */
		(void)heaptrend_feed(s->trend, s->start_ticks, p);
		r |= heaptrend_export(s->trend, snap, p, lv, queue_taken, &seen);
		/* heap.snapshot_on_leak: once per rise of the flag, without
		 * waiting; the app rate-limits and reports on its page. */
		if (!heaptrend_leak_suspected(s->trend)) {
			s->leak_asked = false;
		} else if (st->ctx->heap_snapshot_on_leak && !s->leak_asked &&
			   (p->flags & GENGC_TELEMETRY_SNAPSHOT_ALLOWED)) {
			s->leak_asked = true;
			if (heapdump_send(p) == 0)
				st->snapshot_sent++;
			else
				st->snapshot_failed++;
		}
	}
	lv[6] = "space";
	for (uint32_t i = 0; i < p->n_spaces; i++) {
		lv[7] = p->spaces[i].name;
		r |= snapshot_add(snap, &m_space_used, (double)p->spaces[i].used_bytes, lv);
		r |= snapshot_add(snap, &m_space_size, (double)p->spaces[i].size_bytes, lv);
		r |= snapshot_add(snap, &m_space_avail, (double)p->spaces[i].available_bytes, lv);
	}
	lv[6] = "kind";
	for (uint32_t i = 0; i < p->n_kinds; i++) {
		const struct gengc_telemetry_kind *k = &p->kinds[i];

		lv[7] = k->name;
		r |= snapshot_add(snap, &m_collections, (double)k->count, lv);
		r |= snapshot_histogram(snap, &m_pause, lv, pause_bounds, k->pause_histogram,
					GENGC_TELEMETRY_BUCKETS - 1, (double)k->pause_total_ns / 1e9);
	}
	lv[6] = "queue";
	for (uint32_t i = 0; i < p->n_queues; i++) {
		lv[7] = p->queues[i].name;
		r |= snapshot_add(snap, &m_queue, (double)p->queues[i].depth, lv);
	}
	return r < 0 ? -ENOMEM : 0;
}

/* Full-GC records since the last sample: all of them are in the ring unless
 * more than 32 came; the rest are counted as missed. The first reading of a
 * page takes what its ring holds and misses nothing (those GCs happened
 * before the agent knew the page). */
static void take_records(struct page_slot *s, const struct gengc_telemetry_page *p)
{
	uint64_t from = s->have_prev ? s->prev.gc_seq : 0, n = p->gc_seq - from;

	if (!s->have_prev && n > GENGC_TELEMETRY_RING)
		n = GENGC_TELEMETRY_RING;
	if (n > GENGC_TELEMETRY_RING) {
		s->missed += n - GENGC_TELEMETRY_RING;
		n = GENGC_TELEMETRY_RING;
	}
	s->records += n;
}

static bool duplicate_heap(const struct state *st, size_t upto, const struct page_slot *s, uint64_t heap_id,
			   const uint64_t *ids)
{
	for (size_t i = 0; i < upto; i++)
		if (st->slots[i].pid == s->pid && ids[i] == heap_id)
			return true;
	return false;
}

static int collector_read(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct state *st = state;
	uint64_t *ids = st->ids;
	size_t exported = 0;
	int r;

	if (!st->cap)
		return 0;
	bool rescanned;

	r = discover(st);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		err->n[COLLECTOR_UNREADABLE]++;
	rescanned = r == 1;
	/* One poll for every page's process: those that exited are readable. */
	for (size_t i = 0; i < st->n; i++)
		st->polls[i] = (struct pollfd){ .fd = st->slots[i].pidfd, .events = POLLIN };
	if (st->n && poll(st->polls, st->n, 0) < 0)
		for (size_t i = 0; i < st->n; i++)
			st->polls[i].revents = 0;
	for (size_t i = 0; i < st->n;) {
		struct page_slot *s = &st->slots[i];
		struct gengc_telemetry_page page;
		int why = read_slot(st, s, rescanned, &page);

		if (why < 0) {
			slot_drop(st, i);
			continue;
		}
		/* Outside heap.names: not ours to report; a rescan looks again. */
		if (why == TELEMETRY_OK && st->names_src && regexec(&st->names, page.name, 0, NULL, 0) != 0) {
			slot_drop(st, i);
			continue;
		}
		if (why == TELEMETRY_OK && duplicate_heap(st, i, s, page.heap_id, ids))
			why = TELEMETRY_ABSURD;
		if (why != TELEMETRY_OK) {
			st->errors[why]++;
			/* What a page says about itself does not change by waiting:
			 * refuse it until a rescan finds it again. Torn, absurd or
			 * regressed pages may recover: keep reading them. */
			if (why == TELEMETRY_MAGIC || why == TELEMETRY_VERSION || why == TELEMETRY_SIZE ||
			    why == TELEMETRY_OWNER || why == TELEMETRY_UNREADABLE) {
				slot_drop(st, i);
				continue;
			}
			ids[i] = 0;
			i++;
			continue;
		}
		take_records(s, &page);
		telemetry_counters_of(&page, &s->prev);
		s->have_prev = true;
		ids[i] = page.heap_id;
		r = export_page(st, snap, s, &page);
		if (r < 0)
			return r;
		exported++;
		i++;
	}
	for (int k = 1; k < TELEMETRY_REASON_MAX; k++) {
		const char *const lv[] = { "reason", telemetry_reason_name(k), NULL };

		if (snapshot_add(snap, &m_tm_errors, (double)st->errors[k], lv) < 0)
			return -ENOMEM;
	}
	if (st->ctx->heap_snapshot_on_leak) {
		const char *sl[] = { "result", "sent", NULL };

		if (snapshot_add(snap, &m_snapshot_requests, (double)st->snapshot_sent, sl) < 0)
			return -ENOMEM;
		sl[1] = "failed";
		if (snapshot_add(snap, &m_snapshot_requests, (double)st->snapshot_failed, sl) < 0)
			return -ENOMEM;
	}
	if (snapshot_add(snap, &m_instrumented, (double)exported, NULL) < 0 ||
	    snapshot_add(snap, &m_rescans, (double)st->rescans, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static void collector_done(void *state)
{
	struct state *st = state;

	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		slot_close(&st->slots[i]);
	if (st->names_src)
		regfree(&st->names);
	free(st->names_src);
	pidscan_free(st->scan);
	if (st->proc_fd >= 0)
		close(st->proc_fd);
	free(st->slots);
	free(st->ids);
	free(st->polls);
	free(st);
}

static int collector_init(const struct collector_ctx *ctx, void **ret_state)
{
	struct state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->proc_fd = -1;
	for (int i = 0; i < GENGC_TELEMETRY_BUCKETS - 1; i++)
		pause_bounds[i] = (double)(2ull << i) / 1e6;
	st->ctx = ctx;
	st->cap = ctx->limits.max_instrumented;
	if (ctx->heap_names) {
		if (!(st->names_src = strdup(ctx->heap_names))) {
			free(st);
			return -ENOMEM;
		}
		if (regcomp(&st->names, ctx->heap_names, REG_EXTENDED | REG_NOSUB) != 0) {
			free(st->names_src);
			free(st);
			return -EINVAL;         /* the configuration checked it: memory */
		}
	}
	st->proc_fd = open(ctx->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->proc_fd < 0) {
		int r = -errno;

		collector_done(st);
		return r;
	}
	st->scan = pidscan_new(st->proc_fd);
	if (!st->scan) {
		collector_done(st);
		return -ENOMEM;
	}
	{
		char self[32];
		ssize_t n = readlinkat(st->proc_fd, "self", self, sizeof(self) - 1);

		st->self = n > 0 ? (self[n] = 0, atoi(self)) : 0;
	}
	if (st->cap && (!(st->slots = calloc(st->cap, sizeof(*st->slots))) ||
			!(st->ids = calloc(st->cap, sizeof(*st->ids))) ||
			!(st->polls = calloc(st->cap, sizeof(*st->polls))))) {
		collector_done(st);
		return -ENOMEM;
	}
	*ret_state = st;
	return 0;
}

/* A page's state does not follow the targets: the pages, their leak trends,
 * the snapshots already asked and the counters stay across a reload (no
 * second snapshot request for a leak already reported, no counter that
 * goes back to 0), unless the bound on instrumented processes or the
 * page-name filter changed (or heap discovery was turned off): -ERANGE,
 * and done() and init() apply it. */
static int collector_reconfigure(void **state)
{
	struct state *st = *state;
	const char *names = st->ctx->heap_names;

	if (st->ctx->limits.max_instrumented != st->cap || !names != !st->names_src ||
	    (names && strcmp(names, st->names_src) != 0))
		return -ERANGE;
	return 0;
}

const struct collector heap_collector = {
	.name = "heap",
	.metrics = heap_metrics,
	.init = collector_init,
	.read = collector_read,
	.done = collector_done,
	.reconfigure = collector_reconfigure,
};
