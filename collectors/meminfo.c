/* SPDX-License-Identifier: MIT */
/* System memory from /proc/meminfo. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyval.h"
#include "meminfo.h"
#include "procfile.h"

#define M(var, metric, text) \
	static const struct metric_desc var = { "memagent_system_" metric, METRIC_GAUGE, "bytes", text }

M(m_total, "memory_total_bytes", "Usable RAM (MemTotal).");
M(m_free, "memory_free_bytes", "RAM left unused (MemFree).");
M(m_available, "memory_available_bytes", "RAM available for new allocations without swapping, the kernel's estimate (MemAvailable).");
M(m_buffers, "memory_buffers_bytes", "Block device buffers (Buffers).");
M(m_cached, "memory_cached_bytes", "Page cache, shmem included (Cached).");
M(m_swap_cached, "swap_cached_bytes", "Swapped-out memory also in RAM (SwapCached).");
M(m_active, "memory_active_bytes", "Recently used memory (Active).");
M(m_inactive, "memory_inactive_bytes", "Memory eligible for reclaim first (Inactive).");
M(m_active_anon, "memory_active_anon_bytes", "Active anonymous memory (Active(anon)).");
M(m_inactive_anon, "memory_inactive_anon_bytes", "Inactive anonymous memory (Inactive(anon)).");
M(m_active_file, "memory_active_file_bytes", "Active page cache (Active(file)).");
M(m_inactive_file, "memory_inactive_file_bytes", "Inactive page cache (Inactive(file)).");
M(m_unevictable, "memory_unevictable_bytes", "Memory that cannot be reclaimed (Unevictable).");
M(m_mlocked, "memory_mlocked_bytes", "Memory locked with mlock (Mlocked).");
M(m_swap_total, "swap_total_bytes", "Swap space (SwapTotal).");
M(m_swap_free, "swap_free_bytes", "Unused swap space (SwapFree).");
M(m_dirty, "memory_dirty_bytes", "Memory waiting to be written back (Dirty).");
M(m_writeback, "memory_writeback_bytes", "Memory being written back (Writeback).");
M(m_anon, "memory_anon_bytes", "Anonymous pages mapped into user space (AnonPages).");
M(m_mapped, "memory_mapped_bytes", "Files mapped into memory (Mapped).");
M(m_shmem, "memory_shmem_bytes", "Shared memory and tmpfs (Shmem).");
M(m_kreclaimable, "memory_kernel_reclaimable_bytes", "Kernel allocations the kernel can reclaim (KReclaimable).");
M(m_slab, "memory_slab_bytes", "Kernel slab allocations (Slab).");
M(m_sreclaimable, "memory_slab_reclaimable_bytes", "Reclaimable slab (SReclaimable).");
M(m_sunreclaim, "memory_slab_unreclaimable_bytes", "Unreclaimable slab (SUnreclaim).");
M(m_kernel_stack, "memory_kernel_stack_bytes", "Kernel stacks (KernelStack).");
M(m_page_tables, "memory_page_tables_bytes", "Page tables (PageTables).");
M(m_commit_limit, "memory_commit_limit_bytes", "Memory allocatable under strict overcommit (CommitLimit).");
M(m_committed, "memory_committed_bytes", "Memory promised to processes (Committed_AS).");
M(m_vmalloc, "memory_vmalloc_used_bytes", "vmalloc space in use (VmallocUsed).");
M(m_percpu, "memory_percpu_bytes", "Per-CPU allocations (Percpu).");
M(m_anon_huge, "memory_anon_hugepages_bytes", "Anonymous transparent huge pages (AnonHugePages).");
M(m_hugetlb, "memory_hugetlb_bytes", "Memory in hugetlb pools, all sizes (Hugetlb).");

static const struct {
	const char *key;
	const struct metric_desc *desc;
} fields[MEMINFO_MAX] = {
	[MEMINFO_MEM_TOTAL] = { "MemTotal", &m_total },
	[MEMINFO_MEM_FREE] = { "MemFree", &m_free },
	[MEMINFO_MEM_AVAILABLE] = { "MemAvailable", &m_available },
	[MEMINFO_BUFFERS] = { "Buffers", &m_buffers },
	[MEMINFO_CACHED] = { "Cached", &m_cached },
	[MEMINFO_SWAP_CACHED] = { "SwapCached", &m_swap_cached },
	[MEMINFO_ACTIVE] = { "Active", &m_active },
	[MEMINFO_INACTIVE] = { "Inactive", &m_inactive },
	[MEMINFO_ACTIVE_ANON] = { "Active(anon)", &m_active_anon },
	[MEMINFO_INACTIVE_ANON] = { "Inactive(anon)", &m_inactive_anon },
	[MEMINFO_ACTIVE_FILE] = { "Active(file)", &m_active_file },
	[MEMINFO_INACTIVE_FILE] = { "Inactive(file)", &m_inactive_file },
	[MEMINFO_UNEVICTABLE] = { "Unevictable", &m_unevictable },
	[MEMINFO_MLOCKED] = { "Mlocked", &m_mlocked },
	[MEMINFO_SWAP_TOTAL] = { "SwapTotal", &m_swap_total },
	[MEMINFO_SWAP_FREE] = { "SwapFree", &m_swap_free },
	[MEMINFO_DIRTY] = { "Dirty", &m_dirty },
	[MEMINFO_WRITEBACK] = { "Writeback", &m_writeback },
	[MEMINFO_ANON_PAGES] = { "AnonPages", &m_anon },
	[MEMINFO_MAPPED] = { "Mapped", &m_mapped },
	[MEMINFO_SHMEM] = { "Shmem", &m_shmem },
	[MEMINFO_KRECLAIMABLE] = { "KReclaimable", &m_kreclaimable },
	[MEMINFO_SLAB] = { "Slab", &m_slab },
	[MEMINFO_SRECLAIMABLE] = { "SReclaimable", &m_sreclaimable },
	[MEMINFO_SUNRECLAIM] = { "SUnreclaim", &m_sunreclaim },
	[MEMINFO_KERNEL_STACK] = { "KernelStack", &m_kernel_stack },
	[MEMINFO_PAGE_TABLES] = { "PageTables", &m_page_tables },
	[MEMINFO_COMMIT_LIMIT] = { "CommitLimit", &m_commit_limit },
	[MEMINFO_COMMITTED_AS] = { "Committed_AS", &m_committed },
	[MEMINFO_VMALLOC_USED] = { "VmallocUsed", &m_vmalloc },
	[MEMINFO_PERCPU] = { "Percpu", &m_percpu },
	[MEMINFO_ANON_HUGE_PAGES] = { "AnonHugePages", &m_anon_huge },
	[MEMINFO_HUGETLB] = { "Hugetlb", &m_hugetlb },
};

static const struct metric_desc *const meminfo_metrics[] = {
	&m_total, &m_free, &m_available, &m_buffers, &m_cached, &m_swap_cached,
	&m_active, &m_inactive, &m_active_anon, &m_inactive_anon, &m_active_file,
	&m_inactive_file, &m_unevictable, &m_mlocked, &m_swap_total, &m_swap_free,
	&m_dirty, &m_writeback, &m_anon, &m_mapped, &m_shmem, &m_kreclaimable,
	&m_slab, &m_sreclaimable, &m_sunreclaim, &m_kernel_stack, &m_page_tables,
	&m_commit_limit, &m_committed, &m_vmalloc, &m_percpu, &m_anon_huge, &m_hugetlb,
	NULL,
};

static int field_index(const char *key, size_t n)
{
	for (int i = 0; i < MEMINFO_MAX; i++)
		if (strlen(fields[i].key) == n && memcmp(fields[i].key, key, n) == 0)
			return i;
	return -1;
}

int meminfo_parse(const char *buf, size_t len, struct meminfo *ret)
{
	struct meminfo mi = {0};
	struct keyval_iter it;
	struct keyval kv;
	int r;

	keyval_init(&it, buf, len, ':');
	while ((r = keyval_next(&it, &kv)) > 0) {
		int i = field_index(kv.key, kv.key_len), unit;
		uint64_t v;

		unit = keyval_u64(&kv, &v);
		if (unit < 0)
			return -EBADMSG;
		if (unit == KEYVAL_PLAIN && i >= 0 && fields[i].desc->unit)
			return -EBADMSG; /* a byte field without its unit */
		if (i >= 0) {
			mi.bytes[i] = v;
			mi.present |= 1ull << i;
		}
	}
	if (r < 0)
		return r;
	if (!(mi.present & (1ull << MEMINFO_MEM_TOTAL)) || !(mi.present & (1ull << MEMINFO_MEM_FREE)))
		return -EBADMSG;
	*ret = mi;
	return 0;
}

