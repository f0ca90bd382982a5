/* SPDX-License-Identifier: MIT */
/* The young generation: semispaces, bump allocation refills, the Cheney scavenge.
 *
 * Allocation bumps fast.top in to-space. A scavenge flips the roles: the full
 * space becomes from-space, survivors are copied breadth-first into the other
 * (Cheney: the copied region itself is the work queue, scanned by a pointer
 * chasing the copy pointer) or, once they have survived promotion_age
 * scavenges, into the old generation (then queued on heap->work, because old
 * cells are not contiguous; they come from per-class runs of free cells, the
 * LABs of oldspace.c, handed back when the scavenge ends). A copied object's
 * old header becomes a forwarding word, so shared substructure is copied once
 * and cycles end. The copy within to-space is inlined into the scan loops;
 * promotion is out of line.
 *
 * Tried and measured slower: a depth-first copy order (an explicit stack
 * instead of Cheney's queue: 5-17% slower on trees, though depth-first
 * marking is faster), prefetching children when an object is copied rather
 * than PREFETCH_AHEAD bytes before it is scanned, and a scan loop with its
 * state copied into locals (more instructions, no faster).
 *
 * Roots: handles, global roots, and the remembered set (old->young slots).
 * After the copy, weak references to dead objects are cleared and dead
 * finalizable objects are finalized while from-space is still intact.
 *
 * Invariants kept: I2 (a promoted object that still points young is
 * recorded in the remembered set as it is scanned), I4 (to-space past the
 * survivors is zeroed lazily, ZERO_CHUNK at a time, before it is handed out).
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "gengc_internal.h"

static inline bool in_from(const struct gengc_heap *heap, const void *p)
{
	return (uintptr_t)p - (uintptr_t)heap->from_space < heap->semi_cap;
}

/* Promotes obj (header h, cell bytes with it): copies it into an old cell
 * and queues it to be scanned. Out of line: the copy within to-space is
 * the common case, inlined into the scan loops.
 * The LAB's cells are old memory nobody touched for a while (a pooled
 * page, or one swept free): the cell LAB_PREFETCH_AHEAD bytes on is
 * fetched for writing now, so a promotion rarely waits for its line.
 * Measured on binary-trees 20, three interleaved runs each: scavenges
 * 752-791 -> 678-685 ms, wall 2.95 -> 2.79 s (a later A/B: 2.71 ->
 * 2.66 s); 256 and 512 bytes ahead gave less, 2048 the same. The same prefetch ahead of the to-space copy
 * pointer changed nothing measurable (that memory was the last semispace
 * but one, still in cache). */
#define LAB_PREFETCH_AHEAD 1024
static __attribute__((noinline)) void *promote(struct gengc_heap *heap, void *obj, uint64_t h, size_t cell)
{
	char *dst = lab_alloc(heap, hdr_size(h));

	__builtin_prefetch(dst + LAB_PREFETCH_AHEAD, 1);   /* harmless past the LAB's end */
	copy_words(dst - 8, (char *)obj - 8, cell);
	if (vec_push(&heap->work, dst) < 0)
		gc_fatal("scavenge: promotion queue out of memory");
	heap->promoted_this_gc += cell;
	heap->survived_this_gc += cell;
	*hdr_of(obj) = (uintptr_t)dst | HDR_FWD;
	return dst;
}

/* Copies obj (in from-space, live) once and returns its new address. */
static inline __attribute__((always_inline)) void *evacuate(struct gengc_heap *heap, void *obj)
{
	uint64_t h = *hdr_of(obj);
	size_t cell;
	char *dst;

	if (h & HDR_FWD)
		return (void *)(uintptr_t)(h & ~HDR_FWD);
	cell = hdr_size(h) + 8;
	if (hdr_age(h) >= heap->opts.promotion_age || heap->copy_top + cell > heap->copy_limit)
		return promote(heap, obj, h, cell);
	dst = heap->copy_top + 8;
	heap->copy_top += cell;
	copy_words(dst - 8, (char *)obj - 8, cell);
	*hdr_of(dst) = h + (1ull << HDR_AGE_SHIFT);
	heap->survived_this_gc += cell;
	*hdr_of(obj) = (uintptr_t)dst | HDR_FWD;
	return dst;
}

static inline void *update(struct gengc_heap *heap, void **slot)
{
	void *p = *slot;

	if (in_from(heap, p))
		*slot = p = evacuate(heap, p);
	return p;
}

static void root_slot(struct gengc_heap *heap, void **slot)
{
	update(heap, slot);
}

