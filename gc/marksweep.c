/* SPDX-License-Identifier: MIT */
/* The full collection's mark and sweep phases over the old generation.
 *
 * Marking walks the whole heap with an explicit stack (heap->mark_stack),
 * in steps between pauses first when the heap is big enough (incremental
 * marking, below), then finished in one pause: old cells get a bit in their
 * page's mark bitmap (a large object's page has a one-bit bitmap), young
 * objects a bit in heap->young_marks (they are marked in place, not copied:
 * copying the young generation inside the pause cost more than marking it).
 * No mark bit is in an object's header, so marking a child never reads the
 * child; it is read when popped and scanned, either at once (depth-first)
 * or a few pops later through a prefetch pipeline, whichever measures
 * faster on this heap (drain). The colour invariant is Lua's: "a marked
 * object on the stack may point to unmarked ones; a marked object off the
 * stack points only to marked ones".
 *
 * Young objects found dead are rewritten as raw fillers, so nothing (the
 * checker, the next scavenge through a stale slot) can follow their pointers
 * to old objects freed here (I3); their mark bits are cleared.
 *
 * Sweeping a small page is Go's bitmap swap: alloc_bits = mark_bits, then the
 * mark bits are cleared; dead cells are not touched (with the verify switch
 * they are zapped to 0xdb so a dangling pointer reads garbage the checker
 * will flag). Empty pages go back to the region, unmarked large objects too.
 * Weak references to unmarked objects are cleared and dead finalizable
 * objects finalized before anything is freed.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "gengc_internal.h"

/* Small and large pages alike: a large page's div_mul is 0 and its
 * mark_bits point at its large_mark word (struct page). */
bool old_is_marked(const void *obj)
{
	struct page *pg = page_of(obj);

	return bit_test(pg->mark_bits, cell_index(pg, obj));
}

/* Young objects' mark bits live beside the young reservation, one per 8
 * bytes, not in their headers: marking a child then never reads it (the
 * header was one synchronous cache miss per young object pushed). */
int young_marks_init(struct gengc_heap *heap)
{
	size_t bytes = heap->fast.young_span / 64;
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		return -12; /* -ENOMEM */
	heap->young_marks = m;
	return 0;
}

void young_marks_done(struct gengc_heap *heap)
{
	if (heap->young_marks)
		munmap(heap->young_marks, heap->fast.young_span / 64);
}

static inline size_t young_bit(const struct gengc_heap *heap, const void *p)
{
	return ((uintptr_t)p - heap->fast.young_lo) >> 3;
}

bool young_is_marked(const struct gengc_heap *heap, const void *obj)
{
	return bit_test(heap->young_marks, (uint32_t)young_bit(heap, obj));
}

/* Clears the young mark bits of to-space's objects (all there can be). */
static void young_marks_clear(struct gengc_heap *heap)
{
	size_t a = young_bit(heap, heap->to_space) >> 6, b = (young_bit(heap, heap->fast.top) + 63) >> 6;

	memset(heap->young_marks + a, 0, (b - a) * 8);
}

/* The mark stack, grown: out of line and by value, so drain's copy of the
 * stack stays in registers. */
static __attribute__((noinline)) struct ptr_vec stack_grown(struct ptr_vec st)
{
	if (vec_grow(&st) < 0)
		gc_fatal("mark stack: out of memory");
	return st;
}

/* What the marking loop needs, copied out of the heap so that it stays in
 * registers: stores into mark bitmaps could alias heap fields, so the
 * compiler would otherwise reload them for every pointer. */
struct marker {
	struct ptr_vec st;              /* the mark stack (heap->mark_stack) */
	uint64_t marked;                /* heap->marked_this_gc */
	uintptr_t old_lo, old_span, young_lo, young_span;
	uint64_t *young_marks;
	bool mark_young;
};

static inline void marker_load(struct gengc_heap *heap, struct marker *m)
{
	m->st = heap->mark_stack;
	m->marked = heap->marked_this_gc;
	m->old_lo = (uintptr_t)heap->old;
	m->old_span = heap->old_npages * PAGE_BYTES;
	m->young_lo = heap->fast.young_lo;
	m->young_span = heap->fast.young_span;
	m->young_marks = heap->young_marks;
	m->mark_young = heap->mark_young;
}

