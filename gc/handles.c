/* SPDX-License-Identifier: MIT */
/* Precise roots: handle scopes, registered global roots, weak references.
 *
 * Handles live in a stack of malloc'd blocks of HANDLE_BLOCK_SLOTS slots
 * (V8's HandleScope layout): creating one is a bump of fast.hs_next, and a
 * scope is the saved (next, limit) pair, so opening and closing cost two
 * loads and stores. Only when a scope spanned a block boundary does closing
 * take the slow path that frees the blocks it added (one spare is kept, so a
 * scope oscillating on a boundary does not call malloc each time).
 *
 * Invariant: the live handles are [hblock->slots, fast.hs_next) plus every
 * slot of the blocks below hblock; each holds NULL or a heap object. The
 * collector rewrites them when objects move.
 */
#include <errno.h>
#include <stdlib.h>

#include "gengc_internal.h"

void **gengc_handle_slow(struct gengc_heap *heap, void *obj)
{
	struct handle_block *b = heap->spare_block;

	if (b)
		heap->spare_block = NULL;
	else if (!(b = malloc(sizeof(*b))))
		gc_fatal("handle block: out of memory");
	b->prev = heap->hblock;
	heap->hblock = b;
	b->slots[0] = obj;
	heap->fast.hs_next = b->slots + 1;
	heap->fast.hs_limit = b->slots + HANDLE_BLOCK_SLOTS;
	return b->slots;
}

void gengc_scope_close_slow(struct gengc_heap *heap, struct gengc_scope *s)
{
	while (heap->hblock && heap->fast.hs_limit != s->limit) {
		struct handle_block *b = heap->hblock;

		heap->hblock = b->prev;
		if (heap->spare_block)
			free(b);
		else
			heap->spare_block = b;
		heap->fast.hs_limit = heap->hblock ? heap->hblock->slots + HANDLE_BLOCK_SLOTS : NULL;
	}
	heap->fast.hs_next = s->next;
	heap->fast.hs_limit = s->limit;
}

void roots_visit(struct gengc_heap *heap, slot_fn *fn)
{
	void **end = heap->fast.hs_next;

	for (struct handle_block *b = heap->hblock; b; b = b->prev) {
		for (void **h = b->slots; h < end; h++)
			fn(heap, h);
		end = b->prev ? b->prev->slots + HANDLE_BLOCK_SLOTS : NULL;
	}
	for (size_t i = 0; i < heap->globals.n; i++)
		fn(heap, heap->globals.v[i]);
}

void handles_done(struct gengc_heap *heap)
{
	while (heap->hblock) {
		struct handle_block *b = heap->hblock;

		heap->hblock = b->prev;
		free(b);
	}
	free(heap->spare_block);
	heap->spare_block = NULL;
}

/* ---- global roots ---------------------------------------------------------- */
int gengc_root_add(struct gengc_heap *heap, void **slot)
{
	for (size_t i = 0; i < heap->globals.n; i++)
		if (heap->globals.v[i] == slot)
			return -EEXIST;
	return vec_push(&heap->globals, slot);
}

int gengc_root_remove(struct gengc_heap *heap, void **slot)
{
	for (size_t i = 0; i < heap->globals.n; i++)
		if (heap->globals.v[i] == slot) {
			heap->globals.v[i] = heap->globals.v[--heap->globals.n];
			return 0;
		}
	return -ENOENT;
}

/* ---- weak references ------------------------------------------------------- */
struct gengc_weak *gengc_weak_new(struct gengc_heap *heap, void *obj)
{
	struct gengc_weak *w = malloc(sizeof(*w));

	if (!w)
		return NULL;
	w->target = obj;
	w->prev = NULL;
	w->next = heap->weak;
	if (heap->weak)
		heap->weak->prev = w;
	heap->weak = w;
	return w;
}

void *gengc_weak_get(const struct gengc_weak *w)
{
	return w->target;
}

struct gengc_weak *gengc_weak_free(struct gengc_heap *heap, struct gengc_weak *w)
{
	if (!w)
		return NULL;
	if (w->prev)
		w->prev->next = w->next;
	else
		heap->weak = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
	return NULL;
}

void weak_done(struct gengc_heap *heap)
{
	while (heap->weak)
		gengc_weak_free(heap, heap->weak);
}
