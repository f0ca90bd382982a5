/* SPDX-License-Identifier: MIT */
/* gc_usdt: libgengc's gengc:gc__done USDT probe counted per process and GC kind by BPF. */
#ifndef MEMAGENT_GC_USDT_H
#define MEMAGENT_GC_USDT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define GC_USDT_PAUSE_BUCKETS 32 /* bucket i: pauses in [2^i, 2^(i+1)) us, the last open */

struct bpf_failure;
struct gc_usdt;

/* Loads the program (attached to nothing yet), for uprobe_multi links when
 * the kernel has them. Returns 0, or a negative errno with f filled (no
 * BTF, no privilege, a refusing kernel). */
int gc_usdt_new(struct gc_usdt **ret, struct bpf_failure *f);
/* Detaches everything and frees; NULL-safe; returns NULL. */
struct gc_usdt *gc_usdt_free(struct gc_usdt *o);

/* Attaches to gengc:gc__done in the ELF file at path (an executable or
 * libgengc.so), for every process that maps it (the uprobe follows the
 * file, not a pid). Each file is attached once (by device and inode, which
 * the caller gives). Returns 1 when attached now, 0 when it already was,
 * -ENOENT when the file has no such probe (remembered: not tried again),
 * -ENOSPC past the attachment bound, -ESTALE when path no longer names
 * (dev, ino), -EPERM when the kernel wants CAP_SYS_ADMIN (perf uprobes on
 * patched kernels before 6.6), or another negative errno. Cost: the first
 * call per file parses its ELF notes. */
int gc_usdt_attach(struct gc_usdt *o, const char *path, dev_t dev, ino_t ino);

struct gc_usdt_counts {
	uint64_t count;
	uint64_t pause_sum_ns;
	uint64_t hist[GC_USDT_PAUSE_BUCKETS];
};
/* The counts of tgid's GCs of kind (0 scavenge, 1 mark-sweep, 2
 * mark-compact) so far. Returns 0, or -ENOENT when none was seen. */
int gc_usdt_read(struct gc_usdt *o, pid_t tgid, uint32_t kind, struct gc_usdt_counts *ret);
/* Forgets tgid (it exited): its entries leave the map. */
void gc_usdt_forget(struct gc_usdt *o, pid_t tgid);
/* Whether files are attached with uprobe_multi links (kernel 6.6+: no
 * CAP_SYS_ADMIN, no perf_event_open) rather than perf uprobes. */
bool gc_usdt_multi(const struct gc_usdt *o);
/* Events that found the map full. */
uint64_t gc_usdt_dropped(const struct gc_usdt *o);

#endif
