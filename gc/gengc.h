/* SPDX-License-Identifier: MIT */
/* libgengc: a generational, precise, moving garbage collector for C programs.
 *
 * The shape is V8's as the Node.js memory notes describe it: a young
 * generation of two semispaces with bump allocation and a Cheney copying
 * scavenge, an old generation of pages swept into size-class free cells and
 * compacted when fragmented, a non-moving large-object space, a write barrier
 * that remembers old->young pointers, and limits/statistics named like V8's
 * (max_old_space_size, heap statistics, per-space statistics).
 *
 * Rules for the program using it (the collector is precise and moves objects):
 *  - A heap pointer is valid only until the next call that may collect
 *    (every gengc_alloc*, gengc_collect, gengc_handle of a full block...).
 *    Keep pointers that must survive an allocation in handles (scopes) or in
 *    registered global roots, and reload them through the handle afterwards.
 *  - Every pointer field of a heap object holds NULL or a pointer returned by
 *    gengc_alloc* of the same heap (to the start of the object), never an
 *    interior pointer.
 *  - Every store of a heap pointer into a heap object goes through
 *    gengc_write() (the write barrier). Plain stores are fine for non-pointer
 *    fields, and into an object just allocated, before the next allocation,
 *    if it is not above the large-object threshold (it is then still young;
 *    large objects are born old). The barrier is cheap: use it.
 *  - A heap belongs to one thread: nothing here is thread-safe. Use one heap
 *    per thread; objects of one heap must never point into another.
 *
 * Errors: functions returning int return >= 0 on success and a negative errno
 * value on failure; ret_ out-parameters are written only on success.
 * Allocation returns NULL only after the out-of-memory callback returned
 * (the default one aborts with a report).
 *
 * Environment (read once per process, on the first gengc_options_init(); a
 * bad value is reported through the log callback and ignored):
 *   GENGC_MAX_OLD_SPACE_SIZE=MiB   GENGC_MAX_SEMI_SPACE_SIZE=MiB
 *   GENGC_MIN_SEMI_SPACE_SIZE=MiB  GENGC_INITIAL_OLD_SPACE_SIZE=MiB
 *   GENGC_PROMOTION_AGE=N          GENGC_TRACE_GC=1 (one line per GC)
 *   GENGC_VERIFY=1 (gengc_verify() after every GC, abort on corruption)
 *   GENGC_STRESS=1 (scavenge at every allocation) / 2 (full GC at every allocation)
 *   GENGC_INCREMENTAL_MARKING=1    GENGC_MARKING_STEP=N
 *   GENGC_LARGE_OBJECT_THRESHOLD=bytes  GENGC_COMPACT_THRESHOLD=pct
 *   GENGC_OLD_SPACE_GROWTH=pct
 *   GENGC_HEAPSNAPSHOT_NEAR_HEAP_LIMIT=N  GENGC_DIAGNOSTIC_DIR=path
 *   GENGC_TELEMETRY=0 (publish no telemetry page; 1, the default, publishes one)
 * (one per field of struct gengc_options; docs/gengc.md has the table)
 */
#ifndef GENGC_H
#define GENGC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is compiled with -fvisibility=hidden: what this header
 * declares is its interface and keeps default visibility; every internal
 * name is hidden, and localized in libgengc.a (gc/gc.mk), so an
 * application's own collect() or page_free() never meets one of ours. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define GENGC_VERSION_MAJOR 0
#define GENGC_VERSION_MINOR 1

struct gengc_heap;

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

/* Defaults, also documented by name so a reader can find them. */
#define GENGC_DEFAULT_MAX_OLD_SPACE_SIZE_MIB   2048u
#define GENGC_DEFAULT_MAX_SEMI_SPACE_SIZE_MIB  16u
#define GENGC_DEFAULT_MIN_SEMI_SPACE_SIZE_MIB  1u
#define GENGC_DEFAULT_INITIAL_OLD_SPACE_SIZE_MIB 16u  /* measured: bench/RESULTS.md */
#define GENGC_DEFAULT_PROMOTION_AGE            1u   /* chosen by measurement: bench/RESULTS.md */
#define GENGC_DEFAULT_LARGE_OBJECT_THRESHOLD   (128u * 1024u)
#define GENGC_DEFAULT_COMPACT_THRESHOLD_PCT    30u
#define GENGC_DEFAULT_OLD_SPACE_GROWTH_PCT     150u
#define GENGC_DEFAULT_MARKING_STEP             32768u

