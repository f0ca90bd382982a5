/* SPDX-License-Identifier: MIT */
/* The leak and queue growth verdicts of one telemetry page, kept across samples (heaptrend.h).
 *
 * Invariant: leak has taken exactly the full-GC records with sequence
 * numbers in (first_seq, last_seq] that the ring still held when read, in
 * order; queue[i], when set, judges the queue named name[i] and has taken its
 * reports up to queue_ns[i].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrend.h"
#include "trend.h"

const struct metric_desc heaptrend_m_leak = {
	"memagent_heap_leak_suspected", METRIC_GAUGE, NULL,
	"1 when an instrumented heap's old space after full GC grows beyond its noise (docs/leaks.md), 0 otherwise.",
};
const struct metric_desc heaptrend_m_growth = {
	"memagent_heap_old_space_growth_bytes_per_second", METRIC_GAUGE, NULL,
	"Growth of old space after full GC over the last 16 full GCs (Theil-Sen slope), bytes per second.",
};
const struct metric_desc heaptrend_m_queue_growth = {
	"memagent_queue_growth_suspected", METRIC_GAUGE, NULL,
	"1 when a queue's depth keeps rising beyond its noise (a consumer slower than its producer), 0 otherwise.",
};

struct heaptrend {
	uint64_t start_ticks, heap_id;
	uint64_t last_seq;                      /* newest record taken; 0: none */
	struct trend_leak leak;
	/* trend_leak_growth_bytes_per_second() after the last record taken:
	 * 120 slopes, worked out once per feed that added records rather than
	 * at every sample's export (most samples bring no full GC). */
	double growth;
	char name[GENGC_TELEMETRY_QUEUES][GENGC_TELEMETRY_NAME_BYTES];
	uint64_t queue_ns[GENGC_TELEMETRY_QUEUES];
	struct trend_queue *queue[GENGC_TELEMETRY_QUEUES];
};

static void reset(struct heaptrend *t, uint64_t start_ticks, uint64_t heap_id)
{
	for (unsigned i = 0; i < GENGC_TELEMETRY_QUEUES; i++)
		free(t->queue[i]);
	memset(t, 0, sizeof(*t));
	t->start_ticks = start_ticks;
	t->heap_id = heap_id;
	trend_leak_init(&t->leak, NULL);
}

struct heaptrend *heaptrend_new(uint64_t start_ticks, uint64_t heap_id)
{
	struct heaptrend *t = calloc(1, sizeof(*t));

	if (t)
		reset(t, start_ticks, heap_id);
	return t;
}

struct heaptrend *heaptrend_free(struct heaptrend *t)
{
	if (t) {
		for (unsigned i = 0; i < GENGC_TELEMETRY_QUEUES; i++)
			free(t->queue[i]);
		free(t);
	}
	return NULL;
}

/* The detector of the queue called name, made when first seen; NULL when
 * none could be allocated or every slot judges another queue. Queues are
 * only ever added to a page (names unique, docs/telemetry.md), so slots are
 * not reused. */
static struct trend_queue *queue_of(struct heaptrend *t, const char *name, unsigned *ret_i)
{
	for (unsigned i = 0; i < GENGC_TELEMETRY_QUEUES; i++) {
		if (t->queue[i] && strcmp(t->name[i], name) == 0) {
			*ret_i = i;
			return t->queue[i];
		}
	}
	for (unsigned i = 0; i < GENGC_TELEMETRY_QUEUES; i++) {
		if (t->queue[i])
			continue;
		t->queue[i] = malloc(sizeof(*t->queue[i]));
		if (!t->queue[i])
			return NULL;
		trend_queue_init(t->queue[i], NULL);
		snprintf(t->name[i], sizeof(t->name[i]), "%s", name);
		t->queue_ns[i] = 0;
		*ret_i = i;
		return t->queue[i];
	}
	return NULL;
}

int heaptrend_feed(struct heaptrend *t, uint64_t start_ticks, const struct gengc_telemetry_page *p)
{
	bool added = false;
	int r = 0;

	if (t->start_ticks != start_ticks || t->heap_id != p->heap_id || p->gc_seq < t->last_seq)
		reset(t, start_ticks, p->heap_id);
	/* The ring holds the last 32 records; older ones are gone. */
	uint64_t from = t->last_seq + 1;
	if (p->gc_seq >= GENGC_TELEMETRY_RING && from < p->gc_seq - GENGC_TELEMETRY_RING + 1)
		from = p->gc_seq - GENGC_TELEMETRY_RING + 1;
	for (uint64_t s = from; s <= p->gc_seq; s++) {
		const struct gengc_telemetry_record *rec = &p->ring[s % GENGC_TELEMETRY_RING];

		if (rec->seq == s) {
			trend_leak_add(&t->leak, rec->time_ns, rec->old_used_after_bytes, 0);
			added = true;
		}
	}
	t->last_seq = p->gc_seq;
	if (added)
		t->growth = trend_leak_growth_bytes_per_second(&t->leak);

	for (uint32_t i = 0; i < p->n_queues && i < GENGC_TELEMETRY_QUEUES; i++) {
		const struct gengc_telemetry_queue *gq = &p->queues[i];
		unsigned k;
		struct trend_queue *q = queue_of(t, gq->name, &k);

		if (!q) {
			r = -ENOMEM;
			continue;
		}
		if (gq->time_ns > t->queue_ns[k]) {
			trend_queue_add(q, gq->time_ns, gq->depth);
			t->queue_ns[k] = gq->time_ns;
		}
	}
	return r;
}

bool heaptrend_leak_suspected(const struct heaptrend *t)
{
	return trend_leak_suspected(&t->leak);
}

bool heaptrend_has_queue(const struct heaptrend *t, const char *name)
{
	for (unsigned i = 0; i < GENGC_TELEMETRY_QUEUES; i++)
		if (t->queue[i] && strcmp(t->name[i], name) == 0)
			return true;
	return false;
}

static const struct trend_queue *queue_find(const struct heaptrend *t, const char *name)
{
	for (unsigned i = 0; i < GENGC_TELEMETRY_QUEUES; i++)
		if (t->queue[i] && strcmp(t->name[i], name) == 0)
			return t->queue[i];
	return NULL;
}

int heaptrend_export(const struct heaptrend *t, struct snapshot *snap, const struct gengc_telemetry_page *p,
		     const char *const *lv, heaptrend_taken_fn *queue_taken, void *ctx)
{
	int r = 0;

	r |= snapshot_add(snap, &heaptrend_m_leak, trend_leak_suspected(&t->leak) ? 1 : 0, lv);
	if (t->leak.n >= 2)
		r |= snapshot_add(snap, &heaptrend_m_growth, t->growth, lv);
	/* lv is target, pid, heap: the queue family has target, pid, queue, kind. */
	const char *qlv[] = { lv[0], lv[1], lv[2], lv[3], "queue", NULL, "kind", "app", NULL };
	for (uint32_t i = 0; i < p->n_queues && i < GENGC_TELEMETRY_QUEUES; i++) {
		const struct trend_queue *q = queue_find(t, p->queues[i].name);

		if (!q || (queue_taken && queue_taken(ctx, p->queues[i].name)))
			continue;
		qlv[5] = p->queues[i].name;
		r |= snapshot_add(snap, &heaptrend_m_queue_growth, trend_queue_suspected(q) ? 1 : 0, qlv);
	}
	return r < 0 ? -ENOMEM : 0;
}
