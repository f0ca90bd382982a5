/* SPDX-License-Identifier: MIT */
/* Snapshots: every sample of one tick, in one arena, with memoised renderings.
 *
 * Invariants:
 * - A snapshot is written by one thread (the sampler) until sealed, and only
 *   read afterwards (readers get it from the publish slot, registry.c).
 * - Everything a snapshot holds lives in its arena and dies with it: adding
 *   a sample never frees anything, so pointers into a snapshot stay valid for
 *   as long as a reference is held.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapshot.h"

#define ARENA_CHUNK (64 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct family {
	struct snapshot_family pub;
	struct snapshot_sample *tail;
};

struct memo {
	bool done;
	char *buf;
	size_t len;
};

struct snapshot {
	atomic_uint refs;
	bool sealed;
	uint64_t sample_no;
	uint64_t sealed_ns;
	int64_t timestamp_ms;
	size_t n_samples;

	struct arena_chunk *arena;
	struct family *first, *last;
	/* Open-addressed index from descriptor to family: most snapshots hold a
	 * few dozen families, and collectors add samples family by family. */
	struct family **index;
	size_t index_cap, n_families;

	pthread_mutex_t memo_lock;
	struct memo memo[SNAPSHOT_MEMO_SLOTS];
};

/* Bump-allocates n bytes aligned for any type; grows the arena by chunks. */
static void *arena_alloc(struct snapshot *s, size_t n)
{
	struct arena_chunk *c = s->arena;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = s->arena;
		s->arena = c;
	}
	void *p = (char *)c->data + c->used;

	c->used += n;
	return p;
}

static char *arena_strdup(struct snapshot *s, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = arena_alloc(s, n);

	if (p)
		memcpy(p, str, n);
	return p;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct snapshot *snapshot_new(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->memo_lock, NULL);
	return s;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

struct snapshot *snapshot_unref(struct snapshot *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	for (unsigned i = 0; i < SNAPSHOT_MEMO_SLOTS; i++)
		free(s->memo[i].buf);
	pthread_mutex_destroy(&s->memo_lock);
	while (s->arena) {
		struct arena_chunk *next = s->arena->next;

		free(s->arena);
		s->arena = next;
	}
	free(s->index);
	free(s);
	return NULL;
}

static size_t desc_hash(const struct metric_desc *d, size_t cap)
{
	uintptr_t p = (uintptr_t)d;

	return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull >> 7) & (cap - 1);
}

static int index_grow(struct snapshot *s)
{
	size_t cap = s->index_cap ? s->index_cap * 2 : 64;
	struct family **idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (struct family *f = s->first; f; f = (struct family *)f->pub.next) {
		size_t h = desc_hash(f->pub.desc, cap);

		while (idx[h])
			h = (h + 1) & (cap - 1);
		idx[h] = f;
	}
	free(s->index);
	s->index = idx;
	s->index_cap = cap;
	return 0;
}

/* Finds the family of d, creating it at the end of the family list. */
static struct family *family_get(struct snapshot *s, const struct metric_desc *d)
{
	size_t h;

	if (s->last && s->last->pub.desc == d)
		return s->last;
	if (s->index_cap) {
		for (h = desc_hash(d, s->index_cap); s->index[h]; h = (h + 1) & (s->index_cap - 1))
			if (s->index[h]->pub.desc == d)
				return s->index[h];
	}
	if ((s->n_families + 1) * 2 > s->index_cap && index_grow(s) < 0)
		return NULL;

	struct family *f = arena_alloc(s, sizeof(*f));

	if (!f)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->pub.desc = d;
	if (s->last)
		s->last->pub.next = &f->pub;
	else
		s->first = f;
	s->last = f;
	for (h = desc_hash(d, s->index_cap); s->index[h]; h = (h + 1) & (s->index_cap - 1))
		;
	s->index[h] = f;
	s->n_families++;
	return f;
}

