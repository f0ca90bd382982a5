/* SPDX-License-Identifier: MIT */
/* Memory cgroups: the memory state of each target's cgroup, from cgroup v2 or
 * v1 files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "keyval.h"
#include "procfile.h"

#define L(var, type, name, unit, text) \
	static const struct metric_desc var = { "memagent_cgroup_" name, type, unit, text }

L(m_usage, METRIC_GAUGE, "memory_usage_bytes", "bytes",
  "Memory charged to the target's cgroup (v2 memory.current, v1 memory.usage_in_bytes).");
L(m_limit, METRIC_GAUGE, "memory_limit_bytes", "bytes",
  "The cgroup's hard memory limit (v2 memory.max, v1 memory.limit_in_bytes); absent when unlimited.");
L(m_peak, METRIC_GAUGE, "memory_peak_bytes", "bytes",
  "Highest memory charged to the cgroup (v2 memory.peak, v1 memory.max_usage_in_bytes).");
L(m_oom, METRIC_COUNTER, "oom_events_total", NULL,
  "Times the cgroup hit its limit and reclaim failed (v2 memory.events oom).");
L(m_oom_kill, METRIC_COUNTER, "oom_kills_total", NULL,
  "Processes in the cgroup killed by the OOM killer (v2 memory.events oom_kill, v1 memory.oom_control oom_kill).");
L(m_under_oom, METRIC_GAUGE, "under_oom", NULL,
  "1 while tasks of the cgroup wait on the OOM killer (v1 memory.oom_control under_oom).");
L(m_pressure, METRIC_GAUGE, "memory_pressure_ratio", "ratio",
  "Share of wall time tasks of the cgroup stalled on memory, averaged over window (v2 memory.pressure).");
L(m_stall, METRIC_COUNTER, "memory_pressure_stall_seconds_total", "seconds",
  "Total time tasks of the cgroup stalled on memory (v2 memory.pressure).");

static const struct metric_desc *const cgroup_metrics[] = {
	&m_usage, &m_limit, &m_peak, &m_oom, &m_oom_kill, &m_under_oom, &m_pressure, &m_stall, NULL,
};

/* v1 writes "unlimited" as LONG_MAX rounded down to a page. */
#define V1_UNLIMITED (1ull << 62)

