/* SPDX-License-Identifier: MIT */
/* libgengc unit tests, one or more per phase: scavenge, promotion, barrier, sweep, compaction, roots, weak, finalizers, limits, stats. */
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gengc.h"
#include "test.h"

struct node {
	struct node *a, *b;
	uint64_t val;
};
static const uint32_t node_offsets[] = { 0, 8 };

static uint32_t node_type(struct gengc_heap *h)
{
	struct gengc_type t = { .name = "node", .size = sizeof(struct node), .n_pointers = 2,
				.pointer_offsets = node_offsets };
	uint32_t id = 0;

	if (gengc_type_register(h, &t, &id) < 0)
		abort();
	return id;
}

static struct gengc_heap *heap_with(uint32_t promotion_age)
{
	struct gengc_options o;

	gengc_options_init(&o);
	o.promotion_age = promotion_age;
	o.verify = 1;
	return gengc_heap_new(&o);
}

static struct node *new_node(struct gengc_heap *h, uint32_t t, uint64_t val)
{
	struct node *n = gengc_alloc(h, t);

	if (n)
		n->val = val;
	return n;
}

static void check_verify(struct gengc_heap *h)
{
	char msg[256];
	int r = gengc_verify(h, msg, sizeof(msg));

	if (r)
		test_fail_at(__FILE__, __LINE__, "verify: %s", msg);
}

static struct gengc_stats stats(struct gengc_heap *h)
{
	struct gengc_stats s;

	gengc_stats_read(h, &s);
	return s;
}

/* ---- scavenge ---------------------------------------------------------------- */
static void test_scavenge_copies_and_forwards(void)
{
	struct gengc_heap *h = heap_with(1);
	uint32_t t = node_type(h);
	struct gengc_scope s;
	void **p1, **p2, **c1;

	REQUIRE(h);
	gengc_scope_open(h, &s);
	void **shared = gengc_handle(h, new_node(h, t, 7));
	p1 = gengc_handle(h, new_node(h, t, 1));
	p2 = gengc_handle(h, new_node(h, t, 2));
	gengc_write(h, *p1, &((struct node *)*p1)->a, *shared);
	gengc_write(h, *p2, &((struct node *)*p2)->a, *shared);
	c1 = gengc_handle(h, new_node(h, t, 10));
	struct node *c2 = new_node(h, t, 11);
	gengc_write(h, *c1, &((struct node *)*c1)->a, c2);
	gengc_write(h, c2, &c2->a, *c1);
	for (int i = 0; i < 1000; i++)   /* garbage */
		new_node(h, t, 99);
	void *before = *p1;

	CHECK_EQ(gengc_collect(h, GENGC_GC_SCAVENGE), 0);
	struct node *n1 = *p1, *n2 = *p2, *cy = *c1;
	CHECK(n1 != before);
	CHECK(n1->a == n2->a);              /* shared substructure stays shared */
	CHECK(n1->a == *shared);
	CHECK_EQ(n1->a->val, 7);
	CHECK_EQ(cy->a->val, 11);
	CHECK(cy->a->a == cy);              /* the cycle survived */
	CHECK_EQ(stats(h).gc[GENGC_GC_SCAVENGE].count, 1);
	CHECK_EQ(stats(h).space[GENGC_SPACE_NEW].space_used_size, 5 * 32);   /* shared, p1, p2, c1, c2 */
	check_verify(h);
	gengc_scope_close(h, &s);
	CHECK_EQ(gengc_collect(h, GENGC_GC_SCAVENGE), 0);
	CHECK_EQ(stats(h).space[GENGC_SPACE_NEW].space_used_size, 0);
	gengc_heap_free(h);
}

static void test_promotion_after_age(void)
{
	for (uint32_t age = 0; age <= 2; age++) {
		struct gengc_heap *h = heap_with(age);
		uint32_t t = node_type(h);
		void **n = gengc_handle(h, new_node(h, t, 5));

		for (uint32_t i = 0; i < age; i++) {
			gengc_collect(h, GENGC_GC_SCAVENGE);
			CHECK_EQ(stats(h).gc[GENGC_GC_SCAVENGE].bytes_promoted, 0);
			CHECK_EQ(stats(h).space[GENGC_SPACE_NEW].space_used_size, 32);
		}
		gengc_collect(h, GENGC_GC_SCAVENGE);
		CHECK_EQ(stats(h).gc[GENGC_GC_SCAVENGE].bytes_promoted, 32);
		CHECK_EQ(stats(h).space[GENGC_SPACE_NEW].space_used_size, 0);
		CHECK_EQ(stats(h).space[GENGC_SPACE_OLD].space_used_size, 32);
		CHECK_EQ(((struct node *)*n)->val, 5);
		check_verify(h);
		gengc_heap_free(h);
	}
}

/* Fast promotion: after a scavenge where at least 1 MiB and 90% of the
 * young space survived (the semispace still growing), the next scavenge
 * promotes every survivor whatever its age; promotion_age 2 would have
 * kept these young one more time. */
static void test_fast_promotion_on_high_survival(void)
{
	struct gengc_options o;
	struct gengc_heap *h;
	uint32_t t;
	size_t n = 2 * 1024 * 1024 / 32, count = 0;
	uint64_t sum = 0;

	gengc_options_init(&o);
	o.promotion_age = 2;
	o.min_semi_space_size = 4;          /* the 2 MiB list fits: no scavenge while building */
	o.verify = 1;
	h = gengc_heap_new(&o);
	REQUIRE(h);
	t = node_type(h);
	void **head = gengc_handle(h, NULL);

	for (size_t i = 0; i < n; i++) {
		struct node *x = new_node(h, t, i);

		REQUIRE(x);
		x->a = *head;
		*head = x;
	}
	CHECK_EQ(stats(h).gc[GENGC_GC_SCAVENGE].count, 0);
	gengc_collect(h, GENGC_GC_SCAVENGE);         /* everything survives, nothing old enough */
	CHECK_EQ(stats(h).gc[GENGC_GC_SCAVENGE].bytes_promoted, 0);
	CHECK_EQ(stats(h).space[GENGC_SPACE_NEW].space_used_size, n * 32);
	gengc_collect(h, GENGC_GC_SCAVENGE);         /* age 1 < 2, promoted all the same */
	CHECK_EQ(stats(h).gc[GENGC_GC_SCAVENGE].bytes_promoted, n * 32);
	CHECK_EQ(stats(h).space[GENGC_SPACE_NEW].space_used_size, 0);
	for (struct node *x = *head; x; x = x->a, count++)
		sum += x->val;
	CHECK_EQ(count, n);
	CHECK_EQ(sum, (uint64_t)n * (n - 1) / 2);
	check_verify(h);
	gengc_heap_free(h);
}

/* ---- barrier ------------------------------------------------------------------- */
/* Pointer fields registered as offsets: a leading run (0, 8, ...) is walked
 * as the first words (the words after it are data, never followed or
 * updated), other offsets through their table. Both survive scavenges,
 * promotion, a full GC and compaction. */
struct spread {
	void *a;
	uint64_t x;
	void *b;
	uint64_t y;
};

