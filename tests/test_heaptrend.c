/* SPDX-License-Identifier: MIT */
/* heaptrend: what a page's readings feed to the rules, and what is exported, against core/trend fed by hand. */
#include <math.h>

#include "heaptrend.h"
#include "snapcheck.h"
#include "test.h"
#include "trend.h"

#define SEC 1000000000ull

static const char *const LV[] = { "target", "app", "pid", "42", "heap", "1", NULL };

/* A page of heap 1 whose ring holds full GCs (gc_seq-31 .. gc_seq]: GC s
 * ended at s seconds with 10 MB + s MB in the old space. */
static void page_at(struct gengc_telemetry_page *p, uint64_t gc_seq)
{
	memset(p, 0, sizeof(*p));
	p->heap_id = 1;
	p->gc_seq = gc_seq;
	for (uint64_t s = gc_seq > 31 ? gc_seq - 31 : 1; s <= gc_seq && s > 0; s++)
		p->ring[s % GENGC_TELEMETRY_RING] = (struct gengc_telemetry_record){
			.seq = s, .time_ns = s * SEC, .old_used_after_bytes = 10000000 + s * 1000000,
		};
}

static double exported(const struct heaptrend *t, const struct gengc_telemetry_page *p, const char *name,
		       const char *const *labels, heaptrend_taken_fn *taken)
{
	struct snapshot *s = snapshot_new();
	double v;

	if (!s)
		return NAN;
	if (heaptrend_export(t, s, p, LV, taken, NULL) < 0) {
		snapshot_unref(s);
		return NAN;
	}
	v = snapcheck_value(s, name, labels);
	snapshot_unref(s);
	return v;
}

/* Records come in samples of any size, some twice, some past the ring:
 * the verdict is the rule's on exactly the records the ring still held,
 * each once. */
static void test_records_fed_once(void)
{
	static const uint64_t samples[] = { 3, 3, 5, 15, 15, 16, 56, 57, 60, 70, 71 };
	struct heaptrend *t = heaptrend_new(777, 1);
	struct gengc_telemetry_page p;
	struct trend_leak oracle;
	uint64_t last = 0;

	REQUIRE(t);
	trend_leak_init(&oracle, NULL);
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		uint64_t from = last + 1;

		page_at(&p, samples[i]);
		CHECK_EQ(heaptrend_feed(t, 777, &p), 0);
		if (samples[i] > 31 && from < samples[i] - 31)
			from = samples[i] - 31;   /* 17..24 are lost between 16 and 56 */
		for (uint64_t s = from; s <= samples[i]; s++)
			trend_leak_add(&oracle, s * SEC, 10000000 + s * 1000000, 0);
		last = samples[i];
		CHECK(fabs(exported(t, &p, "memagent_heap_old_space_growth_bytes_per_second", LV, NULL) -
			   trend_leak_growth_bytes_per_second(&oracle)) < 1e-6);
		CHECK_EQ(exported(t, &p, "memagent_heap_leak_suspected", LV, NULL),
			 trend_leak_suspected(&oracle) ? 1 : 0);
	}
	CHECK_EQ(oracle.n, 71 - 8);
	CHECK(trend_leak_suspected(&oracle));   /* 1 MB per full GC: a leak, so the checks meant something */
	heaptrend_free(t);
}

/* Keeps only the newest record on the ring. */
static void only_newest(struct gengc_telemetry_page *p)
{
	struct gengc_telemetry_record r = p->ring[p->gc_seq % GENGC_TELEMETRY_RING];

	memset(p->ring, 0, sizeof(p->ring));
	p->ring[p->gc_seq % GENGC_TELEMETRY_RING] = r;
}

/* Another process image, another heap, or a ring that went back: a fresh
 * warm-up, nothing of the old verdict (one record: no growth yet, no flag).
 * The same heap goes on with its history. */