static inline void marker_store(struct gengc_heap *heap, const struct marker *m)
{
	heap->mark_stack = m->st;
	heap->marked_this_gc = m->marked;
}

/* Marks p (NULL, or a heap object) and pushes it if it was unmarked. The
 * object itself is not read: old mark bits are in its page's bitmap (a
 * large page's one bit included: see struct page), young ones in
 * young_marks. It is prefetched instead, to be scanned a few pops later. */
static inline __attribute__((always_inline)) void mark_push(struct marker *m, void *p)
{
	uintptr_t off = (uintptr_t)p - m->old_lo;
	uint64_t *w, bit;

	if (!p)
		return;
	if (off < m->old_span) {
		struct page *pg = page_of(p);
		uint32_t i = cell_index(pg, p);

		w = &pg->mark_bits[i >> 6];
		bit = 1ull << (i & 63);
	} else {
		/* Young objects are marked only in the final pause: between
		 * pauses scavenges move them (their old->young slots are all
		 * in the remembered set, which the final pause reads). */
		off = (uintptr_t)p - m->young_lo;
		if (!m->mark_young || off >= m->young_span)
			return;
		w = &m->young_marks[off >> 9];
		bit = 1ull << ((off >> 3) & 63);
	}
	if (*w & bit)
		return;
	*w |= bit;
	m->marked++;
	__builtin_prefetch(hdr_of(p));
	if (m->st.n == m->st.cap)
		m->st = stack_grown(m->st);
	m->st.v[m->st.n++] = p;
}

static void mark_obj(struct gengc_heap *heap, void *p)
{
	struct marker m;

	marker_load(heap, &m);
	mark_push(&m, p);
	marker_store(heap, &m);
}

static void mark_slot(struct gengc_heap *heap, void **slot)
{
	mark_obj(heap, *slot);
}

/* Scans one marked object: marks and pushes what it points to. */
static inline __attribute__((always_inline)) void scan_obj(struct gengc_heap *heap, struct marker *m,
							    const struct type_info *types, void *obj)
{
	uint64_t h = *hdr_of(obj);
	const struct type_info *ti = &types[hdr_type(h)];
	void **p = obj;

	if (__builtin_expect(ti->layout == LAYOUT_ALL, 1)) {
		for (void **e = p + lead_words(ti, h); p < e; p++)
			mark_push(m, *p);
		return;
	}
	switch (ti->layout) {
	case LAYOUT_OFFSETS:
		for (uint32_t i = 0; i < ti->n_offsets; i++)
			mark_push(m, *(void **)((char *)obj + ti->offsets[i]));
		break;
	case LAYOUT_TRACE:
		marker_store(heap, m);
		visit_slots(heap, obj, mark_slot);
		marker_load(heap, m);
		break;
	default:
		break;
	}
}

/* Two ways to walk the mark stack, the same work in a different order.
 *  - Depth-first: pop, scan, repeat. When the heap was laid out in about
 *    the order the walk takes (trees built or copied depth-first), the
 *    hardware prefetchers follow and this is fastest: binary-trees 20's
 *    full GCs took 16-25 ms this way against 24-44 ms through the
 *    pipeline below.
 *  - A prefetch pipeline: each object popped is prefetched and scanned
 *    MARK_PIPE pops later, so that many cache misses overlap. On a heap
 *    whose pointers go anywhere (a random graph of 1.6M nodes) this is 3x
 *    faster: 27 against 80-100 ns per object.
 * Neither order can be told from the heap's shape cheaply (the pointer
 * distances along a depth-first walk of binary-trees' tree are mostly over
 * 64 KiB, yet the walk runs from cache), so drain() measures: see
 * mark_mode(). */
#define MARK_PIPE 4

/* Depth-first; returns the objects scanned (at most budget). */
static size_t drain_dfs(struct gengc_heap *heap, struct marker *m, size_t budget)
{
	const struct type_info *types = heap->types;
	size_t done = 0;

	while (m->st.n && done < budget) {
		void *obj = m->st.v[--m->st.n];

		done++;
		scan_obj(heap, m, types, obj);
	}
	return done;
}

