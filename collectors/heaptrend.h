/* SPDX-License-Identifier: MIT */
/* The leak and queue growth verdicts of one telemetry page, kept across samples.
 *
 * The heap collector keeps one per page it reads and hands it every reading
 * of that page; the rules are core/trend's (docs/leaks.md). A heaptrend
 * belongs to one heap of one process: it is made for (start time, heap id)
 * and forgets everything when a reading names another (a page reused, a
 * process image that is not the one it judged), so a reused pid, or a page
 * found again after it was dropped, starts a fresh warm-up.
 *
 * What it is fed: every full-GC record of the ring it has not taken yet (also
 * those between two samples; more than the ring's 32 between two readings
 * leave a gap, judged as such), and every queue's depth when its report is
 * newer than the last taken. rss is not fed: the rules take it as optional.
 */
#ifndef MEMAGENT_HEAPTREND_H
#define MEMAGENT_HEAPTREND_H

#include <stdbool.h>
#include <stdint.h>

#include "gengc_telemetry.h"
#include "snapshot.h"

struct heaptrend;

/* A fresh verdict for heap heap_id of the process started at start_ticks.
 * NULL when out of memory. Costs ~2 KiB, plus ~1.6 KiB per queue seen. */
struct heaptrend *heaptrend_new(uint64_t start_ticks, uint64_t heap_id);
/* NULL-safe; returns NULL. */
struct heaptrend *heaptrend_free(struct heaptrend *t);
/* Takes what page p (a reading that passed telemetry_read(), of the process
 * started at start_ticks) adds since the last call. A page of another heap
 * or process resets t first. Returns 0, or -ENOMEM when a new queue's
 * detector could not be allocated (that queue is then not judged yet; the
 * rest is taken). */
int heaptrend_feed(struct heaptrend *t, uint64_t start_ticks, const struct gengc_telemetry_page *p);
/* Adds memagent_heap_leak_suspected and, once two records were taken,
 * memagent_heap_old_space_growth_bytes_per_second under lv (target, pid,
 * heap); and memagent_queue_growth_suspected{target, pid, queue, kind="app"}
 * for each queue of p, except those whose name queue_taken(ctx, name) says
 * an earlier page of the same process already exported. Returns 0 or
 * -ENOMEM. */
typedef int heaptrend_taken_fn(void *ctx, const char *queue);
int heaptrend_export(const struct heaptrend *t, struct snapshot *snap, const struct gengc_telemetry_page *p,
		     const char *const *lv, heaptrend_taken_fn *queue_taken, void *ctx);

/* Whether t judges a queue of that name (it exported it, if fed and exported
 * in this sample). */
bool heaptrend_has_queue(const struct heaptrend *t, const char *name);

extern const struct metric_desc heaptrend_m_leak, heaptrend_m_growth, heaptrend_m_queue_growth;

#endif
