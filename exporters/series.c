/* SPDX-License-Identifier: MIT */
/* Series: interning the label sets of queued samples (see series.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "series.h"
#include "strbuf.h"

#define NAME_MAX_BYTES 256

struct series_table {
	struct series **buckets;
	size_t n_buckets, n;
	uint64_t gen;
};

struct series_table *series_table_new(void)
{
	struct series_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->n_buckets = 1024;
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	return t;
}

static void series_free(struct series *s)
{
	free(s->line);
	free(s);
}

struct series_table *series_table_free(struct series_table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n_buckets; i++) {
		while (t->buckets[i]) {
			struct series *s = t->buckets[i];

			t->buckets[i] = s->next;
			series_free(s);
		}
	}
	free(t->buckets);
	free(t);
	return NULL;
}

size_t series_table_size(const struct series_table *t)
{
	return t->n;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct snapshot_label *)a)->key, ((const struct snapshot_label *)b)->key);
}

/* One sample's series in the making: name and sorted labels on the stack. */
struct key {
	char name[NAME_MAX_BYTES];
	struct snapshot_label labels[SERIES_LABELS_MAX];
	size_t n;
	char le[48];
};

static int key_init(struct key *k, const char *name, const char *suffix, const struct snapshot_sample *smp)
{
	size_t n = strlen(name), m = strlen(suffix);

	if (n + m >= sizeof(k->name) || smp->n_labels > SERIES_SAMPLE_LABELS_MAX)
		return -E2BIG;
	memcpy(k->name, name, n);
	memcpy(k->name + n, suffix, m + 1);
	if (smp->n_labels)
		memcpy(k->labels, smp->labels, smp->n_labels * sizeof(*smp->labels));
	k->n = smp->n_labels;
	return 0;
}

static void key_le(struct key *k, double le)
{
	struct strbuf b = {0};

	strbuf_double(&b, le);
	snprintf(k->le, sizeof(k->le), "%s", b.buf && !strbuf_failed(&b) ? b.buf : "+Inf");
	strbuf_done(&b);
	k->labels[k->n++] = (struct snapshot_label){ "le", k->le };
}

typedef int (*key_fn)(void *arg, struct key *k, double value);

