/* SPDX-License-Identifier: MIT */
/* tp_btf/rss_stat: the peak resident memory of each watched process within the current interval.
 *
 * The tracepoint fires on every change of an mm's rss counters: each page
 * fault, each zap batch, and reclaim acting on other processes' memory. The
 * change is attributed to the mm's owner (mm->owner, CONFIG_MEMCG), never to
 * current, and looked up by the owner's thread-group id.
 *
 * Why a hash map keyed by pid and not task storage: bpf_task_storage_get()
 * needs a task pointer the verifier trusts, and mm->owner (then
 * ->group_leader) is a pointer walk it trusts on some kernels and
 * configurations and not on others ("R2 type=untrusted_ptr_ expected=ptr_,
 * trusted_ptr_, rcu_ptr_" on one 6.18 build, accepted on another). A pid is
 * a plain load on every kernel. Pid reuse is handled by the start time
 * stored with the entry. Measured with bench-bpf (bench/RESULTS.md): the
 * lookup miss of an unwatched process costs a few ns more than the task
 * storage miss did.
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
#include "rss_stat_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Entries are created only by user space, never here: the map holds
 * exactly the watched processes; user space sizes it to its table. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* Entries come and go with user space's updates only; allocating
	 * them then keeps an idle agent's kernel memory small. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rss_stat_entry);
} peaks SEC(".maps");

/* The current interval; written by user space only. */
volatile __u32 epoch;

const volatile __u32 exact_max_cpus = RSS_STAT_EXACT_MAX_CPUS;
/* Nanoseconds per clock tick (1e9 / sysconf(_SC_CLK_TCK)); set before load. */
const volatile __u64 ns_per_tick = 10000000;

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

static __always_inline int on_change(struct mm_struct *mm, int member, const bool fast)
{
	struct rss_stat_entry *p;
	struct task_struct *owner;
	__u64 pages;
	__u32 tgid, e, e2;

	TASK_MEM_REJECT_IF_TESTING();
	if (member == MM_SWAPENTS || !bpf_core_field_exists(mm->owner))
		return 0;
	owner = mm->owner;
	if (!owner)
		return 0;
	tgid = owner->tgid;
	p = bpf_map_lookup_elem(&peaks, &tgid);
	if (!p)
		return 0;
	if (owner->group_leader->start_boottime / ns_per_tick != p->start_ticks)
		return 0;
	if (nr_cpus <= exact_max_cpus) {
		struct mem_counts c;

		mm_counts_exact(mm, &c, fast);
		pages = c.file + c.anon + c.shmem;
	} else {
		pages = mm_rss_local(mm, fast);
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

/* Before 6.2 the tracepoint has a third argument (the new count); it is
 * not needed: the sum is read from the mm either way. */
SEC("tp_btf/rss_stat")
int BPF_PROG(on_rss_stat, struct mm_struct *mm, int member)
{
	return on_change(mm, member, true);
}

SEC("tp_btf/rss_stat")
int BPF_PROG(on_rss_stat_portable, struct mm_struct *mm, int member)
{
	return on_change(mm, member, false);
}
