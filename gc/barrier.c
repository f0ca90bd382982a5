/* SPDX-License-Identifier: MIT */
/* The write barrier's slow path and the remembered set of old->young slots.
 *
 * The barrier's inline half (gengc_write in gengc.h) filters: only a store of
 * a young pointer into an old object gets here. What is recorded is, by
 * default, V8's "slot set": one bit per 8-byte word of the old region (a flat
 * bitmap reserved beside the heap, touched only for pages that record
 * something), plus the list of pages that have any bit set. It is exact (a
 * bit is a slot: no object parsing at scavenge time) and deduplicated.
 * Built with -DGENGC_CARD_TABLE it is a card table instead (one byte per 512
 * bytes; a scavenge visits the slots of the allocated objects overlapping a
 * dirty card). bench-gc builds both and measures them: see bench/RESULTS.md.
 *
 * Invariant I2 (gengc_internal.h): every old/large slot that points into the
 * young generation has its bit set (its card dirty), and the page holding
 * the object (the first page of a large run) is on rem_pages with
 * PF_REMEMBERED. Extra bits/cards may be set; a scan drops them. A bit is
 * never set for a slot of a free cell (sweeping clears them); a dirty card
 * may cover free cells and the unwritten cells of a promotion LAB (alloc
 * bits set ahead of use), whose slots the card scan never reads.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "gengc_internal.h"

#ifdef GENGC_CARD_TABLE
#define CARD_SHIFT 9
#define REMSET_GRAIN ((size_t)1 << CARD_SHIFT)   /* old-region bytes per card */
#else
#define REMSET_GRAIN ((size_t)8 * 8)             /* old-region bytes per bitmap byte */
#endif

