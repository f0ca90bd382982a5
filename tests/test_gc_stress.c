/* SPDX-License-Identifier: MIT */
/* libgengc randomized stress: a mutator on random graphs checked against a model after thousands of GCs.
 *
 * The mutator builds and rewires trees, cycles and shared nodes, hangs raw
 * blobs and a large pointer array off them, and keeps weak references. A
 * model (plain C arrays indexed by node id) mirrors every edge. Checks:
 *  - after every GC the heap checker runs (opts.verify), also while
 *    incremental marking is under way (the old space starts at 1 MiB so
 *    marking cycles interleave with the mutator and with scavenges);
 *  - periodically, a walk of the heap from the roots and a walk of the model
 *    must visit the same ids with the same values, edges and blob bytes
 *    (and the same checksum): nothing reachable lost or changed;
 *  - after two full GCs in a row (the first may end incremental marking,
 *    which lets what died meanwhile float to the next), the finalizer
 *    (every node has one) must have run exactly once for every id the
 *    model says is unreachable and never for a reachable one: everything
 *    unreachable freed, nothing freed twice; a reachable object finalized
 *    after any GC is caught too;
 *  - weak references read NULL exactly when their target is unreachable.
 * Seed: random unless GENGC_STRESS_SEED is set; printed first. GENGC_SOAK=1
 * runs 20x longer (make soak-gc).
 */
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "gengc.h"
#include "test.h"

#define KIDS 4
#define ROOTS 64
#define BIG_SLOTS 20000          /* 160 KB: a large object */
#define MAX_WEAK 64

struct snode {
	struct snode *kid[KIDS];
	unsigned char *blob;
	uint64_t id;
	uint64_t value;
};
static const uint32_t snode_offsets[] = { 0, 8, 16, 24, 32 };

/* The model. */
static uint32_t max_ids;
static uint32_t *m_kid;          /* [id * KIDS + k] */
static uint64_t *m_value;
static uint32_t *m_blob_len;
static uint8_t *m_finalized;
static uint32_t *m_seen;         /* epoch marks */
static uint32_t epoch;
static uint32_t m_root[ROOTS];
static uint32_t *m_big;          /* BIG_SLOTS */
static uint32_t next_id = 1;
static uint32_t *stack;

static struct gengc_heap *heap;
static uint32_t t_node, t_ptrs;
static void *g_roots;            /* pointer array of ROOTS slots, a global root */
static void *g_big;              /* large pointer array, a global root */
static struct gengc_weak *weak[MAX_WEAK];
static uint32_t weak_id[MAX_WEAK];
static uint64_t rng;
static int failures;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void on_finalize(void *obj, void *ctx)
{
	struct snode *n = obj;

	(void)ctx;
	if (n->id == 0 || n->id >= next_id || m_finalized[n->id]++) {
		printf("  finalizer: bad or repeated id %llu\n", (unsigned long long)n->id);
		failures++;
	}
}

static uint8_t blob_byte(uint64_t value, uint32_t i)
{
	return (uint8_t)(value * 31 + i * 7);
}

/* ---- the model ---------------------------------------------------------------------- */
static uint32_t model_reach(uint64_t *ret_sum)
{
	uint32_t sp = 0, n = 0;
	uint64_t sum = 0;

	epoch++;
	for (int r = 0; r < ROOTS; r++)
		if (m_root[r] && m_seen[m_root[r]] != epoch)
			m_seen[m_root[r]] = epoch, stack[sp++] = m_root[r];
	for (int i = 0; i < BIG_SLOTS; i++)
		if (m_big[i] && m_seen[m_big[i]] != epoch)
			m_seen[m_big[i]] = epoch, stack[sp++] = m_big[i];
	while (sp) {
		uint32_t id = stack[--sp];

		n++;
		sum += id * 0x9e3779b97f4a7c15ull ^ m_value[id];
		for (int k = 0; k < KIDS; k++) {
			uint32_t c = m_kid[id * KIDS + k];

			if (c && m_seen[c] != epoch)
				m_seen[c] = epoch, stack[sp++] = c;
		}
	}
	*ret_sum = sum;
	return n;
}

