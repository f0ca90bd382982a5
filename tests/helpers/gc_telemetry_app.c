/* SPDX-License-Identifier: MIT */
/* An instrumented app for tests/it_heap.sh: heaps that collect, then say what their own stats API reports.
 *
 *   gc_telemetry_app OUT NAME HEAPS [fork]
 * makes HEAPS heaps named NAME, keeps a list alive in each, reports the
 * queue "jobs", collects (a full GC), and writes to OUT, per heap, what
 * gengc_space_statistics() says, the heap id and the full-GC count read from
 * its own page; with "fork", a child that holds the pages and never
 * collects, and its pid. Then "ready", and it waits; each SIGUSR1 runs 40
 * more full GCs on the first heap and appends "more gc_seq=N".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gengc.h"
#include "gengc_telemetry.h"

#define MAX_HEAPS 8

static volatile sig_atomic_t more;

static void on_usr1(int sig)
{
	(void)sig;
	more = 1;
}

int main(int argc, char **argv)
{
	struct gengc_heap *heaps[MAX_HEAPS];
	int n, child = 0;
	sigset_t block, old;
	FILE *out;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);

	if (argc < 4 || (n = atoi(argv[3])) < 1 || n > MAX_HEAPS)
		return 64;
	for (int h = 0; h < n; h++) {
		struct gengc_type t = { .name = "cell", .size = 16, .flags = GENGC_TYPE_ALL_POINTERS };
		struct gengc_heap *heap = gengc_heap_new(NULL);
		uint32_t cell;
		void **keep;

		if (!heap || gengc_type_register(heap, &t, &cell) < 0 || gengc_telemetry_name(heap, argv[2]) < 0)
			return 1;
		keep = gengc_handle(heap, NULL);
		for (int i = 0; i < 30000 * (h + 1); i++) {
			void **o = gengc_alloc(heap, cell);

			if (i % 2 == 0) {
				gengc_write(heap, o, &o[0], *keep);
				*keep = o;
			}
		}
		/* Two scavenges promote the list: the old space has something to show. */
		if (gengc_queue_report(heap, "jobs", 7u + (unsigned)h) < 0 ||
		    gengc_collect(heap, GENGC_GC_SCAVENGE) < 0 || gengc_collect(heap, GENGC_GC_SCAVENGE) < 0 ||
		    gengc_collect(heap, GENGC_GC_MARK_SWEEP) < 0)
			return 1;
		heaps[h] = heap;
	}
	if (argc > 4 && strcmp(argv[4], "fork") == 0) {
		child = fork();
		if (child < 0)
			return 1;
		if (child == 0) {
			signal(SIGUSR1, SIG_DFL);
			for (;;)
				pause();        /* holds the inherited pages, never collects */
		}
	}
	out = fopen(argv[1], "w");
	if (!out)
		return 1;
	for (int h = 0; h < n; h++) {
		struct gengc_telemetry_page p;

		if (pread(gengc_telemetry_fd(heaps[h]), &p, sizeof(p), 0) != (ssize_t)sizeof(p))
			return 1;
		for (int s = 0; s < GENGC_SPACES; s++) {
			struct gengc_space_statistics ss;

			gengc_space_statistics(heaps[h], (enum gengc_space)s, &ss);
			fprintf(out, "heap=%llu gc_seq=%llu space=%s used=%llu size=%llu available=%llu\n",
				(unsigned long long)p.heap_id, (unsigned long long)p.gc_seq,
				gengc_space_name((enum gengc_space)s), (unsigned long long)ss.space_used_size,
				(unsigned long long)ss.space_size, (unsigned long long)ss.space_available_size);
		}
	}
	if (child)
		fprintf(out, "child=%d\n", child);
	fprintf(out, "ready\n");
	fclose(out);
	for (;;) {
		struct gengc_telemetry_page p;

		while (!more)
			sigsuspend(&old);
		more = 0;
		for (int i = 0; i < 40; i++)
			gengc_collect(heaps[0], GENGC_GC_MARK_SWEEP);
		if (pread(gengc_telemetry_fd(heaps[0]), &p, sizeof(p), 0) != (ssize_t)sizeof(p))
			return 1;
		out = fopen(argv[1], "a");
		if (!out)
			return 1;
		fprintf(out, "more gc_seq=%llu\n", (unsigned long long)p.gc_seq);
		fclose(out);
	}
}
