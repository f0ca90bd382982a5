/* SPDX-License-Identifier: MIT */
/* A first-in-first-out list on a libgengc heap: the examples' cache and queue.
 *
 * An item is two pointer words (next, payload) and a raw payload; head and
 * tail are registered roots, so the collector keeps (and moves) them.
 */
#ifndef EXAMPLE_FIFO_H
#define EXAMPLE_FIFO_H

#include "example.h"

struct fifo {
	struct gengc_heap *heap;
	uint32_t item_type;
	void *head, *tail;      /* roots */
	uint64_t length;
};

/* A heap named name (the agent's `target`) holding an empty list. */
static inline int fifo_init(struct fifo *f, const char *name, double semi_space_mib)
{
	struct gengc_type t = { .name = "fifo_item", .size = 16, .flags = GENGC_TYPE_ALL_POINTERS };

	*f = (struct fifo){ .heap = example_heap_new(semi_space_mib) };
	if (!f->heap || gengc_type_register(f->heap, &t, &f->item_type) < 0 ||
	    gengc_root_add(f->heap, &f->head) < 0 || gengc_root_add(f->heap, &f->tail) < 0)
		return -ENOMEM;
	gengc_telemetry_name(f->heap, name);
	return 0;
}

/* Appends an item with a payload of payload_bytes. */
static inline void fifo_push(struct fifo *f, size_t payload_bytes)
{
	struct gengc_scope s;

	gengc_scope_open(f->heap, &s);
	void **item = gengc_alloc(f->heap, f->item_type);
	void **h = gengc_handle(f->heap, item);
	void *payload = gengc_alloc_raw(f->heap, payload_bytes);
	item = *h;
	gengc_write(f->heap, item, &item[1], payload);
	if (f->tail)
		gengc_write(f->heap, f->tail, &((void **)f->tail)[0], item);
	else
		f->head = item;
	f->tail = item;
	f->length++;
	gengc_scope_close(f->heap, &s);
}

/* Drops the oldest item (garbage from now on); false when empty. */
static inline bool fifo_pop(struct fifo *f)
{
	if (!f->head)
		return false;
	f->head = ((void **)f->head)[0];
	if (!f->head)
		f->tail = NULL;
	f->length--;
	return true;
}

#endif
