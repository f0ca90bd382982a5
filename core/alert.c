/* SPDX-License-Identifier: MIT */
/* Alert rules evaluated over sealed snapshots: per-series state, `for`, windows, notices.
 *
 * Each (rule, series) pair the rules have matched is a `struct series` in one
 * table, found by its fingerprint (FNV-1a over the rule's index and the
 * series' labels). A series lives while its family carries it: when it is
 * gone from a snapshot, a firing alert is resolved at once and the series
 * forgotten. Windowed kinds keep a few checkpoints of the counter (or the
 * histogram's buckets) spaced a quarter window apart; the increase over the
 * window is the current value minus the oldest checkpoint that is still at
 * least a window old, so it covers between 1 and 1.25 windows.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "strbuf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Index slots: a power of two at least twice ALERT_SERIES_MAX. */
#define INDEX_SLOTS 8192
/* Checkpoints per windowed series: a quarter window apart, plus the oldest. */
#define CHECKPOINTS 6
/* Buckets of a histogram gc_pause reads (the agent's have 32). */
#define BUCKETS_MAX 128

static const struct alert_kind_info kinds[ALERT_KIND_MAX] = {
	[ALERT_HEAP_LEAK] = { "heap_leak", "memagent_heap_leak_suspected", METRIC_GAUGE, false, false, 1, false },
	[ALERT_QUEUE_GROWTH] = { "queue_growth", "memagent_queue_growth_suspected", METRIC_GAUGE, false, false, 1,
				 false },
	[ALERT_OLD_SPACE_NEAR_LIMIT] = { "old_space_near_limit", "memagent_heap_space_used_bytes", METRIC_GAUGE,
					 false, false, 90, false },
	[ALERT_RSS] = { "rss", "memagent_process_resident_bytes", METRIC_GAUGE, true, true, 0, false },
	[ALERT_MEMORY_AVAILABLE] = { "memory_available", "memagent_system_memory_available_bytes", METRIC_GAUGE,
				     true, true, 0, false },
	[ALERT_PSI] = { "psi", "memagent_system_memory_pressure_ratio", METRIC_GAUGE, true, true, 0, false },
	[ALERT_OOM_KILL] = { "oom_kill", "memagent_oom_kills_total", METRIC_COUNTER, true, false, 0, true },
	[ALERT_GC_PAUSE] = { "gc_pause", "memagent_gc_pause_seconds", METRIC_HISTOGRAM, true, true, 0, true },
};

/* The second family old_space_near_limit reads, joined on target, pid, heap. */
static const char limit_metric[] = "memagent_heap_size_limit_bytes";

const struct alert_kind_info *alert_kind_info(enum alert_kind k)
{
	assert(k < ALERT_KIND_MAX);
	return &kinds[k];
}

int alert_kind_from_name(const char *name)
{
	for (int k = 0; k < ALERT_KIND_MAX; k++)
		if (strcmp(kinds[k].name, name) == 0)
			return k;
	return -EINVAL;
}

static void pairs_free(struct alert_pair *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

void alert_rule_done(struct alert_rule *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->metric);
	pairs_free(r->match, r->n_match);
	pairs_free(r->labels, r->n_labels);
	pairs_free(r->annotations, r->n_annotations);
	memset(r, 0, sizeof(*r));
}

/* ---- templates ------------------------------------------------------------- */

/* Walks tmpl; with out, renders it with labels and value. A placeholder is
 * "{{", optional blanks, "$value" or "$labels.NAME", optional blanks, "}}".
 * Returns 0, or -EINVAL with why. */
static int template_walk(const char *tmpl, const struct alert_pair *labels, size_t n_labels, double value,
			 struct strbuf *out, char *why, size_t why_len)
{
	const char *p = tmpl;

