/* SPDX-License-Identifier: MIT */
/* The cache of leaky_cache and bounded_cache: a first-in-first-out list of entries on a libgengc heap.
 *
 * An entry is two pointer words (next, payload) and a raw payload of
 * entry_bytes; head and tail are registered roots, so the collector keeps
 * (and moves) them. capacity 0 never evicts: the unbounded cache, a leak.
 * Each request also makes `garbage` short-lived objects (the churn of real
 * request handling), dead before the next request.
 */
#ifndef EXAMPLE_CACHE_H
#define EXAMPLE_CACHE_H

#include "example.h"

struct cache {
	struct gengc_heap *heap;
	uint32_t entry_type;
	void *head, *tail;      /* roots */
	uint64_t count, capacity;
	size_t entry_bytes;
};

static inline int cache_init(struct cache *c, const char *name, uint64_t capacity, size_t entry_bytes,
			     double semi_space_mib)
{
	struct gengc_type t = { .name = "cache_entry", .size = 16, .flags = GENGC_TYPE_ALL_POINTERS };

	*c = (struct cache){ .capacity = capacity, .entry_bytes = entry_bytes };
	c->heap = example_heap_new(semi_space_mib);
	if (!c->heap || gengc_type_register(c->heap, &t, &c->entry_type) < 0 ||
	    gengc_root_add(c->heap, &c->head) < 0 || gengc_root_add(c->heap, &c->tail) < 0)
		return -ENOMEM;
	gengc_telemetry_name(c->heap, name);
	return 0;
}

/* One request: its garbage, then its entry at the tail; past capacity the
 * oldest entry leaves from the head. */
static inline void cache_request(struct cache *c, unsigned garbage)
{
	struct gengc_scope s;

	for (unsigned i = 0; i < garbage; i++)
		gengc_alloc_raw(c->heap, 64);
	gengc_scope_open(c->heap, &s);
	void **e = gengc_alloc(c->heap, c->entry_type);
	void **he = gengc_handle(c->heap, e);
	void *payload = gengc_alloc_raw(c->heap, c->entry_bytes);
	e = *he;
	gengc_write(c->heap, e, &e[1], payload);
	if (c->tail)
		gengc_write(c->heap, c->tail, &((void **)c->tail)[0], e);
	else
		c->head = e;
	c->tail = e;
	gengc_scope_close(c->heap, &s);
	if (c->capacity && ++c->count > c->capacity) {
		c->head = ((void **)c->head)[0];
		c->count--;
	} else if (!c->capacity) {
		c->count++;
	}
}

#endif
