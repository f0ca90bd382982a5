/* SPDX-License-Identifier: MIT */
/* The object model: registered types and the walk over an object's pointer slots.
 *
 * A type's layout is one of four kinds, cheapest first: RAW (no pointers),
 * ALL (every payload word is a pointer: tree nodes, pointer arrays; or the
 * first lead_words words: a struct whose pointer fields come first, however
 * it was registered), OFFSETS (a list of field offsets) and TRACE (a
 * callback). The collectors' inner
 * loops switch on the kind, so the common kinds never make an indirect call.
 * Each type also owns a precomputed header word, so the inline allocation
 * fast path initialises an object with a single store.
 */
#include <errno.h>
#include <stdlib.h>

#include "gengc_internal.h"

static int types_grow(struct gengc_heap *heap)
{
	uint32_t cap = heap->cap_types ? heap->cap_types * 2 : 16;
	struct type_info *t;
	uint64_t *h;

	if (cap > MAX_TYPES)
		cap = MAX_TYPES;
	if (cap <= heap->cap_types)
		return -ENOSPC;
	t = realloc(heap->types, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	heap->types = t;
	h = realloc(heap->type_hdr, cap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	heap->type_hdr = h;
	heap->fast.type_hdr = h;
	heap->cap_types = cap;
	return 0;
}

int types_init(struct gengc_heap *heap)
{
	static const struct gengc_type raw = { .name = "raw" };
	uint32_t id;

	return gengc_type_register(heap, &raw, &id);
}

void types_done(struct gengc_heap *heap)
{
	for (uint32_t i = 0; i < heap->n_types; i++) {
		free(heap->types[i].name);
		free(heap->types[i].offsets);
	}
	free(heap->types);
	free(heap->type_hdr);
}

int gengc_type_register(struct gengc_heap *heap, const struct gengc_type *type, uint32_t *ret_id)
{
	struct type_info ti = { 0 };
	uint32_t size8 = (type->size + 7u) & ~7u;
	int r;

	if (!type->name || type->size > MAX_OBJECT_BYTES)
		return -EINVAL;
	if (type->trace && (type->n_pointers || (type->flags & GENGC_TYPE_ALL_POINTERS)))
		return -EINVAL;
	if (type->n_pointers && !type->pointer_offsets)
		return -EINVAL;
	/* In 64 bits: offset + 8 wraps to 0 in 32 for the top offsets. A
	 * variable type's field must still fit in the biggest object. */
	for (uint32_t i = 0; i < type->n_pointers; i++) {
		uint64_t end = (uint64_t)type->pointer_offsets[i] + 8;

		if (type->pointer_offsets[i] % 8 || end > (type->size ? size8 : MAX_OBJECT_BYTES))
			return -EINVAL;
	}
	if (heap->n_types == heap->cap_types && (r = types_grow(heap)) < 0)
		return r;

	ti.size = size8;
	for (uint32_t i = 0; i < type->n_pointers; i++)
		if (type->pointer_offsets[i] + 8 > ti.min_size)
			ti.min_size = type->pointer_offsets[i] + 8;
	ti.trace = type->trace;
	ti.finalize = type->finalize;
	ti.finalize_ctx = type->finalize_ctx;
	if (type->trace)
		ti.layout = LAYOUT_TRACE;
	else if (type->flags & GENGC_TYPE_ALL_POINTERS)
		ti.layout = LAYOUT_ALL;
	else if (type->n_pointers)
		ti.layout = LAYOUT_OFFSETS;
	else
		ti.layout = LAYOUT_RAW;
	if (ti.layout == LAYOUT_OFFSETS) {
		/* Offsets 0, 8, ..., 8(n-1) in any order: a loop over the first n
		 * words, no table (GCBench's node is one of these). */
		uint64_t seen = 0;

		for (uint32_t i = 0; i < type->n_pointers; i++)
			if (type->pointer_offsets[i] / 8 < 64)
				seen |= 1ull << (type->pointer_offsets[i] / 8);
		if (type->n_pointers < 64 && seen == (1ull << type->n_pointers) - 1) {
			ti.layout = LAYOUT_ALL;
			ti.lead_words = type->n_pointers;
		}
	}
	if (ti.layout == LAYOUT_OFFSETS) {
		ti.offsets = malloc(type->n_pointers * sizeof(uint32_t));
		if (!ti.offsets)
			return -ENOMEM;
		memcpy(ti.offsets, type->pointer_offsets, type->n_pointers * sizeof(uint32_t));
		ti.n_offsets = type->n_pointers;
	}
	ti.name = strdup(type->name);
	if (!ti.name) {
		free(ti.offsets);
		return -ENOMEM;
	}
	heap->types[heap->n_types] = ti;
	/* A template size no allocation window can hold (windows are at most a
	 * semispace, 1 GiB) sends the inline fast path to the slow one, with no
	 * test of its own: variable types, finalizable types (they must be
	 * registered) and fixed types too big for the young generation. */
	heap->type_hdr[heap->n_types] = ti.finalize || !size8 || size8 > heap->opts.large_object_threshold
		? hdr_make(heap->n_types, SLOW_TEMPLATE_SIZE) : hdr_make(heap->n_types, size8);
	*ret_id = heap->n_types++;
	heap->fast.n_types = heap->n_types;
	return 0;
}

/* ---- tracing -------------------------------------------------------------- */
struct slot_tracer {
	struct gengc_tracer t;
	slot_fn *fn;
};

static void tracer_visit(struct gengc_tracer *t, void **slot)
{
	struct slot_tracer *st = (struct slot_tracer *)t;

	st->fn(t->heap, slot);
}

void gengc_trace_slot(struct gengc_tracer *t, void **slot)
{
	t->visit(t, slot);
}

void visit_slots(struct gengc_heap *heap, void *obj, slot_fn *fn)
{
	uint64_t h = *hdr_of(obj);
	struct type_info *ti = &heap->types[hdr_type(h)];
	void **p = obj;

	switch (ti->layout) {
	case LAYOUT_RAW:
		return;
	case LAYOUT_ALL:
		for (size_t i = 0, n = lead_words(ti, h); i < n; i++)
			fn(heap, &p[i]);
		return;
	case LAYOUT_OFFSETS:
		for (uint32_t i = 0; i < ti->n_offsets; i++)
			fn(heap, (void **)((char *)obj + ti->offsets[i]));
		return;
	case LAYOUT_TRACE: {
		struct slot_tracer st = { { tracer_visit, heap }, fn };

		ti->trace(obj, hdr_size(h), &st.t);
		return;
	}
	}
}

size_t gengc_size(const void *obj)
{
	return hdr_size(*hdr_of(obj));
}

uint32_t gengc_type_of(const void *obj)
{
	return hdr_type(*hdr_of(obj));
}
