/* SPDX-License-Identifier: MIT */
/* The heap: creation, the allocation slow path, when to collect what, and the heap limit.
 *
 * Policy, in V8's terms:
 *  - the young space full -> Scavenge (survivors fill at most 3/4 of
 *    to-space, so it always makes room), then a full GC right after it when
 *    the old generation has reached full_gc_at (old_space_growth_pct of what
 *    survived the last full GC); a compacting full GC first when promoting
 *    everything young could cross max_old_space_size;
 *  - a full GC marks the whole heap (young objects in place), sweeps the
 *    old generation, then compacts if the free cells in used pages cross
 *    compact_threshold_pct, and always when the old space is over the
 *    limit (compact before giving up);
 *  - with incremental_marking, marking starts in steps (one per 32 KiB
 *    allocated) a quarter of the way to the next limit, and the full GC
 *    after the scavenge that follows its end only finishes it;
 *  - still over the limit: the near-limit callback may raise it; if it does
 *    not, the out-of-memory callback gets the report (the default aborts).
 * The limit is enforced before collections, which cannot stop half way: the
 * old space may pass it by at most one semispace of promoted objects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "gengc_internal.h"
#include "probes.h"

#ifdef GENGC_USDT
/* The probes' semaphores (probes.h): non-zero while a tracer is attached. */
unsigned short gengc_gc__start_semaphore __attribute__((used, section(".probes")));
unsigned short gengc_gc__done_semaphore __attribute__((used, section(".probes")));
unsigned short gengc_heap__limit_semaphore __attribute__((used, section(".probes")));
#endif

