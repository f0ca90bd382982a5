/* SPDX-License-Identifier: MIT */
/* The same load as leaky_cache, with the fix: a bounded first-in-first-out cache.
 *
 *   bounded_cache [--rate 1000] [--entry-bytes 1024] [--garbage 20] [--capacity 2000]
 *                 [--full-gc-ms 200] [--duration 0]
 *                 [--semi-space-mib 1]
 * serves --rate requests a second like leaky_cache, but the cache keeps the
 * newest --capacity entries and evicts the oldest: it is full after
 * capacity / rate seconds (2 s by default, well inside the agent's warm-up of
 * 20 full GCs, 4 s at a full GC every 200 ms), and old space after full GC
 * stays flat from then on. Prints "ready pid=N" once its heap exists, and
 * "full requests=N" when the cache first holds --capacity entries.
 */
#include <unistd.h>

#include "cache.h"

int main(int argc, char **argv)
{
	double semi = 1, rate = 1000, entry = 1024, garbage = 20, capacity = 2000, full_gc_ms = 200, duration = 0;
	struct example_flag flags[] = {
		{ "--rate", &rate, "requests per second" },
		{ "--entry-bytes", &entry, "bytes each request caches" },
		{ "--garbage", &garbage, "short-lived 64-byte objects per request" },
		{ "--capacity", &capacity, "entries kept (the oldest leave first)" },
		{ "--full-gc-ms", &full_gc_ms, "a full GC this often (0: only the heap's own)" },
		{ "--duration", &duration, "seconds to run (0: until killed)" },
		{ "--semi-space-mib", &semi, "the young generation's largest semispace" },
		{ NULL, NULL, NULL },
	};
	const char *name = getenv("EXAMPLE_NAME") ? getenv("EXAMPLE_NAME") : "bounded_cache";
	struct example_pace pace;
	struct cache c;
	uint64_t done = 0, elapsed;
	bool said_full = false;
	int r = example_flags(argc, argv, "bounded_cache: a bounded FIFO cache (no leak)", flags);

	if (r)
		return r > 0 ? 0 : 64;
	if (capacity < 1 || cache_init(&c, name, (uint64_t)capacity, (size_t)entry, semi) < 0)
		return capacity < 1 ? 64 : 1;
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	example_pace_init(&pace, duration, full_gc_ms);
	while ((elapsed = example_pace_step(&pace, c.heap))) {
		for (uint64_t n = example_due(rate, elapsed, done); n > 0; n--, done++)
			cache_request(&c, (unsigned)garbage);
		if (!said_full && c.count == c.capacity) {
			printf("full requests=%" PRIu64 "\n", done);
			fflush(stdout);
			said_full = true;
		}
	}
	gengc_heap_free(c.heap);
	return 0;
}
