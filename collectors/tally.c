/* SPDX-License-Identifier: MIT */
/* The tally of each target: sums, maxima, the comm census, pid series and
 * counters that never go back (invariant in tally.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "tally.h"

#define D(type, name, unit, text) { "memagent_process_" name, type, unit, text }

/* Indices into tally_metrics[]. */
enum {
	M_COUNT, M_RSS, M_ANON, M_FILE, M_SHMEM, M_VSIZE, M_SWAP, M_HWM, M_MINFLT, M_MAJFLT,
	M_THREADS, M_FDS, M_START, M_PSS, M_USS, M_PEAK, M_EXITS, M_EXIT_PEAK, M_OVERFLOW,
	M_END,
};
_Static_assert(M_END == TALLY_N_METRICS, "TALLY_METRICS lists every family");

const struct metric_desc tally_metrics[TALLY_N_METRICS] = {
	[M_COUNT] = D(METRIC_UNTYPED, "count", NULL, "Processes the target selects (per comm with group_by); a gauge, typed untyped for the linter."),
	[M_RSS] = D(METRIC_GAUGE, "resident_bytes", "bytes", "Resident memory, anon + file + shmem (VmRSS); summed over the group."),
	[M_ANON] = D(METRIC_GAUGE, "resident_anon_bytes", "bytes", "Resident anonymous memory (RssAnon)."),
	[M_FILE] = D(METRIC_GAUGE, "resident_file_bytes", "bytes", "Resident file-backed memory (RssFile)."),
	[M_SHMEM] = D(METRIC_GAUGE, "resident_shmem_bytes", "bytes", "Resident shared memory (RssShmem)."),
	[M_VSIZE] = D(METRIC_GAUGE, "virtual_bytes", "bytes", "Virtual memory size (VmSize)."),
	[M_SWAP] = D(METRIC_GAUGE, "swap_bytes", "bytes", "Anonymous memory swapped out (VmSwap)."),
	[M_HWM] = D(METRIC_GAUGE, "resident_hwm_bytes", "bytes", "Lifetime high-water mark of resident memory (VmHWM); the maximum over the group."),
	[M_MINFLT] = D(METRIC_COUNTER, "minor_faults_total", NULL, "Minor page faults; exited members' counts are kept."),
	[M_MAJFLT] = D(METRIC_COUNTER, "major_faults_total", NULL, "Major page faults (read from disk); exited members' counts are kept."),
	[M_THREADS] = D(METRIC_GAUGE, "threads", NULL, "Threads."),
	[M_FDS] = D(METRIC_GAUGE, "open_fds", NULL, "Open file descriptors."),
	[M_START] = D(METRIC_GAUGE, "start_time_seconds", "seconds", "Start time since the Unix epoch (per_process targets)."),
	[M_PSS] = D(METRIC_GAUGE, "pss_bytes", "bytes", "Proportional set size (smaps_rollup Pss; targets with smaps)."),
	[M_USS] = D(METRIC_GAUGE, "uss_bytes", "bytes", "Unique set size: private clean + dirty (smaps_rollup; targets with smaps)."),
	[M_PEAK] = D(METRIC_GAUGE, "resident_peak_bytes", "bytes", "Highest resident memory since the previous sample (BPF rss_stat); the maximum over the group."),
	[M_EXITS] = D(METRIC_COUNTER, "exits_total", NULL, "Processes of the target that exited (BPF sched_process_exit), short-lived ones included."),
	[M_EXIT_PEAK] = D(METRIC_HISTOGRAM, "exit_peak_resident_bytes", "bytes", "High-water resident memory of exited processes (VmHWM at exit)."),
	[M_OVERFLOW] = {
		"memagent_target_overflow_processes", METRIC_GAUGE, NULL,
		"Processes of a per_process (group_by) target folded into the pid=\"other\" (comm=\"(other)\") series by the limit.",
	},
};

#define OTHER_COMM "(other)"

