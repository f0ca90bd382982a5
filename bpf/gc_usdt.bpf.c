/* SPDX-License-Identifier: MIT */
/* Counts libgengc's gengc:gc__done events per process and GC kind, with a pause histogram.
 *
 * Attached by user space (collectors/gc_usdt.c) to the binaries that carry
 * the probe; nothing attaches on load. Aggregated in a hash map, not one
 * record per event: a GC is frequent, a sample is not. The map is bounded;
 * an event that finds no room is counted in `dropped`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "gc_usdt_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GC_USDT_MAX_ENTRIES);
	__type(key, struct gc_usdt_key);
	__type(value, struct gc_usdt_val);
} gc_events SEC(".maps");

__u64 dropped;

static __always_inline __u32 bucket_of(__u64 pause_ns)
{
	__u64 us = pause_ns / 1000;
	__u32 b = 0;

	for (int i = 0; i < GC_USDT_BUCKETS - 1; i++) {
		if (us < 2)
			break;
		us >>= 1;
		b++;
	}
	return b;
}

SEC("usdt")
int BPF_USDT(gc_done, __u32 kind, __u64 pause_ns, __u64 before, __u64 after)
{
	struct gc_usdt_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .kind = kind };
	struct gc_usdt_val *v, zero = {};
	__u32 b;

	if (kind >= GC_USDT_KINDS)
		return 0;
	v = bpf_map_lookup_elem(&gc_events, &k);
	if (!v) {
		bpf_map_update_elem(&gc_events, &k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&gc_events, &k);
		if (!v) {
			__sync_fetch_and_add(&dropped, 1);
			return 0;
		}
	}
	b = bucket_of(pause_ns);
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->pause_sum_ns, pause_ns);
	if (b < GC_USDT_BUCKETS)
		__sync_fetch_and_add(&v->hist[b], 1);
	return 0;
}
