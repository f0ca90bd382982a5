/* SPDX-License-Identifier: MIT */
/* make bench-trend: CPU per point of core/trend's rules, beside memwatch's rule on the same points.
 *
 * Feeds 1,000,000 points of one noisy steady series (the costly case: every
 * point is judged, no early exit) to a leak detector, a queue detector and
 * memwatch's rule ("grew in 5 consecutive full GCs", a compare and a
 * counter), and reports CPU time (CLOCK_PROCESS_CPUTIME_ID: the machine is
 * shared) per point, the ratio to memwatch's, and how many points each rule
 * flagged: the series never grows, so every flagged point is a false alarm.
 * Rows to the TSV named.
 *
 *   trendbench [TSV]
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "trend.h"

#define POINTS 1000000ull

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t next(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return *x >> 44;              /* 0 .. 1 M: a 2% band on 50 MB */
}

/* memwatch's whole state per heap: the last value and the run of rises. */
struct memwatch {
	uint64_t prev;
	unsigned run;
};

struct results {
	double leak_ns, queue_ns, mw_ns;
	uint64_t fl_leak, fl_queue, fl_mw;
};

static void rows(FILE *f, const struct results *r)
{
	fprintf(f, "rule\tns_cpu_per_point\tratio_to_memwatch\tfalse_flags_per_1M\tbytes_per_detector\n");
	fprintf(f, "trend_leak_add\t%.0f\t%.0f\t%llu\t%zu\n", r->leak_ns, r->leak_ns / r->mw_ns,
		(unsigned long long)r->fl_leak, sizeof(struct trend_leak));
	fprintf(f, "trend_queue_add\t%.0f\t%.0f\t%llu\t%zu\n", r->queue_ns, r->queue_ns / r->mw_ns,
		(unsigned long long)r->fl_queue, sizeof(struct trend_queue));
	fprintf(f, "memwatch\t%.1f\t1\t%llu\t%zu\n", r->mw_ns, (unsigned long long)r->fl_mw,
		sizeof(struct memwatch));
}

int main(int argc, char **argv)
{
	struct trend_leak l;
	struct trend_queue q;
	struct memwatch mw = { 0 };
	struct results res;
	uint64_t x = 1, fl_leak = 0, fl_queue = 0, fl_mw = 0;
	double t0, leak_ns, queue_ns, mw_ns;
	FILE *tsv;

	trend_leak_init(&l, NULL);
	trend_queue_init(&q, NULL);
	t0 = cpu_ns();
	for (uint64_t i = 1; i <= POINTS; i++) {
		trend_leak_add(&l, i * 1000000000ull, 50000000 + next(&x), 0);
		fl_leak += trend_leak_suspected(&l);
	}
	leak_ns = (cpu_ns() - t0) / POINTS;
	t0 = cpu_ns();
	for (uint64_t i = 1; i <= POINTS; i++) {
		trend_queue_add(&q, i * 1000000000ull, next(&x) >> 10);
		fl_queue += trend_queue_suspected(&q);
	}
	queue_ns = (cpu_ns() - t0) / POINTS;
	t0 = cpu_ns();
	for (uint64_t i = 1; i <= POINTS; i++) {
		uint64_t v = 50000000 + next(&x);

		mw.run = v > mw.prev ? mw.run + 1 : 0;
		fl_mw += mw.run >= 5;
		mw.prev = v;
	}
	mw_ns = (cpu_ns() - t0) / POINTS;

	res = (struct results){ leak_ns, queue_ns, mw_ns, fl_leak, fl_queue, fl_mw };
	rows(stdout, &res);
	if (argc > 1 && (tsv = fopen(argv[1], "we"))) {
		rows(tsv, &res);
		fclose(tsv);
	}
	return 0;
}