/* Exit high-water marks: powers of two from 1 MiB to 64 GiB. */
#define EXIT_BOUNDS 17
static const double exit_bounds[EXIT_BOUNDS] = {
	1048576.0, 2097152.0, 4194304.0, 8388608.0, 16777216.0, 33554432.0, 67108864.0,
	134217728.0, 268435456.0, 536870912.0, 1073741824.0, 2147483648.0, 4294967296.0,
	8589934592.0, 17179869184.0, 34359738368.0, 68719476736.0,
};

struct agg {
	uint64_t count, rss, anon, file, shmem, vsize, swap, hwm, minflt, majflt, threads, fds, pss, uss;
	uint64_t peak;
	unsigned has;
};

struct group {
	char comm[PROCFS_COMM_MAX]; /* "" = free */
	uint64_t count, rss, swap;
};

struct tstate {
	unsigned needs;
	struct agg sum;   /* aggregate targets: everything; per_process: the "other" series */
	uint64_t dead_minflt, dead_majflt; /* last counts of members that left the sum */
	unsigned n_series; /* members owning a pid series, <= limits->max_processes */
	unsigned overflow;
	struct group *groups; /* group_by comm: open-addressed by comm */
	size_t groups_cap, n_groups;
	struct group other_group;
	uint64_t exits;       /* exit events attributed to the target */
	uint64_t exit_counts[EXIT_BOUNDS + 1];
	double exit_sum;
};

struct tally {
	const struct target_set *targets;
	const struct collector_limits *limits;
	struct tstate *ts; /* one per target */
};

/* --- lifecycle ------------------------------------------------------------- */

struct tally *tally_free(struct tally *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; t->ts && i < t->targets->n; i++)
		free(t->ts[i].groups);
	free(t->ts);
	free(t);
	return NULL;
}

static void tally_freep(struct tally **t)
{
	tally_free(*t);
}

struct tally *tally_new(const struct target_set *targets, const struct collector_limits *limits,
			bool fd_count)
{
	_cleanup_(tally_freep) struct tally *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->targets = targets;
	t->limits = limits;
	t->ts = calloc(targets->n ? targets->n : 1, sizeof(*t->ts));
	if (!t->ts)
		return NULL;
	/* Census targets (group_by) read status alone: one pread per process. */
	for (size_t i = 0; i < targets->n; i++) {
		const struct target *tg = &targets->v[i];

		if (tg->group_by == TARGET_GROUP_NONE)
			t->ts[i].needs = TALLY_NEED_STAT | TALLY_NEED_PEAK | (fd_count ? TALLY_NEED_FDS : 0);
		if (tg->smaps)
			t->ts[i].needs |= TALLY_NEED_SMAPS;
	}
	return TAKE_PTR(t);
}

unsigned tally_needs(const struct tally *t, uint64_t mask)
{
	unsigned needs = 0;

	for (uint64_t m = mask; m; m &= m - 1)
		needs |= t->ts[__builtin_ctzll(m)].needs;
	return needs;
}

/* --- membership ------------------------------------------------------------ */

void tally_set(struct tally *t, struct tally_member *m, uint64_t mask)
{
	for (uint64_t b = m->targets & ~mask; b; b &= b - 1) {
		unsigned i = (unsigned)__builtin_ctzll(b);
		struct tstate *ts = &t->ts[i];

		if (m->series & (1ull << i)) {
			/* Its own series ends with it; nothing to carry over. */
			m->series &= ~(1ull << i);
			ts->n_series--;
		} else {
			ts->dead_minflt += m->minflt;
			ts->dead_majflt += m->majflt;
		}
	}
	m->targets = mask;
}

void tally_final_counts(struct tally_member *m, uint64_t minflt, uint64_t majflt)
{
	if (minflt > m->minflt)
		m->minflt = minflt;
	if (majflt > m->majflt)
		m->majflt = majflt;
}

void tally_keep(struct tally *t, const struct tally_member *m)
{
	for (uint64_t b = m->targets; b; b &= b - 1) {
		unsigned i = (unsigned)__builtin_ctzll(b);

		if (m->series & (1ull << i))
			continue;
		t->ts[i].sum.minflt += m->minflt;
		t->ts[i].sum.majflt += m->majflt;
	}
}