struct gengc_options {
	uint32_t max_old_space_size;    /* MiB: old + large-object space limit (V8's --max-old-space-size) */
	uint32_t max_semi_space_size;   /* MiB: the largest a semispace may grow (V8's --max-semi-space-size) */
	uint32_t min_semi_space_size;   /* MiB: the starting semispace size */
	uint32_t initial_old_space_size;/* MiB: old space size that triggers the first full GC
	                                   (V8's --initial-old-space-size) */
	uint32_t promotion_age;         /* scavenges survived in the young generation before
	                                   the next one promotes: 0 promotes at the first
	                                   survival, 1 is V8's "copied once, then promoted" */
	uint32_t large_object_threshold;/* bytes: larger objects go to the large-object space
	                                   (clamped to [4 KiB, min(128 KiB, starting
	                                   semispace / 4)]) */
	uint32_t compact_threshold_pct; /* compact when free cells in used old pages exceed this
	                                   percentage of the old space after a mark-sweep;
	                                   0: at every full GC */
	uint32_t old_space_growth_pct;  /* next full GC when old space reaches this percentage
	                                   of what survived the last one (>= 110) */
	uint32_t trace_gc;              /* 1: one --trace-gc line per GC through the log callback */
	uint32_t verify;                /* 1: gengc_verify() after every GC; abort on corruption */
	uint32_t stress;                /* 1: scavenge at every allocation, 2: full GC at every one */
	uint32_t incremental_marking;   /* 1: mark the old generation in steps between
	                                   pauses, V8-style: short full-GC pauses, more total
	                                   marking work (bench/RESULTS.md has the trade-off).
	                                   A cycle starts, checked after each scavenge, once
	                                   old + large objects reach a quarter of the way from
	                                   what survived the last full GC to the next one's
	                                   trigger (at first a quarter of
	                                   initial_old_space_size: 4 MiB by default); a heap
	                                   that stays smaller needs no full GC and never marks */
	uint32_t marking_step;          /* objects scanned per incremental marking step (one
	                                   step per 32 KiB allocated); small values stress the
	                                   marking barrier */
	uint32_t heapsnapshot_near_heap_limit; /* write up to this many heap snapshots when the
	                                   heap reaches its limit, before the near-limit
	                                   callback (Node's --heapsnapshot-near-heap-limit);
	                                   0: none */
	const char *diagnostic_dir;     /* where they go (Node's --diagnostic-dir); NULL: the
	                                   current directory. Copied by gengc_heap_new() */
	uint32_t telemetry;             /* 1 (the default): the heap publishes its telemetry
	                                   page (docs/telemetry.md) for the agent; 0: none */
};

/* Fills *ret with the defaults above, then applies the GENGC_* environment
 * variables (parsed once per process). The caller may change fields after. */
void gengc_options_init(struct gengc_options *ret);

/* Where the library's few lines go: environment errors, GENGC_TRACE_GC lines,
 * GENGC_VERIFY failures. The default writes the line plus '\n' to stderr.
 * Process-wide; set it before the first gengc_options_init() to catch the
 * environment report. fn == NULL restores the default. */
