/* SPDX-License-Identifier: MIT */
/* The heap checker: every invariant of gengc_internal.h, checked by walking everything.
 *
 * The heap lives in mmap'd memory, so AddressSanitizer cannot see overflows
 * or dangling pointers inside it: this walk is what can. It visits every
 * object of every space (reachable or not: by I1 unreachable-but-unswept
 * objects must be just as sound), every root, weak reference and finalizer
 * entry, and checks headers, page bitmaps and counters, that no pointer leads
 * into from-space, a freed cell or outside the heap, and that every old->young
 * slot is in the remembered set (I2). It stops at the first problem.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gengc_internal.h"

struct vstate {
	char *msg;
	size_t len;
	int bad;
	uint64_t *young_starts;         /* bit per 8 bytes of to-space: an object starts here */
	void *holder;                   /* object whose slots are being checked, NULL for roots */
	const char *what;
};

static void fail(struct vstate *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct vstate *v, const char *fmt, ...)
{
	va_list ap;

	if (v->bad++)
		return;
	if (v->msg && v->len) {
		va_start(ap, fmt);
		vsnprintf(v->msg, v->len, fmt, ap);
		va_end(ap);
	}
}

static bool header_ok(struct vstate *v, struct gengc_heap *heap, void *obj, const char *where)
{
	uint64_t h = *hdr_of(obj);
	uint32_t t = hdr_type(h);

	if (h & HDR_FWD) {
		fail(v, "%s object %p has a forwarding header outside a GC", where, obj);
		return false;
	}
	if (t >= heap->n_types || (h & 0xfeu)) {
		fail(v, "%s object %p has a bad header %#llx", where, obj, (unsigned long long)h);
		return false;
	}
	if (hdr_size(h) < heap->types[t].size || hdr_size(h) < heap->types[t].min_size || hdr_size(h) % 8) {
		fail(v, "%s object %p of type %s has a bad size %zu", where, obj, heap->types[t].name, hdr_size(h));
		return false;
	}
	return true;
}

static void check_ptr(struct gengc_heap *heap, void **slot)
{
	struct vstate *v = heap->visit_ctx;
	void *p = *slot, *holder = v->holder;

	if (!p)
		return;
	if ((uintptr_t)p & 7) {
		fail(v, "%s %p: slot %p holds a misaligned pointer %p", v->what, holder, (void *)slot, p);
		return;
	}
	if (in_young(heap, p)) {
		size_t off = (size_t)((char *)p - 8 - heap->to_space);

		if ((char *)p - 8 < heap->to_space || (char *)p >= heap->fast.top) {
			fail(v, "%s %p: slot %p points into from-space or past top: %p", v->what, holder, (void *)slot, p);
			return;
		}
		if (!bit_test(v->young_starts, (uint32_t)(off / 8))) {
			fail(v, "%s %p: slot %p points inside a young object: %p", v->what, holder, (void *)slot, p);
			return;
		}
		if (holder && !in_young(heap, holder) &&
		    (!remset_has(heap, slot) || !(page_of(holder)->flags & PF_REMEMBERED)))
			fail(v, "old object %p: slot %p points young (%p) but is not remembered", holder, (void *)slot, p);
		return;
	}
	if (!in_old(heap, p)) {
		fail(v, "%s %p: slot %p points outside the heap: %p", v->what, holder, (void *)slot, p);
		return;
	}
	size_t pi = (size_t)((char *)p - heap->old) / PAGE_BYTES;
	struct page *pg = page_of(p);

	if (heap->page_state[pi] == PAGE_SMALL) {
		size_t off = (size_t)((char *)p - 8 - pg->cells);

		if ((char *)p - 8 < pg->cells || off % pg->cell_bytes || off / pg->cell_bytes >= pg->ncells) {
			fail(v, "%s %p: slot %p points inside an old cell: %p", v->what, holder, (void *)slot, p);
			return;
		}
		if (!bit_test(pg->alloc_bits, (uint32_t)(off / pg->cell_bytes)))
			fail(v, "%s %p: slot %p points to a freed cell: %p", v->what, holder, (void *)slot, p);
	} else if (heap->page_state[pi] == PAGE_LARGE) {
		if ((char *)p != pg->cells + 8)
			fail(v, "%s %p: slot %p points inside a large object: %p", v->what, holder, (void *)slot, p);
	} else {
		fail(v, "%s %p: slot %p points into a free page: %p", v->what, holder, (void *)slot, p);
	}
}

