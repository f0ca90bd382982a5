/* SPDX-License-Identifier: MIT */
/* An unbounded cache: every request's result is kept forever, a leak in the old space.
 *
 *   leaky_cache [--rate 1000] [--entry-bytes 1024] [--garbage 20] [--full-gc-ms 200]
 *               [--duration 0] [--semi-space-mib 1]
 * serves --rate requests a second; each makes --garbage short-lived objects
 * and caches an entry of --entry-bytes that nothing ever evicts, so old space
 * after every full GC grows by rate x entry bytes a second (1 MiB/s by
 * default). Prints "ready pid=N" once its heap exists.
 */
#include "cache.h"

int main(int argc, char **argv)
{
	return cache_main(argc, argv, "leaky_cache", false, "leaky_cache: an unbounded cache (a leak)");
}
