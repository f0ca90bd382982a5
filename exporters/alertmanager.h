/* SPDX-License-Identifier: MIT */
/* Delivery of alerts to Alertmanager's API v2 (POST /api/v2/alerts), as
 * Prometheus' notifier does it: every Alertmanager (an HA pair, or more)
 * gets every alert; a failed post is retried with backoff and counted.
 *
 * Posts go through the push thread (exporters/push.h): notifying never
 * blocks the caller (the sampler), and a dead or hanging Alertmanager delays
 * no other. What waits for a failed Alertmanager is bounded: its
 * newest notice per alert (fingerprint), at most ALERT_SERIES_MAX of them, the
 * oldest dropped and counted beyond.
 */
#ifndef MEMAGENT_ALERTMANAGER_H
#define MEMAGENT_ALERTMANAGER_H

#include <stddef.h>

#include "alert.h"
#include "push.h"
#include "snapshot.h"

/* Alertmanagers one notifier posts to. */
#define ALERTMANAGER_MAX 8

struct alertmanager_options {
	/* Base URLs ("http://127.0.0.1:9093"); "/api/v2/alerts" is appended. */
	const char *const *urls;
	size_t n_urls;
	unsigned timeout_ms;       /* per post */
	const char *generator_url; /* each alert's generatorURL, or NULL */
};

struct alertmanager;

/* A notifier posting through p (free p after it: posts in flight end
 * through p). Returns 0 and *ret,
 * -EINVAL (no URL, more than ALERTMANAGER_MAX), -ENOSPC (p has no room for
 * another client) or -ENOMEM. */
int alertmanager_new(struct push *p, const struct alertmanager_options *o, struct alertmanager **ret);

/* Stops posting; what was not delivered is dropped (firing alerts then
 * expire at their endsAt). Posts in flight finish on the push thread, which
 * frees what is left after the last: never waits. NULL-safe; returns NULL. */
struct alertmanager *alertmanager_free(struct alertmanager *a);

/* Queues notices v[0..n) for every Alertmanager (a newer notice of an alert
 * replaces one still waiting) and wakes the thread; returns at once. Returns
 * 0, or -ENOMEM (then nothing of v is queued). */
int alertmanager_notify(struct alertmanager *a, const struct alert_notice *v, size_t n);

/* Adds memagent_alert_notifications_total{alertmanager,result} to s. */
int alertmanager_add_metrics(struct alertmanager *a, struct snapshot *s);

/* The JSON array body of one post of v[0..n), as Alertmanager's API v2 takes
 * it (label and annotation values made valid UTF-8). Returns a malloc'ed
 * string or NULL when out of memory. For tests and the thread alike. */
char *alertmanager_encode(const struct alert_notice *v, size_t n, const char *generator_url);

/* Families this module emits, NULL-terminated. */
extern const struct metric_desc *const alertmanager_metrics[];

#endif
