/* SPDX-License-Identifier: MIT */
/* The old region: 256 KiB pages committed on demand, size classes, large runs.
 *
 * The whole region is reserved when the heap is made (read-write with
 * MAP_NORESERVE: untouched pages cost nothing), so a page's header is found
 * by masking any address inside it. Pages are not mprotect'ed one by one: a
 * measured 2-3x slowdown of promotion came from the thousands of VMAs that
 * per-page protection creates. Where the kernel refuses a NORESERVE
 * read-write reservation (strict overcommit), the region is PROT_NONE and
 * pages are committed with mprotect instead (heap->protect_pages).
 *
 * A freed page is kept committed in a pool (PAGE_POOLED) for reuse; the
 * policy (heap.c) decommits (MADV_DONTNEED) the pages that stayed unused for
 * a whole cycle, so rss follows the pages in use without refaulting pages
 * about to be reused.
 *
 * Invariant: page_state[i] says what page i is; a PAGE_SMALL page is listed
 * in exactly one size class's pages[]; a PAGE_LARGE page heads a run of
 * run_pages pages whose other pages are PAGE_LARGE_TAIL and is on the large
 * list. Only committed pages are ever read or written.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "gengc_internal.h"

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Builds the size-class table: 8-byte steps up to 128-byte cells, then four
 * classes per doubling (at most 25% internal waste) up to the large-object
 * threshold. Each class's page layout is fixed here: header, two bitmaps of
 * ncells bits, then the cells. */
static int classes_init(struct gengc_heap *heap)
{
	size_t max_cell = round_up(heap->opts.large_object_threshold, 8) + 8;
	uint32_t n = 0;
	size_t s = 16;

	while (n < N_CLASSES) {
		struct size_class *c = &heap->cls[n++];
		size_t cell = s < max_cell ? s : max_cell;
		size_t words, hdr, ncells;

		c->cell_bytes = (uint32_t)cell;
		ncells = (PAGE_BYTES - round_up(sizeof(struct page), 64)) / cell;
		words = (ncells + 63) / 64;
		hdr = round_up(sizeof(struct page) + 2 * words * 8, 64);
		ncells = (PAGE_BYTES - hdr) / cell;
		c->ncells = (uint32_t)ncells;
		c->bitmap_words = (uint32_t)words;
		c->hdr_bytes = (uint32_t)hdr;
		c->div_mul = (uint32_t)(UINT32_MAX / cell + 1);
		if (cell >= max_cell)
			break;
		s = s < 128 ? s + 8 : round_up(s + s / 4, 8);
	}
	if (heap->cls[n - 1].cell_bytes < max_cell || heap->cls[n - 1].ncells < 1)
		return -EINVAL;
	heap->n_classes = n;
	for (uint32_t w = 0, c = 0; w <= 1024 / 8; w++) {
		while (c < n && heap->cls[c].cell_bytes < w * 8)
			c++;
		heap->cls_of_words[w] = (uint8_t)(c < n ? c : n - 1);
	}
	return 0;
}