typedef void gengc_log_fn(void *ctx, const char *line);
void gengc_set_log_callback(gengc_log_fn *fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Heap lifecycle                                                            */
/* ------------------------------------------------------------------------ */

/* Creates a heap. opts may be NULL (gengc_options_init() defaults). Reserves
 * address space for the whole heap up front (committed as used). Returns NULL
 * when memory or address space is short. */
struct gengc_heap *gengc_heap_new(const struct gengc_options *opts);

/* Runs the finalizer of every object not finalized yet, live or dead (the
 * heap's objects all die with it), then releases all memory. The
 * finalizers run as inside a collection (gengc_collect() returns -EBUSY;
 * they must not allocate, as always). NULL-safe; returns NULL. */
struct gengc_heap *gengc_heap_free(struct gengc_heap *heap);

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

struct gengc_tracer;
/* Reports one pointer slot of an object during tracing (custom trace). */
void gengc_trace_slot(struct gengc_tracer *t, void **slot);
/* A custom trace callback: call gengc_trace_slot() for every pointer field of
 * obj (size = its payload size). It runs inside the collector: it must not
 * allocate, write other objects, or keep obj. */
typedef void gengc_trace_fn(void *obj, size_t size, struct gengc_tracer *t);
/* A finalizer: runs once, during the collection that found obj dead, before
 * its memory is reused. It may read obj's non-pointer data (to free off-heap
 * resources) and must not allocate, collect, keep obj (it is gone when the
 * collection ends), or follow obj's pointer fields. */
typedef void gengc_finalize_fn(void *obj, void *ctx);

#define GENGC_TYPE_ALL_POINTERS 1u  /* every 8-byte word of the payload is a pointer field */

struct gengc_type {
	const char *name;               /* copied; for statistics and heap snapshots */
	uint32_t size;                  /* payload bytes; 0: variable, given to gengc_alloc_size() */
	uint32_t flags;                 /* GENGC_TYPE_* */
	uint32_t n_pointers;            /* entries in pointer_offsets (ignored with ALL_POINTERS) */
	const uint32_t *pointer_offsets;/* byte offsets of pointer fields, 8-aligned, copied */
	gengc_trace_fn *trace;          /* or a callback instead of the layout (slower) */
	gengc_finalize_fn *finalize;    /* optional */
	void *finalize_ctx;
};

/* Registers a type; *ret_id is what gengc_alloc() takes. At most 65534 types.
 * -EINVAL for a bad layout (offset outside size, unaligned, both layout and
 * trace), -ENOSPC when the table is full, -ENOMEM. */
int gengc_type_register(struct gengc_heap *heap, const struct gengc_type *type, uint32_t *ret_id);

/* Type 0: pointer-free raw bytes (strings, buffers, doubles). */
#define GENGC_TYPE_RAW 0u

/* ------------------------------------------------------------------------ */
/* The fast paths' view of the heap. Private: only the inline functions     */
/* below may touch it; it is the first member of struct gengc_heap.         */
/* ------------------------------------------------------------------------ */
struct gengc_heap_fast {
	char *top, *limit;              /* young bump allocation: [top, limit) is zeroed */
	void **hs_next, **hs_limit;     /* handle stack: current block */
	uintptr_t young_lo, young_span; /* the young reservation (both semispaces) */
	const uint64_t *type_hdr;       /* per type: header template, payload size << 32; a
	                                   size beyond any window marks slow-path types */
	uint32_t n_types;
	uint32_t marking;               /* incremental marking in progress */
};

void *gengc_alloc_slow(struct gengc_heap *heap, uint32_t type, size_t size);
void **gengc_handle_slow(struct gengc_heap *heap, void *obj);
void gengc_remember_slow(struct gengc_heap *heap, void *obj, void **field);
void gengc_mark_barrier_slow(struct gengc_heap *heap, void *value);

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

/* Allocates a zeroed object of a fixed-size type. May collect (every raw
 * pointer the caller holds is then stale: reload from handles). Cost: a
 * bump and one store when the young space has room. Returns NULL only when
 * the heap is exhausted and the out-of-memory callback returned. */
static inline void *gengc_alloc(struct gengc_heap *heap, uint32_t type)
{
	struct gengc_heap_fast *f = (struct gengc_heap_fast *)heap;

	if (type < f->n_types) {
		uint64_t hdr = f->type_hdr[type];
		size_t cell = (size_t)(hdr >> 32) + 8;
		char *p = f->top;

		if ((size_t)(f->limit - p) >= cell) {
			f->top = p + cell;
			*(uint64_t *)(void *)p = hdr;
			return p + 8;
		}
	}
	return gengc_alloc_slow(heap, type, 0);
}

/* Allocates a zeroed object of size payload bytes (>= the type's size; any
 * size for variable types and GENGC_TYPE_RAW), rounded up to 8. A size of 0
 * gets 8 bytes (one word, so distinct objects have distinct addresses):
 * gengc_size() reads 8, and for a GENGC_TYPE_ALL_POINTERS type that word is
 * a pointer field holding NULL. Sizes above the large object
 * threshold go to the non-moving large-object space. Objects are limited to
 * 4 GiB - 8; a bigger size, or a fixed type given a smaller size, is a
 * programmer error (NULL). Otherwise as gengc_alloc(). */
void *gengc_alloc_size(struct gengc_heap *heap, uint32_t type, size_t size);

/* Raw, pointer-free bytes: gengc_alloc_size(heap, GENGC_TYPE_RAW, size). */
void *gengc_alloc_raw(struct gengc_heap *heap, size_t size);

/* A NUL-terminated copy of s[0..len) as a raw object (len + 1 bytes); NULL
 * when len is too big for an object. */
char *gengc_strndup(struct gengc_heap *heap, const char *s, size_t len);

/* The payload size (rounded up to 8, and 8 for a zero-size request) and
 * the type id of a live object. */
size_t gengc_size(const void *obj);
uint32_t gengc_type_of(const void *obj);

/* ------------------------------------------------------------------------ */
/* The write barrier                                                         */
/* ------------------------------------------------------------------------ */

/* Stores value (a heap object or NULL) into *field, a pointer field of the
 * heap object obj; remembers the slot when an old object now points to a
 * young one, and while incremental marking runs, marks an old value stored
 * into an old object (so a marked object never hides an unmarked one).
 * Every heap-pointer store into a heap object must use it.
 * A store into a young object costs one compare: it needs no remembering,
 * and no marking either, because the final marking pause traverses the
 * young generation (invariant I5 in gc/gengc_internal.h). The bounds are
 * read before the store, which might otherwise alias them for the
 * compiler. */
static inline void gengc_write(struct gengc_heap *heap, void *obj, void *field, void *value)
{
	struct gengc_heap_fast *f = (struct gengc_heap_fast *)heap;
	uintptr_t lo = f->young_lo, span = f->young_span;

	*(void **)field = value;
	if ((uintptr_t)obj - lo >= span) {
		if ((uintptr_t)value - lo < span)
			gengc_remember_slow(heap, obj, (void **)field);
		else if (f->marking && value)
			gengc_mark_barrier_slow(heap, value);
	}
}

/* ------------------------------------------------------------------------ */
/* Roots: handle scopes, global roots                                        */
/* ------------------------------------------------------------------------ */

/* A handle is a void ** slot the collector updates when it moves the object:
 * read the object as *h after any allocation. A handle may be written too
 * (*h = obj, obj a heap object of this heap or NULL: a plain store, no
 * barrier); the collector then keeps and updates the new object. Handles
 * live until the scope
 * that created them closes. Scopes nest strictly (LIFO), like V8's. */
struct gengc_scope {
	void **next, **limit;           /* the handle stack where the scope opened */
	void **escape;                  /* the slot reserved in the outer scope, or NULL */
};

/* Creates a handle for obj (a heap object or NULL) in the innermost scope.
 * Handles created with no scope open live until gengc_heap_free(). */
static inline void **gengc_handle(struct gengc_heap *heap, void *obj)
{
	struct gengc_heap_fast *f = (struct gengc_heap_fast *)heap;
	void **h = f->hs_next;

	if (h < f->hs_limit) {
		*h = obj;
		f->hs_next = h + 1;
		return h;
	}
	return gengc_handle_slow(heap, obj);
}

static inline void gengc_scope_open(struct gengc_heap *heap, struct gengc_scope *s)
{
	struct gengc_heap_fast *f = (struct gengc_heap_fast *)heap;

	s->escape = NULL;
	s->next = f->hs_next;
	s->limit = f->hs_limit;
}

/* Opens a scope with one slot reserved in the enclosing scope for a value
 * that must outlive this one (gengc_scope_escape()). */
static inline void gengc_scope_open_escapable(struct gengc_heap *heap, struct gengc_scope *s)
{
	void **slot = gengc_handle(heap, NULL);

	gengc_scope_open(heap, s);
	s->escape = slot;
}

/* Stores obj into the escape slot and returns that handle, valid in the
 * enclosing scope after this one closes. Only on an escapable scope. */
static inline void **gengc_scope_escape(struct gengc_scope *s, void *obj)
{
	*s->escape = obj;
	return s->escape;
}

void gengc_scope_close_slow(struct gengc_heap *heap, struct gengc_scope *s);

/* Closes the innermost scope: its handles die. */
static inline void gengc_scope_close(struct gengc_heap *heap, struct gengc_scope *s)
{
	struct gengc_heap_fast *f = (struct gengc_heap_fast *)heap;

	if (s->limit == f->hs_limit)
		f->hs_next = s->next;
	else
		gengc_scope_close_slow(heap, s);
}

/* Registers the address of a variable that holds a heap object or NULL; the
 * collector reads and updates *slot at every GC until it is removed.
 * -EEXIST if registered, -ENOMEM. */
int gengc_root_add(struct gengc_heap *heap, void **slot);
/* -ENOENT if slot was not registered. */
int gengc_root_remove(struct gengc_heap *heap, void **slot);

/* ------------------------------------------------------------------------ */
/* Weak references                                                           */
/* ------------------------------------------------------------------------ */

struct gengc_weak;
/* A weak reference to obj: it does not keep obj alive, and reads NULL once
 * a GC found obj unreachable. Off-heap; free it with gengc_weak_free().
 * NULL on out-of-memory. */
struct gengc_weak *gengc_weak_new(struct gengc_heap *heap, void *obj);
/* The target (current address) or NULL when it died. */
void *gengc_weak_get(const struct gengc_weak *w);
/* NULL-safe; returns NULL. */
struct gengc_weak *gengc_weak_free(struct gengc_heap *heap, struct gengc_weak *w);

/* ------------------------------------------------------------------------ */
/* Collection, limits, callbacks                                             */
/* ------------------------------------------------------------------------ */

enum gengc_gc_kind {
	GENGC_GC_SCAVENGE = 0,          /* young generation only */
	GENGC_GC_MARK_SWEEP = 1,        /* full: scavenge-promote, mark, sweep */
	GENGC_GC_MARK_COMPACT = 2,      /* full, and evacuate fragmented pages */
	GENGC_GC_KINDS = 3,
};

enum gengc_gc_reason {
	GENGC_REASON_ALLOCATION_FAILURE = 0, /* the young space was full */
	GENGC_REASON_OLD_SPACE_LIMIT,        /* the old space reached its next-GC size */
	GENGC_REASON_HEAP_LIMIT,             /* near max_old_space_size: last resort */
	GENGC_REASON_REQUESTED,              /* gengc_collect() */
	GENGC_REASON_STRESS,                 /* GENGC_STRESS */
	GENGC_REASON_FRAGMENTATION,          /* compaction chosen after a mark-sweep */
	GENGC_REASON_MARKING_DONE,           /* incremental marking finished: the final pause */
	GENGC_REASONS
};
const char *gengc_gc_kind_name(enum gengc_gc_kind kind);     /* "Scavenge", "Mark-Sweep", "Mark-Compact" */
const char *gengc_gc_reason_name(enum gengc_gc_reason reason);

/* Collects now (a full GC finishes incremental marking in progress).
 * GENGC_GC_MARK_SWEEP may still compact when fragmentation crosses the
 * threshold. Returns 0, or -EINVAL for a bad kind, -EBUSY when called from
 * inside a collection (a finalizer or callback). */
int gengc_collect(struct gengc_heap *heap, enum gengc_gc_kind kind);

struct gengc_gc_event {
	uint32_t kind;                  /* enum gengc_gc_kind */
	uint32_t reason;                /* enum gengc_gc_reason */
	uint64_t pause_ns;
	uint64_t heap_used_before_bytes, heap_used_after_bytes;
	uint64_t survived_bytes;        /* scavenge: copied within young + promoted */
	uint64_t promoted_bytes;
	uint64_t freed_bytes;
	uint64_t marked_objects;        /* full GCs: objects marked live */
};
/* Called after every GC, when it is complete (the heap is consistent, the
 * pause is over and counted) but before the allocation or gengc_collect()
 * that caused it returns. It may read statistics, weak references and
 * objects, and call gengc_verify(); it must not allocate in this heap (that
 * could start a GC inside this one's callback), and gengc_collect() returns
 * -EBUSY here. */
typedef void gengc_gc_done_fn(struct gengc_heap *heap, const struct gengc_gc_event *ev, void *ctx);
void gengc_set_gc_done_callback(struct gengc_heap *heap, gengc_gc_done_fn *fn, void *ctx);

/* Called when, after a compacting full GC, the old space still exceeds
 * max_old_space_size. Returns the new limit in MiB (> limit_mib to let the
 * heap grow, anything else to refuse). A limit beyond the address space
 * reserved at creation (twice the initial limit, at least 16 GiB) is
 * refused. Must not allocate in this heap. */
typedef uint32_t gengc_near_limit_fn(struct gengc_heap *heap, uint32_t limit_mib,
				     uint32_t used_mib, void *ctx);
void gengc_set_near_limit_callback(struct gengc_heap *heap, gengc_near_limit_fn *fn, void *ctx);

/* Called on true exhaustion with a one-line report ("heap limit reached: old
 * space X MiB of Y MiB after N full GCs"). The default writes it through the
 * log callback (stderr unless gengc_set_log_callback() set one) and aborts. If a callback returns, the allocation that hit the limit returns
 * NULL (and the heap stays usable; it may be over the limit by one
 * semispace). It may longjmp out or exit. */
typedef void gengc_oom_fn(struct gengc_heap *heap, const char *report, void *ctx);
void gengc_set_oom_callback(struct gengc_heap *heap, gengc_oom_fn *fn, void *ctx);

/* Reports off-heap memory the app keeps alive through heap objects (like
 * V8's AdjustAmountOfExternalAllocatedMemory). Returns the new total, which
 * saturates at INT64_MIN / INT64_MAX instead of wrapping. */
int64_t gengc_adjust_external(struct gengc_heap *heap, int64_t delta_bytes);

/* ------------------------------------------------------------------------ */
/* Statistics (fixed-width fields, no pointers: copyable to a shared page)   */
/* ------------------------------------------------------------------------ */

struct gengc_memory_usage {             /* process.memoryUsage() */
	uint64_t rss;                   /* resident set of the process (/proc/self/statm) */
	uint64_t heap_total;            /* committed heap bytes */
	uint64_t heap_used;             /* bytes in live-or-unswept objects */
	uint64_t external;              /* gengc_adjust_external() total */
};

struct gengc_heap_statistics {          /* v8.getHeapStatistics() */
	uint64_t total_heap_size;
	uint64_t used_heap_size;
	/* V8's meaning: the most the heap may grow to, the old generation's
	 * limit plus the young generation's maximum: max_old_space_size (as
	 * raised by the near-limit callback) + 2 x max_semi_space_size.
	 * V8 adds a third semispace for its young large-object space, which
	 * libgengc has not (large objects are old from birth and count in
	 * max_old_space_size): 44 MiB old, 16 MiB semispaces reads 76 MiB
	 * here and 92 MiB in node --max-old-space-size=44. */
	uint64_t heap_size_limit;
	uint64_t total_available_size;
	uint64_t total_physical_size;
};

enum gengc_space {
	GENGC_SPACE_NEW = 0, GENGC_SPACE_OLD = 1, GENGC_SPACE_LARGE_OBJECT = 2, GENGC_SPACES = 3,
};
const char *gengc_space_name(enum gengc_space space); /* "new_space", "old_space", "large_object_space" */

struct gengc_space_statistics {         /* v8.getHeapSpaceStatistics() */
	uint64_t space_size;
	uint64_t space_used_size;
	uint64_t space_available_size;
	uint64_t physical_space_size;
};

#define GENGC_PAUSE_BUCKETS 32          /* bucket i: pauses in [2^i, 2^(i+1)) microseconds */
#define GENGC_FULL_GC_HISTORY 32

struct gengc_gc_kind_statistics {
	uint64_t count;
	uint64_t total_pause_ns;
	uint64_t max_pause_ns;
	uint64_t pause_histogram[GENGC_PAUSE_BUCKETS];
	uint64_t bytes_promoted;        /* scavenges: moved to the old space */
	uint64_t bytes_freed;
	uint64_t bytes_survived;        /* scavenges: copied + promoted */
	uint64_t last_pause_ns;
};

struct gengc_stats {
	uint32_t version;               /* GENGC_STATS_VERSION */
	uint32_t size;                  /* sizeof(struct gengc_stats) */
	struct gengc_memory_usage memory;
	struct gengc_heap_statistics heap;
	struct gengc_space_statistics space[GENGC_SPACES];
	struct gengc_gc_kind_statistics gc[GENGC_GC_KINDS];
	uint64_t full_gcs;              /* mark-sweep + mark-compact */
	uint64_t old_used_after_full_gc;/* the leak signal: last value ... */
	uint64_t old_used_after_full_gc_history[GENGC_FULL_GC_HISTORY]; /* ... and the last 32, oldest first */
	uint64_t old_pages;             /* pages of the paged old space */
	uint64_t allocated_bytes;       /* total ever allocated */
	uint64_t near_limit_calls, oom_calls;
	uint64_t incremental_marking_cycles; /* full GCs whose marking ran in steps */
	uint64_t marking_steps;         /* marking steps taken between pauses */
	uint64_t marking_step_max_ns;   /* the longest of them */
	uint64_t heap_snapshots;        /* written by gengc_heap_snapshot(), near the limit too */
	uint64_t last_heap_snapshot_bytes;
	/* Reserved for later issues, kept zero now: the telemetry page
	 * (sequence, flags). */
	uint64_t reserved[11];
};
#define GENGC_STATS_VERSION 1

/* Fills *ret with a consistent copy of every statistic. Cost: reads
 * /proc/self/statm once for rss. Returns 0. */
int gengc_stats_read(struct gengc_heap *heap, struct gengc_stats *ret);
int gengc_memory_usage(struct gengc_heap *heap, struct gengc_memory_usage *ret);
int gengc_heap_statistics(struct gengc_heap *heap, struct gengc_heap_statistics *ret);
/* -EINVAL for an unknown space. */
int gengc_space_statistics(struct gengc_heap *heap, enum gengc_space space,
			   struct gengc_space_statistics *ret);

/* USDT probes (docs/gengc.md, "USDT probes"): gengc:gc__start(kind),
 * gengc:gc__done(kind, pause_ns, bytes_before, bytes_after) and
 * gengc:heap__limit(used, limit), semaphore-guarded: free when untraced. */

/* ------------------------------------------------------------------------ */
/* The telemetry page (docs/telemetry.md)                                    */
/* ------------------------------------------------------------------------ */

/* With options.telemetry set (the default) every heap publishes its
 * statistics on a page of its own: a memfd named "gengc-stats", sealed
 * against shrinking and growing, mapped shared, that the agent finds in
 * /proc/PID/fd. It is rewritten at the end of every GC and on every queue
 * report, never per allocation, and never reads /proc (the process's start
 * time is read from /proc/self/stat once per process). Cost per GC: a copy
 * of the statistics (~1 KiB) and a walk of the old space's page list. A
 * forked child that collects replaces the inherited page with its own.
 * A heap whose page could not be made (no memfd_create) runs without one. */

/* Sets the page's name, the agent's `target` label (default: the thread's
 * comm). Returns 0; -EINVAL for a NULL or empty name or one over 63 bytes;
 * -ENODEV with telemetry off (or no page). */
int gengc_telemetry_name(struct gengc_heap *heap, const char *name);

/* Publishes the depth of the app's queue `name` (the agent's
 * memagent_queue_depth{queue}); the first report of a name adds it, later
 * ones update it. Returns 0; -EINVAL for a NULL or empty name or one over 63
 * bytes; -ENOSPC for a 33rd name; -ENODEV with telemetry off (or no page). */
int gengc_queue_report(struct gengc_heap *heap, const char *name, uint64_t depth);

/* The page's descriptor (owned by the heap: do not close it), for tests and
 * for passing to a reader; -ENODEV with telemetry off. */
int gengc_telemetry_fd(struct gengc_heap *heap);

/* ------------------------------------------------------------------------ */
/* Heap snapshots                                                            */
/* ------------------------------------------------------------------------ */

/* Writes a heap snapshot in V8's .heapsnapshot JSON format (what Chrome
 * DevTools' Memory tab and memlab load) to fd: every object reachable from
 * the handles and global roots, as a node named by its type (the
 * constructor name) with its size including the 8-byte header as self
 * size and an element edge per non-NULL pointer field (indexed by the
 * field's offset / 8); the roots are V8's synthetic nodes, the root with
 * an edge to "(GC roots)", and under it "(Handle scope)" and "(Global
 * handles)". Node ids are not stable across snapshots (objects move).
 * docs/gengc.md describes the format. Does not collect or move anything;
 * callable from the GC-done and near-limit callbacks, not from inside a
 * collection (a finalizer or trace callback: -EBUSY). Cost: a walk of the
 * reachable heap and 40-60 bytes of malloc per object, for the time of
 * the call. Returns 0, -ENOMEM, or the negative errno of a failed write()
 * (the file is then incomplete). */
int gengc_heap_snapshot(struct gengc_heap *heap, int fd);

/* ------------------------------------------------------------------------ */
/* Heap checker                                                              */
/* ------------------------------------------------------------------------ */

/* Walks the roots and every object of every space and checks headers,
 * forwarding, page bitmaps, the remembered set (every old->young pointer is
 * remembered) and that no pointer leads into from-space, a freed cell, or
 * outside the heap. Returns 0, or -EUCLEAN with the first problem described
 * in msg (NUL-terminated, may be NULL); -EBUSY inside a collection (a trace
 * callback or finalizer), -ENOMEM if its bookkeeping cannot be allocated.
 * Cost: proportional to the heap. */
int gengc_verify(struct gengc_heap *heap, char *msg, size_t msg_len);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
