/* SPDX-License-Identifier: MIT */
/* Allocation in the old generation (promotion, compaction) and the large-object space.
 *
 * Old cells are found Go-style: a page's alloc bitmap is the free list (a zero
 * bit is a free cell), so sweeping is a bitmap copy instead of a walk that
 * threads dead cells into lists, and allocation is a count-trailing-zeros.
 * Within a size class, pages are filled in the order of the class's array
 * from alloc_idx on; a page being evacuated is never a target.
 *
 * Invariant: for every small page, words [0, cursor) of alloc_bits have no
 * zero bit below ncells; nlive == popcount(alloc_bits); old_used == sum of
 * nlive * cell_bytes over all small pages. During a scavenge, cells of the
 * promotion LABs count as allocated; it returns the unused ones at its end.
 */
#include <stdlib.h>

#include "gengc_internal.h"

static void *page_take_cell(struct gengc_heap *heap, struct page *pg)
{
	for (uint32_t w = pg->cursor; w < pg->bitmap_words; w++) {
		uint64_t free_bits = ~pg->alloc_bits[w];

		if (free_bits) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(free_bits);

			if (i >= pg->ncells)
				break;
			pg->alloc_bits[w] |= 1ull << (i & 63);
			pg->cursor = w;
			heap->cls[pg->cls].cur = pg;
			pg->nlive++;
			heap->old_used += pg->cell_bytes;
			return pg->cells + (size_t)i * pg->cell_bytes + 8;
		}
	}
	pg->cursor = pg->bitmap_words;
	if (heap->cls[pg->cls].cur == pg)
		heap->cls[pg->cls].cur = NULL;
	return NULL;
}

/* A cell for payload bytes in the paged old space; the caller writes the
 * header and the payload. Runs inside collections, which cannot stop half
 * way, so when the kernel refuses memory this aborts (gc_fatal). */
void *old_alloc(struct gengc_heap *heap, size_t payload)
{
	struct size_class *c = &heap->cls[size_class_of(heap, payload)];
	struct page *pg;
	void *p;

	while (c->alloc_idx < c->n_pages) {
		pg = c->pages[c->alloc_idx];
		if (pg->nlive < pg->ncells && !(pg->flags & PF_EVACUATE) && (p = page_take_cell(heap, pg)))
			return p;
		c->alloc_idx++;
	}
	pg = page_alloc_small(heap, (uint32_t)(c - heap->cls));
	if (!pg)
		gc_fatal("cannot commit an old-space page");
	c->alloc_idx = c->n_pages - 1;
	return page_take_cell(heap, pg);
}

/* The LAB is empty: takes a cell the ordinary way, plus the run of free
 * cells after it in the same bitmap word as the class's new LAB. */
void *lab_refill(struct gengc_heap *heap, size_t payload)
{
	struct size_class *c;
	struct page *pg;
	char *p = old_alloc(heap, payload);
	uint32_t i, w, run;
	uint64_t free_bits;

	if (payload + 8 > 1024)
		return p;
	c = &heap->cls[heap->cls_of_words[(payload + 15) / 8]];
	pg = page_of(p);
	i = cell_index(pg, p) + 1;
	w = i >> 6;
	if (!(i & 63) || i >= pg->ncells)
		return p;
	free_bits = ~pg->alloc_bits[w] >> (i & 63);
	run = free_bits == UINT64_MAX ? 64 - (i & 63) : (uint32_t)__builtin_ctzll(~free_bits);
	if (run > pg->ncells - i)
		run = pg->ncells - i;
	if (!run)
		return p;
	pg->alloc_bits[w] |= (run == 64 ? UINT64_MAX : ((1ull << run) - 1)) << (i & 63);
	pg->nlive += run;
	heap->old_used += (size_t)run * pg->cell_bytes;
	c->lab = pg->cells + (size_t)i * pg->cell_bytes;
	c->lab_end = c->lab + (size_t)run * pg->cell_bytes;
	return p;
}

/* Gives back the cells of every LAB that promotion did not use. */
void lab_retire_all(struct gengc_heap *heap)
{
	for (uint32_t k = 0; k < heap->n_classes; k++) {
		struct size_class *c = &heap->cls[k];

		for (char *p = c->lab; p < c->lab_end; p += c->cell_bytes) {
			struct page *pg = page_of(p);
			uint32_t i = cell_index(pg, p + 8);

			bit_clear(pg->alloc_bits, i);
			if (i / 64 < pg->cursor)
				pg->cursor = i / 64;
			pg->nlive--;
			heap->old_used -= pg->cell_bytes;
		}
		c->lab = c->lab_end = NULL;
	}
}

void *large_alloc(struct gengc_heap *heap, uint32_t type, size_t payload)
{
	struct page *pg = page_alloc_large(heap, payload);
	char *obj;

	if (!pg)
		return NULL;
	obj = pg->cells + 8;
	*hdr_of(obj) = hdr_make(type, payload);
	pg->next = heap->large;
	pg->prev = NULL;
	if (heap->large)
		heap->large->prev = pg;
	heap->large = pg;
	heap->large_used += payload + 8;
	heap->large_pages += pg->run_pages;
	pg->large_mark = heap->marking;         /* born marked while marking: its slots are zero */
	return obj;
}

void large_free(struct gengc_heap *heap, struct page *pg)
{
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		heap->large = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	heap->large_used -= hdr_size(*(uint64_t *)pg->cells) + 8;
	heap->large_pages -= pg->run_pages;
	page_free(heap, pg);
}

size_t old_committed_bytes(const struct gengc_heap *heap)
{
	return heap->committed_pages * PAGE_BYTES;
}
