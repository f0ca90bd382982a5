/* SPDX-License-Identifier: MIT */
/* Per-process memory of the processes each target selects, from /proc.
 *
 * Model. The collector keeps a table of every process it has seen, keyed by
 * pid. A process is discovered once (stat read, cmdline/exe/cgroup read only
 * if some target matches on them, then classified into a target mask) and
 * from then on read through descriptors kept open: one pread of status per
 * tick, plus stat for targets that report faults. A kept descriptor belongs to
 * the process it was opened for: once that process is reaped, reads fail
 * with ESRCH even if the pid is reused, so PID reuse can never mix two
 * processes' numbers; the start time is kept as the identity besides.
 *
 * What the readings add up to per target is the tally's (tally.h, with the
 * invariant that every counter a target exports is non-decreasing): this file
 * finds, classifies and reads processes, and tells the tally of every
 * membership change through tally_set().
 *
 * Invariants.
 * - p->member.targets holds exactly the targets that select p (a watched
 *   process), and is 0 for every other kind.
 * - Only watched processes hold descriptors.
 *
 * Ordering within a tick: list /proc, sweep the processes that were not
 * listed (ordinary exits), then read. A process listed but gone by the time
 * it is read exited during collection: that is the "vanished" reason.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rss_stat.h"
#include "bpf_support.h"
#include "cleanup.h"
#include "cgroupfs.h"
#include "process_exit.h"
#include "pidtab.h"
#include "procfile.h"
#include "procfs.h"
#include "process.h"
#include "tally.h"
#include "task_iter.h"

/* Unwatched processes are re-read for a new comm (exec) every this many ticks,
 * staggered by pid so the cost spreads evenly. */
#define RECHECK_TICKS 8
#define CMDLINE_MAX 4096
#define FILE_BUF (16 * 1024)
/* Processes whose rss peaks BPF follows at most (one task-storage entry and
 * one pidfd each). */
#define RSS_MAX_WATCH 16384

static const struct metric_desc m_known = {
	"memagent_process_table_entries", METRIC_GAUGE, NULL,
	"Processes the collector tracks, watched or not.",
};
static const struct metric_desc m_kept_fds = {
	"memagent_process_kept_fds", METRIC_GAUGE, NULL,
	"Descriptors the collector keeps open on watched processes' /proc files.",
};

static const struct metric_desc *const process_metrics[] = {
	TALLY_METRICS, &m_known, &m_kept_fds, NULL,
};

enum proc_kind {
	PROC_WATCHED, /* some target selects it: descriptors kept, read each tick */
	PROC_IGNORED, /* no target selects it: re-checked every RECHECK_TICKS */
	PROC_KTHREAD, /* kernel thread: never watched */
	PROC_ZOMBIE,  /* exited, not yet reaped: nothing left to read */
};

struct proc {
	int32_t pid; /* 0: free slot */
	uint8_t kind;
	uint32_t seen; /* generation of the last listing that had it */
	uint64_t start_ticks;
	struct tally_member member;
	int fd_status, fd_stat, fd_fds;
	char comm[PROCFS_COMM_MAX];
	bool rss_watched;    /* BPF follows its rss peaks */
	char *exe, *cmdline, *cgroup;
	uint64_t peak;       /* this interval's BPF peak, 0 when none */
	const struct task_iter_proc *rec; /* iterator record; valid when st->rec_gen == st->gen */
	uint32_t recheck_gen; /* classify again in this sample (0: never); see mark_young() */
};

struct state {
	const struct collector_ctx *ctx;
	const struct target_set *targets;
	int proc_fd;
	DIR *proc_dir;
	struct cgroupfs_hier hier;
	long clk_tck;
	double boot_time;
	uint32_t gen;
	uint32_t rec_gen;   /* the sample whose listing came from the iterator */
	size_t n_seen;      /* entries the current listing marked */
	bool listed;        /* this sample listed /proc (else nothing was forked) */
	int loadavg_fd;     /* /proc/loadavg, for the last pid allocated */
	uint64_t last_pid;  /* as of the last listing; 0: unknown */
	bool last_pid_confirmed; /* a listing already saw last_pid twice */
	uint64_t sample_ticks[2]; /* boot time (clock ticks) at the start of the
				   * last two samples: [0] this one, [1] the one before */
	size_t kept_fds;

	struct pidtab tab; /* of struct proc: every process seen */
	int32_t *gone;    /* scratch: pids to drop after a sweep */
	size_t gone_cap;

	struct tally *tally;
	char *buf;        /* FILE_BUF bytes */