static void test_offset_layouts(void)
{
	static const uint32_t spread_offsets[] = { 16, 0 };
	struct gengc_heap *h = heap_with(1);
	struct gengc_type st = { .name = "spread", .size = sizeof(struct spread), .n_pointers = 2,
				 .pointer_offsets = spread_offsets };
	uint32_t t = node_type(h), s;
	void **head = gengc_handle(h, NULL), **chain = gengc_handle(h, NULL);

	REQUIRE(gengc_type_register(h, &st, &s) == 0);
	for (uint64_t i = 0; i < 2000; i++) {
		struct spread *x = gengc_alloc(h, s);
		struct node *n = new_node(h, t, 0);

		REQUIRE(x && n);
		x->x = i;
		x->y = ~i;
		gengc_write(h, x, &x->b, *head);
		gengc_write(h, x, &x->a, n);
		/* data words that look like a young pointer must stay as they are */
		n->val = (uint64_t)(uintptr_t)x;
		*head = x;
		gengc_write(h, n, &n->a, *chain);
		*chain = n;
	}
	gengc_collect(h, GENGC_GC_SCAVENGE);
	gengc_collect(h, GENGC_GC_SCAVENGE);    /* promoted */
	gengc_collect(h, GENGC_GC_MARK_COMPACT);
	check_verify(h);
	uint64_t i = 2000, bad = 0;
	for (struct spread *x = *head; x; x = x->b) {
		i--;
		bad += x->x != i || x->y != ~i || !x->a;
	}
	CHECK_EQ(i, 0);
	CHECK_EQ(bad, 0);
	uint64_t n_chain = 0;
	for (struct node *n = *chain; n; n = n->a)
		n_chain++;
	CHECK_EQ(n_chain, 2000);
	/* The last x moved twice; the data word holding its first address was
	 * not taken for a pointer and updated. */
	CHECK(((struct node *)*chain)->val != (uint64_t)(uintptr_t)*head);
	CHECK(((struct node *)*chain)->val != 0);
	gengc_heap_free(h);
}

/* gengc_alloc_size() takes any size >= the type's registered size, and
 * gives the same answer on the inline path and the slow one: a 12-byte
 * type (stored as 16) allocated with its own size, a variable type with a
 * pointer at offset 8 given 12 bytes (16 after rounding). */
static void test_alloc_size_takes_the_registered_size(void)
{
	static const uint32_t at8[] = { 8 };
	struct gengc_type t12 = { .name = "twelve", .size = 12 };
	struct gengc_type v8 = { .name = "var8", .n_pointers = 1, .pointer_offsets = at8 };
	struct gengc_options o;

	for (uint32_t stress = 0; stress < 2; stress++) {       /* 1: every allocation is slow */
		gengc_options_init(&o);
		o.stress = stress;
		o.verify = 1;
		struct gengc_heap *h = gengc_heap_new(&o);
		uint32_t a, b;
		void *p;

		REQUIRE(gengc_type_register(h, &t12, &a) == 0 && gengc_type_register(h, &v8, &b) == 0);
		p = gengc_alloc_size(h, a, 12);
		CHECK(p != NULL);
		if (p)
			CHECK_EQ(gengc_size(p), 16);
		p = gengc_alloc_size(h, b, 12);
		CHECK(p != NULL);
		if (p)
			CHECK_EQ(gengc_size(p), 16);
		CHECK(gengc_alloc_size(h, a, 8) == NULL);       /* smaller than the type */
		CHECK(gengc_alloc_size(h, b, 8) == NULL);       /* its pointer field does not fit */
		gengc_heap_free(h);
	}
}

/* A pointer offset that lies outside every object is a bad layout, also
 * where offset + 8 wraps in 32 bits: accepted, the collector would read
 * and write 4 GiB past the object. */
static void test_type_register_rejects_offsets_outside(void)
{
	static const uint32_t wraps[] = { 0xfffffff8u }, last[] = { 0xfffffff0u };
	struct gengc_heap *h = heap_with(1);
	struct gengc_type fixed = { .name = "fixed", .size = 16, .n_pointers = 1, .pointer_offsets = wraps };
	struct gengc_type var = { .name = "var", .n_pointers = 1, .pointer_offsets = wraps };
	uint32_t id = 12345;

	CHECK_EQ(gengc_type_register(h, &fixed, &id), -EINVAL);
	CHECK_EQ(gengc_type_register(h, &var, &id), -EINVAL);
	CHECK_EQ(id, 12345);                    /* ret_ written only on success */
	var.pointer_offsets = last;             /* the last word of the biggest object */
	CHECK_EQ(gengc_type_register(h, &var, &id), 0);
	CHECK(gengc_alloc_size(h, id, 64) == NULL);    /* smaller than its pointer field */
	gengc_heap_free(h);
}

static void test_barrier_old_to_young(void)
{
	struct gengc_heap *h = heap_with(0);
	uint32_t t = node_type(h);
	void **old = gengc_handle(h, new_node(h, t, 1));
	char msg[256];

	gengc_collect(h, GENGC_GC_SCAVENGE);            /* promoted */
	REQUIRE(stats(h).space[GENGC_SPACE_OLD].space_used_size == 32);
	struct node *y = new_node(h, t, 42);
	gengc_write(h, *old, &((struct node *)*old)->a, y); /* the only reference */
	gengc_collect(h, GENGC_GC_SCAVENGE);
	CHECK_EQ(((struct node *)*old)->a->val, 42);      /* found through the remembered set */
	check_verify(h);

	/* A store that bypasses the barrier is what the checker must catch. */
	struct node *y2 = new_node(h, t, 43);
	((struct node *)*old)->b = y2;
	CHECK_EQ(gengc_verify(h, msg, sizeof(msg)), -EUCLEAN);
	CHECK_CONTAINS(msg, "not remembered");
	gengc_write(h, *old, &((struct node *)*old)->b, ((struct node *)*old)->b);
	CHECK_EQ(gengc_verify(h, NULL, 0), 0);
	gengc_heap_free(h);
}

/* ---- sweep ----------------------------------------------------------------------- */
static uint32_t ptrs_type(struct gengc_heap *h)
{
	struct gengc_type t = { .name = "array", .flags = GENGC_TYPE_ALL_POINTERS };
	uint32_t id = 0;

	if (gengc_type_register(h, &t, &id) < 0)
		abort();
	return id;
}

/* Promotion takes runs of free cells at a time (a LAB per size class) and
 * every scavenge hands back what it did not use: the old space counts only
 * promoted objects, the next scavenge's promotions land in the cells right
 * after, and a cell freed by a sweep in the middle of a run is reused. */
static void test_promotion_runs_handed_back(void)
{
	struct gengc_heap *h = heap_with(0);
	uint32_t t = node_type(h), at = ptrs_type(h);
	void **arr = gengc_handle(h, gengc_alloc_size(h, at, 20 * 8));

	for (int i = 0; i < 10; i++)
		gengc_write(h, *arr, (void **)*arr + i, new_node(h, t, (uint64_t)i));
	gengc_collect(h, GENGC_GC_SCAVENGE);
	/* the array (one cell of a bigger class) and ten 32-byte cells */
	uint64_t arr_cell = stats(h).space[GENGC_SPACE_OLD].space_used_size - 10 * 32;
	CHECK(arr_cell >= 168 && arr_cell <= 256);
	check_verify(h);
	char *first = ((char **)*arr)[0], *tenth = ((char **)*arr)[9];
	for (int i = 10; i < 15; i++)
		gengc_write(h, *arr, (void **)*arr + i, new_node(h, t, (uint64_t)i));
	gengc_collect(h, GENGC_GC_SCAVENGE);
	CHECK_EQ(stats(h).space[GENGC_SPACE_OLD].space_used_size, 15 * 32 + arr_cell);
	CHECK(((char **)*arr)[10] == tenth + 32);       /* the next cell of the same run */
	check_verify(h);
	gengc_write(h, *arr, (void **)*arr + 0, NULL); /* free the first cell */
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK_EQ(stats(h).space[GENGC_SPACE_OLD].space_used_size, 14 * 32 + arr_cell);
	gengc_write(h, *arr, (void **)*arr + 15, new_node(h, t, 15));
	gengc_collect(h, GENGC_GC_SCAVENGE);
	CHECK(((char **)*arr)[15] == first);            /* swept cells are reused */
	CHECK_EQ(stats(h).space[GENGC_SPACE_OLD].space_used_size, 15 * 32 + arr_cell);
	for (int i = 1; i < 16; i++)
		CHECK_EQ(((struct node **)*arr)[i]->val, (uint64_t)i);
	check_verify(h);
	gengc_heap_free(h);
}