	while (*p) {
		const char *open = strstr(p, "{{"), *q, *name, *close;
		size_t name_len;

		if (!open) {
			if (out)
				strbuf_puts(out, p);
			break;
		}
		if (out)
			strbuf_append(out, p, (size_t)(open - p));
		q = open + 2;
		while (*q == ' ')
			q++;
		close = strstr(q, "}}");
		if (!close) {
			if (why)
				snprintf(why, why_len, "\"{{\" at byte %zu is never closed by \"}}\"",
					 (size_t)(open - tmpl));
			return -EINVAL;
		}
		name = q;
		while (q < close && *q != ' ')
			q++;
		name_len = (size_t)(q - name);
		while (q < close && *q == ' ')
			q++;
		if (q != close)
			goto bad;
		if (name_len == 6 && memcmp(name, "$value", 6) == 0) {
			if (out)
				strbuf_double(out, value);
		} else if (name_len > 8 && memcmp(name, "$labels.", 8) == 0) {
			for (size_t i = 8; i < name_len; i++) {
				char c = name[i];

				if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				      (i > 8 && c >= '0' && c <= '9')))
					goto bad;
			}
			for (size_t i = 0; out && i < n_labels; i++)
				if (strlen(labels[i].key) == name_len - 8 &&
				    memcmp(labels[i].key, name + 8, name_len - 8) == 0)
					strbuf_puts(out, labels[i].value);
		} else {
			goto bad;
		}
		p = close + 2;
		continue;
bad:
		if (why)
			snprintf(why, why_len,
				 "placeholder at byte %zu: expected {{ $value }} or {{ $labels.NAME }}",
				 (size_t)(open - tmpl));
		return -EINVAL;
	}
	return 0;
}

int alert_template_check(const char *tmpl, char *why, size_t why_len)
{
	return template_walk(tmpl, NULL, 0, 0, NULL, why, why_len);
}

/* ---- series state ----------------------------------------------------------- */

enum state { INACTIVE, PENDING, FIRING };

struct checkpoint {
	uint64_t t_ns;
	double v;
	uint64_t *counts; /* histograms: n_counts per-bucket counts */
};

struct series {
	uint64_t fp;
	size_t rule;
	enum state state;
	uint64_t seen_gen;
	uint64_t active_since_ns, last_sent_ns;
	int64_t active_since_ms;
	double value;
	struct alert_pair *labels; /* the alert's: sorted, alertname included */
	size_t n_labels;
	struct alert_pair *ann;    /* rendered at the last notice */
	size_t n_ann;
	struct checkpoint ck[CHECKPOINTS];
	size_t n_ck, n_counts;
};

struct alert_engine {
	const struct alert_rule *rules;
	size_t n_rules;
	struct alert_engine_options o;
	uint64_t gen;
	uint64_t dropped;
	struct series **v;
	size_t n;
	uint32_t index[INDEX_SLOTS]; /* 0 empty, else 1 + position in v */
	/* Series resolved and forgotten in the last evaluation: their notices
	 * point into them until the next one. */
	struct series **dead;
	size_t n_dead;
	struct alert_notice *notices;
	size_t n_notices;
	size_t *firing, *pending; /* per rule */
};

static void checkpoints_clear(struct series *se)
{
	for (size_t i = 0; i < se->n_ck; i++)
		free(se->ck[i].counts);
	se->n_ck = 0;
}

static void series_free(struct series *se)
{
	if (!se)
		return;
	checkpoints_clear(se);
	pairs_free(se->labels, se->n_labels);
	pairs_free(se->ann, se->n_ann);
	free(se);
}