/* --- one sample ------------------------------------------------------------ */

void tally_start(struct tally *t)
{
	for (size_t i = 0; i < t->targets->n; i++) {
		struct tstate *ts = &t->ts[i];
		bool stale = false;

		memset(&ts->sum, 0, sizeof(ts->sum));
		ts->overflow = 0;
		memset(&ts->other_group, 0, sizeof(ts->other_group));
		for (size_t k = 0; k < ts->groups_cap; k++) {
			if (ts->groups[k].comm[0] && !ts->groups[k].count)
				stale = true;
			ts->groups[k].count = ts->groups[k].rss = ts->groups[k].swap = 0;
		}
		if (stale) {
			/* Rebuild without the empty groups (rare: a comm disappeared). */
			free(ts->groups);
			ts->groups = NULL;
			ts->groups_cap = ts->n_groups = 0;
		}
	}
}

/* Adds one reading to an aggregate; minflt and majflt are what the member
 * contributes this sample (tally_add() has made them monotonic). */
static void agg_add(struct agg *a, const struct tally_reading *rd, unsigned needs, uint64_t minflt,
		    uint64_t majflt)
{
	const struct procfs_status *s = &rd->status;

	if (rd->has & needs & TALLY_NEED_PEAK) {
		if (rd->peak_bytes > a->peak)
			a->peak = rd->peak_bytes;
	}
	a->count++;
	a->rss += s->rss;
	a->anon += s->rss_anon;
	a->file += s->rss_file;
	a->shmem += s->rss_shmem;
	a->vsize += s->vsize;
	a->swap += s->swap;
	if (s->hwm > a->hwm)
		a->hwm = s->hwm;
	a->threads += s->threads;
	a->has |= rd->has & needs;
	a->minflt += minflt;
	a->majflt += majflt;
	if (rd->has & TALLY_NEED_FDS)
		a->fds += (uint64_t)rd->fds;
	if (rd->has & TALLY_NEED_SMAPS) {
		a->pss += rd->smaps.pss;
		a->uss += rd->smaps.uss;
	}
}

/* Emits the full set of a target's series for one aggregate. */
static int emit_agg(struct snapshot *snap, const struct agg *a, unsigned needs,
		    uint64_t dead_min, uint64_t dead_maj, const char *const *lv)
{
	const struct metric_desc *d = tally_metrics;
	int r = 0;

	r |= snapshot_add(snap, &d[M_RSS], (double)a->rss, lv);
	r |= snapshot_add(snap, &d[M_ANON], (double)a->anon, lv);
	r |= snapshot_add(snap, &d[M_FILE], (double)a->file, lv);
	r |= snapshot_add(snap, &d[M_SHMEM], (double)a->shmem, lv);
	r |= snapshot_add(snap, &d[M_VSIZE], (double)a->vsize, lv);
	r |= snapshot_add(snap, &d[M_SWAP], (double)a->swap, lv);
	r |= snapshot_add(snap, &d[M_HWM], (double)a->hwm, lv);
	r |= snapshot_add(snap, &d[M_THREADS], (double)a->threads, lv);
	if (needs & TALLY_NEED_STAT) {
		r |= snapshot_add(snap, &d[M_MINFLT], (double)(a->minflt + dead_min), lv);
		r |= snapshot_add(snap, &d[M_MAJFLT], (double)(a->majflt + dead_maj), lv);
	}
	if ((needs & TALLY_NEED_FDS) && (a->has & TALLY_NEED_FDS))
		r |= snapshot_add(snap, &d[M_FDS], (double)a->fds, lv);
	if ((needs & TALLY_NEED_SMAPS) && (a->has & TALLY_NEED_SMAPS)) {
		r |= snapshot_add(snap, &d[M_PSS], (double)a->pss, lv);
		r |= snapshot_add(snap, &d[M_USS], (double)a->uss, lv);
	}
	if ((needs & TALLY_NEED_PEAK) && (a->has & TALLY_NEED_PEAK))
		r |= snapshot_add(snap, &d[M_PEAK], (double)a->peak, lv);
	return r < 0 ? -ENOMEM : 0;
}