static void test_sweep_reuses_cells(void)
{
	struct gengc_heap *h = heap_with(0);
	uint32_t t = node_type(h), at = ptrs_type(h);
	const int n = 20000;
	void **arr = gengc_handle(h, gengc_alloc_size(h, at, n * 8));

	for (int i = 0; i < n; i++) {
		struct node *x = new_node(h, t, (uint64_t)i);

		gengc_write(h, *arr, (void **)*arr + i, x);
	}
	gengc_collect(h, GENGC_GC_SCAVENGE);                /* all promoted */
	uint64_t pages = stats(h).old_pages, used = stats(h).space[GENGC_SPACE_OLD].space_used_size;
	CHECK(pages >= 2);
	for (int i = 0; i < n; i += 2)
		((void **)*arr)[i] = NULL;
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK_EQ(stats(h).space[GENGC_SPACE_OLD].space_used_size, used - (uint64_t)(n / 2) * 32);
	for (int i = 0; i < n; i += 2) {
		struct node *x = new_node(h, t, (uint64_t)i + 1000000);

		gengc_write(h, *arr, (void **)*arr + i, x);
	}
	gengc_collect(h, GENGC_GC_SCAVENGE);                /* promoted into the freed cells */
	CHECK_EQ(stats(h).old_pages, pages);
	CHECK_EQ(stats(h).space[GENGC_SPACE_OLD].space_used_size, used);
	for (int i = 0; i < n; i++)
		CHECK_EQ(((struct node **)*arr)[i]->val, i % 2 ? (uint64_t)i : (uint64_t)i + 1000000);
	check_verify(h);
	gengc_heap_free(h);
}

/* ---- compaction ------------------------------------------------------------------- */
static void test_compaction_moves_and_releases_pages(void)
{
	struct gengc_options o;
	gengc_options_init(&o);
	o.promotion_age = 0;
	o.compact_threshold_pct = 100;          /* no automatic compaction */
	o.verify = 1;
	struct gengc_heap *h = gengc_heap_new(&o);
	uint32_t t = node_type(h), at = ptrs_type(h);
	const int n = 50000;
	struct gengc_scope s;

	gengc_scope_open(h, &s);
	void **arr = gengc_handle(h, gengc_alloc_size(h, at, n * 8));
	for (int i = 0; i < n; i++)
		gengc_write(h, *arr, (void **)*arr + i, new_node(h, t, (uint64_t)i));
	gengc_collect(h, GENGC_GC_SCAVENGE);
	void **kept[8];
	for (int i = 0; i < 8; i++)
		kept[i] = gengc_handle(h, ((void **)*arr)[i * 1000]);
	for (int i = 0; i < n; i++)             /* keep one in ten; link them */
		if (i % 10)
			((void **)*arr)[i] = NULL;
		else if (i + 10 < n)
			gengc_write(h, ((void **)*arr)[i], &((struct node **)*arr)[i]->a, ((void **)*arr)[i + 10]);
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	uint64_t pages_before = stats(h).old_pages;
	void *addr_before = *kept[3];
	gengc_collect(h, GENGC_GC_MARK_COMPACT);
	uint64_t pages_after = stats(h).old_pages;
	printf("  old space pages: %llu before compaction, %llu after\n",
	       (unsigned long long)pages_before, (unsigned long long)pages_after);
	CHECK(pages_after * 4 < pages_before);
	CHECK(*kept[3] != addr_before);         /* moved, and the handle followed */
	for (int i = 0; i < 8; i++)
		CHECK_EQ(((struct node *)*kept[i])->val, (uint64_t)i * 1000);
	for (int i = 0; i < n; i += 10) {
		struct node *x = ((struct node **)*arr)[i];

		CHECK_EQ(x->val, (uint64_t)i);
		if (i + 10 < n)
			CHECK(x->a == ((struct node **)*arr)[i + 10]);
	}
	CHECK_EQ(stats(h).gc[GENGC_GC_MARK_COMPACT].count, 1);
	check_verify(h);
	gengc_scope_close(h, &s);
	gengc_heap_free(h);
}

/* ---- incremental marking ------------------------------------------------------------- */
static void nop_fin(void *obj, void *ctx)
{
	(void)obj; (void)ctx;
}

/* The classic lost object: X moves from a chain not yet scanned into B,
 * already scanned (black), and the chain's edge to X is cut. Only the
 * insertion barrier in gengc_write keeps X alive. */
/* A heap in incremental marking, one object per step, with a chain C -> D
 * -> X (val 42) and B (val 3), all old; one step has scanned B, which is
 * black. c->h stays NULL when a step of it failed (REQUIRE returns here). */
struct marking_case {
	struct gengc_heap *h;
	uint32_t t;
	void **chain, **b;
};

static void marking_case_start(struct marking_case *c)
{
	*c = (struct marking_case){ 0 };
	struct gengc_options o;
	gengc_options_init(&o);
	o.promotion_age = 0;
	o.initial_old_space_size = 1;           /* marking starts at 0.5 MiB */
	o.incremental_marking = 1;
	o.marking_step = 1;                     /* one object per step */
	o.verify = 1;
	struct gengc_heap *h = gengc_heap_new(&o);
	uint32_t t = node_type(h), at = ptrs_type(h), ft;
	struct gengc_type fin = { .name = "fin", .size = 8, .finalize = nop_fin };

	REQUIRE(gengc_type_register(h, &fin, &ft) == 0);
	void **weight = gengc_handle(h, gengc_alloc_size(h, at, 80000 * 8)); /* large: old at once */
	void **chain = gengc_handle(h, new_node(h, t, 1));                     /* C -> D -> X */
	struct node *d = new_node(h, t, 2);
	gengc_write(h, *chain, &((struct node *)*chain)->a, d);
	struct node *x = new_node(h, t, 42);
	d = ((struct node *)*chain)->a;
	gengc_write(h, d, &d->a, x);
	void **b = gengc_handle(h, new_node(h, t, 3));                         /* top of the mark stack */
	REQUIRE(*weight);

	gengc_collect(h, GENGC_GC_SCAVENGE);    /* promotes all; old space past 0.5 MiB: marking starts */
	REQUIRE(stats(h).incremental_marking_cycles == 1);
	REQUIRE(gengc_alloc(h, ft));            /* a slow-path allocation: one step, scans B */
	REQUIRE(stats(h).marking_steps == 1);
	*c = (struct marking_case){ h, t, chain, b };
}

static void test_incremental_marking_barrier(void)
{
	struct marking_case c;

	marking_case_start(&c);
	REQUIRE(c.h);
	struct gengc_heap *h = c.h;
	struct node *d = ((struct node *)*c.chain)->a, *x = d->a;
	gengc_write(h, *c.b, &((struct node *)*c.b)->b, x);   /* X into black B ... */
	gengc_write(h, d, &d->a, NULL);                       /* ... and out of the chain */
	gengc_collect(h, GENGC_GC_MARK_SWEEP);  /* the final pause */
	CHECK_EQ(stats(h).incremental_marking_cycles, 1);
	CHECK_EQ(((struct node *)*c.b)->b->val, 42);
	check_verify(h);
	gengc_collect(h, GENGC_GC_MARK_SWEEP);  /* atomic: X still reachable, still there */
	CHECK_EQ(((struct node *)*c.b)->b->val, 42);
	gengc_heap_free(h);
}

/* A store into a young object does no marking (gengc_write's one compare):
 * an old X moved during marking into a young Y, and out of the chain that
 * reached it, must still survive the final pause, which traverses the young
 * generation. Y reached from black B, from B after Y's promotion in the
 * middle of the cycle (mark_promoted), or from a handle only. */
enum young_holder { HELD_BY_BLACK, HELD_BY_BLACK_PROMOTED, HELD_BY_HANDLE };

