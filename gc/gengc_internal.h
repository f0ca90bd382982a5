/* SPDX-License-Identifier: MIT */
/* libgengc internals shared by the subsystem files; never installed.
 *
 * Memory map of a heap (one mmap reservation, PROT_NONE until committed):
 *
 *   [young: semispace A | semispace B][old region: 256 KiB pages ...]
 *
 * Objects: an 8-byte header, then the payload; a heap pointer is the payload
 * address (8-aligned). Header word:
 *   bit 0      FORWARDED: the rest of the word is the new payload address
 *   bits 8-15  age: scavenges survived (young objects)
 *   bits 16-31 type id (0 = raw bytes)
 *   bits 32-63 payload size in bytes, a multiple of 8
 *
 * Invariants (gengc_verify() checks them; every file keeps them):
 *  I1 Outside a collection no header is FORWARDED, and every pointer field
 *     of every allocated object (young objects below top, old cells whose
 *     alloc bit is set, large objects) is NULL or the payload address of an
 *     allocated object in to-space, an old cell with its alloc bit set, or a
 *     large object. Dead-but-unswept objects keep this too: only a full GC
 *     frees, and it frees everything unreachable at once.
 *  I2 Every slot of an old or large object that points into the young
 *     generation has its bit set in the remembered set, and the page of the
 *     object holding it is on the remembered-pages list.
 *  I3 A full GC marks young objects in place (a bit per 8 bytes in
 *     young_marks, beside the young space; headers are never marked) and
 *     does not move them; when it ends every young object is either live
 *     or dead and rewritten as a raw filler (no pointers), no young mark
 *     bit is set, and remembered-set bits of freed old cells are cleared,
 *     so I1 and I2 hold without copying the young generation in the pause.
 *  I4 [fast.top, fast.limit) is zeroed memory in to-space, below young_end
 *     (the allocation window, at most the semispace); objects are never
 *     handed out with stale contents.
 *  I5 While incremental marking runs (heap->marking), old objects are
 *     marked but never freed or moved, and no old object reachable from the
 *     roots is unmarked unless it is reachable from a marked object on the
 *     mark stack, from a young object, from a root, or from a remembered
 *     slot of a marked object (marksweep.c says why each holds); the final
 *     pause re-scans all four. Outside marking, no mark bit is set.
 */
#ifndef GENGC_INTERNAL_H
#define GENGC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gengc.h"

#define KIB ((size_t)1024)
#define MIB ((size_t)1024 * 1024)

#define PAGE_SHIFT 18
#define PAGE_BYTES ((size_t)1 << PAGE_SHIFT)       /* 256 KiB, V8's page size */
#define PAGE_MASK (PAGE_BYTES - 1)
#define ZERO_CHUNK ((size_t)32 * 1024)             /* young space zeroed this much at a time */

#define HDR_FWD 1ull
#define HDR_AGE_SHIFT 8
#define HDR_TYPE_SHIFT 16
#define HDR_SIZE_SHIFT 32
#define MAX_TYPES 65535u
#define MAX_OBJECT_BYTES ((size_t)0xfffffff8u)
#define SLOW_TEMPLATE_SIZE ((size_t)0xfffffff0u) /* type_hdr: never fits a window */

static inline uint64_t *hdr_of(const void *obj) { return (uint64_t *)((char *)obj - 8); }
static inline size_t hdr_size(uint64_t h) { return (size_t)(h >> HDR_SIZE_SHIFT); }
static inline uint32_t hdr_type(uint64_t h) { return (uint32_t)(h >> HDR_TYPE_SHIFT) & 0xffffu; }
static inline uint32_t hdr_age(uint64_t h) { return (uint32_t)(h >> HDR_AGE_SHIFT) & 0xffu; }
static inline uint64_t hdr_make(uint32_t type, size_t size)
{
	return ((uint64_t)size << HDR_SIZE_SHIFT) | ((uint64_t)type << HDR_TYPE_SHIFT);
}

/* ---- types ---------------------------------------------------------------- */
enum layout { LAYOUT_RAW, LAYOUT_ALL, LAYOUT_OFFSETS, LAYOUT_TRACE };

