/* SPDX-License-Identifier: MIT */
/* System memory from /proc/meminfo. */
#ifndef MEMAGENT_MEMINFO_H
#define MEMAGENT_MEMINFO_H

#include <stddef.h>
#include <stdint.h>

#include "collector.h"

enum meminfo_field {
	MEMINFO_MEM_TOTAL,
	MEMINFO_MEM_FREE,
	MEMINFO_MEM_AVAILABLE,
	MEMINFO_BUFFERS,
	MEMINFO_CACHED,
	MEMINFO_SWAP_CACHED,
	MEMINFO_ACTIVE,
	MEMINFO_INACTIVE,
	MEMINFO_ACTIVE_ANON,
	MEMINFO_INACTIVE_ANON,
	MEMINFO_ACTIVE_FILE,
	MEMINFO_INACTIVE_FILE,
	MEMINFO_UNEVICTABLE,
	MEMINFO_MLOCKED,
	MEMINFO_SWAP_TOTAL,
	MEMINFO_SWAP_FREE,
	MEMINFO_DIRTY,
	MEMINFO_WRITEBACK,
	MEMINFO_ANON_PAGES,
	MEMINFO_MAPPED,
	MEMINFO_SHMEM,
	MEMINFO_KRECLAIMABLE,
	MEMINFO_SLAB,
	MEMINFO_SRECLAIMABLE,
	MEMINFO_SUNRECLAIM,
	MEMINFO_KERNEL_STACK,
	MEMINFO_PAGE_TABLES,
	MEMINFO_COMMIT_LIMIT,
	MEMINFO_COMMITTED_AS,
	MEMINFO_VMALLOC_USED,
	MEMINFO_PERCPU,
	MEMINFO_ANON_HUGE_PAGES,
	MEMINFO_HUGETLB,
	MEMINFO_MAX
};

struct meminfo {
	uint64_t bytes[MEMINFO_MAX];
	uint64_t present; /* bit i set when field i was in the file */
};

/* Parses /proc/meminfo's text. Every line must be "Key: N" or "Key: N kB"
 * and end in a newline; MemTotal and MemFree must be there. Unknown keys are
 * skipped (kernels add fields). Returns 0 or -EBADMSG; *ret written only on
 * success. */
int meminfo_parse(const char *buf, size_t len, struct meminfo *ret);

/* Reads and parses PROC_ROOT/meminfo. Returns 0, -EBADMSG or -errno. */
int meminfo_read(const char *proc_root, struct meminfo *ret);

extern const struct collector meminfo_collector;

#endif