static void young_holder_case(enum young_holder how)
{
	struct marking_case c;

	marking_case_start(&c);
	REQUIRE(c.h);
	struct gengc_heap *h = c.h;
	void **y = gengc_handle(h, new_node(h, c.t, 7));  /* young Y */
	if (how != HELD_BY_HANDLE)
		gengc_write(h, *c.b, &((struct node *)*c.b)->b, *y);
	struct node *d = ((struct node *)*c.chain)->a, *x = d->a;
	gengc_write(h, *y, &((struct node *)*y)->a, x);   /* X into young Y ... */
	gengc_write(h, d, &d->a, NULL);                   /* ... and out of the chain */
	if (how != HELD_BY_HANDLE)
		*y = NULL;                      /* Y only through B */
	if (how == HELD_BY_BLACK_PROMOTED) {
		gengc_collect(h, GENGC_GC_SCAVENGE);
		REQUIRE(stats(h).incremental_marking_cycles == 1);
	}
	gengc_collect(h, GENGC_GC_MARK_SWEEP);  /* the final pause */
	CHECK_EQ(stats(h).incremental_marking_cycles, 1);
	struct node *held = how == HELD_BY_HANDLE ? *y : ((struct node *)*c.b)->b;
	REQUIRE(held && held->a);
	CHECK_EQ(held->val, 7);
	CHECK_EQ(held->a->val, 42);
	check_verify(h);
	gengc_heap_free(h);
}

static void test_incremental_marking_young_holder(void)
{
	young_holder_case(HELD_BY_BLACK);
	young_holder_case(HELD_BY_BLACK_PROMOTED);
	young_holder_case(HELD_BY_HANDLE);
}

static uint32_t first_full_reason = 99;
static void note_full(struct gengc_heap *h, const struct gengc_gc_event *ev, void *ctx)
{
	(void)h; (void)ctx;
	if (ev->kind != GENGC_GC_SCAVENGE && first_full_reason == 99)
		first_full_reason = ev->reason;
}

/* Marking runs in steps between the mutator's allocations; a pause finishes it. */
static void test_incremental_marking_finishes_with_a_pause(void)
{
	struct gengc_options o;
	gengc_options_init(&o);
	o.initial_old_space_size = 2;
	o.incremental_marking = 1;
	o.marking_step = 1024;
	o.verify = 1;
	struct gengc_heap *h = gengc_heap_new(&o);
	uint32_t t = node_type(h);
	void **list = gengc_handle(h, NULL);
	struct gengc_stats s;
	long i, n = 0;

	first_full_reason = 99;
	gengc_set_gc_done_callback(h, note_full, NULL);
	for (i = 0; i < 4000000; i++) {         /* a growing list: promoted, old space grows */
		struct node *x = new_node(h, t, (uint64_t)i);

		if (i % 4 == 0) {
			gengc_write(h, x, &x->a, *list);
			*list = x;
		}
		if (i % 10000 == 0 && stats(h).full_gcs)
			break;
	}
	gengc_stats_read(h, &s);
	CHECK_EQ(s.incremental_marking_cycles, 1);
	CHECK(s.marking_steps > 10);
	CHECK_EQ(s.full_gcs, 1);
	CHECK_EQ(first_full_reason, GENGC_REASON_MARKING_DONE);
	for (struct node *p = *list; p; p = p->a, n++)
		CHECK_EQ(p->val % 4, 0);
	CHECK_EQ(n, (i + 4) / 4);
	gengc_heap_free(h);
}

/* ---- roots -------------------------------------------------------------------------- */
static void test_handles_updated_after_moves(void)
{
	struct gengc_heap *h = heap_with(1);
	uint32_t t = node_type(h);
	struct gengc_scope outer, inner;
	void **esc, **many[3000];

	gengc_scope_open(h, &outer);
	gengc_scope_open_escapable(h, &inner);
	for (int i = 0; i < 3000; i++)          /* spans several handle blocks */
		many[i] = gengc_handle(h, new_node(h, t, (uint64_t)i));
	gengc_collect(h, GENGC_GC_SCAVENGE);
	for (int i = 0; i < 3000; i++)
		CHECK_EQ(((struct node *)*many[i])->val, (uint64_t)i);
	esc = gengc_scope_escape(&inner, *many[1234]);
	gengc_scope_close(h, &inner);
	void *before = *esc;
	gengc_collect(h, GENGC_GC_SCAVENGE);
	gengc_collect(h, GENGC_GC_MARK_COMPACT);
	CHECK(*esc != before);
	CHECK_EQ(((struct node *)*esc)->val, 1234);
	CHECK_EQ(stats(h).space[GENGC_SPACE_OLD].space_used_size, 32); /* the others died */
	check_verify(h);
	gengc_scope_close(h, &outer);

	static void *global;
	global = new_node(h, t, 77);
	CHECK_EQ(gengc_root_add(h, &global), 0);
	CHECK_EQ(gengc_root_add(h, &global), -EEXIST);
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK_EQ(((struct node *)global)->val, 77);
	CHECK_EQ(gengc_root_remove(h, &global), 0);
	CHECK_EQ(gengc_root_remove(h, &global), -ENOENT);
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK_EQ(stats(h).space[GENGC_SPACE_OLD].space_used_size, 0);
	gengc_heap_free(h);
}

static void test_weak_refs_cleared(void)
{
	struct gengc_heap *h = heap_with(0);
	uint32_t t = node_type(h);
	void **keep = gengc_handle(h, new_node(h, t, 1));
	struct gengc_weak *wk = gengc_weak_new(h, *keep);
	struct gengc_weak *wd = gengc_weak_new(h, new_node(h, t, 2));

	gengc_collect(h, GENGC_GC_SCAVENGE);
	CHECK(gengc_weak_get(wk) == *keep);     /* followed the move */
	CHECK(gengc_weak_get(wd) == NULL);      /* young target died */
	struct gengc_weak *wo = gengc_weak_new(h, *keep);
	*keep = NULL;
	gengc_collect(h, GENGC_GC_SCAVENGE);
	CHECK(gengc_weak_get(wo) != NULL);      /* old: only a full GC decides */
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK(gengc_weak_get(wo) == NULL);
	CHECK(gengc_weak_get(wk) == NULL);
	gengc_weak_free(h, wk);
	gengc_weak_free(h, wd);
	gengc_weak_free(h, wo);
	CHECK(gengc_weak_free(h, NULL) == NULL);
	gengc_heap_free(h);
}

/* A full GC marks young objects in place (bits beside the young space, not
 * in headers): live ones keep address and contents, dead ones are cleared
 * from weak references, old and large objects reachable only from young
 * ones survive, and a second full GC (no stale bits) agrees. */
static void test_full_gc_marks_young_in_place(void)
{
	struct gengc_heap *h = heap_with(15);   /* nothing promoted by the scavenges */
	uint32_t t = node_type(h), at = ptrs_type(h);
	void **root = gengc_handle(h, new_node(h, t, 0));
	void **big = gengc_handle(h, gengc_alloc_size(h, at, 40000 * 8));
	struct gengc_weak *dead[64], *live[64];

	REQUIRE(*root && *big);
	for (int i = 0; i < 64; i++) {
		struct node *x = new_node(h, t, (uint64_t)i + 100);

		dead[i] = gengc_weak_new(h, new_node(h, t, (uint64_t)i));
		gengc_write(h, x, &x->a, *root);        /* a young -> young edge */
		gengc_write(h, *root, &((struct node *)*root)->b, x);
		live[i] = gengc_weak_new(h, x);
		REQUIRE(dead[i] && live[i]);
	}
	/* The large (old) object is reachable only from a young one. */
	gengc_write(h, *root, &((struct node *)*root)->a, *big);
	void *big_addr = *big;
	*big = NULL;
	void *root_addr = *root;

	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	check_verify(h);
	CHECK(*root == root_addr);                      /* not moved */
	CHECK(((struct node *)*root)->a == big_addr);
	CHECK_EQ(stats(h).space[GENGC_SPACE_LARGE_OBJECT].space_used_size, 40000 * 8 + 8);
	CHECK_EQ(((struct node *)((struct node *)*root)->b)->val, 163);
	for (int i = 0; i < 64; i++) {
		CHECK(gengc_weak_get(dead[i]) == NULL);
		CHECK(gengc_weak_get(live[i]) == (i == 63 ? ((struct node *)*root)->b : NULL));
	}
	gengc_collect(h, GENGC_GC_MARK_SWEEP);          /* bits were cleared: same verdict */
	check_verify(h);
	CHECK(*root == root_addr);
	CHECK(gengc_weak_get(live[63]) == ((struct node *)*root)->b);
	CHECK_EQ(stats(h).space[GENGC_SPACE_LARGE_OBJECT].space_used_size, 40000 * 8 + 8);
	gengc_collect(h, GENGC_GC_SCAVENGE);            /* the survivors still scavenge cleanly */
	check_verify(h);
	CHECK(((struct node *)*root)->a == big_addr);
	CHECK_EQ(((struct node *)((struct node *)*root)->b)->val, 163);
	((struct node *)*root)->a = NULL;               /* young holder: no barrier needed for NULL */
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK_EQ(stats(h).space[GENGC_SPACE_LARGE_OBJECT].space_used_size, 0);
	for (int i = 0; i < 64; i++) {
		gengc_weak_free(h, dead[i]);
		gengc_weak_free(h, live[i]);
	}
	gengc_heap_free(h);
}