/* ---- utilities ------------------------------------------------------------- */
uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int vec_grow(struct ptr_vec *v)
{
	size_t cap = v->cap ? v->cap * 2 : 64;
	void **nv = realloc(v->v, cap * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	v->v = nv;
	v->cap = cap;
	return 0;
}

void vec_free(struct ptr_vec *v)
{
	free(v->v);
	*v = (struct ptr_vec){ 0 };
}

/* A collection cannot be abandoned half way (objects are forwarded): when
 * the kernel refuses memory in the middle of one, the process stops here. */
void gc_fatal(const char *what)
{
	gengc_log("gengc: fatal: %s", what);
	abort();
}

static const char *const kind_names[] = { "Scavenge", "Mark-Sweep", "Mark-Compact" };
static const char *const reason_names[] = {
	"allocation failure", "old space limit", "heap limit", "requested", "stress", "fragmentation",
	"finalize incremental marking",
};
static const char *const space_names[] = { "new_space", "old_space", "large_object_space" };

const char *gengc_gc_kind_name(enum gengc_gc_kind kind)
{
	return (unsigned)kind < GENGC_GC_KINDS ? kind_names[kind] : "unknown";
}

const char *gengc_gc_reason_name(enum gengc_gc_reason reason)
{
	return (unsigned)reason < GENGC_REASONS ? reason_names[reason] : "unknown";
}

const char *gengc_space_name(enum gengc_space space)
{
	return (unsigned)space < GENGC_SPACES ? space_names[space] : "unknown";
}

/* ---- lifecycle -------------------------------------------------------------- */
static uint32_t clamp_u32(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

struct gengc_heap *gengc_heap_new(const struct gengc_options *opts)
{
	struct gengc_heap *heap = calloc(1, sizeof(*heap));
	size_t old_reserve, young_bytes;
	char *map;

	if (!heap)
		return NULL;
	if (opts)
		heap->opts = *opts;
	else
		gengc_options_init(&heap->opts);
	struct gengc_options *o = &heap->opts;
	o->max_semi_space_size = clamp_u32(o->max_semi_space_size, 1, 1024);
	o->min_semi_space_size = clamp_u32(o->min_semi_space_size, 1, o->max_semi_space_size);
	o->max_old_space_size = clamp_u32(o->max_old_space_size, 1, 1u << 20);
	o->promotion_age = clamp_u32(o->promotion_age, 0, 15);
	o->large_object_threshold = clamp_u32(o->large_object_threshold, 4096,
					      (uint32_t)(o->min_semi_space_size * MIB / 4));
	if (o->large_object_threshold > 128 * KIB)
		o->large_object_threshold = 128 * KIB;
	o->compact_threshold_pct = clamp_u32(o->compact_threshold_pct, 0, 100);
	o->old_space_growth_pct = clamp_u32(o->old_space_growth_pct, 110, 1000);
	o->marking_step = clamp_u32(o->marking_step, 1, 1u << 30);

	heap->semi_max = (size_t)o->max_semi_space_size * MIB;
	heap->semi_cap = (size_t)o->min_semi_space_size * MIB;
	heap->heap_limit = (size_t)o->max_old_space_size * MIB;
	/* Address space is cheap and PROT_NONE costs no memory: reserve room
	 * for twice the limit (the near-limit callback may raise it), 16 GiB at
	 * least. The remembered set's bitmap is reserved the same way. */
	old_reserve = 2 * heap->heap_limit;
	if (old_reserve < 16 * KIB * MIB)
		old_reserve = 16 * KIB * MIB;
	young_bytes = 2 * heap->semi_max;
	heap->map_bytes = young_bytes + PAGE_BYTES + old_reserve;
	map = mmap(NULL, heap->map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		/* Strict overcommit: reserve without access, commit page by page. */
		heap->protect_pages = true;
		map = mmap(NULL, heap->map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (map == MAP_FAILED) {
		free(heap);
		return NULL;
	}
	heap->map = map;
	heap->young = map;
	heap->old = (char *)(((uintptr_t)map + young_bytes + PAGE_MASK) & ~(uintptr_t)PAGE_MASK);
	heap->old_npages = old_reserve / PAGE_BYTES;
	if (remset_init(heap) < 0)
		return gengc_heap_free(heap);
	if ((heap->protect_pages && mprotect(heap->young, young_bytes, PROT_READ | PROT_WRITE) < 0) ||
	    pages_init(heap) < 0 || types_init(heap) < 0)
		return gengc_heap_free(heap);

	heap->fast.young_lo = (uintptr_t)heap->young;
	heap->fast.young_span = young_bytes;
	if (young_marks_init(heap) < 0)
		return gengc_heap_free(heap);
	heap->to_space = heap->young;
	heap->from_space = heap->young + heap->semi_max;
	young_reset_alloc(heap, heap->to_space);
	heap->young_end = heap->to_space + heap->semi_cap;
	heap->reserve_pages = RESERVE_PAGES;
	o->initial_old_space_size = clamp_u32(o->initial_old_space_size, 1, 1u << 20);
	heap->full_gc_at = (size_t)o->initial_old_space_size * MIB;
	if (heap->full_gc_at > heap->heap_limit)
		heap->full_gc_at = heap->heap_limit;
	/* After the cap: an initial size above the limit must not put the
	 * start of marking past the first full GC. */
	heap->marking_start_at = heap->full_gc_at / 100 * MARKING_START_PCT;
	heap->t0_ns = now_ns();
	if (o->diagnostic_dir && !(heap->diagnostic_dir = strdup(o->diagnostic_dir)))
		return gengc_heap_free(heap);
	o->diagnostic_dir = heap->diagnostic_dir;
	/* A page that cannot be made (no memfd_create under a seccomp filter,
	 * out of descriptors) leaves the heap without telemetry, not without
	 * memory: gengc_telemetry_name() then says -ENODEV. */
	o->telemetry = o->telemetry ? 1 : 0;
	heap->tm_fd = -1;
	telemetry_open(heap);
	return heap;
}

struct gengc_heap *gengc_heap_free(struct gengc_heap *heap)
{
	if (!heap)
		return NULL;
	/* Everything still registered for finalization dies with the heap.
	 * The finalizers run as in a collection (in_gc): a gengc_collect()
	 * from one gets -EBUSY and an allocation stops, instead of collecting
	 * under this loop (finalizing again, moving what it walks). */
	heap->in_gc = true;
	for (size_t i = 0; heap->types && i < heap->young_fin.n; i++) {
		struct type_info *ti = type_of(heap, heap->young_fin.v[i]);

		ti->finalize(heap->young_fin.v[i], ti->finalize_ctx);
	}
	for (size_t i = 0; heap->types && i < heap->old_fin.n; i++) {
		struct type_info *ti = type_of(heap, heap->old_fin.v[i]);

		ti->finalize(heap->old_fin.v[i], ti->finalize_ctx);
	}
	handles_done(heap);
	weak_done(heap);
	vec_free(&heap->globals);
	vec_free(&heap->young_fin);
	vec_free(&heap->old_fin);
	vec_free(&heap->work);
	vec_free(&heap->mark_stack);
	vec_free(&heap->rem_pages);
	types_done(heap);
	pages_done(heap);
	remset_done(heap);
	young_marks_done(heap);
	telemetry_close(heap);
	if (heap->map)
		munmap(heap->map, heap->map_bytes);
	free(heap->diagnostic_dir);
	free(heap);
	return NULL;
}

/* ---- callbacks ---------------------------------------------------------------- */
void gengc_set_gc_done_callback(struct gengc_heap *heap, gengc_gc_done_fn *fn, void *ctx)
{
	heap->gc_done = fn;
	heap->gc_done_ctx = ctx;
}

void gengc_set_near_limit_callback(struct gengc_heap *heap, gengc_near_limit_fn *fn, void *ctx)
{
	heap->near_limit = fn;
	heap->near_limit_ctx = ctx;
}

void gengc_set_oom_callback(struct gengc_heap *heap, gengc_oom_fn *fn, void *ctx)
{
	heap->oom_fn = fn;
	heap->oom_ctx = ctx;
}

int64_t gengc_adjust_external(struct gengc_heap *heap, int64_t delta_bytes)
{
	if (__builtin_add_overflow(heap->external, delta_bytes, &heap->external))
		heap->external = delta_bytes > 0 ? INT64_MAX : INT64_MIN;
	return heap->external;
}

/* ---- collection ----------------------------------------------------------------- */
static size_t young_used(const struct gengc_heap *heap)
{
	return (size_t)(heap->fast.top - heap->to_space);
}

/* One collection, one pause, one event. */
static void gc_once(struct gengc_heap *heap, enum gengc_gc_kind kind, enum gengc_gc_reason reason)
{
	uint64_t t0 = now_ns(), before = heap_used_bytes(heap), total_before = heap_total_bytes(heap);

	/* Counted up to top now: a full GC leaves top where it is, so the
	 * mark must move too or the next count takes these bytes again. */
	heap->st.allocated_bytes += (uint64_t)(heap->fast.top - heap->alloc_mark);
	heap->alloc_mark = heap->fast.top;
	heap->promoted_this_gc = heap->survived_this_gc = heap->freed_this_gc = 0;
	GENGC_PROBE1(gc__start, (uint32_t)kind);
	heap->in_gc = true;
	if (kind == GENGC_GC_SCAVENGE) {
		scavenge(heap);
	} else {
		bool over;

		heap->pool_max = SIZE_MAX;      /* trimmed once the next limit is known */
		mark_sweep(heap);
		over = old_committed_bytes(heap) > heap->heap_limit;
		if (compact(heap, kind == GENGC_GC_MARK_COMPACT || over) || kind == GENGC_GC_MARK_COMPACT)
			kind = GENGC_GC_MARK_COMPACT;
		remset_rebuild_pages(heap);
		heap->full_gcs++;
		size_t live = heap->old_used + heap->large_used;
		size_t next = live / 100 * heap->opts.old_space_growth_pct;

		if (next < (size_t)heap->opts.initial_old_space_size * MIB)
			next = (size_t)heap->opts.initial_old_space_size * MIB;
		if (next > heap->heap_limit)
			next = heap->heap_limit;
		heap->full_gc_at = next;
		/* Incremental marking starts MARKING_START_PCT of the way to the
		 * next limit and the final pause comes when it is done. Measured
		 * on binary-trees 20 (bench/RESULTS.md): starting later, or
		 * finishing only at the limit, keeps more floating garbage
		 * (what dies while marking runs) and raised peak rss by 15-75
		 * MiB; starting earlier means more cycles. */
		heap->marking_start_at = live + (next > live ? (next - live) / 100 * MARKING_START_PCT : 0);
		/* Freed pages stay committed for reuse unless they sat unused
		 * through the whole last cycle: half of those go back to the
		 * kernel per full GC. Trimming to the expected refill instead
		 * refaulted ~100 MB per run of binary-trees 20 (27K page faults)
		 * without lowering its peak rss. Never more pooled than in use. */
		size_t keep = heap->pool.n - heap->pool_idle / 2;

		if (keep > heap->committed_pages)
			keep = heap->committed_pages;
		heap->pool_max = keep;
		pages_trim_pool(heap);
		heap->pool_idle = heap->pool.n;
	}
	heap->in_gc = false;
	uint64_t pause = now_ns() - t0, after = heap_used_bytes(heap);

	GENGC_PROBE4(gc__done, (uint32_t)kind, pause, before, after);
	stats_gc_done(heap, kind, reason, pause, before, total_before, after);
	if (heap->opts.verify)
		verify_or_die(heap, gengc_gc_kind_name(kind));
}

/* A scavenge, then the full GC if the old generation is due: in that order
 * so the full GC (which marks young objects in place and does not move
 * them) always leaves the young space with room. */
void collect(struct gengc_heap *heap, enum gengc_gc_kind kind, enum gengc_gc_reason reason)
{
	if (kind != GENGC_GC_SCAVENGE) {
		gc_once(heap, kind, reason);
		return;
	}
	gc_once(heap, GENGC_GC_SCAVENGE, reason);
	if (heap->old_used + heap->large_used >= heap->full_gc_at)
		gc_once(heap, GENGC_GC_MARK_SWEEP,
			reason == GENGC_REASON_STRESS ? reason : GENGC_REASON_OLD_SPACE_LIMIT);
	else if (heap->marking_done)
		gc_once(heap, GENGC_GC_MARK_SWEEP, GENGC_REASON_MARKING_DONE);
	else if (!heap->marking && heap->opts.incremental_marking &&
		 heap->old_used + heap->large_used >= heap->marking_start_at)
		marking_start(heap);
}

/* Makes sure the old space can take `bytes` more without crossing the limit:
 * a compacting GC first, then the near-limit callback, then the OOM
 * callback. Returns false when the allocation must fail. */
static bool ensure_old_room(struct gengc_heap *heap, size_t bytes)
{
	char report[160];
	bool snapshot_taken = false;

	if (old_committed_bytes(heap) + bytes <= heap->heap_limit)
		return true;
	collect(heap, GENGC_GC_MARK_COMPACT, GENGC_REASON_HEAP_LIMIT);
	while (old_committed_bytes(heap) + bytes > heap->heap_limit) {
		uint32_t limit_mib = (uint32_t)(heap->heap_limit / MIB);

		GENGC_PROBE2(heap__limit, (uint64_t)(old_committed_bytes(heap) + bytes), (uint64_t)heap->heap_limit);
		if (!snapshot_taken) {  /* Node's order: the snapshot, then the callback */
			snapshot_near_limit(heap);
			snapshot_taken = true;
		}
		if (heap->near_limit) {
			uint32_t used_mib = (uint32_t)((old_committed_bytes(heap) + MIB - 1) / MIB);
			uint32_t nl;

			heap->st.near_limit_calls++;
			nl = heap->near_limit(heap, limit_mib, used_mib, heap->near_limit_ctx);
			if (nl > limit_mib && (size_t)nl * MIB <= heap->old_npages * PAGE_BYTES) {
				heap->heap_limit = (size_t)nl * MIB;
				continue;
			}
		}
		snprintf(report, sizeof(report),
			 "heap limit reached: old space %zu MiB of %u MiB after %llu full GCs",
			 (old_committed_bytes(heap) + bytes + MIB - 1) / MIB, limit_mib,
			 (unsigned long long)heap->full_gcs);
		heap->st.oom_calls++;
		if (heap->oom_fn) {
			heap->oom_fn(heap, report, heap->oom_ctx);
			return false;
		}
		gengc_log("gengc: %s", report);
		abort();
	}
	return true;
}

int gengc_collect(struct gengc_heap *heap, enum gengc_gc_kind kind)
{
	if ((unsigned)kind >= GENGC_GC_KINDS)
		return -EINVAL;
	if (heap->in_gc || heap->in_callback)
		return -EBUSY;
	collect(heap, kind, GENGC_REASON_REQUESTED);
	return 0;
}

/* ---- allocation --------------------------------------------------------------- */
static void *young_bump(struct gengc_heap *heap, size_t cell)
{
	char *end = heap->young_end, *p = heap->fast.top;

	if ((size_t)(end - p) < cell)
		return NULL;
	while ((size_t)(heap->young_zeroed - p) < cell || heap->young_zeroed < p)
		young_refill(heap);
	heap->fast.top = p + cell;
	if (heap->opts.stress)
		heap->fast.limit = heap->fast.top;
	return p + 8;
}

static void *alloc_large(struct gengc_heap *heap, uint32_t type, size_t size)
{
	size_t bytes = large_run_pages(size) * PAGE_BYTES;
	void *p;

	if (heap->opts.stress)
		collect(heap, heap->opts.stress == 2 ? GENGC_GC_MARK_SWEEP : GENGC_GC_SCAVENGE,
			GENGC_REASON_STRESS);
	else if (heap->old_used + heap->large_used + size >= heap->full_gc_at)
		collect(heap, GENGC_GC_MARK_SWEEP, GENGC_REASON_OLD_SPACE_LIMIT);
	if (!ensure_old_room(heap, bytes))
		return NULL;
	p = large_alloc(heap, type, size);
	if (!p) {
		/* The region or the kernel refused: one last compacting GC. */
		collect(heap, GENGC_GC_MARK_COMPACT, GENGC_REASON_HEAP_LIMIT);
		p = large_alloc(heap, type, size);
	}
	if (!p) {
		char report[160];

		snprintf(report, sizeof(report), "heap limit reached: old space %zu MiB of %zu MiB after %llu full GCs (the system refused memory)",
			 old_committed_bytes(heap) / MIB, heap->heap_limit / MIB, (unsigned long long)heap->full_gcs);
		heap->st.oom_calls++;
		if (!heap->oom_fn) {
			gengc_log("gengc: %s", report);
			abort();
		}
		heap->oom_fn(heap, report, heap->oom_ctx);
		return NULL;
	}
	memset(p, 0, size);
	heap->st.allocated_bytes += size + 8;
	return p;
}

static void *alloc_young(struct gengc_heap *heap, uint32_t type, size_t size)
{
	size_t cell = size + 8;
	void *p;

	if (heap->opts.stress)
		collect(heap, heap->opts.stress == 2 ? GENGC_GC_MARK_SWEEP : GENGC_GC_SCAVENGE,
			GENGC_REASON_STRESS);
	if (heap->marking && !heap->marking_done)
		marking_step(heap);     /* once per slow path: per ZERO_CHUNK allocated */
	for (int attempt = 0; !(p = young_bump(heap, cell)); attempt++) {
		if (attempt == 1)
			gc_fatal("young space full after a scavenge");
		if (!ensure_old_room(heap, young_used(heap)))
			return NULL;
		collect(heap, GENGC_GC_SCAVENGE, GENGC_REASON_ALLOCATION_FAILURE);
	}
	*hdr_of(p) = hdr_make(type, size);
	return p;
}

void *gengc_alloc_slow(struct gengc_heap *heap, uint32_t type, size_t size)
{
	struct type_info *ti;
	void *p;

	if (type >= heap->n_types)
		return NULL;
	if (heap->in_gc)
		gc_fatal("allocation inside a collection (finalizer or trace callback)");
	ti = &heap->types[type];
	if (!size)
		size = ti->size;
	if (!size || size > MAX_OBJECT_BYTES)
		return NULL;
	/* Rounded first: ti->size and min_size are multiples of 8, and the
	 * inline path of gengc_alloc_size() compares the rounded size too. */
	size = (size + 7) & ~(size_t)7;
	if (size < ti->size || size < ti->min_size)
		return NULL;
	if (size > heap->opts.large_object_threshold)
		p = alloc_large(heap, type, size);
	else
		p = alloc_young(heap, type, size);
	if (p && ti->finalize &&
	    vec_push(in_young(heap, p) ? &heap->young_fin : &heap->old_fin, p) < 0)
		gc_fatal("finalizer list: out of memory");
	return p;
}

void *gengc_alloc_size(struct gengc_heap *heap, uint32_t type, size_t size)
{
	struct gengc_heap_fast *f = &heap->fast;
	size_t s8 = (size + 7) & ~(size_t)7;

	if (type < heap->n_types && heap->types[type].size == 0 && !heap->types[type].finalize &&
	    s8 && s8 >= heap->types[type].min_size && s8 <= heap->opts.large_object_threshold &&
	    (size_t)(f->limit - f->top) >= s8 + 8) {
		char *p = f->top;

		f->top = p + s8 + 8;
		*(uint64_t *)(void *)p = hdr_make(type, s8);
		return p + 8;
	}
	if (type < heap->n_types && heap->types[type].size && size == heap->types[type].size)
		return gengc_alloc(heap, type);
	return gengc_alloc_slow(heap, type, size ? size : 1);
}

void *gengc_alloc_raw(struct gengc_heap *heap, size_t size)
{
	return gengc_alloc_size(heap, GENGC_TYPE_RAW, size);
}

char *gengc_strndup(struct gengc_heap *heap, const char *s, size_t len)
{
	char *p;

	if (len >= MAX_OBJECT_BYTES)
		return NULL;
	p = gengc_alloc_raw(heap, len + 1);

	if (p)
		memcpy(p, s, len);
	return p;
}