uint32_t size_class_of(struct gengc_heap *heap, size_t payload)
{
	size_t cell = payload + 8;
	uint32_t lo, hi;

	if (cell <= 1024)
		return heap->cls_of_words[(cell + 7) / 8];
	lo = heap->cls_of_words[1024 / 8];
	hi = heap->n_classes - 1;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (heap->cls[mid].cell_bytes >= cell)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int pages_init(struct gengc_heap *heap)
{
	int r = classes_init(heap);

	if (r < 0)
		return r;
	heap->page_state = calloc(heap->old_npages, 1);
	if (!heap->page_state)
		return -ENOMEM;
	return 0;
}

void pages_done(struct gengc_heap *heap)
{
	for (uint32_t c = 0; c < heap->n_classes; c++)
		free(heap->cls[c].pages);
	free(heap->page_state);
	vec_free(&heap->pool);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Makes fresh pages usable and, where the kernel can (5.14+), faults them
 * in with one call: promotion into a fresh page otherwise takes 64 page
 * faults, inside a scavenge's pause. */
static int commit(struct gengc_heap *heap, void *p, size_t len)
{
	if (heap->protect_pages && mprotect(p, len, PROT_READ | PROT_WRITE) < 0)
		return -errno;
	if (len <= PAGE_BYTES)
		madvise(p, len, MADV_POPULATE_WRITE);
	return 0;
}

static void decommit(struct gengc_heap *heap, void *p, size_t len)
{
	madvise(p, len, MADV_DONTNEED);
	if (heap->protect_pages)
		mprotect(p, len, PROT_NONE);
}

static size_t page_index(const struct gengc_heap *heap, const void *p)
{
	return (size_t)((const char *)p - heap->old) / PAGE_BYTES;
}

/* Decommits pooled pages beyond pool_max (the policy calls it after a full GC). */
void pages_trim_pool(struct gengc_heap *heap)
{
	while (heap->pool.n > heap->pool_max) {
		char *p = heap->pool.v[--heap->pool.n];

		decommit(heap, p, PAGE_BYTES);
		heap->page_state[page_index(heap, p)] = PAGE_FREE;
		if (page_index(heap, p) < heap->page_hint)
			heap->page_hint = page_index(heap, p);
	}
}

/* Finds n consecutive free pages, lowest address first, so the old space
 * stays dense and card/slot scans stay short. Returns the index or SIZE_MAX. */
static size_t find_run(struct gengc_heap *heap, size_t n)
{
	size_t i = heap->page_hint;

	while (i + n <= heap->old_npages) {
		uint8_t *z = memchr(heap->page_state + i, PAGE_FREE, heap->old_npages - i);
		size_t j, k;

		if (!z)
			return SIZE_MAX;
		j = (size_t)(z - heap->page_state);
		for (k = 0; k < n && j + k < heap->old_npages && heap->page_state[j + k] == PAGE_FREE; k++)
			;
		if (k == n)
			return j;
		i = j + k;
	}
	return SIZE_MAX;
}

/* Tops the pool up by one fresh, faulted-in page while it holds fewer than
 * reserve_pages (what the next scavenge may promote: scavenge.c sets it):
 * called from the mutator's allocation refill, so the page faults a
 * scavenge's promotions would take happen outside the pause. */
void pages_reserve_one(struct gengc_heap *heap)
{
	size_t i;
	char *p;

	if (heap->pool.n >= heap->reserve_pages || (i = find_run(heap, 1)) == SIZE_MAX)
		return;
	p = heap->old + i * PAGE_BYTES;
	if (commit(heap, p, PAGE_BYTES) < 0 || vec_push(&heap->pool, p) < 0)
		return;
	heap->page_state[i] = PAGE_POOLED;
	if (i == heap->page_hint)
		heap->page_hint = i + 1;
}

static void *pages_take(struct gengc_heap *heap, size_t n, uint8_t kind)
{
	size_t i = find_run(heap, n);
	char *p;

	if (i == SIZE_MAX)
		return NULL;
	p = heap->old + i * PAGE_BYTES;
	if (commit(heap, p, n * PAGE_BYTES) < 0)
		return NULL;
	heap->page_state[i] = kind;
	for (size_t k = 1; k < n; k++)
		heap->page_state[i + k] = PAGE_LARGE_TAIL;
	if (n == 1 && i == heap->page_hint)
		heap->page_hint = i + 1;
	heap->committed_pages += n;
	return p;
}

static void pages_give(struct gengc_heap *heap, void *p, size_t n)
{
	size_t i = page_index(heap, p);

	heap->committed_pages -= n;
	if (n == 1 && heap->pool.n < heap->pool_max && vec_push(&heap->pool, p) == 0) {
		heap->page_state[i] = PAGE_POOLED;
		return;
	}
	decommit(heap, p, n * PAGE_BYTES);
	memset(heap->page_state + i, PAGE_FREE, n);
	if (i < heap->page_hint)
		heap->page_hint = i;
}

/* A fresh page of class cls, empty, appended to the class's pages. NULL when
 * the region is exhausted or the kernel refuses memory. */
struct page *page_alloc_small(struct gengc_heap *heap, uint32_t cls)
{
	struct size_class *c = &heap->cls[cls];
	struct page *pg;

	if (c->n_pages == c->cap_pages) {
		size_t cap = c->cap_pages ? 2 * c->cap_pages : 8;
		struct page **v = realloc(c->pages, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->pages = v;
		c->cap_pages = cap;
	}
	if (heap->pool.n) {
		pg = heap->pool.v[--heap->pool.n];
		if (heap->pool.n < heap->pool_idle)
			heap->pool_idle = heap->pool.n;
		heap->page_state[page_index(heap, pg)] = PAGE_SMALL;
		heap->committed_pages++;
		memset(pg, 0, c->hdr_bytes);
	} else {
		/* Fresh pages are zero: bitmaps are clear. */
		pg = pages_take(heap, 1, PAGE_SMALL);
		if (!pg)
			return NULL;
	}
	pg->magic = PAGE_MAGIC;
	pg->kind = PAGE_SMALL;
	pg->cls = (uint16_t)cls;
	pg->cell_bytes = c->cell_bytes;
	pg->ncells = c->ncells;
	pg->div_mul = c->div_mul;
	pg->bitmap_words = c->bitmap_words;
	pg->alloc_bits = (uint64_t *)(pg + 1);
	pg->mark_bits = pg->alloc_bits + c->bitmap_words;
	pg->cells = (char *)pg + c->hdr_bytes;
	c->pages[c->n_pages++] = pg;
	heap->small_pages++;
	return pg;
}

/* Frees a small page (the caller removed it from its class) or a large run. */
void page_free(struct gengc_heap *heap, struct page *pg)
{
	size_t n = pg->kind == PAGE_LARGE ? pg->run_pages : 1;

	if (pg->kind == PAGE_SMALL)
		heap->small_pages--;
	if (pg->flags & PF_REMEMBERED)
		remset_clear_range(heap, pg, (char *)pg + n * PAGE_BYTES);
	pg->flags = 0;
	pages_give(heap, pg, n);
}

/* The pages a large object of payload bytes takes: the page header, its
 * object header, the payload. The heap limit is checked with this, so it
 * must be what page_alloc_large() takes. */
size_t large_run_pages(size_t payload)
{
	return (round_up(sizeof(struct page), 64) + 8 + payload + PAGE_BYTES - 1) / PAGE_BYTES;
}

struct page *page_alloc_large(struct gengc_heap *heap, size_t payload)
{
	size_t hdr = round_up(sizeof(struct page), 64);
	size_t n = large_run_pages(payload);
	struct page *pg = pages_take(heap, n, PAGE_LARGE);

	if (!pg)
		return NULL;
	pg->magic = PAGE_MAGIC;
	pg->kind = PAGE_LARGE;
	pg->run_pages = n;
	pg->div_mul = 0;
	pg->mark_bits = &pg->large_mark;
	pg->large_mark = 0;
	pg->ncells = 1;
	pg->nlive = 1;
	pg->cell_bytes = (uint32_t)(payload + 8 < UINT32_MAX ? payload + 8 : UINT32_MAX);
	pg->cells = (char *)pg + hdr;
	return pg;
}