int alert_engine_new(const struct alert_rule *rules, size_t n, const struct alert_engine_options *o,
		     struct alert_engine **ret)
{
	struct alert_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->rules = rules;
	e->n_rules = n;
	e->o = *o;
	e->v = calloc(ALERT_SERIES_MAX, sizeof(*e->v));
	e->dead = calloc(ALERT_SERIES_MAX, sizeof(*e->dead));
	e->notices = calloc(ALERT_SERIES_MAX, sizeof(*e->notices));
	e->firing = calloc(n + 1, sizeof(*e->firing));
	e->pending = calloc(n + 1, sizeof(*e->pending));
	if (!e->v || !e->dead || !e->notices || !e->firing || !e->pending) {
		alert_engine_free(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

static void bury_dead(struct alert_engine *e)
{
	for (size_t i = 0; i < e->n_dead; i++)
		series_free(e->dead[i]);
	e->n_dead = 0;
}

struct alert_engine *alert_engine_free(struct alert_engine *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; e->v && i < e->n; i++)
		series_free(e->v[i]);
	if (e->dead)
		bury_dead(e);
	free(e->v);
	free(e->dead);
	free(e->notices);
	free(e->firing);
	free(e->pending);
	free(e);
	return NULL;
}

size_t alert_engine_firing(const struct alert_engine *e, size_t i)
{
	return i < e->n_rules ? e->firing[i] : 0;
}

size_t alert_engine_pending(const struct alert_engine *e, size_t i)
{
	return i < e->n_rules ? e->pending[i] : 0;
}

uint64_t alert_engine_dropped(const struct alert_engine *e)
{
	return e->dropped;
}

/* ---- lookup ----------------------------------------------------------------- */

/* The label old_space_near_limit reads from its family but leaves out of
 * the alert (the alert is about the heap, not one space). */
static bool skipped(const struct alert_rule *r, const char *key)
{
	return r->kind == ALERT_OLD_SPACE_NEAR_LIMIT && strcmp(key, "space") == 0;
}

static uint64_t fingerprint(const struct alert_rule *r, size_t rule, const struct snapshot_sample *sm)
{
	uint64_t h = SNAPSHOT_HASH_SEED;

	h ^= rule;
	h *= 0x100000001b3ULL;
	for (size_t i = 0; i < sm->n_labels; i++) {
		if (skipped(r, sm->labels[i].key))
			continue;
		h = snapshot_hash_str(h, sm->labels[i].key);
		h = snapshot_hash_str(h, sm->labels[i].value);
	}
	return h;
}

static struct series *lookup(struct alert_engine *e, uint64_t fp, size_t rule)
{
	for (size_t i = fp & (INDEX_SLOTS - 1);; i = (i + 1) & (INDEX_SLOTS - 1)) {
		uint32_t k = e->index[i];

		if (k == 0)
			return NULL;
		if (e->v[k - 1]->fp == fp && e->v[k - 1]->rule == rule)
			return e->v[k - 1];
	}
}

static void index_insert(struct alert_engine *e, size_t pos)
{
	size_t i = e->v[pos]->fp & (INDEX_SLOTS - 1);

	while (e->index[i])
		i = (i + 1) & (INDEX_SLOTS - 1);
	e->index[i] = (uint32_t)(pos + 1);
}

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct alert_pair *)a)->key, ((const struct alert_pair *)b)->key);
}

/* The alert's labels: the series', then the rule's over them, then
 * alertname over everything (Prometheus' order). */
static int build_labels(struct series *se, const struct alert_rule *r, const struct snapshot_sample *sm)
{
	size_t cap = sm->n_labels + r->n_labels + 1, n = 0;
	struct alert_pair *v = calloc(cap, sizeof(*v));
	const char *k, *val;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++) {
		size_t j;

		if (i == 0) {
			k = "alertname";
			val = r->name;
		} else if (i <= r->n_labels) {
			k = r->labels[i - 1].key;
			val = r->labels[i - 1].value;
		} else {
			k = sm->labels[i - 1 - r->n_labels].key;
			val = sm->labels[i - 1 - r->n_labels].value;
			if (skipped(r, k))
				continue;
		}
		for (j = 0; j < n && strcmp(v[j].key, k) != 0; j++)
			;
		if (j < n)
			continue; /* an earlier source wins */
		v[n].key = strdup(k);
		v[n].value = strdup(val);
		n++;
		if (!v[n - 1].key || !v[n - 1].value) {
			pairs_free(v, n);
			return -ENOMEM;
		}
	}
	qsort(v, n, sizeof(*v), pair_cmp);
	se->labels = v;
	se->n_labels = n;
	return 0;
}

/* The series for (rule, sample), created when new; NULL when out of memory
 * or at the bound (*full then says which). */
static struct series *series_get(struct alert_engine *e, size_t rule, const struct snapshot_sample *sm,
				 bool *full)
{
	const struct alert_rule *r = &e->rules[rule];
	uint64_t fp = fingerprint(r, rule, sm);
	struct series *se = lookup(e, fp, rule);

	*full = false;
	if (se)
		return se;
	if (e->n >= ALERT_SERIES_MAX) {
		*full = true;
		return NULL;
	}
	se = calloc(1, sizeof(*se));
	if (!se)
		return NULL;
	se->fp = fp;
	se->rule = rule;
	if (build_labels(se, r, sm) < 0) {
		free(se);
		return NULL;
	}
	e->v[e->n] = se;
	index_insert(e, e->n++);
	return se;
}

