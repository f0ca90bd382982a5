/* SPDX-License-Identifier: MIT */
/* The sampler: every collector once per tick into a fresh snapshot, plus the
 * agent's own metrics, published with one pointer swap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting.h"
#include "alertmanager.h"
#include "bpf_support.h"
#include "cgroup.h"
#include "collector.h"
#include "gc_events.h"
#include "heap.h"
#include "httpd.h"
#include "log.h"
#include "meminfo.h"
#include "oomkill.h"
#include "process.h"
#include "psi.h"
#include "queues.h"
#include "sampler.h"
#include "sinks.h"

static const struct collector *const collectors[] = {
	&meminfo_collector,
	&psi_collector,
	&process_collector,
	&cgroup_collector,
	&oomkill_collector,
	&heap_collector,
	&gc_events_collector,
	&queues_collector,
};
#define N_COLLECTORS (sizeof(collectors) / sizeof(collectors[0]))

static const struct metric_desc m_samples = {
	"memagent_samples_total", METRIC_COUNTER, NULL,
	"Samples taken; the snapshot served is the one with this number.",
};
static const struct metric_desc m_duration = {
	"memagent_collector_duration_seconds", METRIC_GAUGE, "seconds",
	"Time the collector took in the last sample.",
};
static const struct metric_desc m_errors = {
	"memagent_collector_errors_total", METRIC_COUNTER, NULL,
	"Read failures by collector and reason (vanished, unreadable, parse, overflow, fd_limit, absent, bpf).",
};
static const struct metric_desc m_up = {
	"memagent_collector_up", METRIC_GAUGE, NULL,
	"1 when the collector runs and its last read succeeded, 0 otherwise.",
};
static const struct metric_desc m_sample_duration = {
	"memagent_sample_duration_seconds", METRIC_GAUGE, "seconds",
	"Time the last sample took, all collectors included.",
};
static const struct metric_desc m_reloads = {
	"memagent_config_reloads_total", METRIC_COUNTER, NULL,
	"Configuration reloads (SIGHUP) by result; a failed reload keeps the previous configuration.",
};
static const struct metric_desc m_build = {
	"memagent_build_info", METRIC_GAUGE, NULL,
	"Always 1; the version label names the build.",
};
static const struct metric_desc m_log_suppressed = {
	"memagent_log_suppressed_total", METRIC_COUNTER, NULL,
	"Error and warning lines the log's rate limit dropped (10 per call site per 30 s pass).",
};
static const struct metric_desc *const self_metrics[] = {
	&m_samples, &m_sample_duration, &m_duration, &m_errors, &m_up, &m_reloads, &m_build,
	&m_log_suppressed, NULL,
};

struct slot {
	const struct collector *c;
	void *state;   /* NULL when init failed */
	int init_error;
	bool last_ok;
	double duration_s;
	struct collector_errors err; /* survives reconfiguration */
};

/* BPF programs whose absence was logged: once per program per run. */
#define LOGGED_MAX 8