static size_t comm_hash(const char *comm)
{
	size_t h = 5381;

	for (const char *c = comm; *c; c++)
		h = h * 33 + (unsigned char)*c;
	return h;
}

/* group_by comm: the group of comm, created while under the limit; past it,
 * the shared overflow group. The table is sized for the limit at first use. */
static struct group *group_get(struct tstate *ts, const char *comm, unsigned max_groups)
{
	size_t i;

	if (!ts->groups) {
		size_t cap = 64;

		while (cap < (size_t)max_groups * 2)
			cap *= 2;
		ts->groups = calloc(cap, sizeof(*ts->groups));
		if (!ts->groups)
			return &ts->other_group;
		ts->groups_cap = cap;
	}
	for (i = comm_hash(comm) & (ts->groups_cap - 1); ts->groups[i].comm[0];
	     i = (i + 1) & (ts->groups_cap - 1))
		if (strcmp(ts->groups[i].comm, comm) == 0)
			return &ts->groups[i];
	if (ts->n_groups >= max_groups)
		return &ts->other_group;
	snprintf(ts->groups[i].comm, sizeof(ts->groups[i].comm), "%s", comm);
	ts->n_groups++;
	return &ts->groups[i];
}

/* A member's own pid series, added to snap as it is read. */
static int emit_process(struct snapshot *snap, const struct target *tg, const struct tally_reading *rd,
			unsigned needs, uint64_t minflt, uint64_t majflt)
{
	char pid[16];
	const char *const lv[] = { "target", tg->name, "pid", pid, NULL };
	struct agg a = {0};
	int r;

	snprintf(pid, sizeof(pid), "%d", rd->pid);
	agg_add(&a, rd, needs, minflt, majflt);
	r = emit_agg(snap, &a, needs, 0, 0, lv);
	if (r == 0 && rd->start_time_s >= 0)
		r = snapshot_add(snap, &tally_metrics[M_START], rd->start_time_s, lv);
	return r;
}

/* Adds m's reading to target i: its own series, the overflow, or the sum. */
static int account(struct tally *t, struct snapshot *snap, struct tally_member *m, unsigned i,
		   const struct tally_reading *rd, uint64_t minflt, uint64_t majflt)
{
	const struct target *tg = &t->targets->v[i];
	struct tstate *ts = &t->ts[i];
	uint64_t bit = 1ull << i;

	if (tg->group_by == TARGET_GROUP_COMM) {
		struct group *g = group_get(ts, rd->status.comm, t->limits->max_groups);

		g->count++;
		g->rss += rd->status.rss;
		g->swap += rd->status.swap;
		return 0;
	}
	if (tg->per_process) {
		if (!(m->series & bit) && ts->n_series < t->limits->max_processes) {
			/* A free slot: m leaves "other", whose counters keep what m
			 * contributed so far. */
			ts->dead_minflt += m->minflt;
			ts->dead_majflt += m->majflt;
			m->series |= bit;
			ts->n_series++;
		}
		if (m->series & bit) {
			ts->sum.count++; /* counted, but not in the "other" numbers */
			return emit_process(snap, tg, rd, ts->needs, minflt, majflt);
		}
		ts->overflow++;
	}
	agg_add(&ts->sum, rd, ts->needs, minflt, majflt);
	return 0;
}

int tally_add(struct tally *t, struct snapshot *snap, struct tally_member *m,
	      const struct tally_reading *rd)
{
	uint64_t minflt = m->minflt, majflt = m->majflt;
	int ret = 0;

	/* The member's contribution never goes back (the invariant); a reading
	 * without fault counts contributes the last ones. */
	if (rd->has & TALLY_NEED_STAT) {
		if (rd->stat.minflt > minflt)
			minflt = rd->stat.minflt;
		if (rd->stat.majflt > majflt)
			majflt = rd->stat.majflt;
	}
	for (uint64_t b = m->targets; b && ret == 0; b &= b - 1)
		ret = account(t, snap, m, (unsigned)__builtin_ctzll(b), rd, minflt, majflt);
	m->minflt = minflt;
	m->majflt = majflt;
	return ret;
}