/* ---- reading samples ---------------------------------------------------------- */

static const struct snapshot_family *family(const struct snapshot *s, const char *name)
{
	for (const struct snapshot_family *f = snapshot_families(s); f; f = f->next)
		if (strcmp(f->desc->name, name) == 0)
			return f;
	return NULL;
}

static const char *label(const struct snapshot_sample *sm, const char *key)
{
	for (size_t i = 0; i < sm->n_labels; i++)
		if (strcmp(sm->labels[i].key, key) == 0)
			return sm->labels[i].value;
	return NULL;
}

static bool matches(const struct alert_rule *r, const struct snapshot_sample *sm)
{
	for (size_t i = 0; i < r->n_match; i++) {
		const char *v = label(sm, r->match[i].key);

		if (!v || strcmp(v, r->match[i].value) != 0)
			return false;
	}
	return true;
}

/* The heap limit sample of the heap sm belongs to: every label of the limit
 * sample (target, pid, heap) equal in sm. */
static const struct snapshot_sample *limit_of(const struct snapshot_family *limits,
					      const struct snapshot_sample *sm)
{
	for (const struct snapshot_sample *l = limits ? limits->samples : NULL; l; l = l->next) {
		size_t i;

		for (i = 0; i < l->n_labels; i++) {
			const char *v = label(sm, l->labels[i].key);

			if (!v || strcmp(v, l->labels[i].value) != 0)
				break;
		}
		if (i == l->n_labels)
			return l;
	}
	return NULL;
}

/* Records the current reading as a checkpoint when the newest is a quarter
 * window old, and drops checkpoints no longer needed: the oldest kept is the
 * newest one at least a window old. Returns the base to subtract from. */
static int checkpoint(struct series *se, const struct alert_rule *r, uint64_t t_ns, double v,
		      const uint64_t *counts, size_t n_counts, const struct checkpoint **ret)
{
	uint64_t window_ns = r->window_ms * 1000000ULL, step = window_ns / 4;

	if (se->n_counts != n_counts) {
		checkpoints_clear(se);
		se->n_counts = n_counts;
	}
	if (se->n_ck == 0 || t_ns - se->ck[se->n_ck - 1].t_ns >= step) {
		struct checkpoint c = { .t_ns = t_ns, .v = v };

		if (n_counts) {
			c.counts = malloc(n_counts * sizeof(*c.counts));
			if (!c.counts)
				return -ENOMEM;
			memcpy(c.counts, counts, n_counts * sizeof(*c.counts));
		}
		if (se->n_ck == CHECKPOINTS) {
			free(se->ck[0].counts);
			memmove(se->ck, se->ck + 1, (CHECKPOINTS - 1) * sizeof(se->ck[0]));
			se->n_ck--;
		}
		se->ck[se->n_ck++] = c;
	}
	while (se->n_ck >= 2 && t_ns - se->ck[1].t_ns >= window_ns) {
		free(se->ck[0].counts);
		memmove(se->ck, se->ck + 1, (se->n_ck - 1) * sizeof(se->ck[0]));
		se->n_ck--;
	}
	*ret = &se->ck[0];
	return 0;
}

/* histogram_quantile() on per-bucket counts, as Prometheus interpolates it:
 * linearly inside the bucket holding the rank, from 0 for the first bucket;
 * a rank in the +Inf bucket gives the highest finite bound. NaN when empty. */
static double quantile(double q, const double *bounds, const uint64_t *counts, size_t n_bounds)
{
	uint64_t total = 0, cum = 0;
	double rank;

	for (size_t i = 0; i <= n_bounds; i++)
		total += counts[i];
	if (total == 0 || n_bounds == 0)
		return NAN;
	rank = q * (double)total;
	for (size_t i = 0; i < n_bounds; i++) {
		if ((double)(cum + counts[i]) >= rank) {
			double lo = i == 0 ? 0 : bounds[i - 1];

			return lo + (bounds[i] - lo) * (rank - (double)cum) / (double)counts[i];
		}
		cum += counts[i];
	}
	return bounds[n_bounds - 1];
}