struct sampler {
	struct collector_ctx ctx;
	char logged[LOGGED_MAX][32];
	struct registry *reg;
	uint64_t samples;
	uint64_t reloads_ok, reloads_failed;
	sampler_extra_fn extra;
	void *extra_arg;
	struct slot slots[N_COLLECTORS];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Says once per run that a BPF program is not used, and why. */
static void bpf_unavailable(struct sampler *s, const char *program, const char *reason)
{
	for (int i = 0; i < LOGGED_MAX; i++) {
		if (strcmp(s->logged[i], program) == 0)
			return;
		if (!s->logged[i][0]) {
			snprintf(s->logged[i], sizeof(s->logged[i]), "%s", program);
			break;
		}
	}
	log_notice("bpf %s unavailable, running on /proc for it: %s", program, reason);
}

static void on_event(void *arg, const struct collector_event *ev)
{
	struct sampler *s = arg;

	switch (ev->kind) {
	case COLLECTOR_EVENT_OOM_KILL:
		log_warning("oom kill: pid %d comm %s rss %llu bytes cgroup %s target %s", ev->pid,
			    ev->comm, (unsigned long long)ev->rss_bytes, ev->cgroup ? ev->cgroup : "?",
			    ev->target);
		break;
	case COLLECTOR_EVENT_BPF_UNAVAILABLE:
		bpf_unavailable(s, ev->program, ev->reason);
		break;
	}
}

/* Starts every collector not marked in skip (NULL: all). */
static void start_collectors(struct sampler *s, const bool *skip)
{
	for (size_t i = 0; i < N_COLLECTORS; i++) {
		struct slot *sl = &s->slots[i];
		int r;

		if (skip && skip[i])
			continue;
		sl->c = collectors[i];
		sl->state = NULL;
		r = sl->c->init(&s->ctx, &sl->state);
		if (r < 0) {
			sl->state = NULL;
			/* Say it once per configuration, not every tick. */
			if (r != sl->init_error)
				log_notice("collector %s disabled: %s", sl->c->name, strerror(-r));
		}
		sl->init_error = r < 0 ? r : 0;
	}
}

static void stop_collectors(struct sampler *s)
{
	for (size_t i = 0; i < N_COLLECTORS; i++) {
		struct slot *sl = &s->slots[i];

		if (sl->state)
			sl->c->done(sl->state);
		sl->state = NULL;
	}
}

/* What the collectors see of cfg: the targets and the bounds. */
static void set_targets(struct sampler *s, const struct config *cfg)
{
	s->ctx.targets = &cfg->targets;
	s->ctx.limits = (struct collector_limits){ .max_processes = cfg->limits.max_processes,
						   .max_groups = cfg->limits.max_groups,
						   .max_instrumented = cfg->heap.enabled ? cfg->limits.max_instrumented : 0,
						   .max_listeners = cfg->limits.max_listeners,
						   .max_message_queues = cfg->limits.max_message_queues };
	s->ctx.heap_names = cfg->heap.names;
	s->ctx.heap_snapshot_on_leak = cfg->heap.snapshot_on_leak;
}

int sampler_new(const struct config *cfg, const struct sampler_options *o, struct registry *reg,
		struct sampler **ret)
{
	struct sampler *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->reg = reg;
	s->ctx.proc_root = o->proc_root;
	s->ctx.cgroup_root = o->cgroup_root;
	s->ctx.use_bpf = o->use_bpf;
	set_targets(s, cfg);
	s->ctx.event = on_event;
	s->ctx.event_arg = s;
	start_collectors(s, NULL);
	*ret = s;
	return 0;
}

struct sampler *sampler_free(struct sampler *s)
{
	if (!s)
		return NULL;
	stop_collectors(s);
	free(s);
	return NULL;
}

/* Collectors with a reconfigure() hook keep their BPF programs (issue 16:
 * a reload must not load again the programs that stay); the others, and
 * any whose hook fails or which had not started, are stopped and started. */
int sampler_reconfigure(struct sampler *s, const struct config *cfg)
{
	bool kept[N_COLLECTORS] = { false };

	set_targets(s, cfg);
	for (size_t i = 0; i < N_COLLECTORS; i++) {
		struct slot *sl = &s->slots[i];

		if (sl->state && sl->c->reconfigure && sl->c->reconfigure(&sl->state) == 0) {
			kept[i] = true;
			continue;
		}
		if (sl->state)
			sl->c->done(sl->state);
		sl->state = NULL;
	}
	start_collectors(s, kept);
	return 0;
}

void sampler_rescan(struct sampler *s)
{
	s->ctx.rescan_requests++;
}

void sampler_set_extra(struct sampler *s, sampler_extra_fn fn, void *arg)
{
	s->extra = fn;
	s->extra_arg = arg;
}

void sampler_note_reload(struct sampler *s, bool ok)
{
	if (ok)
		s->reloads_ok++;
	else
		s->reloads_failed++;
}

static int add_self(struct sampler *s, struct snapshot *snap, double sample_s)
{
	const char *const build[] = { "version", MEMAGENT_VERSION, NULL };
	const char *const ok[] = { "result", "success", NULL };
	const char *const failed[] = { "result", "failure", NULL };
	int r = 0;

	r |= snapshot_add(snap, &m_samples, (double)s->samples, NULL);
	r |= snapshot_add(snap, &m_sample_duration, sample_s, NULL);
	for (size_t i = 0; i < N_COLLECTORS; i++) {
		struct slot *sl = &s->slots[i];
		const char *const lv[] = { "collector", sl->c->name, NULL };

		r |= snapshot_add(snap, &m_up, sl->state && sl->last_ok, lv);
		if (!sl->state)
			continue;
		r |= snapshot_add(snap, &m_duration, sl->duration_s, lv);
		for (int k = 0; k < COLLECTOR_REASON_MAX; k++) {
			const char *const el[] = { "collector", sl->c->name, "reason",
						   collector_reason_name(k), NULL };

			r |= snapshot_add(snap, &m_errors, (double)sl->err.n[k], el);
		}
	}
	r |= snapshot_add(snap, &m_reloads, (double)s->reloads_ok, ok);
	r |= snapshot_add(snap, &m_reloads, (double)s->reloads_failed, failed);
	r |= snapshot_add(snap, &m_build, 1, build);
	r |= snapshot_add(snap, &m_log_suppressed, (double)log_suppressed_total(), NULL);
	if (s->extra)
		r |= s->extra(s->extra_arg, snap);
	return r < 0 ? -ENOMEM : 0;
}

struct snapshot *sampler_tick(struct sampler *s)
{
	struct snapshot *snap = snapshot_new();
	double t0 = now_s();

