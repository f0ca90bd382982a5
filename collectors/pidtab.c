/* SPDX-License-Identifier: MIT */
/* A table keyed by pid with backward-shift deletion (invariant in pidtab.h). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pidtab.h"

static int32_t pid_at(const struct pidtab *t, size_t i)
{
	int32_t pid;

	memcpy(&pid, t->slots + i * t->size, sizeof(pid));
	return pid;
}

/* Fibonacci hashing: consecutive pids (the usual case) spread evenly. */
static size_t home(const struct pidtab *t, int32_t pid)
{
	return ((uint32_t)pid * 2654435761u) & (t->cap - 1);
}

/* Rehashes every entry into a table of cap slots. */
static int resize(struct pidtab *t, size_t cap)
{
	struct pidtab nt = { calloc(cap, t->size), t->size, cap, t->n };

	if (!nt.slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		int32_t pid = pid_at(t, i);
		size_t j;

		if (!pid)
			continue;
		for (j = home(&nt, pid); pid_at(&nt, j); j = (j + 1) & (cap - 1))
			;
		memcpy(nt.slots + j * t->size, t->slots + i * t->size, t->size);
	}
	free(t->slots);
	*t = nt;
	return 0;
}

int pidtab_init(struct pidtab *t, size_t entry_size, size_t min_entries)
{
	size_t cap = 16;

	assert(entry_size >= sizeof(int32_t));
	while (cap < min_entries * 2)
		cap *= 2;
	*t = (struct pidtab){ .size = entry_size };
	t->slots = calloc(cap, entry_size);
	if (!t->slots)
		return -ENOMEM;
	t->cap = cap;
	return 0;
}

void pidtab_done(struct pidtab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->n = 0;
}

void *pidtab_find(const struct pidtab *t, int32_t pid)
{
	if (!t->cap || pid <= 0)
		return NULL;
	for (size_t i = home(t, pid);; i = (i + 1) & (t->cap - 1)) {
		int32_t p = pid_at(t, i);

		if (p == pid)
			return t->slots + i * t->size;
		if (!p)
			return NULL;
	}
}

void *pidtab_insert(struct pidtab *t, int32_t pid)
{
	size_t i;
	char *e;

	assert(pid > 0 && !pidtab_find(t, pid));
	if ((t->n + 1) * 2 > t->cap && resize(t, t->cap ? t->cap * 2 : 16) < 0)
		return NULL;
	for (i = home(t, pid); pid_at(t, i); i = (i + 1) & (t->cap - 1))
		;
	e = t->slots + i * t->size;
	memset(e, 0, t->size);
	memcpy(e, &pid, sizeof(pid));
	t->n++;
	return e;
}

void pidtab_remove(struct pidtab *t, void *entry)
{
	size_t i = (size_t)((char *)entry - t->slots) / t->size, j = i;

	assert(pid_at(t, i) > 0);
	for (;;) {
		j = (j + 1) & (t->cap - 1);
		int32_t pid = pid_at(t, j);

		if (!pid)
			break;
		size_t h = home(t, pid);

		/* Move j into the hole at i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
			memcpy(t->slots + i * t->size, t->slots + j * t->size, t->size);
			i = j;
		}
	}
	memset(t->slots + i * t->size, 0, t->size);
	t->n--;
}
