/* SPDX-License-Identifier: MIT */
/* The publish slot: the latest sealed snapshot, handed out by reference.
 *
 * Invariant: readers get a snapshot only through registry_acquire(), which
 * takes its reference under the slot's lock, so a reader never sees a
 * snapshot being built or freed; the slot's own reference is dropped outside
 * the lock, since the last one frees the snapshot and its renderings.
 */
#include <pthread.h>
#include <stdlib.h>

#include "registry.h"

struct registry {
	pthread_mutex_t lock;
	struct snapshot *latest;
};

struct registry *registry_new(void)
{
	struct registry *r = calloc(1, sizeof(*r));

	if (r)
		pthread_mutex_init(&r->lock, NULL);
	return r;
}

struct registry *registry_free(struct registry *r)
{
	if (!r)
		return NULL;
	snapshot_unref(r->latest);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

void registry_publish(struct registry *r, struct snapshot *s)
{
	struct snapshot *old;

	pthread_mutex_lock(&r->lock);
	old = r->latest;
	r->latest = s;
	pthread_mutex_unlock(&r->lock);
	/* The last reference may render-free a large buffer: outside the lock. */
	snapshot_unref(old);
}

struct snapshot *registry_acquire(struct registry *r)
{
	struct snapshot *s;

	pthread_mutex_lock(&r->lock);
	s = r->latest ? snapshot_ref(r->latest) : NULL;
	pthread_mutex_unlock(&r->lock);
	return s;
}
