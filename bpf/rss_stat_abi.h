/* SPDX-License-Identifier: MIT */
/* ABI between bpf/rss_stat.bpf.c and collectors/rss_stat.c: interval peaks of resident memory.
 *
 * Fixed-width fields only; the including file provides __u32/__u64
 * (vmlinux.h in BPF, <linux/types.h> in user space).
 *
 * Intervals are numbered by `epoch` (a .bss variable user space bumps).
 * Each watched process has an entry in a hash map keyed by its pid (the
 * thread-group id), created and deleted by user space only, holding its
 * start time (the identity: a reused pid with another start time is not
 * the watched process) and two slots; interval e is written to slot[e & 1]
 * as (e << 32) | pages. A slot whose epoch is not e holds an older interval's
 * peak: the interval saw no rss change, and the reader takes the current
 * rss. Nobody ever resets a slot, so no read-then-reset race exists.
 */
#ifndef MEMAGENT_BPF_RSS_STAT_H
#define MEMAGENT_BPF_RSS_STAT_H

struct rss_stat_entry {
	__u64 start_ticks; /* /proc/PID/stat field 22: start_boottime / ns_per_tick */
	__u64 slot[2];
};

#define RSS_STAT_SLOT_EPOCH(w) ((__u32)((w) >> 32))
#define RSS_STAT_SLOT_PAGES(w) ((__u32)(w))
#define RSS_STAT_PAGES_MAX 0xffffffffULL

/* rss_stat reads the exact sum of the per-CPU counters when the host has at
 * most this many possible CPUs (default), else count + this CPU's residue. */
#define RSS_STAT_EXACT_MAX_CPUS 8

#endif
