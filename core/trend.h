/* SPDX-License-Identifier: MIT */
/* Trends of one series: the leak rule (old space after full GC) and the queue
 * growth rule (a queue's depth), each judged on the series alone.
 *
 * A leaf like strbuf.h: no I/O, no allocation, no clock, no knowledge of
 * pages, sockets or snapshots. The caller feeds points it has read (the heap
 * collector every full-GC record of a page's ring, the kernel-queue and
 * Node.js collectors their own depths) and asks for the verdict; a detector
 * is a plain struct (about 2 KiB) the caller embeds and resets with _init.
 * docs/leaks.md gives the rules, the reasons for each parameter and their
 * evaluation on tests/fixtures/leaks/.
 *
 * The leak rule, per heap. Points are (t_ns, old_bytes[, rss_bytes]), one per
 * full GC, oldest first. The first warmup_gcs points or the points within
 * warmup_ns of the first, whichever ends first, are the warm-up: a cache
 * filling, a working set growing there is the baseline, never a leak. After
 * it, each point asks: has the heap *held*, for the last `hold` full GCs, a
 * level above everything it held `lag` or more full GCs ago (and up to the
 * end of the warm-up), by more than its margin? The margin is
 * max(noise_k x noise, min_growth_pct % of that level, min_growth_bytes),
 * where noise is the series' own: the robust spread (median absolute
 * deviation) of successive differences over the last `history` points, so a
 * steady trend or a rare step does not count as noise, a jittery heap gets a
 * wide band. Comparing against the *maximum* of the past makes a sawtooth
 * (grow, release, grow again to the same height) and a full bounded cache
 * never new ground, and a step leak new ground at each step; the `hold`
 * minimum keeps one high point from counting. rss may only lower noise_k to
 * noise_k_rss when it grew, over the same span, by at least the old space's
 * excess: confidence, never a veto. New ground catches fast leaks and step
 * leaks; a slow leak under churn is caught by a second path: the Theil-Sen
 * fit of the points since the warm-up (the last trend_points of them, once
 * there are trend_min_points) rises by more than trend_k standard errors of
 * such a fit, s x sqrt(12 / n) with s the largest of the noise, its moving
 * average over ~64 points and the points' robust spread about the fit; the held level is above every point
 * of the fit's first half; and the heap released nothing in its history (no
 * drop beyond twice the margin: a heap that gives memory back, a sawtooth,
 * is judged by new ground alone). Once suspected the flag stays until
 * clear_after consecutive points made neither.
 *
 * The queue rule, per queue. Points are (t_ns, depth), one per new report.
 * The last `window` points are cut into three equal thirds; growth is
 * suspected when the minimum depth of each third exceeds the minimum of the
 * third before by more than max(noise_k x noise, min_growth_items): a
 * backlog that rises for the whole window whatever its jitter. A burst that
 * drains has falling minima and never qualifies; a burst shorter than a third
 * of the window never spans the thirds. The flag clears after clear_after
 * consecutive points without growth.
 *
 * Contracts common to both: _params_default() fills the documented defaults;
 * _init() takes NULL for them and returns -EINVAL (the detector untouched)
 * for parameters out of range. _add() returns 0 when the point was taken and
 * -EINVAL when it is not later than the last one taken (a repeated or
 * reordered record: ignored, the state unchanged), so a caller may feed a
 * ring's records again without deduplicating them. Nothing allocates,
 * nothing fails otherwise. Cost of an _add: a few medians (quickselect) of at
 * most 120 numbers: ~6 us of CPU per leak point, ~2 us per queue point
 * (make bench-trend, bench/RESULTS.md).
 */
#ifndef MEMAGENT_TREND_H
#define MEMAGENT_TREND_H

#include <stdbool.h>
#include <stdint.h>

#define TREND_HISTORY_MAX 64

struct trend_leak_params {
	uint32_t warmup_gcs;          /* 20: warm-up ends after this many points... */
	uint64_t warmup_ns;           /* 60 s: ...or this long after the first, whichever first */
	uint32_t hold;                /* 3: full GCs a level must be held */
	uint32_t lag;                 /* 10: the past compared against ends this many points ago */
	uint32_t history;             /* 64 (<= TREND_HISTORY_MAX): points remembered */
	double noise_k;               /* 4: margin in units of the series' noise */
	double noise_k_rss;           /* 3: the same when rss grew along */
	double min_growth_pct;        /* 0.5: the margin is at least this % of the level */
	uint64_t min_growth_bytes;    /* 64 KiB: and at least this */
	uint32_t clear_after;         /* 20: points without new ground that clear the flag */
	uint32_t trend_points;        /* 16 (<= 16): points the slow path fits, all past the warm-up */
	uint32_t trend_min_points;    /* 8: the slow path waits for this many */
	double trend_k;               /* 5: the fitted rise must exceed this many standard errors */
};

struct trend_point {
	uint64_t t_ns;
	uint64_t value;
	uint64_t rss;
};

struct trend_leak {
	struct trend_leak_params p;
	struct trend_point pts[TREND_HISTORY_MAX];  /* ring: point n in pts[n % history] */
	uint64_t n;                   /* points taken */
	uint64_t first_ns;
	uint64_t warmup_end;          /* index of the first point after the warm-up; 0: still in it */
	uint32_t quiet;               /* consecutive points without new ground while suspected */
	bool suspected;
	double noise_avg;             /* bytes, the noise's moving average over ~64 points */
};

void trend_leak_params_default(struct trend_leak_params *ret);
/* Resets l to a heap seen for the first time (all history forgotten). */
int trend_leak_init(struct trend_leak *l, const struct trend_leak_params *p);
/* Takes one full GC: when it ended, old space used after it, the process's
 * rss then (0: unknown). */
int trend_leak_add(struct trend_leak *l, uint64_t t_ns, uint64_t old_bytes, uint64_t rss_bytes);
/* The verdict after the last point taken; false during the warm-up. */
bool trend_leak_suspected(const struct trend_leak *l);
/* True until the warm-up is over. */
bool trend_leak_warming(const struct trend_leak *l);
/* Robust growth of old space over the last 16 points (median of pairwise
 * slopes), bytes per second; 0 with fewer than 2 points. Negative when it
 * shrinks. Informative only: the verdict does not use it. Computed when
 * asked (120 slopes and their median), not per point taken: a caller that
 * exports it every sample keeps it (collectors/heaptrend.c). */
double trend_leak_growth_bytes_per_second(const struct trend_leak *l);

struct trend_queue_params {
	uint32_t window;              /* 12 (multiple of 3, <= TREND_HISTORY_MAX): points judged */
	uint32_t history;             /* 64 (<= TREND_HISTORY_MAX): points the noise is measured on */
	double noise_k;               /* 3: each third's rise in units of the series' noise */
	uint64_t min_growth_items;    /* 1: and at least this */
	uint32_t clear_after;         /* 12: points without growth that clear the flag */
};

struct trend_queue {
	struct trend_queue_params p;
	struct trend_point pts[TREND_HISTORY_MAX];
	uint64_t n;
	uint32_t quiet;
	bool suspected;
};

void trend_queue_params_default(struct trend_queue_params *ret);
int trend_queue_init(struct trend_queue *q, const struct trend_queue_params *p);
/* Takes one depth report: when it was made, the depth then. */
int trend_queue_add(struct trend_queue *q, uint64_t t_ns, uint64_t depth);
/* The verdict after the last point; false until `window` points were taken. */
bool trend_queue_suspected(const struct trend_queue *q);

#endif