/* The pipeline: ring[i] holds the object popped MARK_PIPE steps ago (or
 * NULL); what is still in the ring at the end goes back on the stack. */
static size_t drain_pipe(struct gengc_heap *heap, struct marker *m, size_t budget)
{
	const struct type_info *types = heap->types;
	void *ring[MARK_PIPE] = { 0 };
	unsigned head = 0, inflight = 0;
	size_t done = 0;

	while (done < budget) {
		void *obj = ring[head], *q = NULL;

		if (m->st.n) {
			q = m->st.v[--m->st.n];
			__builtin_prefetch(hdr_of(q));
			inflight++;
		} else if (!inflight) {
			break;
		}
		ring[head] = q;
		head = (head + 1) % MARK_PIPE;
		if (!obj)
			continue;
		inflight--;
		done++;
		scan_obj(heap, m, types, obj);
	}
	for (unsigned i = 0; i < MARK_PIPE; i++)
		if (ring[i]) {
			if (m->st.n == m->st.cap)
				m->st = stack_grown(m->st);
			m->st.v[m->st.n++] = ring[i];
		}
	return done;
}

static inline uint64_t ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	return now_ns();
#endif
}

/* Marking runs in blocks of MARK_BLOCK objects, each timed. A cycle
 * starts with MARK_TRIALS blocks alternating the two orders, then keeps the
 * one with the lower cost per object and gives the other one block in
 * every MARK_RESAMPLE, to notice a change (another part of the heap, laid
 * out differently). A block is only ever slowed down by what disturbs it
 * (interrupts, other programs sharing the caches), so an order's cost is
 * a decaying minimum of its blocks' costs: it drops at once to a lower
 * one and rises by 1/16 per block while blocks cost more. The other order
 * must be cheaper by 1/8 to take over. Blocks that ran out of work early are not
 * timed. Which order runs changes only the speed, never what is marked. */
#define MARK_BLOCK 1024
#define MARK_TRIALS 4
#define MARK_RESAMPLE 32

static unsigned mark_mode(struct mark_tuning *t)
{
	if (t->blocks < MARK_TRIALS)
		return t->blocks & 1;
	if (t->blocks == MARK_TRIALS)
		t->mode = t->cost[1] < t->cost[0];
	else if (t->cost[!t->mode] + t->cost[!t->mode] / 8 < t->cost[t->mode])
		t->mode = !t->mode;
	return t->blocks % MARK_RESAMPLE == 0 ? !t->mode : t->mode;
}

static void mark_timed(struct mark_tuning *t, unsigned mode, uint64_t cost)
{
	uint64_t c = t->cost[mode];

	t->cost[mode] = c && c + c / 16 < cost ? c + c / 16 : cost;
	t->blocks++;
	t->blocks_by_mode[mode]++;
}

/* Scans marked objects until the stack is empty (returns true) or budget
 * objects were scanned (what is left stays on the stack). */
static bool drain(struct gengc_heap *heap, size_t budget)
{
	struct mark_tuning *t = &heap->mark_tuning;
	struct marker m;

	marker_load(heap, &m);
	while (m.st.n && budget) {
		size_t n = budget < MARK_BLOCK ? budget : MARK_BLOCK, done;
		unsigned mode = mark_mode(t);
		uint64_t t0 = ticks();

		done = mode ? drain_pipe(heap, &m, n) : drain_dfs(heap, &m, n);
		if (done == MARK_BLOCK)
			mark_timed(t, mode, (ticks() - t0) / done);
		budget -= done;
	}
	marker_store(heap, &m);
	return m.st.n == 0;
}