struct type_info {
	char *name;
	uint32_t size;                  /* 0: variable */
	uint32_t min_size;              /* variable types: the smallest valid payload */
	uint8_t layout;                 /* enum layout */
	uint32_t lead_words;            /* LAYOUT_ALL: only this many leading words (0: all) */
	uint32_t n_offsets;
	uint32_t *offsets;
	gengc_trace_fn *trace;
	gengc_finalize_fn *finalize;
	void *finalize_ctx;
};

/* The pointer words at the start of a LAYOUT_ALL object with header h. */
static inline size_t lead_words(const struct type_info *ti, uint64_t h)
{
	return ti->lead_words ? ti->lead_words : (size_t)(h >> 32) / 8;
}

/* The tracer handed to custom trace callbacks: visits one slot. */
struct gengc_tracer {
	void (*visit)(struct gengc_tracer *t, void **slot);
	struct gengc_heap *heap;
};

/* ---- pages ---------------------------------------------------------------- */
enum page_kind { PAGE_FREE = 0, PAGE_SMALL = 1, PAGE_LARGE = 2, PAGE_LARGE_TAIL = 3, PAGE_POOLED = 4 };
#define PAGE_MAGIC 0x67656e67u /* "geng" */
#define PF_EVACUATE 1u          /* compaction is moving this page's cells out */
#define PF_REMEMBERED 2u        /* on heap->rem_pages */

/* The header at the start of every old-region page (and of the first page of
 * a large object's run). Small pages carry their alloc and mark bitmaps right
 * after it; cells follow. A cell is allocated iff its alloc bit is set. */
struct page {
	/* First cache line: what marking reads for every object it marks. A
	 * large page has div_mul 0 (every address is cell 0) and mark_bits
	 * pointing at large_mark, so one code path marks both kinds. */
	uint32_t magic;
	uint8_t kind;                   /* enum page_kind */
	uint8_t flags;                  /* PF_* */
	uint16_t cls;                   /* size class (small) */
	uint32_t div_mul;               /* cell index = (offset * div_mul) >> 32 for cell starts */
	uint32_t cell_bytes;            /* header + payload */
	char *cells;                    /* first cell (its header) */
	uint64_t *alloc_bits, *mark_bits;
	uint64_t large_mark;            /* large: bit 0 is its mark bit */
	uint32_t ncells;
	uint32_t nlive;                 /* alloc bits set */
	uint32_t bitmap_words;
	uint32_t cursor;                /* allocation: first bitmap word that may have a zero */
	size_t run_pages;               /* large: pages in the run */
	struct page *next, *prev;       /* large objects list */
};

static inline struct page *page_of(const void *p)
{
	return (struct page *)((uintptr_t)p & ~(uintptr_t)PAGE_MASK);
}

static inline uint32_t cell_index(const struct page *pg, const void *obj)
{
	return (uint32_t)(((uint64_t)((const char *)obj - 8 - pg->cells) * pg->div_mul) >> 32);
}

#define N_CLASSES 64
struct size_class {
	uint32_t cell_bytes, ncells, hdr_bytes, bitmap_words, div_mul;
	struct page **pages;            /* every page of the class */
	size_t n_pages, cap_pages;
	size_t alloc_idx;               /* pages[alloc_idx..] may have free cells */
	struct page *cur;               /* pages[alloc_idx] while it has free cells, or NULL */
	char *lab, *lab_end;            /* scavenge: cells taken for promotion, not yet used */
};

/* ---- roots ---------------------------------------------------------------- */
#define HANDLE_BLOCK_SLOTS 1022
struct handle_block {
	struct handle_block *prev;
	void *slots[HANDLE_BLOCK_SLOTS];
};

struct gengc_weak {
	void *target;
	struct gengc_weak *next, *prev;
};

struct ptr_vec {
	void **v;
	size_t n, cap;
};

typedef bool remset_slot_fn(struct gengc_heap *heap, void **slot); /* true: keep */

