/* SPDX-License-Identifier: MIT */
/* tp_btf/rss_stat: the peak resident memory of each watched process within the current interval.
 *
 * The tracepoint fires on every change of an mm's rss counters: each page
 * fault, each zap batch, and reclaim acting on other processes' memory. The
 * change is attributed to the mm's owner (mm->owner, CONFIG_MEMCG), never to
 * current, and stored on the owner's thread-group leader.
 *
 * Cost model: the program runs for every process, so an unwatched process
 * must cost as little as possible: one failed task-storage lookup (a pointer
 * test when the task has no BPF storage at all). Measured on this VM with
 * kernel.bpf_stats_enabled (whose own clock reads cost about 40 ns of the
 * figure): empty program 40 ns, unwatched 48 ns, watched 55-70 ns, against
 * 60-75 ns for a per-pid hash map.
 *
 * Invariants:
 * - slot[e & 1] is written only while epoch == e, and only upwards (compare
 *   and swap); nothing resets a slot (see rss_stat.h).
 * - The reader bumps epoch, then reads the old slot. A program that read the
 *   old epoch and writes after the reader looked re-reads epoch after its
 *   fully ordered compare-and-swap and raises the new slot too: of the two
 *   (reader's store then load, our store then load) at least one sees the
 *   other's store, so no value is lost to both intervals.
 */
#include "task_mem.bpf.h"
#include "rss_stat.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Entries are created only by user space (a pidfd key), never here: the map
 * holds exactly the watched processes, bounded by the collector's table. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rss_stat_peaks);
} peaks SEC(".maps");

/* The current interval; written by user space only. */
volatile __u32 epoch;

const volatile __u32 exact_max_cpus = RSS_STAT_EXACT_MAX_CPUS;

/* Raises slot to pages for interval e unless it already holds at least that
 * much for e. Bounded retries: losing the race four times in a row means
 * other CPUs are writing values of the same instant. */
static __always_inline void slot_raise(__u64 *slot, __u32 e, __u64 pages)
{
	__u64 want = ((__u64)e << 32) | pages;

	for (int i = 0; i < 4; i++) {
		__u64 old = *(volatile __u64 *)slot;

		if (RSS_STAT_SLOT_EPOCH(old) == e && RSS_STAT_SLOT_PAGES(old) >= pages)
			return;
		if (__sync_val_compare_and_swap(slot, old, want) == old)
			return;
	}
}

SEC("tp_btf/rss_stat")
int BPF_PROG(on_rss_stat, struct mm_struct *mm, int member)
{
	struct rss_stat_peaks *p;
	struct task_struct *owner;
	struct mem_counts c;
	__u64 pages;
	__u32 e, e2;

	if (member == MM_SWAPENTS)
		return 0;
	owner = mm->owner;
	if (!owner)
		return 0;
	p = bpf_task_storage_get(&peaks, owner->group_leader, 0, 0);
	if (!p)
		return 0;
	if (nr_cpus <= exact_max_cpus) {
		mm_counts_exact(mm, &c);
		pages = c.file + c.anon + c.shmem;
	} else {
		pages = mm_rss_local(mm);
	}
	if (pages > RSS_STAT_PAGES_MAX)
		pages = RSS_STAT_PAGES_MAX;
	e = epoch;
	slot_raise(&p->slot[e & 1], e, pages);
	e2 = epoch;
	if (e2 != e)
		slot_raise(&p->slot[e2 & 1], e2, pages);
	return 0;
}