/* Walks the heap; marks with a second epoch so the model's marks survive. */
static uint32_t heap_walk(uint64_t *ret_sum, uint32_t model_epoch)
{
	static struct snode **hs;
	uint32_t sp = 0, n = 0, he = ++epoch;
	uint64_t sum = 0;
	struct snode **roots = g_roots, **big = g_big;

	if (!hs)
		hs = malloc(sizeof(*hs) * max_ids);
#define PUSH(p) do { struct snode *p_ = (p); \
		if (p_ && m_seen[p_->id] != he) { \
			if (m_seen[p_->id] != model_epoch) { printf("  heap reaches id %llu the model does not\n", \
				(unsigned long long)p_->id); failures++; } \
			m_seen[p_->id] = he; hs[sp++] = p_; } } while (0)
	for (int r = 0; r < ROOTS; r++) {
		if ((roots[r] ? roots[r]->id : 0) != m_root[r]) {
			printf("  root %d: id %llu, model %u\n", r, (unsigned long long)(roots[r] ? roots[r]->id : 0), m_root[r]);
			failures++;
		}
		PUSH(roots[r]);
	}
	for (int i = 0; i < BIG_SLOTS; i++) {
		if ((big[i] ? big[i]->id : 0) != m_big[i]) {
			printf("  big slot %d differs\n", i);
			failures++;
		}
		PUSH(big[i]);
	}
	while (sp) {
		struct snode *x = hs[--sp];
		uint32_t id = (uint32_t)x->id;

		n++;
		sum += id * 0x9e3779b97f4a7c15ull ^ x->value;
		if (x->value != m_value[id]) {
			printf("  id %u: value changed\n", id);
			failures++;
		}
		for (int k = 0; k < KIDS; k++) {
			if ((x->kid[k] ? x->kid[k]->id : 0) != m_kid[id * KIDS + k]) {
				printf("  id %u kid %d: edge changed\n", id, k);
				failures++;
			}
			PUSH(x->kid[k]);
		}
		if ((x->blob ? gengc_size(x->blob) >= m_blob_len[id] : m_blob_len[id] == 0) == 0) {
			printf("  id %u: blob lost\n", id);
			failures++;
		} else {
			for (uint32_t i = 0; i < m_blob_len[id]; i++)
				if (x->blob[i] != blob_byte(x->value, i)) {
					printf("  id %u: blob byte %u changed\n", id, i);
					failures++;
					break;
				}
		}
	}
#undef PUSH
	*ret_sum = sum;
	return n;
}

static void check_graph(void)
{
	uint64_t ms, hsum;
	uint32_t mn = model_reach(&ms), me = epoch;
	uint32_t hn = heap_walk(&hsum, me);

	if (mn != hn || ms != hsum) {
		printf("  reachable: model %u objects sum %llx, heap %u sum %llx\n", mn,
		       (unsigned long long)ms, hn, (unsigned long long)hsum);
		failures++;
	}
}

/* After a full GC: finalized exactly the unreachable; weak refs agree. */
static void check_freed(void)
{
	uint64_t s;

	model_reach(&s);
	for (uint32_t id = 1; id < next_id; id++) {
		bool live = m_seen[id] == epoch;

		if (live == (m_finalized[id] != 0)) {
			printf("  id %u: %s but finalized %u times\n", id, live ? "reachable" : "unreachable",
			       m_finalized[id]);
			failures++;
			return;
		}
	}
	for (int w = 0; w < MAX_WEAK; w++) {
		if (!weak[w])
			continue;
		struct snode *t = gengc_weak_get(weak[w]);
		bool live = m_seen[weak_id[w]] == epoch;

		if (live != (t != NULL) || (t && t->id != weak_id[w])) {
			printf("  weak ref to id %u: %s but reads %p\n", weak_id[w], live ? "live" : "dead", (void *)t);
			failures++;
		}
	}
}

/* ---- the mutator ------------------------------------------------------------------------ */
/* A random reachable node (its id), or 0. Raw pointers are fine: no allocation here. */
static struct snode *pick(void)
{
	struct snode *x = NULL;
	int r = (int)(rnd() % ROOTS);

	for (int i = 0; i < ROOTS && !x; i++)
		x = ((struct snode **)g_roots)[(r + i) % ROOTS];
	for (int steps = (int)(rnd() % 6); x && steps; steps--) {
		struct snode *c = x->kid[rnd() % KIDS];

		if (c)
			x = c;
	}
	return x;
}

static void set_kid(struct snode *x, int k, struct snode *v)
{
	gengc_write(heap, x, &x->kid[k], v);
	m_kid[x->id * KIDS + k] = v ? (uint32_t)v->id : 0;
}

