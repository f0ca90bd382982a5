/* SPDX-License-Identifier: MIT */
/* An unbounded cache: every request's result is kept forever, a leak in the old space.
 *
 *   leaky_cache [--rate 1000] [--entry-bytes 1024] [--garbage 20] [--full-gc-ms 200]
 *               [--duration 0]
 *             [--semi-space-mib 1] [--name leaky_cache]
 * serves --rate requests a second; each makes --garbage short-lived objects
 * and caches an entry of --entry-bytes that nothing ever evicts, so old space
 * after every full GC grows by rate x entry bytes a second (1 MiB/s by
 * default). Prints "ready pid=N" once its heap exists.
 */
#include <unistd.h>

#include "cache.h"

int main(int argc, char **argv)
{
	double semi = 1, rate = 1000, entry = 1024, garbage = 20, full_gc_ms = 200, duration = 0;
	struct example_flag flags[] = {
		{ "--rate", &rate, "requests per second" },
		{ "--entry-bytes", &entry, "bytes each request caches" },
		{ "--garbage", &garbage, "short-lived 64-byte objects per request" },
		{ "--full-gc-ms", &full_gc_ms, "a full GC this often (0: only the heap's own)" },
		{ "--duration", &duration, "seconds to run (0: until killed)" },
		{ "--semi-space-mib", &semi, "the young generation's largest semispace" },
		{ NULL, NULL, NULL },
	};
	const char *name = getenv("EXAMPLE_NAME") ? getenv("EXAMPLE_NAME") : "leaky_cache";
	struct example_pace pace;
	struct cache c;
	uint64_t done = 0, elapsed;
	int r = example_flags(argc, argv, "leaky_cache: an unbounded cache (a leak)", flags);

	if (r)
		return r > 0 ? 0 : 64;
	if (cache_init(&c, name, 0, (size_t)entry, semi) < 0)
		return 1;
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	example_pace_init(&pace, duration, full_gc_ms);
	while ((elapsed = example_pace_step(&pace, c.heap))) {
		for (uint64_t n = example_due(rate, elapsed, done); n > 0; n--, done++)
			cache_request(&c, (unsigned)garbage);
	}
	gengc_heap_free(c.heap);
	return 0;
}
