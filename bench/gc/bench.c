/* SPDX-License-Identifier: MIT */
/* GCBench (Boehm/Ellis/Kovac) and binary-trees (Benchmarks Game), written once over alloc.h.
 *
 *   ALLOC binary-trees DEPTH | gcbench | barrier-dense | barrier-sparse
 * prints one TSV row (bench allocator wall_s peak_rss_kib max_pause_ms
 * scavenge_p50_ms scavenge_p99_ms scavenge_max_ms full_max_ms
 * survived_mb_per_ms) on stdout and details on stderr. Pauses: gengc's
 * GC-done callback; bdwgc's GC_set_on_collection_event (GC_EVENT_START to
 * GC_EVENT_END, every bdwgc collection being a stop-the-world full one here).
 * BENCH_LABEL overrides the allocator column (used for variants).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc.h"

#ifndef ALLOC_NAME
#define ALLOC_NAME "unknown"
#endif

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- pause recording ---------------------------------------------------------- */
#define MAX_PAUSES (1 << 20)
#define UNUSED __attribute__((unused))
static double scav_ms[MAX_PAUSES];
static UNUSED size_t n_scav;
static UNUSED double full_max_ms, all_max_ms, scav_total_ms, full_total_ms;
static UNUSED uint64_t survived_bytes, n_full, marked_max;
static UNUSED double ns_per_marked_at_max;

static UNUSED void record(int full, double ms)
{
	if (ms > all_max_ms)
		all_max_ms = ms;
	if (full) {
		n_full++;
		full_total_ms += ms;
		if (ms > full_max_ms)
			full_max_ms = ms;
	} else {
		scav_total_ms += ms;
		if (n_scav < MAX_PAUSES)
			scav_ms[n_scav++] = ms;
	}
}

#if defined(ALLOC_GENGC)
struct gengc_heap *bench_heap;
static uint32_t T_BT, T_GC, T_ARR;

static void on_gc(struct gengc_heap *h, const struct gengc_gc_event *ev, void *ctx)
{
	double ms = (double)ev->pause_ns / 1e6;

	(void)h; (void)ctx;
	if (getenv("BENCH_GC_EVENTS"))
		fprintf(stderr, "event %s %.3f ms survived %.2f MB promoted %.2f MB marked %llu\n",
			gengc_gc_kind_name((enum gengc_gc_kind)ev->kind), ms, (double)ev->survived_bytes / 1e6,
			(double)ev->promoted_bytes / 1e6, (unsigned long long)ev->marked_objects);
	if (ev->kind == GENGC_GC_SCAVENGE) {
		survived_bytes += ev->survived_bytes;
	} else if (ms >= full_max_ms && ev->marked_objects) {
		marked_max = ev->marked_objects;
		ns_per_marked_at_max = (double)ev->pause_ns / (double)ev->marked_objects;
	}
	record(ev->kind != GENGC_GC_SCAVENGE, ms);
}
#elif defined(ALLOC_BDWGC)
static double gc_t0;
static void on_event(GC_EventType e)
{
	if (e == GC_EVENT_START)
		gc_t0 = now_s();
	else if (e == GC_EVENT_END)
		record(1, (now_s() - gc_t0) * 1e3);
}
#define T_BT 0
#define T_GC 0
#else
#define T_BT 0
#define T_GC 0
#endif

static void alloc_init(void)
{
#if defined(ALLOC_GENGC)
	static const uint32_t bt_off[] = { 0, 8 };
	struct gengc_type bt = { .name = "btnode", .size = 16, .flags = GENGC_TYPE_ALL_POINTERS };
	struct gengc_type gt = { .name = "gcnode", .size = 24, .n_pointers = 2, .pointer_offsets = bt_off };

	bench_heap = gengc_heap_new(NULL);
	struct gengc_type at = { .name = "array", .flags = GENGC_TYPE_ALL_POINTERS };

	if (!bench_heap || gengc_type_register(bench_heap, &bt, &T_BT) < 0 ||
	    gengc_type_register(bench_heap, &gt, &T_GC) < 0 || gengc_type_register(bench_heap, &at, &T_ARR) < 0)
		abort();
	gengc_set_gc_done_callback(bench_heap, on_gc, NULL);
#elif defined(ALLOC_BDWGC)
#ifdef B_NOINTERIOR
	GC_set_all_interior_pointers(0);
#endif
	GC_INIT();
	GC_set_on_collection_event(on_event);
#endif
}

/* ---- binary-trees --------------------------------------------------------------- */
struct btnode {
	struct btnode *l, *r;
};

static struct btnode *bottom_up(int d)
{
	struct btnode *n;

	if (d <= 0) {
		n = B_NEW(struct btnode, T_BT);
		n->l = n->r = NULL;
		return n;
	}
	B_SCOPE(s);
	B_HANDLE(struct btnode, l, bottom_up(d - 1));
	B_HANDLE(struct btnode, r, bottom_up(d - 1));
	n = B_NEW(struct btnode, T_BT);
	B_WRITE(n, l, *l);
	B_WRITE(n, r, *r);
	B_SCOPE_END(s);
	return n;
}

