/* SPDX-License-Identifier: MIT */
/* Looking up samples in a snapshot, for tests. */
#ifndef MEMAGENT_SNAPCHECK_H
#define MEMAGENT_SNAPCHECK_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "registry.h"

/* Does sample x carry exactly the labels in kv (NULL-terminated pairs)? */
static inline bool snapcheck_labels(const struct snapshot_sample *x, const char *const *kv)
{
	size_t n = 0;

	while (kv && kv[2 * n])
		n++;
	if (n != x->n_labels)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(x->labels[i].key, kv[2 * i]) != 0 || strcmp(x->labels[i].value, kv[2 * i + 1]) != 0)
			return false;
	return true;
}

/* The value of the sample of family name with exactly those labels, or NAN. */
static inline double snapcheck_value(const struct snapshot *s, const char *name, const char *const *kv)
{
	for (const struct snapshot_family *f = snapshot_families(s); f; f = f->next) {
		if (strcmp(f->desc->name, name) != 0)
			continue;
		for (const struct snapshot_sample *x = f->samples; x; x = x->next)
			if (snapcheck_labels(x, kv))
				return x->value;
	}
	return NAN;
}

/* How many samples family name holds whose label key has value (any value
 * when value is NULL). */
static inline int snapcheck_count(const struct snapshot *s, const char *name, const char *key,
				  const char *value)
{
	int n = 0;

	for (const struct snapshot_family *f = snapshot_families(s); f; f = f->next) {
		if (strcmp(f->desc->name, name) != 0)
			continue;
		for (const struct snapshot_sample *x = f->samples; x; x = x->next)
			for (size_t i = 0; i < x->n_labels; i++)
				if (strcmp(x->labels[i].key, key) == 0 &&
				    (!value || strcmp(x->labels[i].value, value) == 0))
					n++;
	}
	return n;
}

#define SNAP_LABELS(...) ((const char *const[]){ __VA_ARGS__, NULL })

#endif
