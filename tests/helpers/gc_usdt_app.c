/* SPDX-License-Identifier: MIT */
/* A libgengc program for tests/it_gc_events.sh: waits until a tracer attached to gengc:gc__done, then runs a known number of GCs.
 *
 *   gc_usdt_app OUT MARK_SWEEPS SCAVENGES
 * writes "waiting" to OUT, polls its own gc__done semaphore until a tracer
 * raised it, writes "traced", waits for the file OUT.go, runs the
 * collections, writes "done", and waits to be killed.
 *
 * Why OUT.go after the semaphore: a perf-event uprobe (what libbpf's
 * bpf_program__attach_usdt() makes) raises the semaphore when the event is
 * opened, and the BPF program is attached to the event just after; GCs run
 * in that window fire into no program. The test creates OUT.go once the
 * sample that attached has been served, when the attach call has returned.
 */
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gengc.h"
#include "usdt_self.h"

static void say(const char *path, const char *what)
{
	FILE *f = fopen(path, "a");

	if (!f)
		exit(1);
	fprintf(f, "%s\n", what);
	fclose(f);
}

int main(int argc, char **argv)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	volatile unsigned short *sem;
	struct gengc_heap *h;

	if (argc < 4)
		return 64;
	h = gengc_heap_new(NULL);
	sem = usdt_self_semaphore("gc__done");
	if (!h || !sem)
		return 1;
	say(argv[1], "waiting");
	char go[4096];

	snprintf(go, sizeof(go), "%s.go", argv[1]);
	while (*sem == 0)               /* the conditions, polled */
		nanosleep(&tick, NULL);
	say(argv[1], "traced");
	while (access(go, F_OK) != 0)
		nanosleep(&tick, NULL);
	for (int i = 0; i < atoi(argv[2]); i++)
		gengc_collect(h, GENGC_GC_MARK_SWEEP);
	for (int i = 0; i < atoi(argv[3]); i++)
		gengc_collect(h, GENGC_GC_SCAVENGE);
	say(argv[1], "done");
	for (;;)
		pause();
}