/* The rule's value for sample sm and whether the condition holds. Returns
 * 1 active, 0 not, -ENOMEM. */
static int condition(struct alert_engine *e, struct series *se, const struct alert_rule *r,
		     const struct snapshot_sample *sm, const struct snapshot_sample *lim, uint64_t t_ns,
		     bool fresh, double *value)
{
	const struct checkpoint *base;
	double v = sm->value;
	int rc;

	switch (r->kind) {
	case ALERT_HEAP_LEAK:
	case ALERT_QUEUE_GROWTH:
		*value = v;
		return v >= r->threshold;
	case ALERT_OLD_SPACE_NEAR_LIMIT:
		if (!lim || !(lim->value > 0))
			return 0;
		*value = 100 * v / lim->value;
		return *value >= r->threshold;
	case ALERT_RSS:
	case ALERT_PSI:
		*value = v;
		return v > r->threshold;
	case ALERT_MEMORY_AVAILABLE:
		*value = v;
		return v < r->threshold;
	case ALERT_OOM_KILL:
		/* A counter first seen after the first evaluation started at 0
		 * within the window: the agent's counters start with it. */
		if (fresh && e->gen > 1 && se->n_ck == 0) {
			rc = checkpoint(se, r, t_ns, 0, NULL, 0, &base);
			if (rc < 0)
				return rc;
		}
		rc = checkpoint(se, r, t_ns, v, NULL, 0, &base);
		if (rc < 0)
			return rc;
		*value = v >= base->v ? v - base->v : v; /* a reset counts from 0 */
		return *value > r->threshold;
	case ALERT_GC_PAUSE: {
		size_t n = sm->n_bounds + 1;
		uint64_t delta[BUCKETS_MAX];
		bool reset = false;

		if (!sm->counts || n > BUCKETS_MAX)
			return 0; /* no histogram of the agent's has that many */
		rc = checkpoint(se, r, t_ns, v, sm->counts, n, &base);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < n; i++)
			reset |= sm->counts[i] < base->counts[i];
		for (size_t i = 0; i < n; i++)
			delta[i] = reset ? sm->counts[i] : sm->counts[i] - base->counts[i];
		*value = quantile(r->quantile, sm->bounds, delta, sm->n_bounds);
		return !isnan(*value) && *value > r->threshold;
	}
	case ALERT_KIND_MAX:
		break;
	}
	return 0;
}

/* ---- notices -------------------------------------------------------------------- */

