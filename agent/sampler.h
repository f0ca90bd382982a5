/* SPDX-License-Identifier: MIT */
/* The sampler: runs every collector once per tick into a fresh snapshot,
 * adds the agent's own metrics, and publishes the result. */
#ifndef MEMAGENT_SAMPLER_H
#define MEMAGENT_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "registry.h"

struct sampler_options {
	const char *proc_root;   /* "/proc" */
	const char *cgroup_root; /* "/sys/fs/cgroup" */
	bool use_bpf;
};

struct sampler;

/* Sets up every collector for cfg (which must outlive the sampler, or be
 * replaced through sampler_reconfigure). A collector that cannot start is
 * logged once and left out; that is never fatal. Returns 0 or -ENOMEM. */
int sampler_new(const struct config *cfg, const struct sampler_options *o, struct registry *reg,
		struct sampler **ret);
struct sampler *sampler_free(struct sampler *s);

/* Takes one sample: collectors, self metrics, seal, publish. Returns the
 * published snapshot (borrowed: valid until the next tick) or NULL on OOM. */
struct snapshot *sampler_tick(struct sampler *s);

/* Switches to cfg: collectors with a reconfigure() hook take its targets
 * and keep their BPF programs loaded; the others restart with them; one
 * that cannot start is logged once and left out, as in sampler_new(). The
 * caller frees the old config afterwards (the hooks still read it). Returns 0. */
int sampler_reconfigure(struct sampler *s, const struct config *cfg);

/* Asks collectors that discover slowly to look at everything again at the
 * next tick (SIGUSR1: "sample now" also means "look again"). */
void sampler_rescan(struct sampler *s);

/* Adds fn's metrics to every snapshot, after the agent's own (the push
 * sinks' queues and counters, alerting's state: main.c adds both through
 * one fn). fn returns 0 or -ENOMEM. */
typedef int (*sampler_extra_fn)(void *arg, struct snapshot *snap);
void sampler_set_extra(struct sampler *s, sampler_extra_fn fn, void *arg);
/* Records a reload attempt for memagent_config_reloads_total. */
void sampler_note_reload(struct sampler *s, bool ok);

/* Fds the collectors want watched between ticks; poll(i) when readable. */
int sampler_n_fds(const struct sampler *s);
int sampler_fd(const struct sampler *s, int i);
void sampler_poll(struct sampler *s, int i);

/* Every family the agent can emit, NULL-terminated (docs/metrics.md check). */
const struct metric_desc *const *sampler_all_metrics(void);

#endif