static bool remembered_slot(struct gengc_heap *heap, void **slot)
{
	void *p = update(heap, slot);

	if (in_young(heap, p))
		return true;
	/* Promoted out of a slot of an old object: if that object was already
	 * marked, the promoted one must be too (it is not born marked). */
	if (heap->marking && p)
		mark_promoted(heap, slot, p);
	return false;
}

static void old_slot(struct gengc_heap *heap, void **slot)
{
	if (in_young(heap, update(heap, slot)))
		remset_record(heap, heap->scan_obj, slot);
}

/* Scans one object's slots; for an old (promoted) object also records the
 * slots left pointing young. The two common layouts are open-coded. */
static inline void scan_object(struct gengc_heap *heap, void *obj, bool old)
{
	uint64_t h = *hdr_of(obj);
	struct type_info *ti = &heap->types[hdr_type(h)];
	void **p = obj;

	switch (ti->layout) {
	case LAYOUT_RAW:
		return;
	case LAYOUT_ALL:
		for (size_t i = 0, n = lead_words(ti, h); i < n; i++)
			if (in_young(heap, update(heap, &p[i])) && old)
				remset_record(heap, obj, &p[i]);
		return;
	case LAYOUT_OFFSETS:
		for (uint32_t i = 0; i < ti->n_offsets; i++) {
			void **slot = (void **)((char *)obj + ti->offsets[i]);

			if (in_young(heap, update(heap, slot)) && old)
				remset_record(heap, obj, slot);
		}
		return;
	case LAYOUT_TRACE:
		heap->scan_obj = obj;
		visit_slots(heap, obj, old ? old_slot : root_slot);
		return;
	}
}

/* Scavenging is bound by cache misses on from-space headers (a perf profile
 * put 40% of evacuate() on that one load): the scan loop looks PREFETCH_AHEAD
 * bytes ahead in to-space and prefetches what those objects point to, so a
 * few misses are in flight at once instead of one. */
#define PREFETCH_AHEAD 512
#define PREFETCH_OBJS 16
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define SCAVENGE_SURVIVAL_BUDGET (3 * MIB)
#define WINDOW_MIN (2 * MIB)
#define WINDOW_PER_SURVIVED 32
#define SYS_PAGE_BYTES ((size_t)4096)   /* semispaces are MiB-aligned: a multiple of it */
#define WORK_FIFO_MAX 32768
#define PROMOTE_ALL_SURVIVAL_PCT 90
#define PROMOTE_ALL_MIN_SURVIVED MIB

static inline void prefetch_targets(struct gengc_heap *heap, void *obj)
{
	uint64_t h = *hdr_of(obj);
	struct type_info *ti = &heap->types[hdr_type(h)];
	void **p = obj;

	if (ti->layout == LAYOUT_ALL) {
		size_t n = lead_words(ti, h);

		for (size_t i = 0; i < n && i < 4; i++)
			if (in_from(heap, p[i]))
				__builtin_prefetch((char *)p[i] - 8, 1);
	} else if (ti->layout == LAYOUT_OFFSETS) {
		for (uint32_t i = 0; i < ti->n_offsets && i < 4; i++) {
			void *t = *(void **)((char *)obj + ti->offsets[i]);

			if (in_from(heap, t))
				__builtin_prefetch((char *)t - 8, 1);
		}
	}
}

static void process_weak_and_finalizers(struct gengc_heap *heap)
{
	size_t keep = 0;

	for (struct gengc_weak *w = heap->weak; w; w = w->next) {
		if (!in_from(heap, w->target))
			continue;
		uint64_t h = *hdr_of(w->target);

		w->target = h & HDR_FWD ? (void *)(uintptr_t)(h & ~HDR_FWD) : NULL;
	}
	for (size_t i = 0; i < heap->young_fin.n; i++) {
		void *p = heap->young_fin.v[i];
		uint64_t h = *hdr_of(p);

		if (h & HDR_FWD) {
			p = (void *)(uintptr_t)(h & ~HDR_FWD);
			if (in_young(heap, p))
				heap->young_fin.v[keep++] = p;
			else if (vec_push(&heap->old_fin, p) < 0)
				gc_fatal("finalizer list: out of memory");
		} else {
			struct type_info *ti = &heap->types[hdr_type(h)];

			ti->finalize(p, ti->finalize_ctx);
		}
	}
	heap->young_fin.n = keep;
}

