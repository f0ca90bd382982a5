/* SPDX-License-Identifier: MIT */
/* Snapshots: the samples of one tick, which collectors fill and exporters read.
 *
 * A snapshot holds every sample of one tick. The sampler creates it, the
 * collectors add to it, the sampler publishes it (registry.h) with one pointer swap, and
 * from then on it is immutable: any number of readers (HTTP scrapes, push
 * sinks) hold references and never block the next tick. Derived data such as
 * the rendered exposition text is memoised per snapshot, so each format is
 * rendered at most once however many scrapes come.
 *
 * This header is a leaf: it includes nothing of the project, so collectors and
 * exporters can both use it without knowing each other.
 */
#ifndef MEMAGENT_SNAPSHOT_H
#define MEMAGENT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

enum metric_type {
	METRIC_GAUGE,
	METRIC_COUNTER,   /* name ends in _total */
	METRIC_HISTOGRAM, /* samples are added with snapshot_histogram() */
	/* A gauge whose contractual name ends in a suffix Prometheus' linter
	 * reserves (memagent_process_count): announced as untyped so that
	 * `promtool check metrics` stays clean. */
	METRIC_UNTYPED,
};

/* A metric family's fixed description; modules keep these as static consts and
 * list them (NULL-terminated) so tests can check docs/metrics.md names them all. */
struct metric_desc {
	const char *name;
	enum metric_type type;
	const char *unit; /* OpenMetrics unit ("bytes", "seconds") or NULL */
	const char *help;
};

struct snapshot;

/* Returns a new empty snapshot with one reference, or NULL when out of memory. */
struct snapshot *snapshot_new(void);
/* Adds a reference; returns s. */
struct snapshot *snapshot_ref(struct snapshot *s);
/* Drops a reference; frees on the last one. NULL-safe; returns NULL. */
struct snapshot *snapshot_unref(struct snapshot *s);

/* Adds one sample of a gauge or counter. labels is NULL or a NULL-terminated
 * array of key, value pairs; keys must be static strings (valid label names),
 * values are copied. Returns 0, -ENOMEM, or -EINVAL (histogram descriptor,
 * odd label array, or a sealed snapshot). */
int snapshot_add(struct snapshot *s, const struct metric_desc *d, double value,
		 const char *const *labels);

/* Adds one histogram sample. bounds[0..n_bounds) are the ascending upper
 * bounds (the +Inf bucket is implied); counts[0..n_bounds] are per-bucket (not
 * cumulative) counts, the last being the +Inf bucket. Copies everything. */
int snapshot_histogram(struct snapshot *s, const struct metric_desc *d,
		       const char *const *labels, const double *bounds,
		       const uint64_t *counts, size_t n_bounds, double sum);

/* Seals the snapshot: no more samples; stamps it with its sample number and
 * the wall/monotonic time it was completed. */
void snapshot_seal(struct snapshot *s, uint64_t sample_no);

uint64_t snapshot_sample_no(const struct snapshot *s);
/* CLOCK_MONOTONIC nanoseconds at seal time. */
uint64_t snapshot_sealed_ns(const struct snapshot *s);
/* Wall-clock (CLOCK_REALTIME) milliseconds at seal time. */
int64_t snapshot_timestamp_ms(const struct snapshot *s);

/* Read side, for exporters. Families come in the order they were first added;
 * samples within a family in the order added. */
struct snapshot_label {
	const char *key;
	const char *value;
};

/* FNV-1a of label strings, for the tables that key on a label set (the
 * sinks' series, the alert engine's series): start from
 * SNAPSHOT_HASH_SEED and fold each string in turn. Each ends with a
 * separator no label contains, so "a","bc" differs from "ab","c". */
#define SNAPSHOT_HASH_SEED 0xcbf29ce484222325ull
static inline uint64_t snapshot_hash_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}
struct snapshot_sample {
	const struct snapshot_sample *next;
	const struct snapshot_label *labels;
	size_t n_labels;
	double value; /* gauge/counter value; histogram: the sum */
	/* histograms only */
	const double *bounds;
	const uint64_t *counts; /* n_bounds + 1 entries, per bucket */
	size_t n_bounds;
};
struct snapshot_family {
	const struct snapshot_family *next;
	const struct metric_desc *desc;
	const struct snapshot_sample *samples;
	size_t n_samples;
};
const struct snapshot_family *snapshot_families(const struct snapshot *s);
size_t snapshot_n_samples(const struct snapshot *s);

/* Memoised derived data. fn renders s into a malloc'ed buffer (*ret_buf, *ret_len)
 * and returns 0 or a negative errno. snapshot_memo() calls fn at most once per
 * (snapshot, slot) even when called concurrently and keeps the result until the
 * snapshot is freed. Returns 0 and the buffer, or fn's error (then a later call
 * tries again). slot < SNAPSHOT_MEMO_SLOTS. */
#define SNAPSHOT_MEMO_SLOTS 4
typedef int (*snapshot_render_fn)(const struct snapshot *s, char **ret_buf, size_t *ret_len);
int snapshot_memo(struct snapshot *s, unsigned slot, snapshot_render_fn fn,
		  const char **ret_buf, size_t *ret_len);

#endif