/* Marking walks big heaps in two orders (depth-first, or through a
 * prefetch pipeline), picked by timing blocks of objects: whichever runs,
 * exactly the reachable objects are marked. A random graph of N nodes,
 * old and then young, checked against a breadth-first count done here. */
static uint64_t last_marked;
static void record_marked(struct gengc_heap *h, const struct gengc_gc_event *ev, void *ctx)
{
	(void)h; (void)ctx;
	if (ev->kind != GENGC_GC_SCAVENGE)
		last_marked = ev->marked_objects;
}

static void check_random_graph(uint32_t promotion_age)
{
	enum { N = 30000 };
	struct gengc_heap *h = heap_with(promotion_age);
	uint32_t t = node_type(h), at = ptrs_type(h);
	static uint32_t edge[N][2], queue[N];
	static uint8_t seen[N];
	uint64_t r = 0x9e3779b97f4a7c15ull;
	uint32_t qh = 0, qt = 0;

	gengc_set_gc_done_callback(h, record_marked, NULL);
	void **arr = gengc_handle(h, gengc_alloc_size(h, at, N * 8));
	REQUIRE(*arr);
	for (uint32_t i = 0; i < N; i++)
		gengc_write(h, *arr, (void **)*arr + i, new_node(h, t, i));
	if (promotion_age < 15) {               /* make them old */
		gengc_collect(h, GENGC_GC_SCAVENGE);
		gengc_collect(h, GENGC_GC_SCAVENGE);
	}
	for (uint32_t i = 0; i < N; i++) {
		struct node *x = ((struct node **)*arr)[i];

		for (int k = 0; k < 2; k++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			/* a quarter of the slots stay NULL, so part of the graph is garbage */
			edge[i][k] = r % 4 ? (uint32_t)(r >> 8) % N : UINT32_MAX;
			gengc_write(h, x, k ? &x->b : &x->a,
				    edge[i][k] == UINT32_MAX ? NULL : ((struct node **)*arr)[edge[i][k]]);
		}
	}
	memset(seen, 0, sizeof(seen));
	seen[0] = 1;
	queue[qt++] = 0;
	while (qh < qt)
		for (int k = 0, i = (int)queue[qh++]; k < 2; k++)
			if (edge[i][k] != UINT32_MAX && !seen[edge[i][k]]) {
				seen[edge[i][k]] = 1;
				queue[qt++] = edge[i][k];
			}
	void **root = gengc_handle(h, ((void **)*arr)[0]);
	*arr = NULL;
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK_EQ(last_marked, (uint64_t)qt);
	check_verify(h);
	gengc_collect(h, GENGC_GC_MARK_SWEEP);  /* a second cycle chooses again: same answer */
	CHECK_EQ(last_marked, (uint64_t)qt);
	CHECK_EQ(((struct node *)*root)->val, 0);
	CHECK(qt > N / 4 && qt < N);            /* the graph is neither all garbage nor all live */
	gengc_heap_free(h);
}

static void test_marking_orders_agree(void)
{
	check_random_graph(1);                  /* old objects */
	check_random_graph(15);                 /* young objects, marked in place */
}

static int fin_count[200];
static void count_fin(void *obj, void *ctx)
{
	(void)ctx;
	fin_count[((struct node *)obj)->val]++;
}

static void test_finalizers_run_once(void)
{
	struct gengc_heap *h = heap_with(1);
	struct gengc_type ft = { .name = "fin", .size = sizeof(struct node), .n_pointers = 2,
				 .pointer_offsets = node_offsets, .finalize = count_fin };
	uint32_t t, at = ptrs_type(h);
	int total = 0;

	memset(fin_count, 0, sizeof(fin_count));
	REQUIRE(gengc_type_register(h, &ft, &t) == 0);
	void **arr = gengc_handle(h, gengc_alloc_size(h, at, 200 * 8));
	for (int i = 0; i < 200; i++) {
		struct node *x = new_node(h, t, (uint64_t)i);

		if (i % 2)
			gengc_write(h, *arr, (void **)*arr + i, x);
	}
	gengc_collect(h, GENGC_GC_SCAVENGE);
	for (int i = 0; i < 200; i++)
		CHECK_EQ(fin_count[i], i % 2 ? 0 : 1);
	gengc_collect(h, GENGC_GC_SCAVENGE);     /* promoted now */
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	for (int i = 1; i < 200; i += 4)
		((void **)*arr)[i] = NULL;
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	gengc_collect(h, GENGC_GC_MARK_COMPACT);
	for (int i = 0; i < 200; i++) {
		CHECK_EQ(fin_count[i], i % 2 == 0 || i % 4 == 1 ? 1 : 0);
		total += fin_count[i];
	}
	CHECK_EQ(total, 150);
	check_verify(h);
	gengc_heap_free(h);                     /* the survivors are finalized with the heap */
	for (int i = 0; i < 200; i++)
		CHECK_EQ(fin_count[i], 1);
}

/* gengc_heap_free() runs the pending finalizers: they are as much "inside a
 * collection" there as in a GC, so collecting from one is refused, not run
 * over a heap being torn down (double finalization, freed memory). */
static struct gengc_heap *fin_heap;
static int fin_collect_rc;
static void fin_tries_collect(void *obj, void *ctx)
{
	(void)obj; (void)ctx;
	fin_collect_rc = gengc_collect(fin_heap, GENGC_GC_SCAVENGE);
}

static void test_finalizer_at_heap_free_cannot_collect(void)
{
	struct gengc_heap *h = heap_with(1);
	struct gengc_type ft = { .name = "fin", .size = sizeof(struct node), .finalize = fin_tries_collect };
	uint32_t t;

	REQUIRE(gengc_type_register(h, &ft, &t) == 0);
	fin_heap = h;
	fin_collect_rc = 1;
	gengc_handle(h, gengc_alloc(h, t));     /* still alive when the heap goes */
	gengc_heap_free(h);
	CHECK_EQ(fin_collect_rc, -EBUSY);
}

static void test_large_objects_do_not_move(void)
{
	struct gengc_heap *h = heap_with(0);
	uint32_t t = node_type(h), at = ptrs_type(h);
	void **big = gengc_handle(h, gengc_alloc_size(h, at, 40000 * 8));
	void **raw = gengc_handle(h, gengc_alloc_raw(h, 1 << 20));
	void *big_addr = *big;

	REQUIRE(*big && *raw);
	memset(*raw, 0xab, 1 << 20);
	CHECK(stats(h).space[GENGC_SPACE_LARGE_OBJECT].space_used_size >= (40000 + 131072) * 8);
	CHECK_EQ(stats(h).space[GENGC_SPACE_NEW].space_used_size, 0);
	for (int i = 0; i < 40000; i += 97)    /* old (large) -> young through the barrier */
		gengc_write(h, *big, (void **)*big + i, new_node(h, t, (uint64_t)i));
	gengc_collect(h, GENGC_GC_SCAVENGE);
	gengc_collect(h, GENGC_GC_MARK_COMPACT);
	CHECK(*big == big_addr);
	for (int i = 0; i < 40000; i += 97)
		CHECK_EQ(((struct node **)*big)[i]->val, (uint64_t)i);
	CHECK_EQ(((unsigned char *)*raw)[12345], 0xab);
	check_verify(h);
	*raw = NULL;
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK(stats(h).space[GENGC_SPACE_LARGE_OBJECT].space_used_size < (1 << 20));
	gengc_heap_free(h);
}