/* Reads a file holding one number ("max" reads as UINT64_MAX). */
static int read_u64(int dirfd, const char *name, uint64_t *ret)
{
	char buf[64];
	const char *p = buf;
	int r = procfile_read(dirfd, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	if (strcmp(buf, "max\n") == 0) {
		*ret = UINT64_MAX;
		return 0;
	}
	if (!procfile_u64(&p, ret) || strcmp(p, "\n") != 0)
		return -EBADMSG;
	return 0;
}

/* Finds "key N" in a flat keyed file (memory.events, memory.oom_control). */
static int keyed_u64(const char *buf, size_t len, const char *key, uint64_t *ret)
{
	int r = keyval_find_u64(buf, len, ' ', key, ret);

	return r == KEYVAL_PLAIN ? 0 : r == -ENOENT ? -ENOENT : -EBADMSG;
}

static int read_v2(int dfd, struct cgroup_mem *m)
{
	char buf[1024];
	int r;

	r = read_u64(dfd, "memory.current", &m->usage);
	if (r < 0)
		return r;
	r = read_u64(dfd, "memory.max", &m->limit);
	if (r < 0)
		return r;
	m->has_peak = read_u64(dfd, "memory.peak", &m->peak) == 0;
	r = procfile_read(dfd, "memory.events", buf, sizeof(buf));
	if (r < 0)
		return r;
	if (keyed_u64(buf, (size_t)r, "oom", &m->oom) < 0 ||
	    keyed_u64(buf, (size_t)r, "oom_kill", &m->oom_kill) < 0)
		return -EBADMSG;
	m->has_oom = true;
	r = procfile_read(dfd, "memory.pressure", buf, sizeof(buf));
	m->has_pressure = r >= 0 && psi_parse(buf, (size_t)r, &m->pressure) == 0;
	return 0;
}

static int read_v1(int dfd, struct cgroup_mem *m)
{
	char buf[256];
	uint64_t under;
	int r;

	r = read_u64(dfd, "memory.usage_in_bytes", &m->usage);
	if (r < 0)
		return r;
	r = read_u64(dfd, "memory.limit_in_bytes", &m->limit);
	if (r < 0)
		return r;
	if (m->limit >= V1_UNLIMITED)
		m->limit = UINT64_MAX;
	m->has_peak = read_u64(dfd, "memory.max_usage_in_bytes", &m->peak) == 0;
	r = procfile_read(dfd, "memory.oom_control", buf, sizeof(buf));
	if (r < 0)
		return r;
	/* oom_kill appeared in 4.13; under_oom is older. */
	if (keyed_u64(buf, (size_t)r, "under_oom", &under) < 0)
		return -EBADMSG;
	m->has_under_oom = true;
	m->under_oom = under != 0;
	if (keyed_u64(buf, (size_t)r, "oom_kill", &m->oom_kill) < 0)
		m->oom_kill = 0;
	return 0;
}

int cgroup_mem_read(const char *dir, enum cgroupfs_version v, struct cgroup_mem *ret)
{
	struct cgroup_mem m = {0};
	int dfd, r;

	if (v == CGROUPFS_NONE)
		return -ENOENT;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = v == CGROUPFS_V2 ? read_v2(dfd, &m) : read_v1(dfd, &m);
	close(dfd);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

/* --- the collector --------------------------------------------------------- */

/* A unit's cgroup is found by a bounded walk of the hierarchy
 * (cgroupfs_find_dir()), its result cached until the directory disappears. */
#define UNIT_RESEARCH_TICKS 12

struct unit_cache {
	char dir[PATH_MAX]; /* "" when not found */
	unsigned retry_in;  /* ticks until the next search when not found */
};

struct state {
	const struct collector_ctx *ctx;
	struct cgroupfs_hier hier;
	struct unit_cache *units; /* one per target */
};

static bool target_has_cgroup(const struct target *t)
{
	return t->match.cgroup || t->match.systemd_unit;
}

static int collector_init(const struct collector_ctx *ctx, void **ret_state)
{
	struct state *st;
	bool any = false;

	for (size_t i = 0; i < ctx->targets->n; i++)
		any |= target_has_cgroup(&ctx->targets->v[i]);
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->ctx = ctx;
	cgroupfs_detect(ctx->cgroup_root, &st->hier);
	if (any && st->hier.version == CGROUPFS_NONE) {
		free(st);
		return -ENOENT;
	}
	st->units = calloc(ctx->targets->n ? ctx->targets->n : 1, sizeof(*st->units));
	if (!st->units) {
		free(st);
		return -ENOMEM;
	}
	*ret_state = st;
	return 0;
}

/* The directory to read for target t, or NULL when unknown this tick. */
static const char *target_dir(struct state *st, const struct target *t, struct unit_cache *uc,
			      struct collector_errors *err)
{
	struct stat sb;

	if (t->match.cgroup) {
		snprintf(uc->dir, sizeof(uc->dir), "%s%s", st->hier.mount,
			 strcmp(t->match.cgroup, "/") == 0 ? "" : t->match.cgroup);
		return uc->dir;
	}
	if (uc->dir[0] && stat(uc->dir, &sb) == 0)
		return uc->dir;
	uc->dir[0] = '\0';
	if (uc->retry_in) {
		uc->retry_in--;
		err->n[COLLECTOR_ABSENT]++;
		return NULL;
	}

	if (cgroupfs_find_dir(&st->hier, t->match.systemd_unit, uc->dir, sizeof(uc->dir)) >= 0)
		return uc->dir;
	uc->dir[0] = '\0';
	uc->retry_in = UNIT_RESEARCH_TICKS;
	err->n[COLLECTOR_ABSENT]++;
	return NULL;
}

static int emit(struct snapshot *snap, const char *target, const struct cgroup_mem *m)
{
	const char *const lv[] = { "target", target, NULL };
	int r = 0;

	r |= snapshot_add(snap, &m_usage, (double)m->usage, lv);
	if (m->limit != UINT64_MAX)
		r |= snapshot_add(snap, &m_limit, (double)m->limit, lv);
	if (m->has_peak)
		r |= snapshot_add(snap, &m_peak, (double)m->peak, lv);
	if (m->has_oom)
		r |= snapshot_add(snap, &m_oom, (double)m->oom, lv);
	r |= snapshot_add(snap, &m_oom_kill, (double)m->oom_kill, lv);
	if (m->has_under_oom)
		r |= snapshot_add(snap, &m_under_oom, m->under_oom, lv);
	if (m->has_pressure)
		r |= psi_add(snap, &m->pressure, &m_pressure, &m_stall, lv);
	return r < 0 ? -ENOMEM : 0;
}

static int collector_read(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct state *st = state;
	const struct target_set *ts = st->ctx->targets;

	for (size_t i = 0; i < ts->n; i++) {
		const struct target *t = &ts->v[i];
		struct cgroup_mem m;
		const char *dir;
		int r;

		if (!target_has_cgroup(t) || !(dir = target_dir(st, t, &st->units[i], err)))
			continue;
		r = cgroup_mem_read(dir, st->hier.version, &m);
		if (r < 0) {
			err->n[r == -ENOENT ? COLLECTOR_ABSENT
					    : r == -EBADMSG ? COLLECTOR_PARSE : COLLECTOR_UNREADABLE]++;
			continue;
		}
		r = emit(snap, t->name, &m);
		if (r < 0)
			return r;
	}
	return 0;
}

static void collector_done(void *state)
{
	struct state *st = state;

	if (!st)
		return;
	free(st->units);
	free(st);
}

const struct collector cgroup_collector = {
	.name = "cgroup",
	.metrics = cgroup_metrics,
	.init = collector_init,
	.read = collector_read,
	.done = collector_done,
};