static void check_object(struct gengc_heap *heap, struct vstate *v, void *obj)
{
	v->holder = obj;
	v->what = "object";
	visit_slots(heap, obj, check_ptr);
}

static void verify_young(struct gengc_heap *heap, struct vstate *v)
{
	char *p = heap->to_space;

	while (p < heap->fast.top && !v->bad) {
		void *obj = p + 8;

		if (!header_ok(v, heap, obj, "young"))
			return;
		if (hdr_size(*hdr_of(obj)) > heap->opts.large_object_threshold) {
			fail(v, "young object %p is larger than the large-object threshold", obj);
			return;
		}
		bit_set(v->young_starts, (uint32_t)((size_t)(p - heap->to_space) / 8));
		p += hdr_size(*hdr_of(obj)) + 8;
	}
	if (p != heap->fast.top)
		fail(v, "young objects do not end at top (%p vs %p)", (void *)p, (void *)heap->fast.top);
	for (char *z = heap->fast.top; z < heap->young_zeroed && !v->bad; z++)
		if (*z)
			fail(v, "young allocation window is not zero at %p (I4)", (void *)z);
	for (size_t w = (size_t)(heap->to_space - heap->young) / 512; w < (size_t)(p - heap->young + 511) / 512 && !v->bad; w++)
		if (heap->young_marks[w])
			fail(v, "young mark bits left set outside a full GC near %p (I3)", (void *)(heap->young + w * 512));
}

static void verify_old(struct gengc_heap *heap, struct vstate *v, bool slots)
{
	size_t used = 0, pages = 0, large = 0, lpages = 0;

	for (uint32_t c = 0; c < heap->n_classes && !v->bad; c++) {
		struct size_class *sc = &heap->cls[c];

		for (size_t i = 0; i < sc->n_pages && !v->bad; i++) {
			struct page *pg = sc->pages[i];
			uint32_t live = 0;

			pages++;
			if (pg->magic != PAGE_MAGIC || pg->kind != PAGE_SMALL || pg->cls != c ||
			    heap->page_state[(size_t)((char *)pg - heap->old) / PAGE_BYTES] != PAGE_SMALL) {
				fail(v, "old page %p: bad page header", (void *)pg);
				return;
			}
			if (pg->flags & PF_EVACUATE)
				fail(v, "old page %p: still marked for evacuation", (void *)pg);
			for (uint32_t w = 0; w < pg->bitmap_words; w++) {
				live += (uint32_t)__builtin_popcountll(pg->alloc_bits[w]);
				if (pg->mark_bits[w] && !heap->marking)
					fail(v, "old page %p: mark bits left set outside a GC", (void *)pg);
			}
			if (live != pg->nlive)
				fail(v, "old page %p: %u cells allocated, count says %u", (void *)pg, live, pg->nlive);
			used += (size_t)live * pg->cell_bytes;
			for (uint32_t k = 0; k < pg->ncells && !v->bad; k++) {
				void *obj = pg->cells + (size_t)k * pg->cell_bytes + 8;

				if (!bit_test(pg->alloc_bits, k))
					continue;
				if (!header_ok(v, heap, obj, "old"))
					return;
				if (size_class_of(heap, hdr_size(*hdr_of(obj))) != c)
					fail(v, "old object %p: size %zu is not of its page's class", obj,
					     hdr_size(*hdr_of(obj)));
				else if (slots)
					check_object(heap, v, obj);
			}
		}
	}
	for (struct page *pg = heap->large; pg && !v->bad; pg = pg->next) {
		void *obj = pg->cells + 8;

		if (pg->magic != PAGE_MAGIC || pg->kind != PAGE_LARGE || (pg->large_mark && !heap->marking) ||
		    pg->mark_bits != &pg->large_mark || pg->div_mul) {
			fail(v, "large object page %p: bad page header", (void *)pg);
			return;
		}
		lpages += pg->run_pages;
		if (!header_ok(v, heap, obj, "large"))
			return;
		large += hdr_size(*hdr_of(obj)) + 8;
		if (slots)
			check_object(heap, v, obj);
	}
	if (v->bad)
		return;
	if (used != heap->old_used || pages != heap->small_pages)
		fail(v, "old space counters: %zu bytes in %zu pages, counted %zu in %zu", used, pages,
		     heap->old_used, heap->small_pages);
	else if (large != heap->large_used || lpages != heap->large_pages)
		fail(v, "large object space counters: %zu bytes, counted %zu", large, heap->large_used);
	else if (pages + lpages != heap->committed_pages)
		fail(v, "committed pages: %zu in use, counted %zu", pages + lpages, heap->committed_pages);
}