/* ---- limits (in a child: the out-of-memory path ends the process) --------------------- */
static int near_calls;
static uint32_t raise_once(struct gengc_heap *h, uint32_t limit_mib, uint32_t used_mib, void *ctx)
{
	(void)h; (void)ctx;
	printf("near-limit %u MiB used %u MiB\n", limit_mib, used_mib);
	fflush(stdout);
	return near_calls++ ? limit_mib : limit_mib + 2;
}

static void oom_exit(struct gengc_heap *h, const char *report, void *ctx)
{
	struct gengc_space_statistics o, l;

	(void)ctx;
	gengc_space_statistics(h, GENGC_SPACE_OLD, &o);
	gengc_space_statistics(h, GENGC_SPACE_LARGE_OBJECT, &l);
	printf("oom: %s; committed %llu KiB\n", report, (unsigned long long)(o.space_size + l.space_size) / 1024);
	fflush(stdout);
	_exit(42);
}

static void leak_until_limit(int with_callbacks)
{
	struct gengc_options o;
	gengc_options_init(&o);
	o.max_old_space_size = 4;
	struct gengc_heap *h = gengc_heap_new(&o);
	uint32_t t = node_type(h);
	void **head = gengc_handle(h, NULL);

	if (with_callbacks) {
		gengc_set_near_limit_callback(h, raise_once, NULL);
		gengc_set_oom_callback(h, oom_exit, NULL);
	}
	for (uint64_t i = 0; i < 10000000; i++) {   /* a leak: everything stays reachable */
		struct node *n = new_node(h, t, i);

		if (!n)
			_exit(3);
		gengc_write(h, n, &n->a, *head);
		*head = n;
		if (i % 4096 == 0)
			gengc_alloc_raw(h, 200000);         /* large garbage too */
	}
	_exit(4);                                       /* never reached the limit: wrong */
}

