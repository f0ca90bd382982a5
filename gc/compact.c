/* SPDX-License-Identifier: MIT */
/* Mark-compact: evacuate the most-free old pages, update every reference, release the pages.
 *
 * Runs right after a sweep, when the alloc bitmaps say exactly which cells
 * are live and every young object is live or a pointer-free filler (I3), so
 * the only places that can hold a pointer to a moved object are the roots,
 * weak references, the finalizer list and the old, large and young objects,
 * all of which are visited. A moved object that points young is remembered
 * at its new address; the evacuated page's bits go with the page.
 *
 * Choice of pages, per size class (V8 picks the pages with the most free
 * space first): with L live cells and C cells per page the class needs
 * ceil(L / C) pages, so the n - ceil(L / C) emptiest pages are evacuated into
 * the free cells of the others, which by that count always have room: no new
 * page is taken and every evacuated page is released whole.
 *
 * Invariant during the update pass: a cell of a PF_EVACUATE page that was
 * live holds a FORWARDED header; nothing else is forwarded.
 */
#include <stdlib.h>

#include "gengc_internal.h"

static int by_live(const void *a, const void *b)
{
	const struct page *x = *(struct page *const *)a, *y = *(struct page *const *)b;

	return (x->nlive > y->nlive) - (x->nlive < y->nlive);
}

static void update_slot(struct gengc_heap *heap, void **slot)
{
	void *p = *slot;

	if (in_old(heap, p) && (page_of(p)->flags & PF_EVACUATE)) {
		uint64_t h = *hdr_of(p);

		if (h & HDR_FWD)
			*slot = (void *)(uintptr_t)(h & ~HDR_FWD);
	}
}

static void evacuate_page(struct gengc_heap *heap, struct page *pg)
{
	for (uint32_t w = 0; w < pg->bitmap_words; w++) {
		uint64_t bits = pg->alloc_bits[w];

		while (bits) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
			char *src = pg->cells + (size_t)i * pg->cell_bytes + 8;
			uint64_t h = *hdr_of(src);
			char *dst;

			bits &= bits - 1;
			dst = old_alloc(heap, hdr_size(h));
			memcpy(dst - 8, src - 8, hdr_size(h) + 8);
			*hdr_of(src) = (uintptr_t)dst | HDR_FWD;
			if (pg->flags & PF_REMEMBERED)
				remset_record_young_slots(heap, dst);
		}
	}
}

static void update_page_objects(struct gengc_heap *heap, struct page *pg)
{
	for (uint32_t w = 0; w < pg->bitmap_words; w++) {
		uint64_t bits = pg->alloc_bits[w];

		while (bits) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			visit_slots(heap, pg->cells + (size_t)i * pg->cell_bytes + 8, update_slot);
		}
	}
}

/* Returns how many pages the class would release. */
static size_t plan_class(struct size_class *sc)
{
	size_t live = 0, need;

	if (sc->n_pages < 2)
		return 0;
	for (size_t i = 0; i < sc->n_pages; i++)
		live += sc->pages[i]->nlive;
	need = (live + sc->ncells - 1) / sc->ncells;
	return sc->n_pages - need;
}

size_t compact(struct gengc_heap *heap, bool force)
{
	size_t free_bytes = 0, released = 0;

	for (uint32_t c = 0; c < heap->n_classes; c++)
		for (size_t i = 0; i < heap->cls[c].n_pages; i++) {
			struct page *pg = heap->cls[c].pages[i];

			free_bytes += (size_t)(pg->ncells - pg->nlive) * pg->cell_bytes;
		}
	if (!heap->small_pages)
		return 0;
	if (!force && free_bytes * 100 < (size_t)heap->opts.compact_threshold_pct * heap->small_pages * PAGE_BYTES)
		return 0;

	for (uint32_t c = 0; c < heap->n_classes; c++) {
		struct size_class *sc = &heap->cls[c];
		size_t n = plan_class(sc);

		if (!n)
			continue;
		qsort(sc->pages, sc->n_pages, sizeof(sc->pages[0]), by_live);
		for (size_t i = 0; i < n; i++)
			sc->pages[i]->flags |= PF_EVACUATE;
		sc->alloc_idx = n;
		sc->cur = NULL;
		for (size_t i = 0; i < n; i++)
			evacuate_page(heap, sc->pages[i]);
		released += n;
	}
	if (!released)
		return 0;

	roots_visit(heap, update_slot);
	for (struct gengc_weak *w = heap->weak; w; w = w->next)
		update_slot(heap, &w->target);
	for (size_t i = 0; i < heap->old_fin.n; i++)
		update_slot(heap, &heap->old_fin.v[i]);
	for (uint32_t c = 0; c < heap->n_classes; c++)
		for (size_t i = 0; i < heap->cls[c].n_pages; i++)
			if (!(heap->cls[c].pages[i]->flags & PF_EVACUATE))
				update_page_objects(heap, heap->cls[c].pages[i]);
	for (struct page *pg = heap->large; pg; pg = pg->next)
		visit_slots(heap, pg->cells + 8, update_slot);
	for (char *p = heap->to_space; p < heap->fast.top; p += hdr_size(*(uint64_t *)(void *)p) + 8)
		visit_slots(heap, p + 8, update_slot);

	for (uint32_t c = 0; c < heap->n_classes; c++) {
		struct size_class *sc = &heap->cls[c];
		size_t keep = 0;

		for (size_t i = 0; i < sc->n_pages; i++) {
			struct page *pg = sc->pages[i];

			if (pg->flags & PF_EVACUATE) {
				heap->old_used -= (size_t)pg->nlive * pg->cell_bytes;
				page_free(heap, pg);
			} else {
				sc->pages[keep++] = pg;
			}
		}
		sc->n_pages = keep;
		sc->alloc_idx = 0;
		sc->cur = NULL;
	}
	return released;
}