	/* BPF, each NULL when unavailable: the iterator replaces the /proc
	 * reads, rss peaks and exits add what polling cannot see. */
	struct task_iter *iter;
	struct rss_stat *rss;
	/* Why each program is not in use (BPF_REASON_DISABLED until tried). */
	enum bpf_reason iter_why, rss_why, exits_why;
	struct rss_stat_peak *peaks;
	size_t peaks_cap;
	struct process_exit *exits;
	struct collector_errors *poll_err; /* valid during a poll */
};

/* This sample's iterator record of p, or NULL when the sample reads /proc. */
static const struct task_iter_proc *rec_of(const struct state *st, const struct proc *p)
{
	return st->rec_gen == st->gen ? p->rec : NULL;
}

/* --- the pid table --------------------------------------------------------- */

static struct proc *tab_find(struct state *st, int32_t pid)
{
	return pidtab_find(&st->tab, pid);
}

/* Returns a new entry for pid (not present before), or NULL on OOM. */
static struct proc *tab_insert(struct state *st, int32_t pid)
{
	struct proc *p = pidtab_insert(&st->tab, pid);

	if (p)
		p->fd_status = p->fd_stat = p->fd_fds = -1;
	return p;
}

/* --- per-process state changes --------------------------------------------- */

static void close_fd(struct state *st, int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
		st->kept_fds--;
	}
}

static void close_fds(struct state *st, struct proc *p)
{
	close_fd(st, &p->fd_status);
	close_fd(st, &p->fd_stat);
	close_fd(st, &p->fd_fds);
}

static void free_ident(struct proc *p)
{
	free(p->exe);
	free(p->cmdline);
	free(p->cgroup);
	p->exe = p->cmdline = p->cgroup = NULL;
}

static void rss_unwatch(struct state *st, struct proc *p)
{
	if (p->rss_watched)
		rss_stat_unwatch(st->rss, p->pid);
	p->rss_watched = false;
	p->peak = 0;
}

/* Forgets p entirely (it exited). */
static void drop(struct state *st, struct proc *p)
{
	tally_set(st->tally, &p->member, 0);
	close_fds(st, p);
	rss_unwatch(st, p);
	free_ident(p);
	pidtab_remove(&st->tab, p);
}

/* p became a zombie: it has no memory left, but its pid stays listed until
 * reaped, so the entry stays to avoid rediscovering it every tick. */
static void make_zombie(struct state *st, struct proc *p)
{
	tally_set(st->tally, &p->member, 0);
	close_fds(st, p);
	rss_unwatch(st, p);
	free_ident(p);
	p->kind = PROC_ZOMBIE;
}

/* --- discovery and classification ------------------------------------------ */

static char *read_exe(struct state *st, int32_t pid)
{
	char buf[PATH_MAX];

	return procfs_read_exe(st->proc_fd, pid, buf, sizeof(buf)) < 0 ? NULL : strdup(buf);
}

static char *read_cmdline(struct state *st, int32_t pid)
{
	return procfs_read_cmdline(st->proc_fd, pid, st->buf, CMDLINE_MAX + 1) < 0 ? NULL : strdup(st->buf);
}

static char *read_cgroup(struct state *st, int32_t pid)
{
	char path[PATH_MAX];

	if (st->hier.version == CGROUPFS_NONE ||
	    cgroupfs_path_of_pid(st->proc_fd, pid, st->hier.version, path, sizeof(path)) < 0)
		return NULL;
	return strdup(path);
}

/* Reads what the targets match on (once per process identity) and returns
 * the mask of targets selecting p. */
static uint64_t classify(struct state *st, struct proc *p)
{
	unsigned needs = st->targets->needs;
	struct target_proc tp = { .pid = p->pid, .comm = p->comm };

	if ((needs & TARGET_NEED_EXE) && !p->exe)
		p->exe = read_exe(st, p->pid);
	if ((needs & TARGET_NEED_CMDLINE) && !p->cmdline)
		p->cmdline = read_cmdline(st, p->pid);
	if ((needs & TARGET_NEED_CGROUP) && !p->cgroup)
		p->cgroup = read_cgroup(st, p->pid);
	tp.exe = p->exe;
	tp.cmdline = p->cmdline;
	tp.cgroup = p->cgroup;
	return target_set_classify(st->targets, &tp);
}

/* A process found just after its fork may not have exec'd (or been moved
 * to its unit's cgroup: systemd does that between fork and exec) yet, and
 * its identity is read once per (pid, start time): one born since the
 * sample before the last is classified once more in the next sample. A
 * comm change is noticed anyway; an exec that keeps the comm (python3
 * starting python3 worker.py) is not, without this. */
static void mark_young(struct state *st, struct proc *p)
{
	if (st->sample_ticks[1] && p->start_ticks + 1 >= st->sample_ticks[1] &&
	    (st->targets->needs & (TARGET_NEED_EXE | TARGET_NEED_CMDLINE | TARGET_NEED_CGROUP)))
		p->recheck_gen = st->gen + 1;
}