static int run_child(int with_callbacks, char *out, size_t out_len, int *status)
{
	int fds[2];
	pid_t pid;
	size_t got = 0;
	ssize_t r;

	fflush(stdout);
	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		leak_until_limit(with_callbacks);
	}
	close(fds[1]);
	while (got + 1 < out_len && (r = read(fds[0], out + got, out_len - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = 0;
	close(fds[0]);
	waitpid(pid, status, 0);
	return 0;
}

static void test_limit_near_then_oom_callback(void)
{
	char out[4096];
	int st;
	unsigned long long kib = 0;

	REQUIRE(run_child(1, out, sizeof(out), &st) == 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
	CHECK_CONTAINS(out, "near-limit 4 MiB");
	CHECK_CONTAINS(out, "near-limit 6 MiB");
	CHECK_CONTAINS(out, "oom: heap limit reached: old space ");
	CHECK_CONTAINS(out, "MiB of 6 MiB after ");
	CHECK(strstr(out, "near-limit 4") < strstr(out, "oom:"));
	const char *c = strstr(out, "committed ");
	CHECK(c && sscanf(c, "committed %llu", &kib) == 1);
	CHECK(kib <= (6 + 1 + 1) * 1024);       /* limit + one semispace + a page: bounded */
}

/* Large objects are checked against the limit with the pages they really
 * take (page header included): with no young objects to promote, the old
 * space never passes max_old_space_size. */
static int oom_returns_calls;
static void oom_returns(struct gengc_heap *h, const char *report, void *ctx)
{
	(void)h; (void)report; (void)ctx;
	oom_returns_calls++;
}

static void test_limit_counts_large_object_pages(void)
{
	static const size_t sizes[] = { 4 * 262144 - 100, 4 * 262144 - 100, 4 * 262144 - 100, 262144 - 100 };
	struct gengc_options o;
	gengc_options_init(&o);
	o.max_old_space_size = 4;
	struct gengc_heap *h = gengc_heap_new(&o);
	struct gengc_space_statistics old, large;

	oom_returns_calls = 0;
	gengc_set_oom_callback(h, oom_returns, NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = gengc_alloc_raw(h, sizes[i]);

		gengc_handle(h, p);             /* all kept */
		gengc_space_statistics(h, GENGC_SPACE_OLD, &old);
		gengc_space_statistics(h, GENGC_SPACE_LARGE_OBJECT, &large);
		CHECK(old.space_size + large.space_size <= 4 * 1024 * 1024);
		CHECK((p == NULL) == (oom_returns_calls > 0));
	}
	CHECK(oom_returns_calls > 0);
	gengc_heap_free(h);
}

static void test_limit_default_oom_aborts(void)
{
	char out[4096];
	int st;

	REQUIRE(run_child(0, out, sizeof(out), &st) == 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	CHECK_CONTAINS(out, "gengc: heap limit reached: old space ");
	CHECK_CONTAINS(out, "of 4 MiB after ");
}

/* ---- options, stats, checker, stress switch ----------------------------------------------- */
static char logged[1024];
static void capture_log(void *ctx, const char *line)
{
	(void)ctx;
	if (strlen(logged) + strlen(line) + 2 < sizeof(logged)) {
		strcat(logged, line);
		strcat(logged, "\n");
	}
}

static void test_environment_read_once(void)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct gengc_options o;
		int ok;

		gengc_set_log_callback(capture_log, NULL);
		setenv("GENGC_MAX_OLD_SPACE_SIZE", "64", 1);
		setenv("GENGC_MAX_SEMI_SPACE_SIZE", "lots", 1);
		setenv("GENGC_PROMOTION_AGE", "0", 1);
		gengc_options_init(&o);
		ok = o.max_old_space_size == 64 && o.max_semi_space_size == GENGC_DEFAULT_MAX_SEMI_SPACE_SIZE_MIB &&
		     o.promotion_age == 0 && strstr(logged, "ignoring GENGC_MAX_SEMI_SPACE_SIZE=\"lots\"") &&
		     !strstr(logged, "OLD_SPACE");
		setenv("GENGC_MAX_OLD_SPACE_SIZE", "128", 1);   /* read once: no effect now */
		gengc_options_init(&o);
		ok = ok && o.max_old_space_size == 64;
		_exit(ok ? 0 : 1);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
}

static int events;
static uint64_t event_pause_sum;
static void on_gc(struct gengc_heap *h, const struct gengc_gc_event *ev, void *ctx)
{
	(void)h; (void)ctx;
	events++;
	event_pause_sum += ev->pause_ns;
	if (ev->kind > GENGC_GC_MARK_COMPACT || ev->heap_used_after_bytes > ev->heap_used_before_bytes + ev->promoted_bytes)
		events += 1000;
}

static void test_stats_and_callbacks(void)
{
	struct gengc_options o;
	gengc_options_init(&o);
	o.trace_gc = 1;
	struct gengc_heap *h = gengc_heap_new(&o);
	uint32_t t = node_type(h);
	struct gengc_memory_usage mu;
	struct gengc_heap_statistics hs;
	struct gengc_space_statistics ss;
	struct gengc_stats s;
	uint64_t hist = 0, total = 0;

	logged[0] = 0;
	gengc_set_log_callback(capture_log, NULL);
	gengc_set_gc_done_callback(h, on_gc, NULL);
	events = 0;
	event_pause_sum = 0;
	void **keep = gengc_handle(h, NULL);
	for (int i = 0; i < 200000; i++) {       /* several scavenges */
		struct node *n = new_node(h, t, (uint64_t)i);

		if (i % 100 == 0) {
			gengc_write(h, n, &n->a, *keep);
			*keep = n;
		}
	}
	gengc_collect(h, GENGC_GC_SCAVENGE);      /* promote the kept ones (age 1) */
	gengc_collect(h, GENGC_GC_SCAVENGE);
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	gengc_set_log_callback(NULL, NULL);
	gengc_stats_read(h, &s);
	CHECK_EQ(s.version, GENGC_STATS_VERSION);
	CHECK_EQ(s.size, sizeof(s));
	CHECK(s.gc[GENGC_GC_SCAVENGE].count >= 3);
	CHECK_EQ(s.gc[GENGC_GC_MARK_SWEEP].count + s.gc[GENGC_GC_MARK_COMPACT].count, 1);
	CHECK_EQ(s.full_gcs, 1);
	CHECK_EQ((uint64_t)events, s.gc[0].count + s.gc[1].count + s.gc[2].count);
	for (int k = 0; k < GENGC_GC_KINDS; k++) {
		for (int b = 0; b < GENGC_PAUSE_BUCKETS; b++)
			hist += s.gc[k].pause_histogram[b];
		total += s.gc[k].total_pause_ns;
	}
	CHECK_EQ(hist, (uint64_t)events);
	CHECK_EQ(total, event_pause_sum);
	CHECK(s.gc[GENGC_GC_SCAVENGE].bytes_freed > 0);
	CHECK_EQ(s.old_used_after_full_gc, 2000 * 32);
	CHECK_EQ(s.old_used_after_full_gc_history[GENGC_FULL_GC_HISTORY - 1], 2000 * 32);
	CHECK(s.allocated_bytes >= 200000 * 32);
	CHECK_CONTAINS(logged, " ms: Scavenge ");
	CHECK_CONTAINS(logged, "allocation failure");
	CHECK_CONTAINS(logged, "Mark-");

	CHECK_EQ(gengc_memory_usage(h, &mu), 0);
	CHECK(mu.rss > 0);
	CHECK(mu.heap_used <= mu.heap_total);
	CHECK_EQ(gengc_adjust_external(h, 1000), 1000);
	CHECK_EQ(gengc_adjust_external(h, -400), 600);
	gengc_memory_usage(h, &mu);
	CHECK_EQ(mu.external, 600);
	/* Absurd deltas saturate instead of wrapping (signed overflow). */
	CHECK(gengc_adjust_external(h, INT64_MAX) == INT64_MAX);
	CHECK(gengc_adjust_external(h, -INT64_MAX) == 0);
	CHECK_EQ(gengc_adjust_external(h, 600), 600);
	CHECK_EQ(gengc_heap_statistics(h, &hs), 0);
	CHECK(hs.used_heap_size <= hs.total_heap_size && hs.total_heap_size <= hs.heap_size_limit);
	CHECK_EQ(hs.total_available_size, hs.heap_size_limit - hs.used_heap_size);
	CHECK_EQ(gengc_space_statistics(h, GENGC_SPACE_OLD, &ss), 0);
	CHECK_EQ(ss.space_used_size, 2000 * 32);
	CHECK_EQ(ss.space_size, ss.space_used_size + ss.space_available_size + 
		 (ss.space_size - ss.space_used_size - ss.space_available_size)); /* headers are the rest */
	CHECK(ss.space_used_size + ss.space_available_size <= ss.space_size);
	CHECK_EQ(gengc_space_statistics(h, (enum gengc_space)7, &ss), -EINVAL);
	CHECK_STR(gengc_space_name(GENGC_SPACE_LARGE_OBJECT), "large_object_space");
	CHECK_STR(gengc_gc_kind_name(GENGC_GC_SCAVENGE), "Scavenge");
	CHECK_EQ(gengc_collect(h, (enum gengc_gc_kind)9), -EINVAL);
	gengc_heap_free(h);
}

/* The GC-done callback is a callback of the collection: gengc_collect()
 * from it is refused with -EBUSY (gengc.h), not run recursively (each
 * nested GC calling the callback again). */
static int done_depth, done_collect_rc;
static void collect_from_gc_done(struct gengc_heap *h, const struct gengc_gc_event *ev, void *ctx)
{
	(void)ev; (void)ctx;
	if (done_depth++ == 0)
		done_collect_rc = gengc_collect(h, GENGC_GC_MARK_SWEEP);
	done_depth--;
}

static void test_gc_done_callback_cannot_collect(void)
{
	struct gengc_heap *h = heap_with(1);

	done_depth = 0;
	done_collect_rc = 1;
	gengc_set_gc_done_callback(h, collect_from_gc_done, NULL);
	CHECK_EQ(gengc_collect(h, GENGC_GC_SCAVENGE), 0);
	CHECK_EQ(done_collect_rc, -EBUSY);
	CHECK_EQ(stats(h).gc[GENGC_GC_SCAVENGE].count, 1);
	CHECK_EQ(stats(h).full_gcs, 0);
	gengc_heap_free(h);
}

/* allocated_bytes counts each allocation once, however many GCs of which
 * kind come between the allocation and the reading. */
static void test_allocated_bytes_counted_once(void)
{
	struct gengc_heap *h = heap_with(1);

	for (int i = 0; i < 500; i++)           /* 504000 bytes: no scavenge */
		REQUIRE(gengc_alloc_raw(h, 1000));
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	gengc_collect(h, GENGC_GC_MARK_SWEEP);
	CHECK_EQ(stats(h).gc[GENGC_GC_SCAVENGE].count, 0);
	CHECK_EQ(stats(h).allocated_bytes, 500 * 1008);
	gengc_collect(h, GENGC_GC_MARK_COMPACT);
	gengc_collect(h, GENGC_GC_SCAVENGE);
	CHECK_EQ(stats(h).allocated_bytes, 500 * 1008);
	gengc_heap_free(h);
}

static void test_verify_catches_corruption(void)
{
	struct gengc_heap *h = heap_with(0);
	uint32_t t = node_type(h);
	void **a = gengc_handle(h, new_node(h, t, 1));
	char msg[256];

	gengc_collect(h, GENGC_GC_SCAVENGE);
	struct node *n = *a;
	uint64_t saved = ((uint64_t *)n)[-1];
	((uint64_t *)n)[-1] = 0xdeadbeef00ull;          /* a clobbered header */
	CHECK_EQ(gengc_verify(h, msg, sizeof(msg)), -EUCLEAN);
	CHECK_CONTAINS(msg, "bad header");
	((uint64_t *)n)[-1] = saved;
	n->a = (struct node *)((char *)n + 8);         /* an interior pointer */
	CHECK_EQ(gengc_verify(h, msg, sizeof(msg)), -EUCLEAN);
	CHECK_CONTAINS(msg, "inside an old cell");
	n->a = NULL;
	CHECK_EQ(gengc_verify(h, msg, sizeof(msg)), 0);
	gengc_heap_free(h);
}

static void test_stress_switch_collects_every_allocation(void)
{
	struct gengc_options o;
	gengc_options_init(&o);
	o.stress = 1;
	o.verify = 1;
	struct gengc_heap *h = gengc_heap_new(&o);
	uint32_t t = node_type(h);
	void **head = gengc_handle(h, NULL);

	for (int i = 0; i < 300; i++) {
		struct node *n = new_node(h, t, (uint64_t)i);

		gengc_write(h, n, &n->a, *head);
		*head = n;
	}
	CHECK(stats(h).gc[GENGC_GC_SCAVENGE].count + stats(h).full_gcs >= 300);
	int i = 299;
	for (struct node *n = *head; n; n = n->a, i--)
		CHECK_EQ(n->val, (uint64_t)i);
	CHECK_EQ(i, -1);
	gengc_heap_free(h);
}

/* ---- contracts gengc.h states ------------------------------------------------- */
/* A zero-size request gets one word: gengc_size() 8, and for an all-pointer
 * type a NULL pointer slot the collector traces. */
static void test_zero_size_gets_one_word(void)
{
	struct gengc_heap *h = heap_with(1);
	struct gengc_type vt = { .name = "vec", .flags = GENGC_TYPE_ALL_POINTERS };
	uint32_t vec, t = node_type(h);
	void **v, **keep = gengc_handle(h, NULL);
	void *raw = gengc_alloc_raw(h, 0);

	REQUIRE(gengc_type_register(h, &vt, &vec) == 0);
	REQUIRE(raw);
	CHECK_EQ(gengc_size(raw), 8);
	CHECK_EQ(gengc_type_of(raw), GENGC_TYPE_RAW);
	v = gengc_alloc_size(h, vec, 0);
	REQUIRE(v);
	CHECK_EQ(gengc_size(v), 8);
	CHECK(v[0] == NULL);
	*keep = v;
	struct node *n = new_node(h, t, 77);
	v = *keep;
	gengc_write(h, v, &v[0], n);            /* the slot is a pointer field: traced */
	CHECK_EQ(gengc_collect(h, GENGC_GC_SCAVENGE), 0);
	CHECK_EQ(gengc_collect(h, GENGC_GC_MARK_COMPACT), 0);
	v = *keep;
	CHECK(v[0] && ((struct node *)v[0])->val == 77);
	check_verify(h);
	gengc_heap_free(h);
}

/* heap_size_limit is V8's: the old-space limit plus the young generation's
 * maximum (two semispaces here). */
static void test_heap_size_limit_meaning(void)
{
	struct gengc_options o;
	struct gengc_heap *h;
	struct gengc_heap_statistics hs;

	gengc_options_init(&o);
	o.max_old_space_size = 44;
	o.max_semi_space_size = 16;
	h = gengc_heap_new(&o);
	REQUIRE(h);
	CHECK_EQ(gengc_heap_statistics(h, &hs), 0);
	CHECK_U64(hs.heap_size_limit, (uint64_t)(44 + 2 * 16) << 20);
	gengc_heap_free(h);
}

static int fin_live_count;
static void count_live_fin(void *obj, void *ctx)
{
	(void)obj;
	(void)ctx;
	fin_live_count++;
}

/* gengc_heap_free() finalizes live objects too, each once. */
static void test_heap_free_finalizes_live_objects(void)
{
	struct gengc_heap *h = heap_with(1);
	struct gengc_type ft = { .name = "fin", .size = 16, .finalize = count_live_fin };
	uint32_t t;
	static void *root;

	REQUIRE(gengc_type_register(h, &ft, &t) == 0);
	REQUIRE(gengc_root_add(h, &root) == 0);
	root = gengc_alloc(h, t);                       /* live, then old */
	CHECK_EQ(gengc_collect(h, GENGC_GC_MARK_SWEEP), 0);
	void **young = gengc_handle(h, gengc_alloc(h, t)); /* live, young */
	REQUIRE(*young);
	gengc_alloc(h, t);                              /* dead, never collected */
	fin_live_count = 0;
	CHECK_EQ(gengc_collect(h, GENGC_GC_SCAVENGE), 0);
	CHECK_EQ(fin_live_count, 1);                    /* the dead one */
	gengc_heap_free(h);
	CHECK_EQ(fin_live_count, 3);                    /* + the two live ones */
	root = NULL;
}

/* Writing a handle (*h = obj) makes it root the new object. */
static void test_handle_written_in_place(void)
{
	struct gengc_heap *h = heap_with(0);
	uint32_t t = node_type(h);
	void **hd = gengc_handle(h, new_node(h, t, 1));

	*hd = new_node(h, t, 2);                        /* the first becomes garbage */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(gengc_collect(h, i == 1 ? GENGC_GC_MARK_COMPACT : GENGC_GC_SCAVENGE), 0);
	CHECK(*hd && ((struct node *)*hd)->val == 2);
	check_verify(h);
	gengc_heap_free(h);
}

/* The GC-done callback sees a complete heap: gengc_verify() works there
 * (gengc_collect() does not: test_gc_done_callback_cannot_collect). */
static int done_verify_rc = 1;
static void verify_from_gc_done(struct gengc_heap *h, const struct gengc_gc_event *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
	done_verify_rc = gengc_verify(h, NULL, 0);
}

static void test_gc_done_callback_sees_a_complete_heap(void)
{
	struct gengc_heap *h = heap_with(1);
	uint32_t t = node_type(h);
	void **keep = gengc_handle(h, new_node(h, t, 5));

	gengc_set_gc_done_callback(h, verify_from_gc_done, NULL);
	CHECK_EQ(gengc_collect(h, GENGC_GC_SCAVENGE), 0);
	CHECK_EQ(done_verify_rc, 0);
	done_verify_rc = 1;
	CHECK_EQ(gengc_collect(h, GENGC_GC_MARK_SWEEP), 0);
	CHECK_EQ(done_verify_rc, 0);
	CHECK(((struct node *)*keep)->val == 5);
	gengc_heap_free(h);
}

/* Incremental marking starts at a quarter of initial_old_space_size: a
 * 3 MiB old generation marks with a 1 MiB initial size, not with the
 * default 16 MiB (4 MiB start), where no full GC is due either. */
static uint64_t marking_cycles_with(uint32_t initial_mib, uint32_t max_old_mib)
{
	struct gengc_options o;
	struct gengc_heap *h;
	uint64_t cycles;
	void **keep;

	gengc_options_init(&o);
	o.incremental_marking = 1;
	o.initial_old_space_size = initial_mib;
	o.max_old_space_size = max_old_mib;
	h = gengc_heap_new(&o);
	if (!h)
		return UINT64_MAX;
	uint32_t t = node_type(h);
	keep = gengc_handle(h, NULL);
	for (int i = 0; i < 90000; i++) {               /* 2.9 MB of 32-byte cells kept, in 30 lists */
		struct node *n = new_node(h, t, (uint64_t)i);

		if (i % 3000 == 0) {                    /* a new list: the old one lives on from n->b */
			gengc_write(h, n, &n->b, *keep);
			*keep = n;
		} else {
			struct node *head = *keep;

			gengc_write(h, n, &n->a, head->a);
			gengc_write(h, head, &head->a, n);
		}
		if (i % 20000 == 0)
			gengc_collect(h, GENGC_GC_SCAVENGE);
	}
	for (int i = 0; i < 8; i++)                     /* garbage: scavenges, marking steps */
		for (int j = 0; j < 40000; j++)
			new_node(h, t, 0);
	cycles = stats(h).incremental_marking_cycles;
	gengc_heap_free(h);
	return cycles;
}

static void test_incremental_marking_starts_by_initial_size(void)
{
	CHECK_EQ(marking_cycles_with(16, 2048), 0);
	CHECK_CMP(marking_cycles_with(1, 2048), >=, 1);
	/* An initial size above the limit is capped first: a quarter of 8 MiB. */
	CHECK_CMP(marking_cycles_with(64, 8), >=, 1);
}

int main(void)
{
	RUN(test_environment_read_once);
	RUN(test_scavenge_copies_and_forwards);
	RUN(test_promotion_after_age);
	RUN(test_fast_promotion_on_high_survival);
	RUN(test_promotion_runs_handed_back);
	RUN(test_offset_layouts);
	RUN(test_type_register_rejects_offsets_outside);
	RUN(test_alloc_size_takes_the_registered_size);
	RUN(test_barrier_old_to_young);
	RUN(test_sweep_reuses_cells);
	RUN(test_compaction_moves_and_releases_pages);
	RUN(test_incremental_marking_barrier);
	RUN(test_incremental_marking_young_holder);
	RUN(test_incremental_marking_finishes_with_a_pause);
	RUN(test_handles_updated_after_moves);
	RUN(test_weak_refs_cleared);
	RUN(test_full_gc_marks_young_in_place);
	RUN(test_marking_orders_agree);
	RUN(test_finalizers_run_once);
	RUN(test_finalizer_at_heap_free_cannot_collect);
	RUN(test_large_objects_do_not_move);
	RUN(test_limit_near_then_oom_callback);
	RUN(test_limit_default_oom_aborts);
	RUN(test_limit_counts_large_object_pages);
	RUN(test_stats_and_callbacks);
	RUN(test_allocated_bytes_counted_once);
	RUN(test_gc_done_callback_cannot_collect);
	RUN(test_verify_catches_corruption);
	RUN(test_stress_switch_collects_every_allocation);
	RUN(test_zero_size_gets_one_word);
	RUN(test_heap_size_limit_meaning);
	RUN(test_heap_free_finalizes_live_objects);
	RUN(test_handle_written_in_place);
	RUN(test_gc_done_callback_sees_a_complete_heap);
	RUN(test_incremental_marking_starts_by_initial_size);
	return test_done();
}