static void set_root(int r, struct snode *v)
{
	gengc_write(heap, g_roots, (void **)g_roots + r, v);
	m_root[r] = v ? (uint32_t)v->id : 0;
}

static struct snode *new_snode(void)
{
	struct snode *n;
	uint32_t id, len = 0;

	if (next_id >= max_ids)
		return NULL;
	n = gengc_alloc(heap, t_node);
	id = next_id++;
	n->id = id;
	n->value = rnd();
	m_value[id] = n->value;
	if (rnd() % 8 == 0) {                   /* a blob, sometimes past a semispace's worth */
		struct gengc_scope s;
		void **h;

		len = rnd() % 16 == 0 ? 130000 + (uint32_t)(rnd() % 4096) : 1 + (uint32_t)(rnd() % 300);
		gengc_scope_open(heap, &s);
		h = gengc_handle(heap, n);
		unsigned char *b = gengc_alloc_raw(heap, len);
		n = *h;
		for (uint32_t i = 0; i < len; i++)
			b[i] = blob_byte(n->value, i);
		gengc_write(heap, n, &n->blob, b);
		gengc_scope_close(heap, &s);
	}
	m_blob_len[id] = len;
	return n;
}

static void step(void)
{
	struct gengc_scope s;
	uint64_t op = rnd() % 100;

	gengc_scope_open(heap, &s);
	if (op < 40) {                          /* new node under a reachable one or a root */
		struct snode *x = pick();
		void **hx = gengc_handle(heap, x);
		struct snode *n = new_snode();

		if (!n)
			goto out;
		x = *hx;
		if (x && rnd() % 4)
			set_kid(x, (int)(rnd() % KIDS), n);
		else
			set_root((int)(rnd() % ROOTS), n);
	} else if (op < 50) {                   /* a small tree (shared leaf) */
		void **top = gengc_handle(heap, new_snode());
		void **leaf = gengc_handle(heap, new_snode());

		if (!*top || !*leaf)
			goto out;
		for (int k = 0; k < KIDS; k++) {
			struct snode *c = new_snode();

			if (!c)
				goto out;
			set_kid(*top, k, c);
			set_kid(c, 0, *leaf);
		}
		set_root((int)(rnd() % ROOTS), *top);
	} else if (op < 75) {                   /* rewire: shared nodes and cycles */
		struct snode *a = pick(), *b = pick();

		if (a)
			set_kid(a, (int)(rnd() % KIDS), rnd() % 5 ? b : NULL);
	} else if (op < 82) {                   /* drop a root */
		set_root((int)(rnd() % ROOTS), NULL);
	} else if (op < 88) {                   /* the large array */
		struct snode *a = pick();
		uint32_t i = (uint32_t)(rnd() % BIG_SLOTS);

		gengc_write(heap, g_big, (void **)g_big + i, a);
		m_big[i] = a ? (uint32_t)a->id : 0;
	} else if (op < 89) {                   /* replace the large array, keeping some */
		void **nb = gengc_handle(heap, gengc_alloc_size(heap, t_ptrs, BIG_SLOTS * 8));

		for (int i = 0; i < BIG_SLOTS; i++) {
			void *v = i % 2 ? ((void **)g_big)[i] : NULL;

			gengc_write(heap, *nb, (void **)*nb + i, v);
			if (!v)
				m_big[i] = 0;
		}
		g_big = *nb;
	} else if (op < 92) {                   /* a weak reference */
		struct snode *a = pick();
		int w = (int)(rnd() % MAX_WEAK);

		if (a) {
			gengc_weak_free(heap, weak[w]);
			weak[w] = gengc_weak_new(heap, a);
			weak_id[w] = (uint32_t)a->id;
		}
	} else if (op < 99) {                   /* churn: garbage */
		for (int i = 0; i < 20; i++)
			if (!new_snode())
				break;
	} else {
		gengc_collect(heap, rnd() % 3 ? GENGC_GC_SCAVENGE : GENGC_GC_MARK_SWEEP);
	}
out:
	gengc_scope_close(heap, &s);
}