/* Opens one of p's files to keep. On EMFILE/ENFILE it returns the error and
 * the caller reads through a fresh open next time (counted as fd_limit). */
static int keep_open(struct state *st, struct proc *p, const char *name, int flags, int *ret_fd,
		     struct collector_errors *err)
{
	char path[48];
	int fd;

	snprintf(path, sizeof(path), "%d/%s", p->pid, name);
	fd = openat(st->proc_fd, path, flags | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int r = -errno;

		if (r == -EMFILE || r == -ENFILE)
			err->n[COLLECTOR_FD_LIMIT]++;
		return r;
	}
	*ret_fd = fd;
	st->kept_fds++;
	return 0;
}

/* Makes p a member of exactly the targets in mask and opens what they need. */
static void set_targets(struct state *st, struct proc *p, uint64_t mask, struct collector_errors *err)
{
	unsigned needs;

	tally_set(st->tally, &p->member, mask);
	if (!mask) {
		close_fds(st, p);
		rss_unwatch(st, p);
		p->kind = PROC_IGNORED;
		return;
	}
	p->kind = PROC_WATCHED;
	needs = tally_needs(st->tally, mask);
	if (st->rss && (needs & TALLY_NEED_PEAK) && !p->rss_watched) {
		int r = rss_stat_watch(st->rss, p->pid, p->start_ticks);

		p->rss_watched = r == 0;
		if (r == -ENOSPC)
			err->n[COLLECTOR_OVERFLOW]++;
	} else if (!(needs & TALLY_NEED_PEAK)) {
		rss_unwatch(st, p);
	}
	/* The iterator brings status and stat figures: no descriptors for them. */
	if (!st->iter && p->fd_status < 0)
		keep_open(st, p, "status", O_RDONLY, &p->fd_status, err);
	if (!st->iter && (needs & TALLY_NEED_STAT) && p->fd_stat < 0)
		keep_open(st, p, "stat", O_RDONLY, &p->fd_stat, err);
	else if (st->iter || !(needs & TALLY_NEED_STAT))
		close_fd(st, &p->fd_stat);
	/* fstat() of /proc/PID/fd reports the number of open fds (Linux 6.2+). */
	if ((needs & TALLY_NEED_FDS) && p->fd_fds < 0)
		keep_open(st, p, "fd", O_PATH | O_DIRECTORY, &p->fd_fds, err);
	else if (!(needs & TALLY_NEED_FDS))
		close_fd(st, &p->fd_fds);
}

/* p's identity (exe, cmdline, cgroup) may have changed: read it again and
 * match anew. */
static void reclassify(struct state *st, struct proc *p, struct collector_errors *err)
{
	free_ident(p);
	set_targets(st, p, classify(st, p), err);
}

static bool errno_gone(int r)
{
	return r == -ESRCH || r == -ENOENT;
}

/* First sight of pid: identity from stat, classification, descriptors. */
static void discover(struct state *st, int32_t pid, struct collector_errors *err)
{
	struct procfs_stat ps;
	struct proc *p;
	char path[32];
	int r;

	snprintf(path, sizeof(path), "%d/stat", pid);
	r = procfile_read(st->proc_fd, path, st->buf, FILE_BUF);
	if (r < 0) {
		err->n[errno_gone(r) ? COLLECTOR_VANISHED : COLLECTOR_UNREADABLE]++;
		return;
	}
	if (procfs_parse_stat(st->buf, (size_t)r, &ps) < 0) {
		err->n[COLLECTOR_PARSE]++;
		return;
	}
	p = tab_insert(st, pid);
	if (!p)
		return;
	p->seen = st->gen;
	st->n_seen++;
	p->start_ticks = ps.start_ticks;
	memcpy(p->comm, ps.comm, sizeof(p->comm));
	if (ps.flags & PROCFS_PF_KTHREAD) {
		p->kind = PROC_KTHREAD;
		return;
	}
	if (ps.state == 'Z' || ps.state == 'X') {
		p->kind = PROC_ZOMBIE;
		return;
	}
	set_targets(st, p, classify(st, p), err);
	mark_young(st, p);
}

/* Reads the most recently allocated pid (the last field of /proc/loadavg,
 * the pid namespace's last_pid); 0 when unknown. */
static uint64_t read_last_pid(struct state *st)
{
	char buf[128];
	uint64_t v;
	int r;

	if (st->loadavg_fd < 0)
		return 0;
	r = procfile_pread(st->loadavg_fd, buf, sizeof(buf));
	return r > 0 && procfs_parse_last_pid(buf, (size_t)r, &v) == 0 ? v : 0;
}