/* ---- incremental marking --------------------------------------------------- *
 * Between pauses the old generation is marked in steps (V8's incremental
 * marking) so the final pause only finishes the job. Invariant while
 * marking: every old object reachable from the roots (as they were when
 * marking started, or through anything stored since) is marked or reachable
 * from a marked object on the stack, or from the young generation, or from
 * a root -- the final pause re-scans the last two. It holds because
 *  - gengc_write marks every old value stored into an old object while
 *    marking (Dijkstra's insertion barrier), so a scanned object never
 *    hides an unmarked one; a store into a young object is not barriered,
 *    since the young generation is traversed in the final pause (and a
 *    young object promoted meanwhile is covered by the next point);
 *  - an object promoted while marking is not born marked (dead ones would
 *    float to the next cycle: measured +30 MiB peak rss on binary-trees
 *    20); it is reachable from a root or a young object (both traversed
 *    in the final pause), from another promoted object, or through a
 *    remembered slot of an old object -- and mark_promoted marks it when
 *    that holder is already marked;
 *  - large objects allocated while marking are born marked (their slots
 *    are zero; later stores go through the barrier);
 *  - handles and global roots are not barriered but are re-scanned in the
 *    final pause, together with the young generation and the remembered
 *    slots of marked objects (scanning skipped young children before). */
void marking_start(struct gengc_heap *heap)
{
	heap->marking = true;
	heap->fast.marking = 1;
	heap->marking_done = false;
	heap->mark_young = false;
	heap->mark_stack.n = 0;
	heap->marked_this_gc = 0;
	heap->mark_tuning = (struct mark_tuning){ 0 };
	heap->st.incremental_marking_cycles++;
	roots_visit(heap, mark_slot);
	/* Young objects are roots for the old generation too: their old
	 * children are greyed now (it starts right after a scavenge, when
	 * to-space holds only its survivors) so the steps have the work; the
	 * final pause traverses the young generation again anyway. */
	for (char *p = heap->to_space; p < heap->fast.top; p += hdr_size(*(uint64_t *)(void *)p) + 8)
		visit_slots(heap, p + 8, mark_slot);
}

void marking_step(struct gengc_heap *heap)
{
	uint64_t t0 = now_ns(), dt;

	heap->st.marking_steps++;
	if (drain(heap, heap->opts.marking_step))
		heap->marking_done = true;
	dt = now_ns() - t0;
	if (dt > heap->st.marking_step_max_ns)
		heap->st.marking_step_max_ns = dt;
}

void gengc_mark_barrier_slow(struct gengc_heap *heap, void *value)
{
	if (heap->marking)
		mark_obj(heap, value);
}

/* The holder of a remembered slot: the cell or large object around it. */
static bool holder_marked(struct gengc_heap *heap, void **slot)
{
	size_t i = (size_t)((char *)slot - heap->old) / PAGE_BYTES;
	struct page *pg;

	while (heap->page_state[i] == PAGE_LARGE_TAIL)
		i--;
	pg = (struct page *)(heap->old + i * PAGE_BYTES);
	if (pg->kind == PAGE_LARGE)
		return pg->large_mark;
	return bit_test(pg->mark_bits, (uint32_t)((size_t)((char *)slot - pg->cells) / pg->cell_bytes));
}

void mark_promoted(struct gengc_heap *heap, void **slot, void *obj)
{
	if (holder_marked(heap, slot))
		mark_obj(heap, obj);
}

static bool mark_remembered(struct gengc_heap *heap, void **slot)
{
	if (in_young(heap, *slot) && holder_marked(heap, slot))
		mark_obj(heap, *slot);
	return in_young(heap, *slot);
}

/* The atomic part: all of a full GC's marking when none ran before, the
 * end of incremental marking otherwise. */
static void mark(struct gengc_heap *heap)
{
	bool incremental = heap->marking;

	if (!incremental) {
		heap->mark_stack.n = 0;
		heap->marked_this_gc = 0;
		heap->mark_tuning = (struct mark_tuning){ 0 };
	}
	heap->mark_young = true;
	roots_visit(heap, mark_slot);
	drain(heap, SIZE_MAX);
	if (incremental) {
		/* Objects scanned in steps skipped their young children. */
		remset_scan(heap, mark_remembered);
		drain(heap, SIZE_MAX);
	}
	heap->mark_young = false;
	heap->marking = false;
	heap->fast.marking = 0;
	heap->marking_done = false;
}

