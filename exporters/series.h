/* SPDX-License-Identifier: MIT */
/* Series: the label sets of queued samples, interned once per snapshot so a
 * queued sample costs a pointer, a value and a timestamp (24 bytes).
 *
 * A series is a metric name and its labels sorted by key, copied out of the
 * snapshot (which is released right after interning). Histograms are
 * expanded the Prometheus way: NAME_bucket{le=...} (cumulative), NAME_sum,
 * NAME_count. Series are reference counted by the queues holding samples of
 * them; series_sweep() frees those no queue holds and the latest snapshot
 * did not have. Not thread-safe: the push thread owns the table.
 */
#ifndef MEMAGENT_SERIES_H
#define MEMAGENT_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/* The most labels a series has: those of its snapshot sample, and a
 * histogram bucket's le. The disk buffer reads back as many; a sample with
 * more (the agent's collectors use at most four) is skipped with -E2BIG. */
#define SERIES_SAMPLE_LABELS_MAX 30
#define SERIES_LABELS_MAX (SERIES_SAMPLE_LABELS_MAX + 1)

struct series {
	const char *name;
	const struct snapshot_label *labels; /* sorted by key */
	size_t n_labels;
	uint64_t hash;
	uint32_t refs;       /* queued samples of this series */
	uint64_t seen;       /* generation of the last snapshot that had it */
	char *line;          /* InfluxDB line prefix "name,k=v value=", built on first use */
	size_t line_len;
	uint64_t batch;      /* encoders' scratch: the batch it was last seen in */
	size_t batch_index;
	uint64_t mark;       /* sinks' scratch: in one of a sink's batches still out */
	struct series *next; /* the table's chain */
};

/* One sample as the sinks see it. */
struct series_sample {
	struct series *s;
	double value;
	int64_t timestamp_ms;
};

struct series_table;

struct series_table *series_table_new(void);
/* Frees every series (none may still be queued). NULL-safe; returns NULL. */
struct series_table *series_table_free(struct series_table *t);

/* Calls fn for every sample of snap, histograms expanded, in the snapshot's
 * order, with each series interned (a new generation per call). Stops at
 * fn's first negative return and returns it; -ENOMEM when interning fails;
 * else 0. The series passed stay valid at least until the next sweep. */
typedef int (*series_fn)(void *arg, struct series *s, double value);
int series_intern_snapshot(struct series_table *t, const struct snapshot *snap, series_fn fn, void *arg);

/* Calls fn for every sample of snap, histograms expanded, without interning:
 * name, sorted labels, value. For the latest-value sinks. */
typedef int (*series_visit_fn)(void *arg, const char *name, const struct snapshot_label *labels,
			       size_t n_labels, double value);
int series_visit(const struct snapshot *snap, series_visit_fn fn, void *arg);

/* Interns one series (labels sorted by key), marked seen in the current
 * generation. Returns it, or NULL when out of memory. For disk-buffer replay. */
struct series *series_intern(struct series_table *t, const char *name, const struct snapshot_label *labels,
			     size_t n_labels);

/* Frees the series no queue holds (refs 0) that the last interned snapshot
 * did not have. */
void series_sweep(struct series_table *t);

size_t series_table_size(const struct series_table *t);

#endif