static long bt_check(const struct btnode *n)
{
	return n->l ? 1 + bt_check(n->l) + bt_check(n->r) : 1;
}

static void bt_free(struct btnode *n)
{
	if (B_FREES && n->l) {
		bt_free(n->l);
		bt_free(n->r);
	}
	B_FREE(n);
}

static void binary_trees(int n)
{
	int min_depth = 4, max_depth = n < min_depth + 2 ? min_depth + 2 : n;
	struct btnode *t = bottom_up(max_depth + 1);

	fprintf(stderr, "stretch tree of depth %d\t check: %ld\n", max_depth + 1, bt_check(t));
	bt_free(t);
	B_SCOPE(s);
	B_HANDLE(struct btnode, long_lived, bottom_up(max_depth));
	for (int d = min_depth; d <= max_depth; d += 2) {
		long iters = 1L << (max_depth - d + min_depth), check = 0;

		for (long i = 0; i < iters; i++) {
			t = bottom_up(d);
			check += bt_check(t);
			bt_free(t);
		}
		fprintf(stderr, "%ld\t trees of depth %d\t check: %ld\n", iters, d, check);
	}
	fprintf(stderr, "long lived tree of depth %d\t check: %ld\n", max_depth, bt_check(*long_lived));
	bt_free(*long_lived);
	B_SCOPE_END(s);
}

/* ---- GCBench ---------------------------------------------------------------------- */
enum { STRETCH_DEPTH = 18, LONG_LIVED_DEPTH = 16, ARRAY_SIZE = 500000, MIN_DEPTH = 4, MAX_DEPTH = 16 };

struct gcnode {
	struct gcnode *left, *right;
	int i, j;
};

static struct gcnode *gc_new(void)
{
	struct gcnode *n = B_NEW(struct gcnode, T_GC);

	n->left = n->right = NULL;
	n->i = n->j = 0;
	return n;
}

static long tree_size(int i)
{
	return (1L << (i + 1)) - 1;
}

static long num_iters(int i)
{
	return 2 * tree_size(STRETCH_DEPTH) / tree_size(i);
}

/* Top-down: the node exists (and may be old) before its children. */
static void populate(int depth, struct gcnode **node)
{
	if (depth <= 0)
		return;
	depth--;
	B_SCOPE(s);
	struct gcnode *l = gc_new();
	B_WRITE(*node, left, l);
	struct gcnode *r = gc_new();
	B_WRITE(*node, right, r);
	B_HANDLE(struct gcnode, hl, (*node)->left);
	B_HANDLE(struct gcnode, hr, (*node)->right);
	populate(depth, hl);
	populate(depth, hr);
	B_SCOPE_END(s);
}

/* Bottom-up: children first. */
static struct gcnode *make_tree(int depth)
{
	struct gcnode *n;

	if (depth <= 0)
		return gc_new();
	B_SCOPE(s);
	B_HANDLE(struct gcnode, l, make_tree(depth - 1));
	B_HANDLE(struct gcnode, r, make_tree(depth - 1));
	n = gc_new();
	B_WRITE(n, left, *l);
	B_WRITE(n, right, *r);
	B_SCOPE_END(s);
	return n;
}

static void gc_free(struct gcnode *n)
{
	if (B_FREES && n->left) {
		gc_free(n->left);
		gc_free(n->right);
	}
	B_FREE(n);
}

static void time_construction(int depth)
{
	long iters = num_iters(depth);

	for (long i = 0; i < iters; i++) {
		B_SCOPE(s);
		B_HANDLE(struct gcnode, t, gc_new());
		populate(depth, t);
		gc_free(*t);
		B_SCOPE_END(s);
	}
	for (long i = 0; i < iters; i++)
		gc_free(make_tree(depth));
}

static void gcbench(void)
{
	gc_free(make_tree(STRETCH_DEPTH));
	B_SCOPE(s);
	B_HANDLE(struct gcnode, long_lived, gc_new());
	populate(LONG_LIVED_DEPTH, long_lived);
	B_HANDLE(double, array, B_NEW_RAW(sizeof(double) * ARRAY_SIZE));
	for (int i = 0; i < ARRAY_SIZE / 2; i++)
		(*array)[i] = 1.0 / i;
	for (int d = MIN_DEPTH; d <= MAX_DEPTH; d += 2)
		time_construction(d);
	if (!*long_lived || (*array)[1000] != 1.0 / 1000)
		fprintf(stderr, "gcbench: FAILED the final check\n");
	gc_free(*long_lived);
	B_FREE(*array);
	B_SCOPE_END(s);
}