	if (!snap)
		return NULL;
	for (size_t i = 0; i < N_COLLECTORS; i++) {
		struct slot *sl = &s->slots[i];
		double c0;
		int r;

		if (!sl->state)
			continue;
		c0 = now_s();
		r = sl->c->read(sl->state, snap, &sl->err);
		sl->duration_s = now_s() - c0;
		sl->last_ok = r >= 0;
		if (r == -ENOMEM) {
			snapshot_unref(snap);
			return NULL;
		}
	}
	s->samples++;
	if (add_self(s, snap, now_s() - t0) < 0) {
		snapshot_unref(snap);
		s->samples--;
		return NULL;
	}
	snapshot_seal(snap, s->samples);
	registry_publish(s->reg, snap);
	return snap;
}

int sampler_n_fds(const struct sampler *s)
{
	(void)s;
	return (int)N_COLLECTORS;
}

int sampler_fd(const struct sampler *s, int i)
{
	const struct slot *sl = &s->slots[i];

	return sl->state && sl->c->fd ? sl->c->fd(sl->state) : -1;
}

void sampler_poll(struct sampler *s, int i)
{
	struct slot *sl = &s->slots[i];

	if (sl->state && sl->c->poll)
		sl->c->poll(sl->state, &sl->err);
}

static void add_unique(const struct metric_desc **all, size_t *n, size_t cap,
		       const struct metric_desc *const *list)
{
	for (; *list; list++) {
		size_t i = 0;

		while (i < *n && all[i] != *list)
			i++;
		if (i == *n && *n + 1 < cap)
			all[(*n)++] = *list;
	}
}

const struct metric_desc *const *sampler_all_metrics(void)
{
	static const struct metric_desc *all[256];
	size_t n = 0;

	if (all[0])
		return all;
	add_unique(all, &n, 256, self_metrics);
	add_unique(all, &n, 256, httpd_metrics);
	add_unique(all, &n, 256, bpf_support_metrics);
	add_unique(all, &n, 256, alerting_metrics);
	add_unique(all, &n, 256, alertmanager_metrics);
	add_unique(all, &n, 256, sinks_metrics);
	for (size_t i = 0; i < N_COLLECTORS; i++)
		add_unique(all, &n, 256, collectors[i]->metrics);
	all[n] = NULL;
	return all;
}