/* Whether /proc must be listed this sample. A new process always takes a
 * new pid, so when the last pid allocated has not moved, nothing was forked
 * (threads take pids too, and only make us list for nothing): the table
 * already holds every process. Exits need no listing either: a kept
 * descriptor fails with ESRCH once its process is gone. On a quiet host this
 * saves the getdents pass, ~10% of a sample.
 *
 * A pid is allocated a moment before its process shows in /proc, so a
 * listing right after a fork may miss it: the skipping starts only after a
 * second listing has seen the same last pid, a whole interval later. */
static bool must_list(struct state *st)
{
	uint64_t last = read_last_pid(st);

	if (last && last == st->last_pid && st->last_pid_confirmed)
		return false;
	st->last_pid_confirmed = last && last == st->last_pid;
	st->last_pid = last;
	return true;
}

/* Lists /proc; discovers new pids and marks every listed one seen. */
static int scan(struct state *st, struct collector_errors *err)
{
	struct dirent *de;

	rewinddir(st->proc_dir);
	for (;;) {
		const char *s;
		uint64_t pid;
		struct proc *p;

		/* readdir() reports errors only through errno. */
		errno = 0;
		de = readdir(st->proc_dir);
		if (!de)
			return errno ? -errno : 0;
		s = de->d_name;
		if (!procfile_u64(&s, &pid) || *s || pid == 0 || pid > INT32_MAX)
			continue;
		p = tab_find(st, (int32_t)pid);
		if (p && p->seen != st->gen) {
			p->seen = st->gen;
			st->n_seen++;
		} else if (!p)
			discover(st, (int32_t)pid, err);
	}
}

/* First sight of an iterator record. */
static struct proc *discover_rec(struct state *st, const struct task_iter_proc *rec,
				 struct collector_errors *err)
{
	struct proc *p = tab_insert(st, rec->pid);

