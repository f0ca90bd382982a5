/* SPDX-License-Identifier: MIT */
/* The write barrier's slow path and the remembered set of old->young slots.
 *
 * The remembered set is V8's "slot set": one bit per 8-byte word of the old
 * region (a flat bitmap reserved beside the heap, touched only for pages that
 * record something), plus the list of pages that have any bit set. It is
 * exact (a bit is a slot, no object parsing at scavenge time) and
 * deduplicated (storing to the same field twice sets the same bit). The
 * alternative, a card table (one byte per 512 bytes), was measured against
 * it: see bench/RESULTS.md.
 *
 * Invariant I2 (gengc_internal.h): every old/large slot that points into the
 * young generation has its bit set, and the page holding the object (the
 * first page of a large run) is on rem_pages with PF_REMEMBERED. Bits may
 * also be set for slots that no longer point young; a scan drops them.
 */
#include <stdlib.h>

#include "gengc_internal.h"

static inline size_t slot_index(const struct gengc_heap *heap, void **slot)
{
	return (size_t)((char *)slot - heap->old) >> 3;
}

void remset_record(struct gengc_heap *heap, void *obj, void **slot)
{
	size_t i = slot_index(heap, slot);
	struct page *pg = page_of(obj);

	heap->slot_bits[i >> 6] |= 1ull << (i & 63);
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

bool remset_has(const struct gengc_heap *heap, void **slot)
{
	size_t i = slot_index(heap, slot);

	return heap->slot_bits[i >> 6] >> (i & 63) & 1;
}

static void page_bit_range(const struct gengc_heap *heap, struct page *pg, size_t *lo, size_t *hi)
{
	size_t first = (size_t)((char *)pg - heap->old) / PAGE_BYTES;
	size_t n = pg->kind == PAGE_LARGE ? pg->run_pages : 1;

	*lo = first * (PAGE_BYTES / 8 / 64);
	*hi = (first + n) * (PAGE_BYTES / 8 / 64);
}

/* Calls fn for every remembered slot; fn returns whether the slot still
 * points young (keep its bit). Pages left without bits leave the list. */
void remset_scan(struct gengc_heap *heap, remset_slot_fn *fn)
{
	size_t keep_pages = 0;

	for (size_t p = 0; p < heap->rem_pages.n; p++) {
		struct page *pg = heap->rem_pages.v[p];
		uint64_t any = 0;
		size_t lo, hi;

		page_bit_range(heap, pg, &lo, &hi);
		for (size_t w = lo; w < hi; w++) {
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
		if (any)
			heap->rem_pages.v[keep_pages++] = pg;
		else
			pg->flags &= (uint8_t)~PF_REMEMBERED;
	}
	heap->rem_pages.n = keep_pages;
}

/* Clears the bits of every slot in [lo, hi) (a freed cell or page). */
void remset_clear_range(struct gengc_heap *heap, const void *lo, const void *hi)
{
	size_t a = (size_t)((const char *)lo - heap->old) >> 3, b = (size_t)((const char *)hi - heap->old) >> 3;

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