/* The marker's choice between its two walk orders (marksweep.c). */
struct mark_tuning {
	uint64_t cost[2];               /* ticks per object, a decaying minimum, by order */
	uint64_t blocks;                /* timed blocks this cycle */
	uint64_t blocks_by_mode[2];
	unsigned mode;                  /* the order in use after the trials */
};

/* ---- the heap ------------------------------------------------------------- */
struct gengc_heap {
	struct gengc_heap_fast fast;    /* first: the inline fast paths cast to it */
	struct gengc_options opts;

	/* reservation */
	char *map;
	size_t map_bytes;

	/* young generation */
	char *young;                    /* == fast.young_lo */
	size_t semi_max, semi_cap;      /* bytes */
	char *to_space, *from_space;    /* semispace starts; allocation in to_space */
	size_t survived_since_grow;
	bool promote_all;               /* next scavenge promotes every survivor (high survival) */
	size_t young_touched;           /* high-water bytes touched per semispace */
	char *young_zeroed;             /* to-space is zero from top to here (I4) */
	char *young_end;                /* allocation window end (<= to-space end) */
	size_t semi_touched[2];         /* bytes of each semispace faulted in */
	char *alloc_mark;               /* allocation counted up to here */
	char *copy_top, *copy_limit;    /* scavenge: to-space copy pointer and its bound */
	size_t reserve_pages;           /* pool pages to keep prefaulted for the next scavenge */
	void *scan_obj;                 /* scavenge: old object being scanned */
	void *visit_ctx;                /* verify: its state, for slot callbacks */

	/* old region */
	char *old;                      /* PAGE aligned */
	size_t old_npages;
	uint8_t *page_state;            /* enum page_kind per page (malloc'd) */
	size_t page_hint;
	size_t committed_pages;         /* small + large pages in use */
	bool protect_pages;             /* region is PROT_NONE; commit with mprotect */
	struct ptr_vec pool;            /* freed pages kept committed (PAGE_POOLED) */
	size_t pool_max;
	size_t pool_idle;               /* fewest pooled pages since the last full GC */
	struct size_class cls[N_CLASSES];
	uint8_t cls_of_words[1024 / 8 + 1]; /* payload words -> class, for small cells */
	uint32_t n_classes;
	size_t small_pages;
	size_t old_used;                /* bytes in allocated small cells */
	struct page *large;             /* list of large objects */
	size_t large_used, large_pages;

	/* remembered set: one bit per 8-byte slot of the old region (or, built
	 * with -DGENGC_CARD_TABLE, one byte per 512-byte card) */
	uint64_t *slot_bits;
	uint8_t *cards;
	size_t remset_bytes;
	remset_slot_fn *card_fn;        /* card scan in progress: callback, range, result */
	char *card_lo, *card_hi;
	bool card_keep;
	struct ptr_vec rem_pages;

	/* roots */
	struct handle_block *hblock;    /* current block */
	struct handle_block *spare_block;
	struct ptr_vec globals;         /* void ** */
	struct gengc_weak *weak;        /* list */
	struct ptr_vec young_fin, old_fin; /* objects whose type has a finalizer */

	/* types */
	struct type_info *types;
	uint64_t *type_hdr;
	uint32_t n_types, cap_types;

	/* collection state */
	bool in_gc;
	bool in_callback;               /* the GC-done callback runs: gengc_collect() is -EBUSY */
	bool marking;                   /* incremental marking in progress (== fast.marking) */
	bool marking_done;              /* its stack ran empty: the final pause is due */
	bool mark_young;                /* the final (atomic) part: young objects are marked too */
	uint64_t *young_marks;          /* a bit per 8 young bytes (payload address); zero outside a full GC */
	struct ptr_vec mark_stack;
	struct mark_tuning mark_tuning; /* reset when a cycle's marking starts */
	size_t marking_start_at;        /* old + large bytes that start incremental marking */
	bool oom;
	struct ptr_vec work;            /* promoted objects to scan / mark stack */
	size_t full_gc_at;              /* old_used + large_used that triggers a full GC */
	size_t heap_limit;              /* bytes: max_old_space_size */
	uint64_t full_gcs;
	int64_t external;
	uint64_t t0_ns;
	uint64_t allocated_before;      /* bytes allocated in pages/large before this cycle */

