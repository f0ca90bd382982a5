/* SPDX-License-Identifier: MIT */
/* What the example programs share: their flags' parsing and the pace of their loop.
 *
 * Each example is a loop of 10 ms steps paced on CLOCK_MONOTONIC: rates are
 * "per second" and kept exactly over time (what is due is computed from the
 * elapsed time, never by counting steps), a full GC is forced every
 * --full-gc-ms on top of those the heap starts itself, and --duration ends
 * the run (0: until killed).
 */
#ifndef EXAMPLE_H
#define EXAMPLE_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gengc.h"

#define EXAMPLE_STEP_NS 10000000ull

struct example_flag {
	const char *name;       /* "--rate" */
	double *value;
	const char *help;
};

static inline uint64_t example_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Parses "--name VALUE" pairs into flags[] (ended by a NULL name); --help
 * prints them with their defaults. Returns 0, 1 after --help, or -EINVAL
 * after printing what was wrong. */
static inline int example_flags(int argc, char **argv, const char *usage, struct example_flag *flags)
{
	for (int i = 1; i < argc; i++) {
		struct example_flag *f = flags;

		if (strcmp(argv[i], "--help") == 0) {
			printf("%s\n", usage);
			for (f = flags; f->name; f++)
				printf("  %-16s %s (default %g)\n", f->name, f->help, *f->value);
			return 1;
		}
		while (f->name && strcmp(f->name, argv[i]) != 0)
			f++;
		char *end = NULL;
		if (!f->name || i + 1 >= argc || (*f->value = strtod(argv[i + 1], &end), end == argv[i + 1] || *end)) {
			fprintf(stderr, "%s: bad or unknown flag %s (see --help)\n", argv[0], argv[i]);
			return -EINVAL;
		}
		i++;
	}
	return 0;
}

/* How many of a rate's events are due after elapsed_ns, less those done. */
static inline uint64_t example_due(double per_second, uint64_t elapsed_ns, uint64_t done)
{
	uint64_t want = (uint64_t)(per_second * ((double)elapsed_ns / 1e9));

	return want > done ? want - done : 0;
}

/* A heap whose young generation stays at most semi_space_mib (the
 * --semi-space-mib flag): survivors reach the old space within a few
 * scavenges, so what the program keeps shows after the next full GC rather
 * than when a 16 MiB semispace next fills. */
static inline struct gengc_heap *example_heap_new(double semi_space_mib)
{
	struct gengc_options o;

	gengc_options_init(&o);
	if (semi_space_mib >= 1) {
		o.max_semi_space_size = (uint32_t)semi_space_mib;
		if (o.min_semi_space_size > o.max_semi_space_size)
			o.min_semi_space_size = o.max_semi_space_size;
	}
	return gengc_heap_new(&o);
}

struct example_pace {
	uint64_t start_ns, next_ns, last_full_ns;
	double duration_s, full_gc_ms;
	bool say_gc;            /* $EXAMPLE_SAY_GC: a line "gc" after each forced full GC */
};

static inline void example_pace_init(struct example_pace *p, double duration_s, double full_gc_ms)
{
	*p = (struct example_pace){ .duration_s = duration_s, .full_gc_ms = full_gc_ms,
				    .say_gc = getenv("EXAMPLE_SAY_GC") != NULL };
	p->start_ns = p->next_ns = p->last_full_ns = example_now_ns();
}

/* Waits for the next step, forcing a full GC when one is due. Returns the
 * time elapsed since the start, or 0 once the duration is over. */
static inline uint64_t example_pace_step(struct example_pace *p, struct gengc_heap *heap)
{
	struct timespec ts;
	uint64_t now;

	p->next_ns += EXAMPLE_STEP_NS;
	ts.tv_sec = (time_t)(p->next_ns / 1000000000ull);
	ts.tv_nsec = (long)(p->next_ns % 1000000000ull);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	now = example_now_ns();
	if (p->full_gc_ms > 0 && now - p->last_full_ns >= (uint64_t)(p->full_gc_ms * 1e6)) {
		gengc_collect(heap, GENGC_GC_MARK_SWEEP);
		p->last_full_ns = now;
		if (p->say_gc) {
			/* A test stops the program between two lines (SIGSTOP) to
			 * sample it while no full GC can come. */
			printf("gc\n");
			fflush(stdout);
		}
	}
	if (p->duration_s > 0 && now - p->start_ns >= (uint64_t)(p->duration_s * 1e9))
		return 0;
	return now - p->start_ns > 0 ? now - p->start_ns : 1;
}

#endif