int meminfo_read(const char *proc_root, struct meminfo *ret)
{
	char path[PATH_MAX], buf[8192];
	int r;

	snprintf(path, sizeof(path), "%s/meminfo", proc_root);
	r = procfile_read(AT_FDCWD, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	return meminfo_parse(buf, (size_t)r, ret);
}

/* --- the collector: keeps the file open between ticks ------------------- */

struct state {
	int fd;
	char path[PATH_MAX];
};

static int collector_init(const struct collector_ctx *ctx, void **ret_state)
{
	struct state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	snprintf(st->path, sizeof(st->path), "%s/meminfo", ctx->proc_root);
	st->fd = -1;
	*ret_state = st;
	return 0;
}

static int collector_read(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct state *st = state;
	struct meminfo mi;
	char buf[8192];
	int r;

	if (st->fd < 0) {
		st->fd = procfile_open(AT_FDCWD, st->path);
		if (st->fd < 0) {
			r = st->fd;
			err->n[r == -ENOENT ? COLLECTOR_ABSENT : COLLECTOR_UNREADABLE]++;
			return r;
		}
	}
	r = procfile_pread(st->fd, buf, sizeof(buf));
	if (r < 0) {
		err->n[COLLECTOR_UNREADABLE]++;
		/* Reopen next time: the file may have been replaced (fixtures). */
		close(st->fd);
		st->fd = -1;
		return r;
	}
	r = meminfo_parse(buf, (size_t)r, &mi);
	if (r < 0) {
		err->n[COLLECTOR_PARSE]++;
		return r;
	}
	for (int i = 0; i < MEMINFO_MAX; i++) {
		if (!(mi.present & (1ull << i)))
			continue;
		r = snapshot_add(snap, fields[i].desc, (double)mi.bytes[i], NULL);
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
	if (st->fd >= 0)
		close(st->fd);
	free(st);
}

const struct collector meminfo_collector = {
	.name = "meminfo",
	.metrics = meminfo_metrics,
	.init = collector_init,
	.read = collector_read,
	.done = collector_done,
};