int remset_init(struct gengc_heap *heap)
{
	void *m;

	heap->remset_bytes = heap->old_npages * PAGE_BYTES / REMSET_GRAIN;
	m = mmap(NULL, heap->remset_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -12; /* -ENOMEM */
#ifdef GENGC_CARD_TABLE
	heap->cards = m;
#else
	heap->slot_bits = m;
#endif
	return 0;
}

void remset_done(struct gengc_heap *heap)
{
	void *m = heap->cards ? (void *)heap->cards : (void *)heap->slot_bits;

	if (m)
		munmap(m, heap->remset_bytes);
}

static inline size_t slot_index(const struct gengc_heap *heap, const void *slot)
{
	return (size_t)((const char *)slot - heap->old) >> 3;
}

static void remember_page(struct gengc_heap *heap, struct page *pg)
{
	if (!(pg->flags & PF_REMEMBERED)) {
		pg->flags |= PF_REMEMBERED;
		if (vec_push(&heap->rem_pages, pg) < 0)
			gc_fatal("remembered set: out of memory");
	}
}

/* The barrier's out-of-line half: an old object now points to a young one. */
void gengc_remember_slow(struct gengc_heap *heap, void *obj, void **field)
{
	if (in_old(heap, obj) && in_old(heap, field))
		remset_record(heap, obj, field);
}

/* After a page's slots were scanned: it stays listed iff any stayed recorded. */
static void keep_or_forget(struct gengc_heap *heap, struct page *pg, bool any, size_t *keep)
{
	if (any)
		heap->rem_pages.v[(*keep)++] = pg;
	else
		pg->flags &= (uint8_t)~PF_REMEMBERED;
}

static void page_range(const struct gengc_heap *heap, struct page *pg, char **lo, char **hi)
{
	*lo = (char *)pg;
	*hi = (char *)pg + (pg->kind == PAGE_LARGE ? pg->run_pages : 1) * PAGE_BYTES;
	(void)heap;
}

#ifndef GENGC_CARD_TABLE
/* ---- slot set -------------------------------------------------------------- */
void remset_record(struct gengc_heap *heap, void *obj, void **slot)
{
	size_t i = slot_index(heap, slot);

	heap->slot_bits[i >> 6] |= 1ull << (i & 63);
	remember_page(heap, page_of(obj));
}

bool remset_has(const struct gengc_heap *heap, void **slot)
{
	size_t i = slot_index(heap, slot);

	return heap->slot_bits[i >> 6] >> (i & 63) & 1;
}

/* Calls fn for every remembered slot; fn returns whether the slot still
 * points young (keep its bit). Pages left without bits leave the list. */
void remset_scan(struct gengc_heap *heap, remset_slot_fn *fn)
{
	size_t keep_pages = 0;

	for (size_t p = 0; p < heap->rem_pages.n; p++) {
		struct page *pg = heap->rem_pages.v[p];
		uint64_t any = 0;
		char *lo, *hi;

		page_range(heap, pg, &lo, &hi);
		for (size_t w = slot_index(heap, lo) >> 6, end = slot_index(heap, hi) >> 6; w < end; w++) {
			uint64_t bits = heap->slot_bits[w], keep = bits;

			while (bits) {
				unsigned b = (unsigned)__builtin_ctzll(bits);
				void **slot = (void **)(heap->old + ((w * 64 + b) << 3));

				bits &= bits - 1;
				if (!fn(heap, slot))
					keep &= ~(1ull << b);
			}
			heap->slot_bits[w] = keep;
			any |= keep;
		}
		keep_or_forget(heap, pg, any != 0, &keep_pages);
	}
	heap->rem_pages.n = keep_pages;
}

/* Clears the bits of every slot in [lo, hi) (a freed cell or page). */
void remset_clear_range(struct gengc_heap *heap, const void *lo, const void *hi)
{
	size_t a = slot_index(heap, lo), b = slot_index(heap, hi);

	while (a < b && (a & 63)) {
		heap->slot_bits[a >> 6] &= ~(1ull << (a & 63));
		a++;
	}
	if (b - a >= 64) {
		memset(heap->slot_bits + (a >> 6), 0, ((b - a) >> 6) * 8);
		a += (b - a) & ~(size_t)63;
	}
	for (; a < b; a++)
		heap->slot_bits[a >> 6] &= ~(1ull << (a & 63));
}
#else
/* ---- card table ------------------------------------------------------------ */
void remset_record(struct gengc_heap *heap, void *obj, void **slot)
{
	heap->cards[(size_t)((char *)slot - heap->old) >> CARD_SHIFT] = 1;
	remember_page(heap, page_of(obj));
}

bool remset_has(const struct gengc_heap *heap, void **slot)
{
	return heap->cards[(size_t)((char *)slot - heap->old) >> CARD_SHIFT];
}

static void card_slot(struct gengc_heap *heap, void **slot)
{
	if ((char *)slot >= heap->card_lo && (char *)slot < heap->card_hi && heap->card_fn(heap, slot))
		heap->card_keep = true;
}

/* Visits the slots of obj inside [card_lo, card_hi). */
static void scan_object_in_card(struct gengc_heap *heap, void *obj)
{
	uint64_t h = *hdr_of(obj);
	struct type_info *ti = &heap->types[hdr_type(h)];

	if (ti->layout == LAYOUT_ALL) {
		void **p = obj, **end = p + lead_words(ti, h);
		void **a = (void **)heap->card_lo > p ? (void **)heap->card_lo : p;
		void **b = (void **)heap->card_hi < end ? (void **)heap->card_hi : end;

		for (; a < b; a++)
			if (heap->card_fn(heap, a))
				heap->card_keep = true;
	} else if (ti->layout != LAYOUT_RAW) {
		visit_slots(heap, obj, card_slot);
	}
}

static bool scan_card(struct gengc_heap *heap, struct page *pg, char *lo)
{
	heap->card_lo = lo;
	heap->card_hi = lo + REMSET_GRAIN;
	heap->card_keep = false;
	if (pg->kind == PAGE_LARGE) {
		scan_object_in_card(heap, pg->cells + 8);
	} else {
		const struct size_class *c = &heap->cls[pg->cls];
		size_t first = lo > pg->cells ? (size_t)(lo - pg->cells) / pg->cell_bytes : 0;
		size_t last = (size_t)(lo + REMSET_GRAIN - 1 - pg->cells) / pg->cell_bytes;

		if (lo + REMSET_GRAIN <= pg->cells)
			return false;
		for (size_t i = first; i <= last && i < pg->ncells; i++) {
			char *cell = pg->cells + i * pg->cell_bytes;

			/* The scan runs inside a scavenge, which promotes as it
			 * goes: the cells of the class's LAB have their alloc bits
			 * set but hold nothing yet (oldspace.c). A cell before the
			 * LAB was written when it was taken. */
			if (cell >= c->lab && cell < c->lab_end)
				continue;
			if (bit_test(pg->alloc_bits, (uint32_t)i))
				scan_object_in_card(heap, cell + 8);
		}
	}
	return heap->card_keep;
}

void remset_scan(struct gengc_heap *heap, remset_slot_fn *fn)
{
	size_t keep_pages = 0;

	heap->card_fn = fn;
	for (size_t p = 0; p < heap->rem_pages.n; p++) {
		struct page *pg = heap->rem_pages.v[p];
		bool any = false;
		char *lo, *hi;

		page_range(heap, pg, &lo, &hi);
		for (size_t c = (size_t)(lo - heap->old) >> CARD_SHIFT, end = (size_t)(hi - heap->old) >> CARD_SHIFT;
		     c < end; c++) {
			if (!heap->cards[c])
				continue;
			heap->cards[c] = scan_card(heap, pg, heap->old + (c << CARD_SHIFT));
			any |= heap->cards[c];
		}
		keep_or_forget(heap, pg, any, &keep_pages);
	}
	heap->rem_pages.n = keep_pages;
}

/* A card may also cover live neighbours: only cards wholly inside go. */
void remset_clear_range(struct gengc_heap *heap, const void *lo, const void *hi)
{
	size_t a = ((size_t)((const char *)lo - heap->old) + REMSET_GRAIN - 1) >> CARD_SHIFT;
	size_t b = (size_t)((const char *)hi - heap->old) >> CARD_SHIFT;

	if (a < b)
		memset(heap->cards + a, 0, b - a);
}
#endif

/* After a full GC freed or moved pages: the list is exactly the live pages
 * that carry PF_REMEMBERED. */
void remset_rebuild_pages(struct gengc_heap *heap)
{
	heap->rem_pages.n = 0;
	for (uint32_t c = 0; c < heap->n_classes; c++)
		for (size_t i = 0; i < heap->cls[c].n_pages; i++)
			if (heap->cls[c].pages[i]->flags & PF_REMEMBERED &&
			    vec_push(&heap->rem_pages, heap->cls[c].pages[i]) < 0)
				gc_fatal("remembered set: out of memory");
	for (struct page *pg = heap->large; pg; pg = pg->next)
		if (pg->flags & PF_REMEMBERED && vec_push(&heap->rem_pages, pg) < 0)
			gc_fatal("remembered set: out of memory");
}

static void record_if_young(struct gengc_heap *heap, void **slot)
{
	if (in_young(heap, *slot))
		remset_record(heap, heap->scan_obj, slot);
}

/* Records every slot of obj (just moved into the old space) that points young. */
void remset_record_young_slots(struct gengc_heap *heap, void *obj)
{
	heap->scan_obj = obj;
	visit_slots(heap, obj, record_if_young);
}
