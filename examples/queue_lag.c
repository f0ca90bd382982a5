/* SPDX-License-Identifier: MIT */
/* A queue between a producer and a consumer, on a libgengc heap, its depth reported to the agent.
 *
 *   queue_lag [--produce 1000] [--consume 900] [--burst 0] [--burst-at 2]
 *             [--report-ms 100] [--full-gc-ms 200] [--duration 0] [--semi-space-mib 1]
 * produces --produce jobs a second and consumes up to --consume a second
 * (jobs are 256-byte heap objects in a FIFO list, so a backlog also grows
 * the old space). A consumer 10% slower than its producer (the default) is a
 * queue that grows without end; with --consume above --produce the queue
 * stays near empty, and --burst N adds N jobs at once --burst-at seconds
 * in: a burst that drains at (consume - produce) a second. The depth of
 * queue "jobs" is reported every --report-ms. Prints "ready pid=N".
 */
#include <unistd.h>

#include "fifo.h"

int main(int argc, char **argv)
{
	double semi = 1, produce = 1000, consume = 900, burst = 0, burst_at = 2, report_ms = 100, full_gc_ms = 200,
	       duration = 0;
	struct example_flag flags[] = {
		{ "--produce", &produce, "jobs produced per second" },
		{ "--consume", &consume, "jobs the consumer can take per second" },
		{ "--burst", &burst, "jobs added at once at --burst-at (0: none)" },
		{ "--burst-at", &burst_at, "seconds in" },
		{ "--report-ms", &report_ms, "the depth is reported this often" },
		{ "--full-gc-ms", &full_gc_ms, "a full GC this often (0: only the heap's own)" },
		{ "--duration", &duration, "seconds to run (0: until killed)" },
		{ "--semi-space-mib", &semi, "the young generation's largest semispace" },
		{ NULL, NULL, NULL },
	};
	const char *name = getenv("EXAMPLE_NAME") ? getenv("EXAMPLE_NAME") : "queue_lag";
	struct fifo q;
	struct example_pace pace;
	uint64_t produced = 0, consumed_quota = 0, last_report = 0, elapsed;
	bool burst_done;
	int r = example_flags(argc, argv, "queue_lag: a producer and a consumer", flags);

	if (r)
		return r > 0 ? 0 : 64;
	burst_done = burst <= 0;
	if (fifo_init(&q, name, semi) < 0)
		return 1;
	gengc_queue_report(q.heap, "jobs", 0);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	example_pace_init(&pace, duration, full_gc_ms);
	while ((elapsed = example_pace_step(&pace, q.heap))) {
		for (uint64_t n = example_due(produce, elapsed, produced); n > 0; n--, produced++)
			fifo_push(&q, 256);
		if (!burst_done && elapsed >= (uint64_t)(burst_at * 1e9)) {
			for (uint64_t n = 0; n < (uint64_t)burst; n++)
				fifo_push(&q, 256);
			burst_done = true;
		}
		/* The consumer's capacity is spent whether or not there is work. */
		for (uint64_t n = example_due(consume, elapsed, consumed_quota); n > 0; n--, consumed_quota++)
			fifo_pop(&q);
		if (elapsed - last_report >= (uint64_t)(report_ms * 1e6)) {
			gengc_queue_report(q.heap, "jobs", q.length);
			last_report = elapsed;
		}
	}
	gengc_heap_free(q.heap);
	return 0;
}