static void test_resets(void)
{
	struct heaptrend *t = heaptrend_new(777, 1), *same = heaptrend_new(777, 1);
	struct gengc_telemetry_page p;

	REQUIRE(t && same);
	page_at(&p, 60);
	heaptrend_feed(t, 777, &p);
	heaptrend_feed(same, 777, &p);
	CHECK_EQ(exported(t, &p, "memagent_heap_leak_suspected", LV, NULL), 1);

	page_at(&p, 61);
	only_newest(&p);
	heaptrend_feed(same, 777, &p);
	CHECK_EQ(exported(same, &p, "memagent_heap_leak_suspected", LV, NULL), 1);
	heaptrend_feed(t, 778, &p);     /* same pid, another start time: a reused pid */
	CHECK_EQ(exported(t, &p, "memagent_heap_leak_suspected", LV, NULL), 0);
	CHECK(isnan(exported(t, &p, "memagent_heap_old_space_growth_bytes_per_second", LV, NULL)));

	page_at(&p, 60);
	heaptrend_feed(t, 778, &p);
	page_at(&p, 3);                 /* the ring went back: another heap in that slot */
	only_newest(&p);
	heaptrend_feed(t, 778, &p);
	CHECK_EQ(exported(t, &p, "memagent_heap_leak_suspected", LV, NULL), 0);
	CHECK(isnan(exported(t, &p, "memagent_heap_old_space_growth_bytes_per_second", LV, NULL)));

	page_at(&p, 60);
	heaptrend_feed(t, 778, &p);
	page_at(&p, 61);
	only_newest(&p);
	p.heap_id = 2;                  /* another heap id */
	heaptrend_feed(t, 778, &p);
	CHECK(isnan(exported(t, &p, "memagent_heap_old_space_growth_bytes_per_second", LV, NULL)));
	heaptrend_free(t);
	heaptrend_free(same);
}

static int taken_growing(void *ctx, const char *queue)
{
	(void)ctx;
	return strcmp(queue, "taken") == 0;
}

/* A queue is fed once per report (its time), judged by its name wherever
 * it sits on the page; one another page of the process exported is left out. */
static void test_queues(void)
{
	struct heaptrend *t = heaptrend_new(777, 1);
	struct gengc_telemetry_page p;
	const char *const grow[] = { "target", "app", "pid", "42", "queue", "grow", "kind", "app", NULL };
	const char *const stale[] = { "target", "app", "pid", "42", "queue", "stale", "kind", "app", NULL };
	const char *const taken[] = { "target", "app", "pid", "42", "queue", "taken", "kind", "app", NULL };

	REQUIRE(t);
	page_at(&p, 1);
	p.n_queues = 3;
	for (uint64_t i = 1; i <= 30; i++) {
		/* The order of the page's queues changes: names, not slots, count. */
		unsigned a = i % 2, b = 1 - a;

		snprintf(p.queues[a].name, sizeof(p.queues[a].name), "grow");
		p.queues[a].depth = i * 100;
		p.queues[a].time_ns = i * SEC;
		snprintf(p.queues[b].name, sizeof(p.queues[b].name), "stale");
		p.queues[b].depth = i * 100;    /* growing, but never reported anew */
		p.queues[b].time_ns = SEC;
		snprintf(p.queues[2].name, sizeof(p.queues[2].name), "taken");
		p.queues[2].depth = i * 100;
		p.queues[2].time_ns = i * SEC;
		CHECK_EQ(heaptrend_feed(t, 777, &p), 0);
		heaptrend_feed(t, 777, &p);     /* the same reading again changes nothing */
		if (i == 11)
			CHECK_EQ(exported(t, &p, "memagent_queue_growth_suspected", grow, NULL), 0);
	}
	CHECK_EQ(exported(t, &p, "memagent_queue_growth_suspected", grow, NULL), 1);
	CHECK_EQ(exported(t, &p, "memagent_queue_growth_suspected", stale, NULL), 0);
	CHECK_EQ(exported(t, &p, "memagent_queue_growth_suspected", taken, NULL), 1);
	CHECK(isnan(exported(t, &p, "memagent_queue_growth_suspected", taken, taken_growing)));
	CHECK(heaptrend_has_queue(t, "stale"));
	CHECK(!heaptrend_has_queue(t, "absent"));
	heaptrend_free(t);
}

int main(void)
{
	RUN(test_records_fed_once);
	RUN(test_resets);
	RUN(test_queues);
	return test_done();
}