/* ---- barrier: old -> young stores --------------------------------------------------- */
/* A long-lived array of 1M slots (a large, old object) takes a fresh young
 * node at a random slot, 30M times: every store is an old->young store the
 * barrier must record and the next scavenge must find. Dense: any slot;
 * sparse: 4096 slots 2 KiB apart (one per card: the case cards are worst at). */
enum { BARRIER_SLOTS = 1 << 20, BARRIER_STORES = 30000000 };

struct arr {
	struct btnode *slot[BARRIER_SLOTS];
};

static void barrier(int sparse)
{
	uint64_t r = 88172645463325252ull;
#if defined(ALLOC_GENGC)
	struct arr *a0 = gengc_alloc_size(bench_heap, T_ARR, sizeof(struct arr));
#elif defined(ALLOC_BDWGC)
	struct arr *a0 = GC_MALLOC(sizeof(struct arr));
#else
	struct arr *a0 = calloc(1, sizeof(struct arr));
#endif
	B_SCOPE(s);
	B_HANDLE(struct arr, a, a0);
	long sum = 0;

	for (long i = 0; i < BARRIER_STORES; i++) {
		struct btnode *n = B_NEW(struct btnode, T_BT);
		size_t k;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		k = sparse ? (size_t)(r % 4096) * 256 : (size_t)(r % BARRIER_SLOTS);
		n->l = n->r = NULL;
		if (B_FREES && (*a)->slot[k])
			B_FREE((*a)->slot[k]);
		B_WRITE(*a, slot[k], n);
	}
	for (size_t k = 0; k < BARRIER_SLOTS; k++)
		sum += (*a)->slot[k] != NULL;
	fprintf(stderr, "barrier: %ld slots filled\n", sum);
	for (size_t k = 0; B_FREES && k < BARRIER_SLOTS; k++)
		B_FREE((*a)->slot[k]);
	B_FREE(*a);
	B_SCOPE_END(s);
}

static UNUSED int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *label = getenv("BENCH_LABEL");
	char bench[64];
	struct rusage ru;
	double t0, wall;

	if (argc < 2 || (strcmp(argv[1], "gcbench") && strncmp(argv[1], "barrier-", 8) &&
			 (strcmp(argv[1], "binary-trees") || argc < 3))) {
		fprintf(stderr, "usage: %s binary-trees DEPTH | gcbench | barrier-dense | barrier-sparse\n", argv[0]);
		return 2;
	}
	alloc_init();
	t0 = now_s();
	if (!strcmp(argv[1], "gcbench")) {
		snprintf(bench, sizeof(bench), "gcbench");
		gcbench();
	} else if (!strncmp(argv[1], "barrier-", 8)) {
		snprintf(bench, sizeof(bench), "%.40s", argv[1]);
		barrier(!strcmp(argv[1], "barrier-sparse"));
	} else {
		snprintf(bench, sizeof(bench), "binary-trees-%d", atoi(argv[2]));
		binary_trees(atoi(argv[2]));
	}
	wall = now_s() - t0;
	getrusage(RUSAGE_SELF, &ru);

	printf("%s\t%s\t%.3f\t%ld\t", bench, label ? label : ALLOC_NAME, wall, ru.ru_maxrss);
#if defined(ALLOC_MALLOC)
	printf("\t\t\t\t\t\n");
#elif defined(ALLOC_BDWGC)
	printf("%.2f\t\t\t\t%.2f\t\n", all_max_ms, full_max_ms);
	fprintf(stderr, "%s %s: %llu collections, %.0f ms total in GC (GC_get_full_gc_total_time: %lu ms)\n",
		bench, label ? label : ALLOC_NAME, (unsigned long long)n_full, full_total_ms,
		GC_get_full_gc_total_time());
#else
	qsort(scav_ms, n_scav, sizeof(double), cmp_d);
	{
		double p50 = n_scav ? scav_ms[n_scav / 2] : 0;
		double p99 = n_scav ? scav_ms[(size_t)((double)(n_scav - 1) * 0.99)] : 0;
		double smax = n_scav ? scav_ms[n_scav - 1] : 0;
		double mbms = scav_total_ms > 0 ? (double)survived_bytes / 1e6 / scav_total_ms : 0;

		printf("%.2f\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\n", all_max_ms, p50, p99, smax, full_max_ms, mbms);
		struct gengc_stats st;

		gengc_stats_read(bench_heap, &st);
		fprintf(stderr, "%s %s: %zu scavenges (%.0f ms, %.1f MB survived), %llu full GCs (%.0f ms); "
			"longest full GC marked %llu objects, %.1f ns per marked object; "
			"%llu incremental marking steps, longest %.2f ms\n",
			bench, label ? label : ALLOC_NAME, n_scav, scav_total_ms, (double)survived_bytes / 1e6,
			(unsigned long long)n_full, full_total_ms, (unsigned long long)marked_max,
			ns_per_marked_at_max, (unsigned long long)st.marking_steps,
			(double)st.marking_step_max_ns / 1e6);
	}
	bench_heap = gengc_heap_free(bench_heap);
#endif
	return 0;
}