void scavenge(struct gengc_heap *heap)
{
	char *from = heap->to_space, *scan, *ahead;
	size_t work_head = 0;
	size_t used = (size_t)(heap->fast.top - from);

	heap->from_space = from;
	heap->to_space = from == heap->young ? heap->young + heap->semi_max : heap->young;
	heap->copy_top = scan = ahead = heap->to_space;
	/* Survivors may fill at most 3/4 of to-space; the rest are promoted
	 * early (V8 promotes when to-space overflows), so the mutator always
	 * gets room back and a scavenge never has to fall back to a full GC. */
	heap->copy_limit = heap->to_space + (heap->promote_all ? 0 : heap->semi_cap / 4 * 3);
	heap->work.n = 0;

	roots_visit(heap, root_slot);
	remset_scan(heap, remembered_slot);
	while (scan < heap->copy_top || work_head < heap->work.n) {
		while (scan < heap->copy_top) {
			void *obj = scan + 8;

			if (ahead < scan)
				ahead = scan;
			while (ahead < heap->copy_top && ahead < scan + PREFETCH_AHEAD) {
				prefetch_targets(heap, ahead + 8);
				ahead += hdr_size(*(uint64_t *)(void *)ahead) + 8;
			}
			scan_object(heap, obj, false);
			scan += hdr_size(*hdr_of(obj)) + 8;
		}
		/* Promoted objects: a FIFO (heap->work from work_head on) scanned
		 * with the same lookahead prefetching as to-space: the object
		 * PREFETCH_OBJS ahead is fetched, the targets of the one half as
		 * far ahead are prefetched. */
		while (work_head < heap->work.n && scan == heap->copy_top) {
			void *obj;

			/* A long queue (a wide tree's frontier) is taken from its
			 * tail instead, depth-first, so it cannot grow past
			 * WORK_FIFO_MAX entries plus one object's slots. */
			if (heap->work.n - work_head > WORK_FIFO_MAX) {
				scan_object(heap, heap->work.v[--heap->work.n], true);
				continue;
			}
			obj = heap->work.v[work_head++];

			if (work_head + PREFETCH_OBJS < heap->work.n)
				__builtin_prefetch(hdr_of(heap->work.v[work_head + PREFETCH_OBJS]));
			if (work_head + PREFETCH_OBJS / 2 < heap->work.n)
				prefetch_targets(heap, heap->work.v[work_head + PREFETCH_OBJS / 2]);
			scan_object(heap, obj, true);
		}
		if (work_head == heap->work.n)   /* drained: rewind, so the queue stays short */
			work_head = heap->work.n = 0;
	}
	lab_retire_all(heap);
	process_weak_and_finalizers(heap);

	heap->freed_this_gc += used - heap->survived_this_gc;
	if ((size_t)(heap->copy_top - heap->to_space) > heap->young_touched)
		heap->young_touched = (size_t)(heap->copy_top - heap->to_space);
	young_reset_alloc(heap, heap->copy_top);
	/* What is in to-space now is what the next scavenge promotes if it
	 * survives: that many pages (and RESERVE_PAGES at least) are faulted
	 * in ahead, one per ZERO_CHUNK the mutator allocates, so the kernel's
	 * page clearing is not in that pause. With a fixed 3 MiB, the
	 * scavenge after a tree was built (12.6 MB promoted) faulted 9 MB in
	 * its pause: 2300 faults of a 10 ms pause. */
	heap->reserve_pages = (size_t)(heap->copy_top - heap->to_space) / PAGE_BYTES + 2;
	if (heap->reserve_pages < RESERVE_PAGES)
		heap->reserve_pages = RESERVE_PAGES;

	/* Fast promotion (V8's fast_promotion_mode): after a scavenge where
	 * nearly everything survived, the next one promotes every survivor,
	 * so what sits in to-space is not copied a second time on top of the
	 * next window's survivors. V8 enters it only at maximum capacity;
	 * here that raised binary-trees 20's peak rss 147 -> 175 MiB (a dying
	 * 96 MB tree went old whole and set the next full-GC trigger), while
	 * taking it only as the space still grows cut GCBench's longest
	 * scavenges (to-space re-copied as it doubles) 2.5 -> 1.8 ms and its
	 * p99 2.0 -> 1.6 ms, binary-trees unchanged (bench/RESULTS.md).
	 * Below PROMOTE_ALL_MIN_SURVIVED the pause is too short to matter and
	 * promotion_age holds. */
	heap->promote_all = heap->semi_cap < heap->semi_max &&
		heap->survived_this_gc >= PROMOTE_ALL_MIN_SURVIVED &&
		heap->survived_this_gc * 100 > used * PROMOTE_ALL_SURVIVAL_PCT;
	/* V8's rule: grow once the bytes survived since the last growth exceed
	 * the capacity (survival is high enough that a bigger space pays). */
	heap->survived_since_grow += heap->survived_this_gc;
	if (heap->survived_since_grow > heap->semi_cap && heap->semi_cap < heap->semi_max) {
		heap->semi_cap = heap->semi_cap * 2 < heap->semi_max ? heap->semi_cap * 2 : heap->semi_max;
		heap->survived_since_grow = 0;
	}
	/* The pause is proportional to what survives: after a scavenge that
	 * kept a large share of what was allocated, the next one comes after
	 * SCAVENGE_SURVIVAL_BUDGET / survival-rate bytes instead of a full
	 * semispace, so a phase where everything survives (a big structure
	 * being built) is scavenged in pieces. Measured: GCBench's longest
	 * scavenge 5.5 -> 3.4 ms, binary-trees 20's peak rss 159 -> 147 MiB
	 * (fewer premature promotions), its wall time unchanged. Counting the
	 * survivors already in to-space too bounded pauses better but made
	 * binary-trees 20 40% slower (scavenges 3x as frequent). */
	/* When little survives, the window is WINDOW_PER_SURVIVED times what
	 * did, and WINDOW_MIN at least, instead of the whole semispace: the
	 * memory allocation streams through then stays in cache from one
	 * scavenge to the next, while copying stays a thirty-second of what is
	 * allocated. Measured on binary-trees 20 (a 16 MiB semispace): the
	 * young space's zeroing ran at 12 GB/s cycling through both whole
	 * semispaces and 30 GB/s through 4 MiB ones, and the tree checks took
	 * twice as long; but 4 MiB semispaces copied 75% more (half-built
	 * trees caught) and the whole run was no faster. The window keeps the
	 * capacity for what survives and gave 3-10% in interleaved runs (5 each),
	 * GCBench 10%; bench/RESULTS.md. */
	{
		size_t room = (size_t)(heap->to_space + heap->semi_cap - heap->copy_top), window;

		if (used && heap->survived_this_gc * 2 > SCAVENGE_SURVIVAL_BUDGET) {
			window = (size_t)((double)SCAVENGE_SURVIVAL_BUDGET * (double)used / (double)heap->survived_this_gc);
			if (window < SCAVENGE_SURVIVAL_BUDGET)
				window = SCAVENGE_SURVIVAL_BUDGET;
		} else {
			window = heap->survived_this_gc * WINDOW_PER_SURVIVED;
			if (window < WINDOW_MIN)
				window = WINDOW_MIN;
		}
		if (window > room)
			window = room;
		heap->young_end = heap->copy_top + window;
	}
}