static int render_annotations(struct series *se, const struct alert_rule *r)
{
	struct alert_pair *v = calloc(r->n_annotations + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (; n < r->n_annotations; n++) {
		struct strbuf b = { 0 };

		/* Checked at configuration time: cannot fail here. */
		template_walk(r->annotations[n].value, se->labels, se->n_labels, se->value, &b, NULL, 0);
		v[n].key = strdup(r->annotations[n].key);
		v[n].value = b.len ? strbuf_take(&b, NULL) : strdup("");
		strbuf_done(&b);
		if (!v[n].key || !v[n].value) {
			pairs_free(v, n + 1);
			return -ENOMEM;
		}
	}
	qsort(v, n, sizeof(*v), pair_cmp);
	pairs_free(se->ann, se->n_ann);
	se->ann = v;
	se->n_ann = n;
	return 0;
}

static int notify(struct alert_engine *e, struct series *se, struct alert_time now, bool resolved)
{
	const struct alert_rule *r = &e->rules[se->rule];
	uint64_t valid = e->o.resend_ms > e->o.interval_ms ? e->o.resend_ms : e->o.interval_ms;
	int rc = render_annotations(se, r);

	if (rc < 0)
		return rc;
	assert(e->n_notices < ALERT_SERIES_MAX);
	e->notices[e->n_notices++] = (struct alert_notice){
		.fingerprint = se->fp,
		.labels = se->labels,
		.n_labels = se->n_labels,
		.annotations = se->ann,
		.n_annotations = se->n_ann,
		.starts_at_ms = se->active_since_ms,
		.ends_at_ms = resolved ? now.wall_ms : now.wall_ms + (int64_t)(4 * valid),
		.resolved = resolved,
		.value = se->value,
	};
	se->last_sent_ns = now.mono_ns;
	return 0;
}

/* Moves se along INACTIVE -> PENDING -> FIRING -> INACTIVE; announces what
 * is due. */
static int step(struct alert_engine *e, struct series *se, bool active, double value, struct alert_time now)
{
	const struct alert_rule *r = &e->rules[se->rule];
	uint64_t for_ns = r->for_ms * 1000000ULL, resend_ns = e->o.resend_ms * 1000000ULL;

	if (!active) {
		enum state was = se->state;

		se->state = INACTIVE;
		return was == FIRING ? notify(e, se, now, true) : 0;
	}
	se->value = value;
	if (se->state == INACTIVE) {
		se->state = PENDING;
		se->active_since_ns = now.mono_ns;
		se->active_since_ms = now.wall_ms;
	}
	if (se->state == PENDING && now.mono_ns - se->active_since_ns >= for_ns) {
		se->state = FIRING;
		return notify(e, se, now, false);
	}
	if (se->state == FIRING && now.mono_ns - se->last_sent_ns >= resend_ns)
		return notify(e, se, now, false);
	return 0;
}

static int eval_rule(struct alert_engine *e, const struct snapshot *s, size_t i, struct alert_time now)
{
	const struct alert_rule *r = &e->rules[i];
	const struct snapshot_family *f = family(s, r->metric), *limits = NULL;

	if (!f)
		return 0;
	if (r->kind == ALERT_OLD_SPACE_NEAR_LIMIT)
		limits = family(s, limit_metric);
	for (const struct snapshot_sample *sm = f->samples; sm; sm = sm->next) {
		const struct snapshot_sample *lim = NULL;
		struct series *se;
		double value = NAN;
		bool full, fresh;
		int active;

		if (!matches(r, sm))
			continue;
		if (r->kind == ALERT_OLD_SPACE_NEAR_LIMIT) {
			const char *space = label(sm, "space");

			if (!space || strcmp(space, "old_space") != 0)
				continue;
			lim = limit_of(limits, sm);
		}
		se = series_get(e, i, sm, &full);
		if (!se) {
			if (!full)
				return -ENOMEM;
			e->dropped++;
			continue;
		}
		fresh = se->seen_gen == 0;
		se->seen_gen = e->gen;
		active = condition(e, se, r, sm, lim, now.mono_ns, fresh, &value);
		if (active < 0)
			return active;
		if (step(e, se, active, value, now) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Forgets series their families no longer carry, resolving those firing. */
static int sweep(struct alert_engine *e, struct alert_time now)
{
	size_t kept = 0;
	int rc = 0;

	for (size_t i = 0; i < e->n; i++) {
		struct series *se = e->v[i];

		if (se->seen_gen == e->gen) {
			e->v[kept++] = se;
			continue;
		}
		if (se->state == FIRING && rc == 0) {
			rc = step(e, se, false, se->value, now);
			if (rc == 0) {
				e->dead[e->n_dead++] = se;
				continue;
			}
		}
		series_free(se);
	}
	if (kept != e->n) {
		e->n = kept;
		memset(e->index, 0, sizeof(e->index));
		for (size_t i = 0; i < e->n; i++)
			index_insert(e, i);
	}
	return rc;
}

int alert_engine_eval(struct alert_engine *e, const struct snapshot *s, struct alert_time now,
		      const struct alert_notice **ret, size_t *ret_n)
{
	int rc = 0;

	bury_dead(e);
	e->n_notices = 0;
	e->gen++;
	for (size_t i = 0; i < e->n_rules && rc == 0; i++)
		rc = eval_rule(e, s, i, now);
	if (rc == 0)
		rc = sweep(e, now);
	memset(e->firing, 0, e->n_rules * sizeof(*e->firing));
	memset(e->pending, 0, e->n_rules * sizeof(*e->pending));
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i]->state == FIRING)
			e->firing[e->v[i]->rule]++;
		else if (e->v[i]->state == PENDING)
			e->pending[e->v[i]->rule]++;
	}
	if (rc < 0) {
		e->n_notices = 0;
		return rc;
	}
	*ret = e->notices;
	*ret_n = e->n_notices;
	return 0;
}