	/* statistics */
	struct gengc_stats st;
	uint64_t promoted_this_gc, survived_this_gc, freed_this_gc, marked_this_gc;

	/* callbacks */
	gengc_gc_done_fn *gc_done;
	void *gc_done_ctx;
	gengc_near_limit_fn *near_limit;
	void *near_limit_ctx;
	gengc_oom_fn *oom_fn;
	void *oom_ctx;

	/* the telemetry page (telemetry.c); NULL when off */
	struct gengc_telemetry_page *tm;
	int tm_fd;
	uint64_t tm_heap_id;

	/* heap snapshots near the limit */
	char *diagnostic_dir;           /* a copy of opts.diagnostic_dir, or NULL */
	uint32_t near_limit_snapshots;  /* written so far */
};

/* ---- cross-file functions (one noun per file) ------------------------------ */
/* options.c */
void gengc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* util (heap.c) */
uint64_t now_ns(void);
int vec_grow(struct ptr_vec *v);
static inline int vec_push(struct ptr_vec *v, void *p)
{
	if (v->n == v->cap && vec_grow(v) < 0)
		return -12; /* -ENOMEM */
	v->v[v->n++] = p;
	return 0;
}
/* Word copy for objects (multiples of 8 bytes): cheaper than a memcpy call
 * for the small objects that dominate scavenges. */
static inline void copy_words(void *dst, const void *src, size_t bytes)
{
	uint64_t *d = dst;
	const uint64_t *s = src;

	switch (bytes) {                /* fixed-size moves for the commonest cells */
	case 16: memcpy(dst, src, 16); return;
	case 24: memcpy(dst, src, 24); return;
	case 32: memcpy(dst, src, 32); return;
	}
	if (bytes > 256) {
		memcpy(dst, src, bytes);
		return;
	}
	for (size_t i = 0; i < bytes / 8; i++)
		d[i] = s[i];
}
void vec_free(struct ptr_vec *v);
void gc_fatal(const char *what) __attribute__((noreturn));

/* types.c */
int types_init(struct gengc_heap *heap);
void types_done(struct gengc_heap *heap);
/* Calls fn(ctx, slot) for every pointer slot of obj. */
typedef void slot_fn(struct gengc_heap *heap, void **slot);
void visit_slots(struct gengc_heap *heap, void *obj, slot_fn *fn);
static inline struct type_info *type_of(struct gengc_heap *heap, const void *obj)
{
	return &heap->types[hdr_type(*hdr_of(obj))];
}

/* pages.c: the old region's page allocator and size classes */
int pages_init(struct gengc_heap *heap);
void pages_done(struct gengc_heap *heap);
struct page *page_alloc_small(struct gengc_heap *heap, uint32_t cls);
void page_free(struct gengc_heap *heap, struct page *pg);
void pages_trim_pool(struct gengc_heap *heap);
void pages_reserve_one(struct gengc_heap *heap);
#define RESERVE_PAGES 12        /* 3 MiB at least; more when to-space holds more (reserve_pages) */
struct page *page_alloc_large(struct gengc_heap *heap, size_t payload);
size_t large_run_pages(size_t payload);
uint32_t size_class_of(struct gengc_heap *heap, size_t payload);
static inline bool in_old(const struct gengc_heap *heap, const void *p)
{
	return (uintptr_t)p - (uintptr_t)heap->old < heap->old_npages * PAGE_BYTES;
}
static inline bool in_young(const struct gengc_heap *heap, const void *p)
{
	return (uintptr_t)p - heap->fast.young_lo < heap->fast.young_span;
}
static inline bool bit_test(const uint64_t *bits, uint32_t i) { return bits[i >> 6] >> (i & 63) & 1; }
static inline void bit_set(uint64_t *bits, uint32_t i) { bits[i >> 6] |= 1ull << (i & 63); }
static inline void bit_clear(uint64_t *bits, uint32_t i) { bits[i >> 6] &= ~(1ull << (i & 63)); }