static void test_random_graphs(void)
{
	const char *seed_env = getenv("GENGC_STRESS_SEED");
	int soak = getenv("GENGC_SOAK") != NULL;
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	long rounds = soak ? 2000 : 100, steps_per_round = 1000;
	struct gengc_type nt = { .name = "snode", .size = sizeof(struct snode), .n_pointers = 5,
				 .pointer_offsets = snode_offsets, .finalize = on_finalize };
	struct gengc_type pt = { .name = "ptrs", .flags = GENGC_TYPE_ALL_POINTERS };
	struct gengc_options o;
	struct gengc_stats st;

	printf("  seed %llu (reproduce: GENGC_STRESS_SEED=%llu)\n", (unsigned long long)seed,
	       (unsigned long long)seed);
	fflush(stdout);
	rng = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	if (!rng)
		rng = 1;
	max_ids = (uint32_t)(rounds * steps_per_round * 4 + 1000);
	m_kid = calloc((size_t)max_ids * KIDS, sizeof(*m_kid));
	m_value = calloc(max_ids, sizeof(*m_value));
	m_blob_len = calloc(max_ids, sizeof(*m_blob_len));
	m_finalized = calloc(max_ids, 1);
	m_seen = calloc(max_ids, sizeof(*m_seen));
	stack = calloc(max_ids, sizeof(*stack));
	m_big = calloc(BIG_SLOTS, sizeof(*m_big));
	REQUIRE(m_kid && m_value && m_blob_len && m_finalized && m_seen && stack && m_big);

	gengc_options_init(&o);
	o.verify = 1;
	o.max_semi_space_size = 2;
	o.initial_old_space_size = 1;           /* full GCs and incremental marking often, */
	o.incremental_marking = 1;
	o.marking_step = 32;                    /* in small steps between mutations */
	o.promotion_age = (uint32_t)(seed % 3);
	heap = gengc_heap_new(&o);
	REQUIRE(heap);
	REQUIRE(gengc_type_register(heap, &nt, &t_node) == 0);
	REQUIRE(gengc_type_register(heap, &pt, &t_ptrs) == 0);
	g_roots = gengc_alloc_size(heap, t_ptrs, ROOTS * 8);
	gengc_root_add(heap, &g_roots);
	g_big = gengc_alloc_size(heap, t_ptrs, BIG_SLOTS * 8);
	gengc_root_add(heap, &g_big);

	for (long r = 0; r < rounds && !failures; r++) {
		for (long i = 0; i < steps_per_round; i++)
			step();
		/* Scavenges are what the mutator makes between checks; force more. */
		for (int k = 0; k < 30; k++)
			gengc_collect(heap, GENGC_GC_SCAVENGE);
		check_graph();
		if (r % 4 == 3) {
			gengc_collect(heap, r % 8 == 7 ? GENGC_GC_MARK_COMPACT : GENGC_GC_MARK_SWEEP);
			check_graph();
			/* That GC may have finished incremental marking, which keeps
			 * what died while it ran (floating garbage) until the next
			 * one; the second is atomic: everything unreachable goes. */
			gengc_collect(heap, GENGC_GC_MARK_SWEEP);
			check_freed();
		}
	}
	gengc_collect(heap, GENGC_GC_MARK_SWEEP);
	check_graph();
	gengc_collect(heap, GENGC_GC_MARK_SWEEP);
	check_freed();
	gengc_stats_read(heap, &st);
	printf("  %u nodes allocated; %llu scavenges, %llu mark-sweeps, %llu mark-compacts "
	       "(%llu after incremental marking, %llu steps); promotion_age %u\n",
	       next_id - 1, (unsigned long long)st.gc[0].count, (unsigned long long)st.gc[1].count,
	       (unsigned long long)st.gc[2].count, (unsigned long long)st.incremental_marking_cycles,
	       (unsigned long long)st.marking_steps, o.promotion_age);
	CHECK(st.incremental_marking_cycles >= 10);
	CHECK(st.gc[GENGC_GC_SCAVENGE].count >= 1000);
	CHECK(st.full_gcs >= 25);
	CHECK_EQ(failures, 0);
	if (failures)
		printf("  reproduce: GENGC_STRESS_SEED=%llu\n", (unsigned long long)seed);

	for (int w = 0; w < MAX_WEAK; w++)
		weak[w] = gengc_weak_free(heap, weak[w]);
	heap = gengc_heap_free(heap);
	free(m_kid); free(m_value); free(m_blob_len); free(m_finalized); free(m_seen); free(stack); free(m_big);
}

int main(void)
{
	RUN(test_random_graphs);
	return test_done();
}