/* Appends a sample with copied labels to d's family. */
static int sample_new(struct snapshot *s, const struct metric_desc *d,
		      const char *const *labels, struct snapshot_sample **ret)
{
	size_t n = 0;

	if (s->sealed)
		return -EINVAL;
	while (labels && labels[n])
		n++;
	if (n % 2)
		return -EINVAL;

	struct family *f = family_get(s, d);
	struct snapshot_sample *smp = arena_alloc(s, sizeof(*smp));
	struct snapshot_label *lv = arena_alloc(s, n / 2 * sizeof(*lv));

	if (!f || !smp || !lv)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		lv[i].key = labels[2 * i];
		lv[i].value = arena_strdup(s, labels[2 * i + 1]);
		if (!lv[i].value)
			return -ENOMEM;
	}
	memset(smp, 0, sizeof(*smp));
	smp->labels = lv;
	smp->n_labels = n / 2;
	if (f->tail)
		f->tail->next = smp;
	else
		f->pub.samples = smp;
	f->tail = smp;
	f->pub.n_samples++;
	s->n_samples++;
	*ret = smp;
	return 0;
}

int snapshot_add(struct snapshot *s, const struct metric_desc *d, double value,
		 const char *const *labels)
{
	struct snapshot_sample *smp;
	int r;

	if (d->type == METRIC_HISTOGRAM)
		return -EINVAL;
	r = sample_new(s, d, labels, &smp);
	if (r < 0)
		return r;
	smp->value = value;
	return 0;
}

int snapshot_histogram(struct snapshot *s, const struct metric_desc *d,
		       const char *const *labels, const double *bounds,
		       const uint64_t *counts, size_t n_bounds, double sum)
{
	struct snapshot_sample *smp;
	double *b;
	uint64_t *c;
	int r;

	if (d->type != METRIC_HISTOGRAM)
		return -EINVAL;
	r = sample_new(s, d, labels, &smp);
	if (r < 0)
		return r;
	b = arena_alloc(s, n_bounds * sizeof(*b));
	c = arena_alloc(s, (n_bounds + 1) * sizeof(*c));
	if (!b || !c)
		return -ENOMEM;
	memcpy(b, bounds, n_bounds * sizeof(*b));
	memcpy(c, counts, (n_bounds + 1) * sizeof(*c));
	smp->bounds = b;
	smp->counts = c;
	smp->n_bounds = n_bounds;
	smp->value = sum;
	return 0;
}

void snapshot_seal(struct snapshot *s, uint64_t sample_no)
{
	s->sealed = true;
	s->sample_no = sample_no;
	s->sealed_ns = now_ns(CLOCK_MONOTONIC);
	s->timestamp_ms = (int64_t)(now_ns(CLOCK_REALTIME) / 1000000u);
}

uint64_t snapshot_sample_no(const struct snapshot *s)
{
	return s->sample_no;
}

uint64_t snapshot_sealed_ns(const struct snapshot *s)
{
	return s->sealed_ns;
}

int64_t snapshot_timestamp_ms(const struct snapshot *s)
{
	return s->timestamp_ms;
}

const struct snapshot_family *snapshot_families(const struct snapshot *s)
{
	return s->first ? &s->first->pub : NULL;
}

size_t snapshot_n_samples(const struct snapshot *s)
{
	return s->n_samples;
}

int snapshot_memo(struct snapshot *s, unsigned slot, snapshot_render_fn fn,
		  const char **ret_buf, size_t *ret_len)
{
	struct memo *m;
	int r = 0;

	if (slot >= SNAPSHOT_MEMO_SLOTS)
		return -EINVAL;
	m = &s->memo[slot];
	/* Rendering under the lock keeps it to once per slot; concurrent
	 * scrapers of a fresh snapshot wait for the first one's result. */
	pthread_mutex_lock(&s->memo_lock);
	if (!m->done) {
		r = fn(s, &m->buf, &m->len);
		m->done = r >= 0;
	}
	if (r >= 0) {
		*ret_buf = m->buf;
		*ret_len = m->len;
	}
	pthread_mutex_unlock(&s->memo_lock);
	return r < 0 ? r : 0;
}