/* oldspace.c: allocation in the old generation (promotion, compaction) and
 * the large-object space */
void *old_alloc(struct gengc_heap *heap, size_t payload);   /* never fails: aborts */

/* Promotion allocates from a per-class run of free cells (a LAB: the cells
 * are taken, alloc bits and counts included, when the run is), so the
 * common case is a compare and a bump. Only scavenges use LABs, and every
 * scavenge hands back what it did not use (lab_retire_all) before anything
 * else reads the bitmaps: outside a scavenge every LAB is empty. */
void *lab_refill(struct gengc_heap *heap, size_t payload);
void lab_retire_all(struct gengc_heap *heap);
static inline void *lab_alloc(struct gengc_heap *heap, size_t payload)
{
	if (payload + 8 <= 1024) {
		struct size_class *c = &heap->cls[heap->cls_of_words[(payload + 15) / 8]];
		char *p = c->lab;

		if (p < c->lab_end) {
			c->lab = p + c->cell_bytes;
			return p + 8;
		}
	}
	return lab_refill(heap, payload);
}
void *large_alloc(struct gengc_heap *heap, uint32_t type, size_t payload);
void large_free(struct gengc_heap *heap, struct page *pg);
size_t old_committed_bytes(const struct gengc_heap *heap);

/* barrier.c: the remembered set */
int remset_init(struct gengc_heap *heap);
void remset_done(struct gengc_heap *heap);
void remset_record(struct gengc_heap *heap, void *obj, void **slot);
void remset_scan(struct gengc_heap *heap, remset_slot_fn *fn);
bool remset_has(const struct gengc_heap *heap, void **slot);
void remset_clear_range(struct gengc_heap *heap, const void *lo, const void *hi);
void remset_rebuild_pages(struct gengc_heap *heap);
void remset_record_young_slots(struct gengc_heap *heap, void *obj);

/* handles.c */
void roots_visit(struct gengc_heap *heap, slot_fn *fn);    /* handles + globals */
void handles_done(struct gengc_heap *heap);
void weak_done(struct gengc_heap *heap);

/* scavenge.c */
void scavenge(struct gengc_heap *heap);
void young_reset_alloc(struct gengc_heap *heap, char *top);
void young_refill(struct gengc_heap *heap);

/* marksweep.c */
void mark_sweep(struct gengc_heap *heap);
bool old_is_marked(const void *obj);
void marking_start(struct gengc_heap *heap);
void marking_step(struct gengc_heap *heap);
void mark_promoted(struct gengc_heap *heap, void **slot, void *obj);
int young_marks_init(struct gengc_heap *heap);
void young_marks_done(struct gengc_heap *heap);
bool young_is_marked(const struct gengc_heap *heap, const void *obj);
#define MARKING_START_PCT 25

/* compact.c */
/* Evacuates the most-free pages when fragmented (or always when forced);
 * returns the number of pages released. */
size_t compact(struct gengc_heap *heap, bool force);

/* heap.c: the policy */
void collect(struct gengc_heap *heap, enum gengc_gc_kind kind, enum gengc_gc_reason reason);

/* stats.c */
void stats_gc_done(struct gengc_heap *heap, enum gengc_gc_kind kind, enum gengc_gc_reason reason,
		   uint64_t pause_ns, uint64_t used_before, uint64_t total_before, uint64_t used_after);
uint64_t heap_used_bytes(const struct gengc_heap *heap);
uint64_t heap_total_bytes(const struct gengc_heap *heap);

/* telemetry.c: the page of docs/telemetry.md */
struct gengc_telemetry_page;
int telemetry_open(struct gengc_heap *heap);    /* 0 also when off; -errno: no page */
void telemetry_close(struct gengc_heap *heap);
/* Rewrites the page; ev is the GC just done (full GCs add a ring record) or NULL. */
void telemetry_update(struct gengc_heap *heap, const struct gengc_gc_event *ev);

/* snapshot.c */
void snapshot_near_limit(struct gengc_heap *heap);

/* verify.c */
void verify_or_die(struct gengc_heap *heap, const char *when);

#endif
