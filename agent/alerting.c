/* SPDX-License-Identifier: MIT */
/* Alerting: rules over published snapshots, their alerts to Alertmanager. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "alerting.h"
#include "alertmanager.h"

static const struct metric_desc m_firing = {
	"memagent_alert_firing", METRIC_GAUGE, NULL,
	"Alerts of the rule named alert firing at the last evaluation (0 when none).",
};
static const struct metric_desc m_pending = {
	"memagent_alert_pending", METRIC_GAUGE, NULL,
	"Alerts of the rule named alert active but still waiting out their for_ms.",
};
static const struct metric_desc m_dropped = {
	"memagent_alert_series_dropped_total", METRIC_COUNTER, NULL,
	"Series the rules matched but could not follow: the engine follows at most 4096.",
};
const struct metric_desc *const alerting_metrics[] = { &m_firing, &m_pending, &m_dropped, NULL };

struct alerting {
	const struct config_alerts *cfg;
	struct alert_engine *engine;
	struct alertmanager *am; /* NULL without alertmanagers */
};

int alerting_new(const struct config *cfg, struct push *p, struct alerting **ret, char *err, size_t errlen)
{
	const struct config_alerts *c = &cfg->alerts;
	struct alert_engine_options eo = { c->resend_interval_ms, cfg->interval_ms };
	struct alerting *a = calloc(1, sizeof(*a));
	int r;

	if (!a) {
		snprintf(err, errlen, "alerting: out of memory");
		return -ENOMEM;
	}
	a->cfg = c;
	r = alert_engine_new(c->rules, c->n_rules, &eo, &a->engine);
	if (r == 0 && c->n_alertmanagers) {
		struct alertmanager_options ao = { (const char *const *)c->alertmanagers, c->n_alertmanagers,
						   c->timeout_ms, NULL };

		r = alertmanager_new(p, &ao, &a->am);
	}
	if (r < 0) {
		snprintf(err, errlen, "alerting: %s", r == -ENOSPC ? "no room on the push thread for another client"
								  : strerror(-r));
		alerting_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

struct alerting *alerting_free(struct alerting *a)
{
	if (!a)
		return NULL;
	alertmanager_free(a->am);
	alert_engine_free(a->engine);
	free(a);
	return NULL;
}

int alerting_eval(struct alerting *a, const struct snapshot *s)
{
	struct alert_time now = { snapshot_sealed_ns(s), snapshot_timestamp_ms(s) };
	const struct alert_notice *v;
	size_t n;
	int r;

	if (a->cfg->n_rules == 0)
		return 0;
	r = alert_engine_eval(a->engine, s, now, &v, &n);
	if (r == 0 && a->am && n)
		r = alertmanager_notify(a->am, v, n);
	return r;
}

int alerting_add_metrics(void *arg, struct snapshot *snap)
{
	struct alerting *a = arg;
	int r = 0;

	if (!a)
		return 0;
	for (size_t i = 0; i < a->cfg->n_rules; i++) {
		const char *name = a->cfg->rules[i].name;
		size_t firing = 0, pending = 0, j;

		/* Several rules may share an alert name (severities): one series. */
		for (j = 0; j < i && strcmp(a->cfg->rules[j].name, name) != 0; j++)
			;
		if (j < i)
			continue;
		for (j = i; j < a->cfg->n_rules; j++) {
			if (strcmp(a->cfg->rules[j].name, name) == 0) {
				firing += alert_engine_firing(a->engine, j);
				pending += alert_engine_pending(a->engine, j);
			}
		}
		const char *const lv[] = { "alert", name, NULL };

		r |= snapshot_add(snap, &m_firing, (double)firing, lv);
		r |= snapshot_add(snap, &m_pending, (double)pending, lv);
	}
	if (a->cfg->n_rules)
		r |= snapshot_add(snap, &m_dropped, (double)alert_engine_dropped(a->engine), NULL);
	if (a->am)
		r |= alertmanager_add_metrics(a->am, snap);
	return r < 0 ? -ENOMEM : 0;
}
