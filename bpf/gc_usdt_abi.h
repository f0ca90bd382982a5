/* SPDX-License-Identifier: MIT */
/* ABI between bpf/gc_usdt.bpf.c and collectors/gc_usdt.c: GC events of libgengc's gengc:gc__done probe, per process and kind.
 *
 * Fixed-width fields only; the including file provides __u32/__u64.
 */
#ifndef MEMAGENT_BPF_GC_USDT_H
#define MEMAGENT_BPF_GC_USDT_H

#define GC_USDT_KINDS 3          /* enum gengc_gc_kind: scavenge, mark-sweep, mark-compact */
#define GC_USDT_BUCKETS 32       /* bucket i: pauses in [2^i, 2^(i+1)) us, the last open */
#define GC_USDT_MAX_ENTRIES 4096 /* (tgid, kind) pairs: events of others are dropped, counted */

struct gc_usdt_key {
	__u32 tgid;
	__u32 kind;
};

struct gc_usdt_val {
	__u64 count;
	__u64 pause_sum_ns;
	__u64 hist[GC_USDT_BUCKETS];
};

#endif