static void check_root(struct gengc_heap *heap, void **slot)
{
	check_ptr(heap, slot);
}

int gengc_verify(struct gengc_heap *heap, char *msg, size_t msg_len)
{
	size_t young_bytes = (size_t)(heap->fast.top - heap->to_space);
	struct vstate v = { .msg = msg, .len = msg_len };

	if (msg && msg_len)
		msg[0] = 0;
	if (heap->in_gc)
		return -EBUSY;
	v.young_starts = calloc(young_bytes / 8 / 64 + 1, 8);
	if (!v.young_starts)
		return -ENOMEM;
	heap->visit_ctx = &v;
	verify_young(heap, &v);
	verify_old(heap, &v, false);
	/* Slots second: the young start bitmap and old headers are known. */
	for (char *p = heap->to_space; p < heap->fast.top && !v.bad; p += hdr_size(*hdr_of(p + 8)) + 8)
		check_object(heap, &v, p + 8);
	if (!v.bad)
		verify_old(heap, &v, true);
	v.holder = NULL;
	v.what = "root";
	if (!v.bad)
		roots_visit(heap, check_root);
	v.what = "weak reference";
	for (struct gengc_weak *w = heap->weak; w && !v.bad; w = w->next)
		check_ptr(heap, &w->target);
	v.what = "finalizable";
	for (size_t i = 0; i < heap->young_fin.n && !v.bad; i++) {
		if (!in_young(heap, heap->young_fin.v[i]))
			fail(&v, "young finalizer list holds a non-young object %p", heap->young_fin.v[i]);
		check_ptr(heap, &heap->young_fin.v[i]);
	}
	for (size_t i = 0; i < heap->old_fin.n && !v.bad; i++) {
		if (in_young(heap, heap->old_fin.v[i]))
			fail(&v, "old finalizer list holds a young object %p", heap->old_fin.v[i]);
		check_ptr(heap, &heap->old_fin.v[i]);
	}
	for (size_t i = 0; i < heap->rem_pages.n && !v.bad; i++)
		if (!(((struct page *)heap->rem_pages.v[i])->flags & PF_REMEMBERED))
			fail(&v, "remembered page %p lacks its flag", heap->rem_pages.v[i]);
	heap->visit_ctx = NULL;
	free(v.young_starts);
	return v.bad ? -EUCLEAN : 0;
}

void verify_or_die(struct gengc_heap *heap, const char *when)
{
	char msg[256];

	if (gengc_verify(heap, msg, sizeof(msg)) < 0) {
		gengc_log("gengc: heap verification failed after %s: %s", when, msg);
		abort();
	}
}