/* Expands every sample of snap into keys, sorted, and calls fn. */
static int expand(const struct snapshot *snap, key_fn fn, void *arg)
{
	struct key k;
	int r;

	for (const struct snapshot_family *f = snapshot_families(snap); f; f = f->next) {
		for (const struct snapshot_sample *smp = f->samples; smp; smp = smp->next) {
			if (f->desc->type != METRIC_HISTOGRAM) {
				if (key_init(&k, f->desc->name, "", smp) < 0)
					continue;
				qsort(k.labels, k.n, sizeof(k.labels[0]), by_key);
				r = fn(arg, &k, smp->value);
				if (r < 0)
					return r;
				continue;
			}
			uint64_t cum = 0;

			for (size_t b = 0; b <= smp->n_bounds; b++) {
				cum += smp->counts[b];
				if (key_init(&k, f->desc->name, "_bucket", smp) < 0)
					break;
				key_le(&k, b < smp->n_bounds ? smp->bounds[b] : __builtin_inf());
				qsort(k.labels, k.n, sizeof(k.labels[0]), by_key);
				r = fn(arg, &k, (double)cum);
				if (r < 0)
					return r;
			}
			if (key_init(&k, f->desc->name, "_sum", smp) == 0) {
				qsort(k.labels, k.n, sizeof(k.labels[0]), by_key);
				r = fn(arg, &k, smp->value);
				if (r < 0)
					return r;
			}
			if (key_init(&k, f->desc->name, "_count", smp) == 0) {
				qsort(k.labels, k.n, sizeof(k.labels[0]), by_key);
				r = fn(arg, &k, (double)cum);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

struct visit {
	series_visit_fn fn;
	void *arg;
};

static int visit_key(void *arg, struct key *k, double value)
{
	struct visit *v = arg;

	return v->fn(v->arg, k->name, k->labels, k->n, value);
}

int series_visit(const struct snapshot *snap, series_visit_fn fn, void *arg)
{
	struct visit v = { fn, arg };

	return expand(snap, visit_key, &v);
}

static bool same(const struct series *s, const struct key *k)
{
	if (s->n_labels != k->n || strcmp(s->name, k->name) != 0)
		return false;
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(s->labels[i].key, k->labels[i].key) != 0 ||
		    strcmp(s->labels[i].value, k->labels[i].value) != 0)
			return false;
	return true;
}

/* A new series in one allocation: struct, label array, strings. */
static struct series *series_make(const struct key *k, uint64_t h)
{
	size_t size = sizeof(struct series) + k->n * sizeof(struct snapshot_label) + strlen(k->name) + 1;
	struct series *s;
	struct snapshot_label *l;
	char *p;

	for (size_t i = 0; i < k->n; i++)
		size += strlen(k->labels[i].key) + strlen(k->labels[i].value) + 2;
	s = calloc(1, size);
	if (!s)
		return NULL;
	l = (struct snapshot_label *)(s + 1);
	p = (char *)(l + k->n);
	s->name = p;
	p = stpcpy(p, k->name) + 1;
	for (size_t i = 0; i < k->n; i++) {
		l[i].key = p;
		p = stpcpy(p, k->labels[i].key) + 1;
		l[i].value = p;
		p = stpcpy(p, k->labels[i].value) + 1;
	}
	s->labels = l;
	s->n_labels = k->n;
	s->hash = h;
	return s;
}

static void grow(struct series_table *t)
{
	size_t n = t->n_buckets * 2;
	struct series **b = calloc(n, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < t->n_buckets; i++) {
		while (t->buckets[i]) {
			struct series *s = t->buckets[i];

			t->buckets[i] = s->next;
			s->next = b[s->hash & (n - 1)];
			b[s->hash & (n - 1)] = s;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = n;
}

struct intern {
	struct series_table *t;
	series_fn fn;
	void *arg;
};

static int intern_key(void *arg, struct key *k, double value)
{
	struct intern *in = arg;
	struct series_table *t = in->t;
	uint64_t h = snapshot_hash_str(SNAPSHOT_HASH_SEED, k->name);
	struct series *s;

	for (size_t i = 0; i < k->n; i++)
		h = snapshot_hash_str(snapshot_hash_str(h, k->labels[i].key), k->labels[i].value);
	for (s = t->buckets[h & (t->n_buckets - 1)]; s; s = s->next)
		if (s->hash == h && same(s, k))
			break;
	if (!s) {
		s = series_make(k, h);
		if (!s)
			return -ENOMEM;
		if (t->n >= t->n_buckets)
			grow(t);
		s->next = t->buckets[h & (t->n_buckets - 1)];
		t->buckets[h & (t->n_buckets - 1)] = s;
		t->n++;
	}
	s->seen = t->gen;
	return in->fn(in->arg, s, value);
}

int series_intern_snapshot(struct series_table *t, const struct snapshot *snap, series_fn fn, void *arg)
{
	struct intern in = { t, fn, arg };

	t->gen++;
	return expand(snap, intern_key, &in);
}

static int keep(void *arg, struct series *s, double value)
{
	(void)value;
	*(struct series **)arg = s;
	return 0;
}

struct series *series_intern(struct series_table *t, const char *name, const struct snapshot_label *labels,
			     size_t n_labels)
{
	struct series *s = NULL;
	struct intern in = { t, keep, &s };
	struct key k;
	size_t n = strlen(name);

	if (n >= sizeof(k.name) || n_labels > SERIES_LABELS_MAX)   /* a replayed bucket has its le */
		return NULL;
	memcpy(k.name, name, n + 1);
	if (n_labels)
		memcpy(k.labels, labels, n_labels * sizeof(*labels));
	k.n = n_labels;
	return intern_key(&in, &k, 0) < 0 ? NULL : s;
}

void series_sweep(struct series_table *t)
{
	for (size_t i = 0; i < t->n_buckets; i++) {
		for (struct series **pp = &t->buckets[i]; *pp;) {
			struct series *s = *pp;

			if (s->refs == 0 && s->seen != t->gen) {
				*pp = s->next;
				series_free(s);
				t->n--;
			} else {
				pp = &s->next;
			}
		}
	}
}
