/* SPDX-License-Identifier: MIT */
/* Memory cgroups: the usage, limit, OOM counts and pressure of a target's
 * cgroup (where the hierarchy is, and which cgroup is whose: cgroupfs.h). */
#ifndef MEMAGENT_CGROUP_H
#define MEMAGENT_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroupfs.h"
#include "collector.h"
#include "psi.h"

struct cgroup_mem {
	uint64_t usage;     /* bytes charged now */
	uint64_t limit;     /* UINT64_MAX when unlimited */
	bool has_peak;
	uint64_t peak;      /* max usage seen (v1 max_usage_in_bytes, v2 memory.peak) */
	bool has_oom;
	uint64_t oom;       /* times the limit was hit and reclaim failed (v2 only) */
	uint64_t oom_kill;  /* processes killed by the OOM killer */
	bool has_under_oom;
	bool under_oom;     /* v1: tasks are waiting on the OOM killer now */
	bool has_pressure;
	struct psi pressure; /* v2 memory.pressure */
};

/* Reads the memory state of the cgroup at dir (absolute path in the memory
 * hierarchy's mount). Returns 0, -ENOENT (no such cgroup), -EBADMSG, -errno. */
int cgroup_mem_read(const char *dir, enum cgroupfs_version v, struct cgroup_mem *ret);

extern const struct collector cgroup_collector;

#endif
