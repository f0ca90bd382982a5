/* SPDX-License-Identifier: MIT */
/* The publish slot: where the sampler leaves the latest sealed snapshot and
 * readers (HTTP scrapes, push sinks) take a reference to it.
 *
 * A leaf like snapshot.h: it knows snapshots and nothing else of the project.
 */
#ifndef MEMAGENT_REGISTRY_H
#define MEMAGENT_REGISTRY_H

#include "snapshot.h"

struct registry;
/* Returns an empty slot, or NULL when out of memory. */
struct registry *registry_new(void);
/* Drops the slot's reference to the latest snapshot (readers keep theirs)
 * and frees the slot. NULL-safe; returns NULL. */
struct registry *registry_free(struct registry *r);
/* Makes s (sealed) the latest; takes over the caller's reference. */
void registry_publish(struct registry *r, struct snapshot *s);
/* Returns a new reference to the latest snapshot, or NULL before the first. */
struct snapshot *registry_acquire(struct registry *r);

#endif