/* Allocation restarts at top; the zeroed window is empty until refilled. */
void young_reset_alloc(struct gengc_heap *heap, char *top)
{
	heap->fast.top = top;
	heap->fast.limit = top;
	heap->young_zeroed = top;
	heap->alloc_mark = top;
}

/* Extends the zeroed window so at least `need` bytes from top are zero
 * (I4), zeroing ZERO_CHUNK at a time: cache-warm bulk zeroing instead of a
 * memset per object. In stress mode the fast path's limit stays at top so
 * every allocation comes through the slow path. */
void young_refill(struct gengc_heap *heap)
{
	char *end = heap->young_end;
	char *z = heap->young_zeroed;

	if (z < heap->fast.top)
		z = heap->fast.top;
	if (z < end) {
		char *nz = z + ZERO_CHUNK < end ? z + ZERO_CHUNK : end;
		char *other = heap->to_space == heap->young ? heap->young + heap->semi_max : heap->young;
		size_t *touched = &heap->semi_touched[other == heap->young ? 0 : 1];
		/* Rounded up to the kernel's page: madvise() refuses an
		 * unaligned start (EINVAL), and an offset that followed an
		 * unaligned top left those pages to fault in the pause. */
		size_t off = ((size_t)(nz - heap->to_space) + SYS_PAGE_BYTES - 1) & ~(SYS_PAGE_BYTES - 1);

		memset(z, 0, (size_t)(nz - z));
		z = nz;
		/* The other semispace is the next scavenge's copy target: fault
		 * its pages in now, on the mutator's time, not in that pause. */
		if (*touched < off) {
			madvise(other + *touched, off - *touched, MADV_POPULATE_WRITE);
			*touched = off;
		}
		if (heap->pool.n < heap->reserve_pages)
			pages_reserve_one(heap);
	}
	heap->young_zeroed = z;
	if ((size_t)(z - heap->to_space) > heap->young_touched)
		heap->young_touched = (size_t)(z - heap->to_space);
	heap->fast.limit = heap->opts.stress ? heap->fast.top : z;
}
