/* SPDX-License-Identifier: MIT */
/* The libgengc guide's example (docs/gengc.md embeds this file verbatim). */
#include <stdio.h>
#include <string.h>

#include <gengc.h>

struct entry {                  /* a linked list of named counters */
	struct entry *next;     /* pointer field: offset 0 */
	char *name;             /* pointer field: offset 8 (a raw string object) */
	long count;
};

static const uint32_t entry_pointers[] = { 0, 8 };

static struct entry *push(struct gengc_heap *heap, uint32_t type, void **list, const char *name)
{
	struct gengc_scope scope;
	void **e;

	gengc_scope_open(heap, &scope);
	e = gengc_handle(heap, gengc_alloc(heap, type));       /* may move objects */
	char *s = gengc_strndup(heap, name, strlen(name));     /* may move *e: reload it */
	struct entry *en = *e;

	gengc_write(heap, en, &en->name, s);
	gengc_write(heap, en, &en->next, *list);
	*list = en;                                             /* a global root: plain store */
	gengc_scope_close(heap, &scope);
	return en;
}

int main(void)
{
	struct gengc_type t = { .name = "entry", .size = sizeof(struct entry),
				.n_pointers = 2, .pointer_offsets = entry_pointers };
	struct gengc_options opts;
	struct gengc_stats st;
	static void *list;                                      /* a global root */
	uint32_t entry_type;
	long total = 0, kept = 0;

	gengc_options_init(&opts);                              /* defaults + GENGC_* env */
	opts.max_old_space_size = 64;                           /* MiB */
	struct gengc_heap *heap = gengc_heap_new(&opts);
	if (!heap || gengc_type_register(heap, &t, &entry_type) < 0)
		return 1;
	gengc_root_add(heap, &list);

	for (int i = 0; i < 100000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "key-%d", i % 1000);
		struct entry *e = push(heap, entry_type, &list, name);
		e->count = i;                                   /* not a pointer: plain store */
		if (i % 1000 == 999 && i < 99000)
			list = NULL;                            /* drop the list: garbage */
	}
	gengc_collect(heap, GENGC_GC_MARK_SWEEP);

	for (struct entry *e = list; e; e = e->next) {          /* no allocation: raw pointers are fine */
		total += e->count;
		kept++;
	}
	gengc_stats_read(heap, &st);
	printf("entries kept: %ld\n", kept);
	printf("sum of counts: %ld\n", total);
	printf("scavenges: %llu, full GCs: %llu, heap used: %llu KiB\n",
	       (unsigned long long)st.gc[GENGC_GC_SCAVENGE].count, (unsigned long long)st.full_gcs,
	       (unsigned long long)st.heap.used_heap_size / 1024);
	gengc_heap_free(heap);
	return 0;
}
