/* SPDX-License-Identifier: MIT */
/* The same load as leaky_cache, with the fix: a bounded first-in-first-out cache.
 *
 *   bounded_cache [--rate 1000] [--entry-bytes 1024] [--garbage 20] [--capacity 2000]
 *                 [--full-gc-ms 200] [--duration 0] [--semi-space-mib 1]
 * serves --rate requests a second like leaky_cache, but the cache keeps the
 * newest --capacity entries and evicts the oldest: it is full after
 * capacity / rate seconds (2 s by default, well inside the agent's warm-up of
 * 20 full GCs, 4 s at a full GC every 200 ms), and old space after full GC
 * stays flat from then on. Prints "ready pid=N" once its heap exists, and
 * "full requests=N" when the cache first holds --capacity entries.
 */
#include "cache.h"

int main(int argc, char **argv)
{
	return cache_main(argc, argv, "bounded_cache", true, "bounded_cache: a bounded FIFO cache (no leak)");
}
