/* SPDX-License-Identifier: MIT */
/* Memory cgroups: where the memory controller lives, which cgroup a process is
 * in, and the usage, limit, OOM counts and pressure of a target's cgroup. */
#ifndef MEMAGENT_CGROUP_H
#define MEMAGENT_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "psi.h"

enum cgroup_version {
	CGROUP_NONE, /* no memory controller mounted */
	CGROUP_V1,   /* memory controller on its own v1 hierarchy (hybrid hosts) */
	CGROUP_V2,   /* unified hierarchy with the memory controller enabled */
};

struct cgroup_hier {
	enum cgroup_version version;
	char mount[PATH_MAX]; /* the memory hierarchy's root directory */
};

/* Finds the memory controller under cgroup_root ("/sys/fs/cgroup"): v2 at the
 * root when its cgroup.controllers lists memory, v1 at root/memory, or v2 at
 * root/unified (hybrid layout). Returns 0 (version may be CGROUP_NONE). */
int cgroup_hier_detect(const char *cgroup_root, struct cgroup_hier *ret);

/* Picks the memory hierarchy's path out of /proc/PID/cgroup text: the v1 line
 * whose controller list holds "memory", or the v2 "0::" line. Writes it to
 * path (NUL-terminated). Returns its length, -ENOENT, -EBADMSG or -ENOBUFS. */
int cgroup_parse_proc(const char *buf, size_t len, enum cgroup_version v, char *path,
		      size_t pathlen);

/* Reads pid's memory cgroup path (proc_root/PID/cgroup). Same returns, plus
 * the read's -errno. */
int cgroup_of_pid(int proc_dirfd, int pid, enum cgroup_version v, char *path, size_t pathlen);

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
int cgroup_mem_read(const char *dir, enum cgroup_version v, struct cgroup_mem *ret);

extern const struct collector cgroup_collector;

#endif
