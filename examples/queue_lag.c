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

#include "example.h"

struct queue {
	struct gengc_heap *heap;
	uint32_t job_type;
	void *head, *tail;      /* roots */
	uint64_t depth;
};

static void queue_push(struct queue *q)
{
	struct gengc_scope s;

	gengc_scope_open(q->heap, &s);
	void **job = gengc_alloc(q->heap, q->job_type);
	void **h = gengc_handle(q->heap, job);
	void *payload = gengc_alloc_raw(q->heap, 256);
	job = *h;
	gengc_write(q->heap, job, &job[1], payload);
	if (q->tail)
		gengc_write(q->heap, q->tail, &((void **)q->tail)[0], job);
	else
		q->head = job;
	q->tail = job;
	q->depth++;
	gengc_scope_close(q->heap, &s);
}

static bool queue_pop(struct queue *q)
{
	if (!q->head)
		return false;
	q->head = ((void **)q->head)[0];
	if (!q->head)
		q->tail = NULL;
	q->depth--;
	return true;
}

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
	struct gengc_type t = { .name = "job", .size = 16, .flags = GENGC_TYPE_ALL_POINTERS };
	const char *name = getenv("EXAMPLE_NAME") ? getenv("EXAMPLE_NAME") : "queue_lag";
	struct queue q = { 0 };
	struct example_pace pace;
	uint64_t produced = 0, consumed_quota = 0, last_report = 0, elapsed;
	bool burst_done;
	int r = example_flags(argc, argv, "queue_lag: a producer and a consumer", flags);

	if (r)
		return r > 0 ? 0 : 64;
	burst_done = burst <= 0;
	q.heap = example_heap_new(semi);
	if (!q.heap || gengc_type_register(q.heap, &t, &q.job_type) < 0 || gengc_root_add(q.heap, &q.head) < 0 ||
	    gengc_root_add(q.heap, &q.tail) < 0)
		return 1;
	gengc_telemetry_name(q.heap, name);
	gengc_queue_report(q.heap, "jobs", 0);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	example_pace_init(&pace, duration, full_gc_ms);
	while ((elapsed = example_pace_step(&pace, q.heap))) {
		for (uint64_t n = example_due(produce, elapsed, produced); n > 0; n--, produced++)
			queue_push(&q);
		if (!burst_done && elapsed >= (uint64_t)(burst_at * 1e9)) {
			for (uint64_t n = 0; n < (uint64_t)burst; n++)
				queue_push(&q);
			burst_done = true;
		}
		/* The consumer's capacity is spent whether or not there is work. */
		for (uint64_t n = example_due(consume, elapsed, consumed_quota); n > 0; n--, consumed_quota++)
			queue_pop(&q);
		if (elapsed - last_report >= (uint64_t)(report_ms * 1e6)) {
			gengc_queue_report(q.heap, "jobs", q.depth);
			last_report = elapsed;
		}
	}
	gengc_heap_free(q.heap);
	return 0;
}