	if (!p)
		return NULL;
	p->start_ticks = rec->start_ticks;
	memcpy(p->comm, rec->comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
	if (rec->kthread)
		p->kind = PROC_KTHREAD;
	else if (rec->no_mm)
		p->kind = PROC_ZOMBIE;
	else {
		set_targets(st, p, classify(st, p), err);
		mark_young(st, p);
	}
	return p;
}

/* The iterator backend's listing: one pass gives every process and its
 * figures. Comm changes and zombies are seen for every process, watched or
 * not, so nothing needs re-checking later. Returns a negative errno when the
 * pass failed (the caller then lists /proc instead). */
static int scan_iter(struct state *st, struct collector_errors *err)
{
	const struct task_iter_proc *recs;
	size_t n;
	int r = task_iter_read(st->iter, &recs, &n);

	if (r < 0)
		return r;
	st->rec_gen = st->gen;
	for (size_t i = 0; i < n; i++) {
		const struct task_iter_proc *rec = &recs[i];
		struct proc *p = tab_find(st, rec->pid);

		if (p && p->start_ticks != rec->start_ticks) {
			/* The pid was reused between two passes. */
			drop(st, p);
			p = NULL;
		}
		if (!p) {
			p = discover_rec(st, rec, err);
			if (!p)
				continue;
		}
		if (p->seen != st->gen) {
			p->seen = st->gen;
			st->n_seen++;
		}
		p->rec = rec;
		if (p->kind == PROC_KTHREAD || p->kind == PROC_ZOMBIE)
			continue;
		if (rec->no_mm) {
			make_zombie(st, p);
		} else if (strncmp(rec->comm, p->comm, sizeof(p->comm) - 1) != 0) {
			memcpy(p->comm, rec->comm, sizeof(p->comm));
			p->comm[sizeof(p->comm) - 1] = '\0';
			reclassify(st, p, err);
		}
	}
	return 0;
}

/* Drops every process the last listing did not show: they exited. */
/* Makes room in gone[] for every entry of the table. */
static int gone_reserve(struct state *st)
{
	if (st->gone_cap < st->tab.n) {
		int32_t *g = realloc(st->gone, st->tab.n * sizeof(*g));

		if (!g)
			return -ENOMEM;
		st->gone = g;
		st->gone_cap = st->tab.n;
	}
	return 0;
}

static int sweep(struct state *st)
{
	size_t n = 0;

	/* Nobody exited since the last sample: nothing to look for. */
	if (st->n_seen == st->tab.n)
		return 0;
	if (gone_reserve(st) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < st->tab.cap; i++) {
		const struct proc *p = pidtab_slot(&st->tab, i);

		if (p && p->seen != st->gen)
			st->gone[n++] = p->pid;
	}
	for (size_t i = 0; i < n; i++)
		drop(st, tab_find(st, st->gone[i]));
	return 0;
}

/* --- reading ----------------------------------------------------------------- */

/* Reads one file of p: through the kept fd, or a fresh open when none is kept. */
static int read_file(struct state *st, struct proc *p, int fd, const char *name)
{
	char path[48];

	if (fd >= 0)
		return procfile_pread(fd, st->buf, FILE_BUF);
	snprintf(path, sizeof(path), "%d/%s", p->pid, name);
	return procfile_read(st->proc_fd, path, st->buf, FILE_BUF);
}

/* Counts a failed read by reason. */
static void count_error(struct collector_errors *err, int r)
{
	if (errno_gone(r))
		err->n[COLLECTOR_VANISHED]++;
	else if (r == -EBADMSG)
		err->n[COLLECTOR_PARSE]++;
	else
		err->n[COLLECTOR_UNREADABLE]++;
}

/* Fills a reading from an iterator record: the same figures /proc gives. */
static void from_record(const struct task_iter_proc *rec, struct tally_reading *rd)
{
	struct procfs_status *s = &rd->status;

	memcpy(s->comm, rec->comm, sizeof(s->comm));
	s->comm[sizeof(s->comm) - 1] = '\0';
	s->state = rec->no_mm ? 'Z' : 'S';
	s->present = PROCFS_HAS_MEM | PROCFS_HAS_SPLIT;
	s->rss_anon = rec->rss_anon_bytes;
	s->rss_file = rec->rss_file_bytes;
	s->rss_shmem = rec->rss_shmem_bytes;
	s->rss = s->rss_anon + s->rss_file + s->rss_shmem;
	s->swap = rec->swap_bytes;
	s->vsize = rec->vsize_bytes;
	s->hwm = rec->hwm_bytes;
	s->threads = rec->threads;
	rd->stat.minflt = rec->min_flt;
	rd->stat.majflt = rec->maj_flt;
	rd->stat.threads = rec->threads;
	rd->stat.start_ticks = rec->start_ticks;
	rd->stat.vsize = rec->vsize_bytes;
	rd->has |= TALLY_NEED_STAT;
}

/* Reads p's numbers: from this sample's iterator record when there is one,
 * else from /proc. Returns 0, or a negative errno (the process is gone when
 * errno_gone()). */
static int read_proc(struct state *st, struct proc *p, unsigned needs, struct tally_reading *rd)
{
	int r;

	memset(rd, 0, sizeof(*rd));
	rd->pid = p->pid;
	rd->start_time_s = st->boot_time > 0 ?
		st->boot_time + (double)p->start_ticks / (double)st->clk_tck : -1;
	if (rec_of(st, p)) {
		from_record(p->rec, rd);
		rd->has &= needs | ~TALLY_NEED_STAT;
		needs &= ~TALLY_NEED_STAT;
	} else {
		r = read_file(st, p, p->fd_status, "status");
		if (r < 0)
			return r;
		if (procfs_parse_status(st->buf, (size_t)r, &rd->status) < 0)
			return -EBADMSG;
	}
	if (p->rss_watched) {
		/* The interval's peak, or the rss now if it is higher (a rise
		 * after the BPF read belongs to both intervals). */
		rd->peak_bytes = p->peak > rd->status.rss ? p->peak : rd->status.rss;
		rd->has |= TALLY_NEED_PEAK;
	}
	if (rd->status.state == 'Z' || rd->status.state == 'X')
		return 0;
	if (needs & TALLY_NEED_STAT) {
		r = read_file(st, p, p->fd_stat, "stat");
		if (r < 0)
			return r;
		if (procfs_parse_stat(st->buf, (size_t)r, &rd->stat) < 0)
			return -EBADMSG;
		/* The start time is the process's identity: a different one under
		 * the same pid is a new process (only possible without kept fds). */
		if (rd->stat.start_ticks != p->start_ticks)
			return -ESRCH;
		rd->has |= TALLY_NEED_STAT;
	}
	if (needs & TALLY_NEED_FDS) {
		struct stat sb;
		char path[32];

		snprintf(path, sizeof(path), "%d/fd", p->pid);
		/* status read fine, so a failure here is a race with exit or an
		 * odd tree: the count is left out, the rest of the reading kept. */
		if ((p->fd_fds >= 0 ? fstat(p->fd_fds, &sb) : fstatat(st->proc_fd, path, &sb, 0)) == 0) {
			rd->fds = sb.st_size;
			rd->has |= TALLY_NEED_FDS;
		}
	}
	if (needs & TALLY_NEED_SMAPS) {
		r = read_file(st, p, -1, "smaps_rollup");
		if (r >= 0 && procfs_parse_smaps(st->buf, (size_t)r, &rd->smaps) == 0)
			rd->has |= TALLY_NEED_SMAPS;
		else if (errno_gone(r))
			return r;
	}
	return 0;
}

/* Reads every watched process and accounts it to its targets. Processes
 * found gone are dropped after the pass: removing entries mid-pass would
 * shift others under the iterator. */
static int read_all(struct state *st, struct snapshot *snap, struct collector_errors *err)
{
	struct tally_reading rd;
	size_t n_gone = 0;
	int ret = gone_reserve(st);

	if (ret < 0)
		return ret;

	for (size_t i = 0; i < st->tab.cap; i++) {
		struct proc *p = pidtab_slot(&st->tab, i);
		int r;

		if (!p)
			continue;
		if (p->recheck_gen == st->gen) {
			p->recheck_gen = 0;
			if (p->kind == PROC_WATCHED || p->kind == PROC_IGNORED)
				reclassify(st, p, err);
		}
		if (p->kind == PROC_IGNORED && !rec_of(st, p) &&
		    (uint32_t)(p->pid + st->gen) % RECHECK_TICKS == 0) {
			char path[32], text[PROCFS_COMM_MAX + 1], comm[PROCFS_COMM_MAX];

			snprintf(path, sizeof(path), "%d/comm", p->pid);
			r = procfile_read(st->proc_fd, path, text, sizeof(text));
			if (r > 0 && procfs_parse_comm(text, (size_t)r, comm) == 0 &&
			    strcmp(comm, p->comm) != 0) {
				/* exec'd into something else: match it anew */
				memcpy(p->comm, comm, sizeof(p->comm));
				reclassify(st, p, err);
			}
		}
		if (p->kind != PROC_WATCHED)
			continue;

		r = read_proc(st, p, tally_needs(st->tally, p->member.targets), &rd);
		if (r < 0) {
			/* Gone without a listing this sample: an ordinary exit,
			 * not one during collection. */
			if (st->listed || !errno_gone(r))
				count_error(err, r);
			if (errno_gone(r)) {
				st->gone[n_gone++] = p->pid;
				make_zombie(st, p);
			} else {
				tally_keep(st->tally, &p->member);
			}
			continue;
		}
		if (rd.status.state == 'Z' || rd.status.state == 'X') {
			make_zombie(st, p);
			continue;
		}
		if (strcmp(rd.status.comm, p->comm) != 0) {
			memcpy(p->comm, rd.status.comm, sizeof(p->comm));
			reclassify(st, p, err);
			if (p->kind != PROC_WATCHED)
				continue;
		}
		r = tally_add(st->tally, snap, &p->member, &rd);
		if (ret == 0)
			ret = r;
	}
	for (size_t i = 0; i < n_gone; i++)
		drop(st, tab_find(st, st->gone[i]));
	return ret;
}

/* memagent_bpf_* for the three programs this collector uses. */
static int emit_bpf(struct state *st, struct snapshot *snap)
{
	struct task_iter_stats it = {0};
	struct rss_stat_stats rs = {0};
	struct process_exit_stats ex = {0};
	int r = 0;

	if (st->iter)
		task_iter_stats(st->iter, &it);
	if (st->rss)
		rss_stat_stats(st->rss, &rs);
	if (st->exits)
		process_exit_stats(st->exits, &ex);
	r |= bpf_support_report(snap, "task_iter", st->iter, st->iter_why, BPF_REPORT_MAP_FULL, 0,
				it.overflow);
	r |= bpf_support_report(snap, "rss_stat", st->rss, st->rss_why, BPF_REPORT_MAP_FULL, 0,
				rs.map_full);
	r |= bpf_support_report(snap, "sched_process_exit", st->exits, st->exits_why,
				BPF_REPORT_LOST, ex.lost, 0);
	return r;
}

/* The tally's series, then the collector's own. */
static int emit_targets(struct state *st, struct snapshot *snap)
{
	int r = tally_emit(st->tally, snap, st->exits != NULL);

	r |= snapshot_add(snap, &m_known, (double)st->tab.n, NULL);
	r |= snapshot_add(snap, &m_kept_fds, (double)st->kept_fds, NULL);
	r |= emit_bpf(st, snap);
	return r < 0 ? -ENOMEM : 0;
}

/* --- exits and peaks (BPF) --------------------------------------------------- */

/* Attributes one exit to the targets of the process. A process the table
 * knows (same pid and start time) keeps the targets it was classified into,
 * exe and cmdline included, and its final fault counts are taken so the
 * sweep folds exactly what it did; one born and gone between two samples is
 * classified from what the event carries (pid, comm, memory cgroup). */
static void on_exit_event(void *arg, const struct process_exit_event *ev)
{
	struct state *st = arg;
	uint64_t ticks = ev->start_boottime_ns / (1000000000ull / (uint64_t)st->clk_tck);
	struct proc *p = tab_find(st, ev->pid);
	uint64_t mask;

	if (ev->kthread)
		return;
	if (p && p->start_ticks == ticks && p->kind != PROC_ZOMBIE) {
		mask = p->member.targets;
		if (p->kind == PROC_WATCHED && !ev->faults_truncated)
			tally_final_counts(&p->member, ev->min_flt, ev->maj_flt);
	} else {
		char cgroup[PATH_MAX];
		struct target_proc tp = { .pid = ev->pid, .comm = ev->comm };

		if ((st->targets->needs & TARGET_NEED_CGROUP) &&
		    cgroupfs_path_of_id(&st->hier, ev->memcg_id, cgroup, sizeof(cgroup)) >= 0)
			tp.cgroup = cgroup;
		mask = target_set_classify(st->targets, &tp);
	}
	tally_exit(st->tally, mask, ev->peak_rss_bytes);
}

static int poll_exits(struct state *st, struct collector_errors *err)
{
	int r = process_exit_poll(st->exits, on_exit_event, st);

	if (r < 0)
		err->n[COLLECTOR_BPF]++;
	return r;
}

/* Ends the BPF peak interval and hands each watched process its peak. */
static void read_peaks(struct state *st, struct collector_errors *err)
{
	struct rss_stat_stats rs;
	size_t n = 0;
	int r;

	rss_stat_stats(st->rss, &rs);
	if (rs.watched > st->peaks_cap) {
		struct rss_stat_peak *pk = realloc(st->peaks, rs.watched * 2 * sizeof(*pk));

		if (!pk) {
			err->n[COLLECTOR_BPF]++;
			return;
		}
		st->peaks = pk;
		st->peaks_cap = rs.watched * 2;
	}
	r = rss_stat_read(st->rss, st->peaks, st->peaks_cap, &n);
	if (r < 0 && r != -ENOBUFS) {
		err->n[COLLECTOR_BPF]++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rss_stat_peak *pk = &st->peaks[i];
		struct proc *p = tab_find(st, pk->pid);

		if (!p || !p->rss_watched)
			continue;
		if (pk->err == -ESRCH) {
			/* The module has dropped it already. */
			p->rss_watched = false;
			p->peak = 0;
			continue;
		}
		p->peak = pk->changed ? pk->peak_bytes : 0;
	}
}

static uint64_t boot_ticks_now(const struct state *st)
{
	struct timespec ts;

	if (st->clk_tck <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * (uint64_t)st->clk_tck +
	       (uint64_t)ts.tv_nsec / (1000000000ull / (uint64_t)st->clk_tck);
}

static int collector_read(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct state *st = state;
	int r = -1;

	st->gen++;
	st->n_seen = 0;
	tally_start(st->tally);
	st->sample_ticks[1] = st->sample_ticks[0];
	st->sample_ticks[0] = boot_ticks_now(st);
	/* Exits first: a process that exited since the last sample gets its
	 * final counts before the sweep folds them. */
	if (st->exits)
		poll_exits(st, err);
	if (st->iter) {
		r = scan_iter(st, err);
		if (r < 0) {
			err->n[COLLECTOR_BPF]++; /* this sample falls back to /proc */
			st->n_seen = 0;
		}
	}
	st->listed = true;
	if (r < 0 && !must_list(st)) {
		st->listed = false;
		st->n_seen = st->tab.n; /* the table is the listing */
		r = 0;
	} else if (r < 0) {
		r = scan(st, err);
		if (r < 0) {
			st->last_pid = 0;
			err->n[COLLECTOR_UNREADABLE]++;
			return r;
		}
	}
	r = sweep(st);
	if (r == 0 && st->rss)
		read_peaks(st, err);
	if (r == 0)
		r = read_all(st, snap, err);
	if (r == 0)
		r = emit_targets(st, snap);
	return r;
}

static int collector_fd(void *state)
{
	struct state *st = state;

	return st->exits ? process_exit_fd(st->exits) : -1;
}

static int collector_poll(void *state, struct collector_errors *err)
{
	struct state *st = state;

	return st->exits ? poll_exits(st, err) : 0;
}

/* --- lifecycle ------------------------------------------------------------- */

static void collector_done(void *state)
{
	struct state *st = state;

	if (!st)
		return;
	for (size_t i = 0; i < st->tab.cap; i++) {
		struct proc *p = pidtab_slot(&st->tab, i);

		if (p) {
			close_fds(st, p);
			free_ident(p);
		}
	}
	/* Peaks' pidfds close with the module. */
	rss_stat_free(st->rss);
	task_iter_free(st->iter);
	process_exit_free(st->exits);
	free(st->peaks);
	if (st->proc_dir)
		closedir(st->proc_dir);
	if (st->proc_fd >= 0)
		close(st->proc_fd);
	if (st->loadavg_fd >= 0)
		close(st->loadavg_fd);
	tally_free(st->tally);
	pidtab_done(&st->tab);
	free(st->gone);
	free(st->buf);
	free(st);
}

/* Loads what BPF adds; each part that cannot load is reported once and the
 * collector goes on without it. */
static void start_bpf(struct state *st)
{
	struct bpf_failure f;

	st->iter_why = st->rss_why = st->exits_why = BPF_REASON_NONE;
	if (task_iter_new(0, &st->iter, &f) < 0) {
		st->iter_why = f.reason;
		collector_bpf_unavailable(st->ctx, "task_iter", f.why);
	}
	if (rss_stat_new(RSS_MAX_WATCH, &st->rss, &f) < 0) {
		st->rss_why = f.reason;
		collector_bpf_unavailable(st->ctx, "rss_stat", f.why);
	}
	if (process_exit_new(0, &st->exits, &f) < 0) {
		st->exits_why = f.reason;
		collector_bpf_unavailable(st->ctx, "sched_process_exit", f.why);
	}
}

static void collector_donep(struct state **st)
{
	collector_done(*st);
}

/* A state for ctx; with bpf false the BPF parts are left to the caller. */
static int state_new(const struct collector_ctx *ctx, bool bpf, struct state **ret_state)
{
	_cleanup_(collector_donep) struct state *st = calloc(1, sizeof(*st));
	int dfd;

	if (!st)
		return -ENOMEM;
	st->ctx = ctx;
	st->targets = ctx->targets;
	st->clk_tck = sysconf(_SC_CLK_TCK);
	st->loadavg_fd = -1;
	st->proc_fd = open(ctx->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->proc_fd < 0)
		return -errno;
	st->buf = malloc(FILE_BUF);
	if (!st->buf || pidtab_init(&st->tab, sizeof(struct proc), 512) < 0)
		return -ENOMEM;
	/* The listing needs its own descriptor: closedir() closes it. */
	dfd = fcntl(st->proc_fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return -errno;
	if (!(st->proc_dir = fdopendir(dfd))) {
		int r = -errno;

		close(dfd);
		return r;
	}
	/* Before Linux 6.2 the size of /proc/PID/fd is 0, not the count: then
	 * the fd count is left out rather than reported wrong. We hold at
	 * least proc_fd open, so a working kernel reports a size >= 1. */
	struct stat sb;
	uint64_t btime;
	bool fd_count = fstatat(st->proc_fd, "self/fd", &sb, 0) == 0 && sb.st_size > 0;

	st->tally = tally_new(ctx->targets, &ctx->limits, fd_count);
	if (!st->tally)
		return -ENOMEM;
	cgroupfs_detect(ctx->cgroup_root, &st->hier);
	if (procfs_read_btime(st->proc_fd, st->buf, FILE_BUF, &btime) == 0)
		st->boot_time = (double)btime;
	st->loadavg_fd = procfile_open(st->proc_fd, "loadavg");
	st->iter_why = st->rss_why = st->exits_why = BPF_REASON_DISABLED;
	if (bpf && ctx->use_bpf)
		start_bpf(st);
	*ret_state = TAKE_PTR(st);
	return 0;
}

static int collector_init(const struct collector_ctx *ctx, void **ret_state)
{
	struct state *st;
	int r = state_new(ctx, true, &st);

	if (r < 0)
		return r;
	*ret_state = st;
	return 0;
}

/* A new configuration: everything that follows the targets (the process
 * table, the tally, the kept descriptors) starts afresh as init() would
 * make it, but the three BPF programs stay loaded and attached, handed
 * over once the old table has unwatched its pids (rss_stat's map follows
 * only what the new targets ask for). Loading them again costs seconds of
 * BTF parsing on a slow host. On failure *state is untouched. */
static int collector_reconfigure(void **state)
{
	struct state *old = *state, *st;
	int r = state_new(old->ctx, false, &st);

	if (r < 0)
		return r;
	for (size_t i = 0; i < old->tab.cap; i++) {
		struct proc *p = pidtab_slot(&old->tab, i);

		if (p)
			rss_unwatch(old, p);
	}
	st->iter = TAKE_PTR(old->iter);
	st->rss = TAKE_PTR(old->rss);
	st->exits = TAKE_PTR(old->exits);
	st->iter_why = old->iter_why;
	st->rss_why = old->rss_why;
	st->exits_why = old->exits_why;
	collector_done(old);
	*state = st;
	return 0;
}

const struct collector process_collector = {
	.name = "process",
	.metrics = process_metrics,
	.init = collector_init,
	.read = collector_read,
	.fd = collector_fd,
	.poll = collector_poll,
	.done = collector_done,
	.reconfigure = collector_reconfigure,
};
