/* SPDX-License-Identifier: MIT */
/* leaky_cache and bounded_cache: one request loop, with and without a bound on the cache.
 *
 * Each request makes `--garbage` short-lived 64-byte objects (the churn of
 * real request handling, dead before the next request) and caches its
 * result, an entry of `--entry-bytes`, at the tail of a first-in-first-out
 * list; past `--capacity` entries the oldest leaves from the head.
 * Capacity 0 never evicts: the unbounded cache, a leak.
 */
#ifndef EXAMPLE_CACHE_H
#define EXAMPLE_CACHE_H

#include <unistd.h>

#include "fifo.h"

/* The program: bounded says whether it takes --capacity (bounded_cache) or
 * keeps everything (leaky_cache). Prints "ready pid=N" once its heap exists,
 * and for a bounded cache "full requests=N" when it first holds capacity
 * entries. Returns the exit status. */
static inline int cache_main(int argc, char **argv, const char *program, bool bounded, const char *usage)
{
	double semi = 1, rate = 1000, entry = 1024, garbage = 20, capacity = bounded ? 2000 : 0,
	       full_gc_ms = 200, duration = 0;
	struct example_flag flags[] = {
		{ "--rate", &rate, "requests per second" },
		{ "--entry-bytes", &entry, "bytes each request caches" },
		{ "--garbage", &garbage, "short-lived 64-byte objects per request" },
		{ "--full-gc-ms", &full_gc_ms, "a full GC this often (0: only the heap's own)" },
		{ "--duration", &duration, "seconds to run (0: until killed)" },
		{ "--semi-space-mib", &semi, "the young generation's largest semispace" },
		{ bounded ? "--capacity" : NULL, &capacity, "entries kept (the oldest leave first)" },
		{ NULL, NULL, NULL },
	};
	const char *name = getenv("EXAMPLE_NAME") ? getenv("EXAMPLE_NAME") : program;
	struct example_pace pace;
	struct fifo cache;
	uint64_t done = 0, elapsed;
	bool said_full = false;
	int r = example_flags(argc, argv, usage, flags);

	if (r)
		return r > 0 ? 0 : 64;
	if (bounded && capacity < 1)
		return 64;
	if (fifo_init(&cache, name, semi) < 0)
		return 1;
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	example_pace_init(&pace, duration, full_gc_ms);
	while ((elapsed = example_pace_step(&pace, cache.heap))) {
		for (uint64_t n = example_due(rate, elapsed, done); n > 0; n--, done++) {
			for (unsigned i = 0; i < (unsigned)garbage; i++)
				gengc_alloc_raw(cache.heap, 64);
			fifo_push(&cache, (size_t)entry);
			if (capacity > 0 && cache.length > (uint64_t)capacity)
				fifo_pop(&cache);
		}
		if (bounded && !said_full && cache.length == (uint64_t)capacity) {
			printf("full requests=%" PRIu64 "\n", done);
			fflush(stdout);
			said_full = true;
		}
	}
	gengc_heap_free(cache.heap);
	return 0;
}

#endif
