/* SPDX-License-Identifier: MIT */
/* The tally of each target: what its members add up to, and its series.
 *
 * The process collector finds processes, classifies them and reads them; the
 * tally turns those readings into each target's series: a sum (gauges), a
 * maximum (resident_hwm, resident_peak), a census per comm (group_by), one
 * series per pid (per_process, capped, the rest summed under pid="other"),
 * fault counters and the exits of BPF's sched_process_exit.
 *
 * Invariant: every counter a target exports is non-decreasing: the aggregate
 * of a target (or its pid="other" series) and each pid series for as long as
 * its process lives. A counter is what its live members contribute plus the
 * dead counts of members that left, and
 * - a member's contribution never goes back: a reading lower than what it
 *   contributed before (a backend switch, a glitch) keeps the higher counts;
 *   a member read without fault counts, or not read at all (tally_keep()),
 *   contributes its last counts;
 * - a member that leaves a target (exit, zombie, reclassification, promotion
 *   from pid="other" into a pid series of its own) folds its last counts into
 *   that target's dead counts, the final counts of an exit included
 *   (tally_final_counts());
 * - a pid series belongs to one process and ends with it: nothing is folded,
 *   and a reused pid starts a new series (start_time_seconds tells them apart).
 * The member state below is changed only by these functions, so no caller
 * can break the invariant by forgetting a fold.
 */
#ifndef MEMAGENT_TALLY_H
#define MEMAGENT_TALLY_H

#include <stdbool.h>
#include <stdint.h>

#include "collector.h"
#include "procfs.h"

/* What a target needs read from each member (tally_needs()), and what a
 * reading holds (tally_reading.has). */
enum {
	TALLY_NEED_STAT = 1u << 0,  /* faults, threads (status alone has no faults) */
	TALLY_NEED_FDS = 1u << 1,
	TALLY_NEED_SMAPS = 1u << 2,
	TALLY_NEED_PEAK = 1u << 3,  /* rss peaks between samples, when BPF can */
};

/* The families the tally emits, for the collector's list of metrics
 * (tally_metrics[TALLY_N_METRICS], in the order of TALLY_METRICS). */
#define TALLY_N_METRICS 19
extern const struct metric_desc tally_metrics[TALLY_N_METRICS];
#define TALLY_METRICS \
	&tally_metrics[0], &tally_metrics[1], &tally_metrics[2], &tally_metrics[3], \
	&tally_metrics[4], &tally_metrics[5], &tally_metrics[6], &tally_metrics[7], \
	&tally_metrics[8], &tally_metrics[9], &tally_metrics[10], &tally_metrics[11], \
	&tally_metrics[12], &tally_metrics[13], &tally_metrics[14], &tally_metrics[15], \
	&tally_metrics[16], &tally_metrics[17], &tally_metrics[18]

/* One reading of a member, as its reader got it this sample. */
struct tally_reading {
	int32_t pid;
	double start_time_s; /* since the Unix epoch; < 0 when unknown */
	struct procfs_status status; /* comm: the member's comm now */
	struct procfs_stat stat;     /* TALLY_NEED_STAT */
	struct procfs_smaps smaps;   /* TALLY_NEED_SMAPS */
	int64_t fds;                 /* TALLY_NEED_FDS */
	uint64_t peak_bytes;         /* TALLY_NEED_PEAK: the highest rss since the last sample */
	unsigned has;                /* TALLY_NEED_* that were read */
};

/* A member's place in the tally, kept by the caller beside the process
 * (zeroed when first seen). Owned by the tally: read targets, never write. */
struct tally_member {
	uint64_t targets;        /* bit i: target i counts this member */
	uint64_t series;         /* bit i: it owns a pid series of target i */
	uint64_t minflt, majflt; /* what it contributes to the fault counters */
};

struct tally;

/* A tally for targets (at most TARGET_MAX), keeping to limits; both outlive
 * it. fd_count: /proc/PID/fd's size is the open-fd count (Linux 6.2+), so
 * targets report open_fds. Returns NULL when out of memory. */
struct tally *tally_new(const struct target_set *targets, const struct collector_limits *limits,
			bool fd_count);

/* Frees t (NULL is fine) and returns NULL. */
struct tally *tally_free(struct tally *t);

/* What the targets in mask need read from a member: TALLY_NEED_* bits. */
unsigned tally_needs(const struct tally *t, uint64_t mask);

/* Makes m a member of exactly the targets in mask: it leaves the others,
 * folding its last counts into their dead counts (tally_set(t, m, 0) when
 * the process is gone), and joins the new ones from its next reading. */
void tally_set(struct tally *t, struct tally_member *m, uint64_t mask);

/* The counts m had when it exited (BPF's exit event), taken before it leaves
 * its targets so that they fold what it did to the end; lower counts than it
 * contributed already change nothing. */
void tally_final_counts(struct tally_member *m, uint64_t minflt, uint64_t majflt);

/* Starts a sample: clears what the last one summed (gauges, census,
 * overflow); counters' dead counts and exits stay. Comm groups that had no
 * member last sample are freed, so their slots go to new comms. */
void tally_start(struct tally *t);

/* Adds m's reading to each of its targets: its own pid series (added to snap
 * now), the pid="other" series, the census, or the sum; then m contributes
 * the reading's counts (never lower than before). Returns 0, or -ENOMEM when
 * snap is full (the counts are taken all the same). */
int tally_add(struct tally *t, struct snapshot *snap, struct tally_member *m,
	      const struct tally_reading *rd);

/* m is still a member but could not be read this sample (garbage, EACCES,
 * EIO): its targets' counters keep what it last contributed, else they would
 * dip for one sample and jump back on the next (a reset to Prometheus). A
 * member owning a pid series just misses a sample. */
void tally_keep(struct tally *t, const struct tally_member *m);

/* Counts one exit of a process of the targets in mask, with its high-water
 * resident memory. */
void tally_exit(struct tally *t, uint64_t mask, uint64_t peak_rss_bytes);

/* Adds every target's series of this sample to snap; with_exits: the exit
 * counters and histograms too (when exits are followed). Returns 0 or
 * -ENOMEM. */
int tally_emit(struct tally *t, struct snapshot *snap, bool with_exits);

#endif