static void weak_and_finalizers(struct gengc_heap *heap)
{
	size_t keep = 0;

	for (struct gengc_weak *w = heap->weak; w; w = w->next)
		if (w->target && (in_young(heap, w->target) ? !young_is_marked(heap, w->target)
							    : !old_is_marked(w->target)))
			w->target = NULL;
	for (size_t i = 0; i < heap->young_fin.n; i++) {
		void *p = heap->young_fin.v[i];

		if (young_is_marked(heap, p)) {
			heap->young_fin.v[keep++] = p;
		} else {
			struct type_info *ti = type_of(heap, p);

			ti->finalize(p, ti->finalize_ctx);
		}
	}
	heap->young_fin.n = keep;
	keep = 0;
	for (size_t i = 0; i < heap->old_fin.n; i++) {
		void *p = heap->old_fin.v[i];

		if (old_is_marked(p)) {
			heap->old_fin.v[keep++] = p;
		} else {
			struct type_info *ti = type_of(heap, p);

			ti->finalize(p, ti->finalize_ctx);
		}
	}
	heap->old_fin.n = keep;
}

static void zap_dead_cells(struct page *pg)
{
	for (uint32_t w = 0; w < pg->bitmap_words; w++) {
		uint64_t dead = pg->alloc_bits[w] & ~pg->mark_bits[w];

		while (dead) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(dead);

			dead &= dead - 1;
			memset(pg->cells + (size_t)i * pg->cell_bytes, 0xdb, pg->cell_bytes);
		}
	}
}

/* Dead young objects become raw fillers; the young mark bits are cleared. */
static void sweep_young(struct gengc_heap *heap)
{
	for (char *p = heap->to_space; p < heap->fast.top;) {
		uint64_t *h = (uint64_t *)(void *)p, v = *h;

		if (!young_is_marked(heap, p + 8))
			*h = hdr_make(GENGC_TYPE_RAW, hdr_size(v));
		p += hdr_size(v) + 8;
	}
	young_marks_clear(heap);
}

/* A remembered page's dead cells may hold stale young pointers: unremember them. */
static void unremember_dead_cells(struct gengc_heap *heap, struct page *pg)
{
	for (uint32_t w = 0; w < pg->bitmap_words; w++) {
		uint64_t dead = pg->alloc_bits[w] & ~pg->mark_bits[w];

		while (dead) {
			char *cell = pg->cells + (size_t)(w * 64 + (uint32_t)__builtin_ctzll(dead)) * pg->cell_bytes;

			dead &= dead - 1;
			remset_clear_range(heap, cell, cell + pg->cell_bytes);
		}
	}
}

static void sweep(struct gengc_heap *heap)
{
	for (uint32_t c = 0; c < heap->n_classes; c++) {
		struct size_class *sc = &heap->cls[c];
		size_t keep = 0;

		for (size_t i = 0; i < sc->n_pages; i++) {
			struct page *pg = sc->pages[i];
			uint32_t live = 0;

			if (pg->flags & PF_REMEMBERED)
				unremember_dead_cells(heap, pg);
			if (heap->opts.verify)
				zap_dead_cells(pg);
			for (uint32_t w = 0; w < pg->bitmap_words; w++)
				live += (uint32_t)__builtin_popcountll(pg->mark_bits[w]);
			heap->freed_this_gc += (uint64_t)(pg->nlive - live) * pg->cell_bytes;
			heap->old_used -= (size_t)(pg->nlive - live) * pg->cell_bytes;
			if (!live) {
				page_free(heap, pg);
				continue;
			}
			memcpy(pg->alloc_bits, pg->mark_bits, pg->bitmap_words * 8);
			memset(pg->mark_bits, 0, pg->bitmap_words * 8);
			pg->nlive = live;
			pg->cursor = 0;
			sc->pages[keep++] = pg;
		}
		sc->n_pages = keep;
		sc->alloc_idx = 0;
		sc->cur = NULL;
	}
	for (struct page *pg = heap->large, *next; pg; pg = next) {
		next = pg->next;
		if (pg->large_mark) {
			pg->large_mark = 0;
		} else {
			heap->freed_this_gc += hdr_size(*(uint64_t *)pg->cells) + 8;
			large_free(heap, pg);
		}
	}
}

void mark_sweep(struct gengc_heap *heap)
{
	mark(heap);
	weak_and_finalizers(heap);
	sweep_young(heap);
	sweep(heap);
}
