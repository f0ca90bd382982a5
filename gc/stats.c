/* SPDX-License-Identifier: MIT */
/* Statistics in the shapes people know (process.memoryUsage, v8 heap and space statistics), GC events, the trace line.
 *
 * struct gengc_stats has fixed-width fields and no pointers so a later
 * telemetry page can copy it into shared memory as it is; every counter is
 * updated at the end of a collection (stats_gc_done), and the space figures
 * are computed when read, so reading is consistent and cheap.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gengc_internal.h"

uint64_t heap_used_bytes(const struct gengc_heap *heap)
{
	return (uint64_t)(heap->fast.top - heap->to_space) + heap->old_used + heap->large_used;
}

static uint64_t young_committed(const struct gengc_heap *heap)
{
	return 2 * (uint64_t)heap->semi_cap;
}

uint64_t heap_total_bytes(const struct gengc_heap *heap)
{
	return young_committed(heap) + old_committed_bytes(heap);
}

static uint64_t process_rss(void)
{
	char buf[128];
	unsigned long size, rss;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%lu %lu", &size, &rss) != 2)
		return 0;
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

int gengc_memory_usage(struct gengc_heap *heap, struct gengc_memory_usage *ret)
{
	ret->rss = process_rss();
	ret->heap_total = young_committed(heap) + old_committed_bytes(heap);
	ret->heap_used = heap_used_bytes(heap);
	ret->external = heap->external > 0 ? (uint64_t)heap->external : 0;
	return 0;
}

int gengc_space_statistics(struct gengc_heap *heap, enum gengc_space space,
			   struct gengc_space_statistics *ret)
{
	struct gengc_space_statistics s = { 0 };

	switch (space) {
	case GENGC_SPACE_NEW:
		s.space_size = heap->semi_cap;
		s.space_used_size = (uint64_t)(heap->fast.top - heap->to_space);
		s.space_available_size = s.space_size - s.space_used_size;
		s.physical_space_size = 2 * (uint64_t)heap->young_touched;
		break;
	case GENGC_SPACE_OLD:
		s.space_size = heap->small_pages * PAGE_BYTES;
		s.space_used_size = heap->old_used;
		for (uint32_t c = 0; c < heap->n_classes; c++)
			for (size_t i = 0; i < heap->cls[c].n_pages; i++) {
				struct page *pg = heap->cls[c].pages[i];

				s.space_available_size += (uint64_t)(pg->ncells - pg->nlive) * pg->cell_bytes;
			}
		s.physical_space_size = s.space_size;
		break;
	case GENGC_SPACE_LARGE_OBJECT:
		s.space_size = heap->large_pages * PAGE_BYTES;
		s.space_used_size = heap->large_used;
		s.space_available_size = 0;
		s.physical_space_size = s.space_size;
		break;
	default:
		return -22; /* -EINVAL */
	}
	*ret = s;
	return 0;
}

int gengc_heap_statistics(struct gengc_heap *heap, struct gengc_heap_statistics *ret)
{
	struct gengc_heap_statistics s;
	uint64_t limit = (uint64_t)heap->heap_limit + 2 * (uint64_t)heap->semi_max;

	s.total_heap_size = young_committed(heap) + old_committed_bytes(heap);
	s.used_heap_size = heap_used_bytes(heap);
	s.heap_size_limit = limit;
	s.total_available_size = limit > s.used_heap_size ? limit - s.used_heap_size : 0;
	s.total_physical_size = 2 * (uint64_t)heap->young_touched + old_committed_bytes(heap) +
				(uint64_t)heap->pool.n * PAGE_BYTES;
	*ret = s;
	return 0;
}

int gengc_stats_read(struct gengc_heap *heap, struct gengc_stats *ret)
{
	heap->st.version = GENGC_STATS_VERSION;
	heap->st.size = sizeof(heap->st);
	heap->st.old_pages = heap->small_pages;
	heap->st.allocated_bytes += (uint64_t)(heap->fast.top - heap->alloc_mark);
	heap->alloc_mark = heap->fast.top;
	gengc_memory_usage(heap, &heap->st.memory);
	gengc_heap_statistics(heap, &heap->st.heap);
	for (int s = 0; s < GENGC_SPACES; s++)
		gengc_space_statistics(heap, (enum gengc_space)s, &heap->st.space[s]);
	*ret = heap->st;
	return 0;
}

static unsigned pause_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned b = us ? 63u - (unsigned)__builtin_clzll(us) : 0;

	return b < GENGC_PAUSE_BUCKETS ? b : GENGC_PAUSE_BUCKETS - 1;
}

void stats_gc_done(struct gengc_heap *heap, enum gengc_gc_kind kind, enum gengc_gc_reason reason,
		   uint64_t pause_ns, uint64_t used_before, uint64_t total_before, uint64_t used_after)
{
	struct gengc_gc_kind_statistics *k = &heap->st.gc[kind];
	struct gengc_gc_event ev = {
		.kind = kind, .reason = reason, .pause_ns = pause_ns,
		.heap_used_before_bytes = used_before, .heap_used_after_bytes = used_after,
		.survived_bytes = heap->survived_this_gc, .promoted_bytes = heap->promoted_this_gc,
		.freed_bytes = heap->freed_this_gc,
		.marked_objects = kind == GENGC_GC_SCAVENGE ? 0 : heap->marked_this_gc,
	};

	k->count++;
	k->total_pause_ns += pause_ns;
	k->last_pause_ns = pause_ns;
	if (pause_ns > k->max_pause_ns)
		k->max_pause_ns = pause_ns;
	k->pause_histogram[pause_bucket(pause_ns)]++;
	k->bytes_promoted += heap->promoted_this_gc;
	k->bytes_survived += heap->survived_this_gc;
	k->bytes_freed += heap->freed_this_gc;
	if (kind != GENGC_GC_SCAVENGE) {
		uint64_t old = heap->old_used + heap->large_used;

		heap->st.full_gcs++;
		heap->st.old_used_after_full_gc = old;
		memmove(heap->st.old_used_after_full_gc_history, heap->st.old_used_after_full_gc_history + 1,
			sizeof(uint64_t) * (GENGC_FULL_GC_HISTORY - 1));
		heap->st.old_used_after_full_gc_history[GENGC_FULL_GC_HISTORY - 1] = old;
	}
	if (heap->opts.trace_gc) {
		double mb = 1.0 / (double)MIB;

		/* --trace-gc's shape: [pid:heap] time: Kind used (total) -> used (total) MB, pause, reason */
		gengc_log("[%d:%p] %8.0f ms: %s %.1f (%.1f) -> %.1f (%.1f) MB, %.2f ms, %s",
			  (int)getpid(), (void *)heap, (double)(now_ns() - heap->t0_ns) / 1e6,
			  gengc_gc_kind_name(kind), (double)used_before * mb, (double)total_before * mb,
			  (double)used_after * mb, (double)heap_total_bytes(heap) * mb, (double)pause_ns / 1e6,
			  gengc_gc_reason_name(reason));
	}
	telemetry_update(heap, &ev);
	/* The callback may read statistics (in_gc is clear for that) but a
	 * collection from it is refused (in_callback): it would run inside
	 * the policy's sequence and call the callback again, without end. */
	if (heap->gc_done) {
		heap->in_callback = true;
		heap->gc_done(heap, &ev, heap->gc_done_ctx);
		heap->in_callback = false;
	}
}