void tally_exit(struct tally *t, uint64_t mask, uint64_t peak_rss_bytes)
{
	size_t b = 0;

	while (b < EXIT_BOUNDS && (double)peak_rss_bytes > exit_bounds[b])
		b++;
	for (uint64_t m = mask; m; m &= m - 1) {
		struct tstate *ts = &t->ts[__builtin_ctzll(m)];

		ts->exits++;
		ts->exit_counts[b]++;
		ts->exit_sum += (double)peak_rss_bytes;
	}
}

/* --- emission -------------------------------------------------------------- */

/* group_by comm: a census series per comm, the rest under comm="(other)". */
static int emit_groups(struct snapshot *snap, const struct target *tg, struct tstate *ts)
{
	const struct metric_desc *d = tally_metrics;
	const char *const lv[] = { "target", tg->name, NULL };
	int r = 0;

	for (size_t k = 0; k < ts->groups_cap; k++) {
		struct group *g = &ts->groups[k];
		const char *const gl[] = { "target", tg->name, "comm", g->comm, NULL };

		if (!g->comm[0] || !g->count)
			continue;
		r |= snapshot_add(snap, &d[M_COUNT], (double)g->count, gl);
		r |= snapshot_add(snap, &d[M_RSS], (double)g->rss, gl);
		r |= snapshot_add(snap, &d[M_SWAP], (double)g->swap, gl);
	}
	if (ts->other_group.count) {
		const char *const gl[] = { "target", tg->name, "comm", OTHER_COMM, NULL };

		r |= snapshot_add(snap, &d[M_COUNT], (double)ts->other_group.count, gl);
		r |= snapshot_add(snap, &d[M_RSS], (double)ts->other_group.rss, gl);
		r |= snapshot_add(snap, &d[M_SWAP], (double)ts->other_group.swap, gl);
		ts->overflow = (unsigned)ts->other_group.count;
	}
	r |= snapshot_add(snap, &d[M_OVERFLOW], ts->overflow, lv);
	return r;
}

int tally_emit(struct tally *t, struct snapshot *snap, bool with_exits)
{
	const struct metric_desc *d = tally_metrics;
	int r = 0;

	for (size_t i = 0; i < t->targets->n; i++) {
		const struct target *tg = &t->targets->v[i];
		struct tstate *ts = &t->ts[i];
		const char *const lv[] = { "target", tg->name, NULL };

		if (tg->group_by == TARGET_GROUP_COMM) {
			r |= emit_groups(snap, tg, ts);
			continue;
		}
		r |= snapshot_add(snap, &d[M_COUNT], (double)ts->sum.count, lv);
		if (tg->per_process) {
			r |= snapshot_add(snap, &d[M_OVERFLOW], ts->overflow, lv);
			/* pid="other" appears once it has a member or counts to keep. */
			if (ts->overflow || ts->dead_minflt || ts->dead_majflt || ts->sum.minflt ||
			    ts->sum.majflt) {
				const char *const ol[] = { "target", tg->name, "pid", "other", NULL };

				r |= emit_agg(snap, &ts->sum, ts->needs, ts->dead_minflt, ts->dead_majflt, ol);
			}
		} else {
			r |= emit_agg(snap, &ts->sum, ts->needs, ts->dead_minflt, ts->dead_majflt, lv);
		}
	}
	for (size_t i = 0; with_exits && i < t->targets->n; i++) {
		const struct tstate *ts = &t->ts[i];
		const char *const lv[] = { "target", t->targets->v[i].name, NULL };

		r |= snapshot_add(snap, &d[M_EXITS], (double)ts->exits, lv);
		r |= snapshot_histogram(snap, &d[M_EXIT_PEAK], lv, exit_bounds, ts->exit_counts,
					EXIT_BOUNDS, ts->exit_sum);
	}
	return r < 0 ? -ENOMEM : 0;
}
