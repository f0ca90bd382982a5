/* SPDX-License-Identifier: MIT */
/* A table keyed by pid: open addressing, linear probing, backward-shift deletion.
 *
 * Entries are of one fixed size chosen by the user and begin with their
 * int32_t pid; pid 0 marks a free slot, so keys are > 0. Deletion moves the
 * later entries of a probe run back into the hole instead of leaving a
 * tombstone: lookups stay as short as the table's load allows however many
 * processes came and went. The load is kept at or below one half.
 *
 * Invariant: every entry is reachable from its home slot (hash of its pid)
 * by probing forward without meeting a free slot.
 *
 * Entries move: pidtab_insert() may grow the table and pidtab_remove() shifts
 * entries, so a pointer to an entry is valid only until the next insert or
 * remove. To drop entries found during a pass over the slots, collect their
 * pids and remove them after the pass.
 */
#ifndef MEMAGENT_PIDTAB_H
#define MEMAGENT_PIDTAB_H

#include <stddef.h>
#include <stdint.h>

struct pidtab {
	char *slots;   /* cap entries of size bytes */
	size_t size;   /* bytes per entry, >= sizeof(int32_t) */
	size_t cap, n; /* cap: a power of two; n: entries in use */
};

/* Sets t up for entries of entry_size bytes, with room for min_entries before
 * it first grows. Returns 0 or -ENOMEM (t is then empty but valid). */
int pidtab_init(struct pidtab *t, size_t entry_size, size_t min_entries);

/* Frees the slots; t becomes empty (twice is fine). Entries own nothing the
 * table knows of: free what they hold first. */
void pidtab_done(struct pidtab *t);

/* The entry of pid, or NULL. Cost: the probe run from pid's home slot. */
void *pidtab_find(const struct pidtab *t, int32_t pid);

/* Adds an entry for pid (> 0, not present) and returns it zeroed but for its
 * pid, or NULL when out of memory (the table is unaltered). May grow the
 * table: pointers to entries are then stale. */
void *pidtab_insert(struct pidtab *t, int32_t pid);

/* Removes entry (a pointer into t), shifting later entries of its probe run
 * back; pointers to entries are then stale. */
void pidtab_remove(struct pidtab *t, void *entry);

/* The entry at slot i (< t->cap), or NULL when that slot is free: a pass
 * over every entry is for (i = 0; i < t->cap; i++). */
static inline void *pidtab_slot(const struct pidtab *t, size_t i)
{
	void *e = t->slots + i * t->size;

	return *(const int32_t *)e ? e : NULL;
}

#endif
