/* SPDX-License-Identifier: MIT */
/* Alerting: the configuration's rules evaluated on every published snapshot
 * (core/alert) and their alerts delivered to Alertmanagers
 * (exporters/alertmanager). */
#ifndef MEMAGENT_ALERTING_H
#define MEMAGENT_ALERTING_H

#include "config.h"
#include "push.h"
#include "snapshot.h"

struct alerting;

/* Alerting for cfg's "alerts" (cfg must outlive it), posting through p
 * (freed after it); with no rules it evaluates nothing, with no
 * Alertmanager it delivers nothing. Returns 0 and *ret, or a negative errno
 * with a one-line reason in err. */
int alerting_new(const struct config *cfg, struct push *p, struct alerting **ret, char *err, size_t errlen);
/* NULL-safe; returns NULL. */
struct alerting *alerting_free(struct alerting *a);

/* Evaluates the rules on s (sealed, just published) and hands what is due
 * to the Alertmanagers; never blocks on them. Returns 0 or -ENOMEM. */
int alerting_eval(struct alerting *a, const struct snapshot *s);

/* A sampler_extra_fn: adds memagent_alert_firing{alert} and the delivery
 * counters to snap; arg is the struct alerting (NULL: nothing). */
int alerting_add_metrics(void *arg, struct snapshot *snap);

/* Families this module emits itself, NULL-terminated. */
extern const struct metric_desc *const alerting_metrics[];

#endif
