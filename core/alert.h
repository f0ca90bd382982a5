/* SPDX-License-Identifier: MIT */
/* Alert rules and their evaluation over sealed snapshots, as Prometheus' rule
 * manager does it: an alert per matching series, pending while its `for` runs,
 * firing after, resolved when the condition or the series goes away.
 *
 * The engine is pure: it reads a snapshot and the times it is given, keeps
 * each series' state between evaluations, and says which alerts are due for
 * delivery (newly firing, due for a resend, just resolved). Delivery is an
 * exporter's business (exporters/alertmanager); the rules come from the
 * configuration, which names the metric each rule reads.
 *
 * Invariants:
 * - An alert is firing only after its series matched on every evaluation
 *   during `for` (monotonic time): one evaluation without it resets it.
 * - Every alert that was announced firing is announced resolved exactly once,
 *   in the first evaluation where its condition does not hold or its series
 *   is gone (so a receiver never has to wait for an expiry).
 * - The state is bounded: at most ALERT_SERIES_MAX series are followed, the
 *   rest are counted (alert_engine_dropped()).
 */
#ifndef MEMAGENT_ALERT_H
#define MEMAGENT_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

/* Series followed by one engine, all rules together. */
#define ALERT_SERIES_MAX 4096
/* An alert name: what Prometheus allows for a label value, kept short. */
#define ALERT_NAME_MAX 128
/* Labels, annotations and match pairs of one rule. */
#define ALERT_PAIRS_MAX 32

enum alert_kind {
	ALERT_HEAP_LEAK,            /* memagent_heap_leak_suspected = 1 */
	ALERT_QUEUE_GROWTH,         /* memagent_queue_growth_suspected = 1, any kind */
	ALERT_OLD_SPACE_NEAR_LIMIT, /* old space used >= threshold % of the heap limit */
	ALERT_RSS,                  /* a gauge above threshold (resident bytes) */
	ALERT_MEMORY_AVAILABLE,     /* a gauge below threshold (available bytes) */
	ALERT_PSI,                  /* a gauge above threshold (pressure ratio) */
	ALERT_OOM_KILL,             /* a counter increased within window_ms */
	ALERT_GC_PAUSE,             /* a histogram's quantile over window_ms above threshold */
	ALERT_KIND_MAX,
};

/* What a kind reads and how. */
struct alert_kind_info {
	const char *name;          /* as written in the configuration */
	const char *metric;        /* the family read unless the rule names another */
	enum metric_type type;     /* the type a named family must have */
	bool metric_settable;      /* a rule may name another family of that type */
	bool needs_threshold;      /* no sensible default: the rule must give one */
	double threshold_default;
	bool windowed;             /* window_ms applies */
};

const struct alert_kind_info *alert_kind_info(enum alert_kind k);
/* The kind called name; -EINVAL when there is none. */
int alert_kind_from_name(const char *name);

struct alert_pair {
	char *key;
	char *value;
};

/* One rule, owned by whoever filled it (the configuration); free the
 * strings with alert_rule_done(). */
struct alert_rule {
	char *name;                /* the alertname label */
	enum alert_kind kind;
	char *metric;              /* the family read (a kind's default, or the rule's) */
	double threshold;
	double quantile;           /* ALERT_GC_PAUSE: 0 < q < 1 (0.99) */
	uint64_t for_ms;           /* active this long before firing (0: at once) */
	uint64_t window_ms;        /* ALERT_OOM_KILL, ALERT_GC_PAUSE */
	/* Series must carry every match pair (label equality); labels are added
	 * to the alert's (overriding the series'); annotations are templates
	 * ("{{ $labels.target }}", "{{ $value }}"). */
	struct alert_pair *match, *labels, *annotations;
	size_t n_match, n_labels, n_annotations;
};

void alert_rule_done(struct alert_rule *r);

/* Checks an annotation template: text with {{ $labels.NAME }} and
 * {{ $value }} only. Returns 0, or -EINVAL with the reason in why. */
int alert_template_check(const char *tmpl, char *why, size_t why_len);

/* A notice: one alert due for delivery. Everything it points to is the
 * engine's and valid until the next alert_engine_eval() or _free(). labels
 * start with alertname; both lists are sorted by key, keys unique. */
struct alert_notice {
	uint64_t fingerprint;      /* the same for the same alert across evaluations */
	const struct alert_pair *labels;
	size_t n_labels;
	const struct alert_pair *annotations;
	size_t n_annotations;
	int64_t starts_at_ms;      /* wall clock: when it became active */
	int64_t ends_at_ms;        /* firing: valid until; resolved: the evaluation time */
	bool resolved;
	double value;
};

struct alert_time {
	uint64_t mono_ns;          /* CLOCK_MONOTONIC, for `for` and windows */
	int64_t wall_ms;           /* CLOCK_REALTIME, for startsAt/endsAt */
};

struct alert_engine_options {
	/* A firing alert is announced again this often, and each announcement is
	 * valid for 4 times the larger of this and the evaluation interval (as
	 * Prometheus' resend delay and its endsAt). */
	uint64_t resend_ms;
	uint64_t interval_ms;
};

struct alert_engine;

/* An engine for rules[0..n) (borrowed: they must outlive the engine).
 * Returns 0 and *ret, or -ENOMEM. */
int alert_engine_new(const struct alert_rule *rules, size_t n, const struct alert_engine_options *o,
		     struct alert_engine **ret);
/* NULL-safe; returns NULL. */
struct alert_engine *alert_engine_free(struct alert_engine *e);

/* Evaluates every rule on s (sealed) at time now (later than the previous
 * call's). Sets *ret and *ret_n to the notices due now. Returns 0, or -ENOMEM
 * (then the state is that of a partial evaluation: series not reached keep
 * their previous state, and nothing is announced). Cost: one pass over the
 * families each rule reads. */
int alert_engine_eval(struct alert_engine *e, const struct snapshot *s, struct alert_time now,
		      const struct alert_notice **ret, size_t *ret_n);

/* Alerts of rule i firing after the last evaluation. */
size_t alert_engine_firing(const struct alert_engine *e, size_t i);
/* Alerts of rule i pending (active, `for` not yet run) after the last evaluation. */
size_t alert_engine_pending(const struct alert_engine *e, size_t i);
/* Series not followed because ALERT_SERIES_MAX was reached, since creation. */
uint64_t alert_engine_dropped(const struct alert_engine *e);

#endif
