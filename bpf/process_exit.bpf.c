/* SPDX-License-Identifier: MIT */
/* tp_btf/sched_process_exit: an event per exiting process with its lifetime, high-water rss and faults.
 *
 * Since 6.16 the tracepoint is TP_PROTO(struct task_struct *p, bool
 * group_dead) and kernel/exit.c:do_exit() fires it after group_dead is known,
 * after signal->maxrss was updated (setmax_mm_hiwater_rss()) and before
 * exit_mm(): p->mm is still there, so the final image's high-water mark and
 * rss can be read. Exactly one thread of a group passes group_dead, so a
 * process is counted once.
 *
 * Before 6.16 the tracepoint had no group_dead and fired after exit_mm().
 * on_process_exit_legacy (user space picks one program by looking at the
 * tracepoint's BTF prototype) reads group death from signal->live and has
 * only signal->maxrss for the high-water mark.
 *
 * The group's fault counts are those of /proc/PID/stat: signal->min_flt
 * (threads already released) plus every thread still on the thread list,
 * the exiting one included. Threads that exited but are not yet released
 * are still on the list, so nothing is counted twice or missed.
 */
#include "task_mem.bpf.h"
#include "process_exit_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define PF_KTHREAD 0x00200000

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024); /* ~2300 events; user space may resize */
} events SEC(".maps");

/* Thread groups already reported by the pre-6.16 programs, which cannot
 * tell which exiting thread is the last (see on_exit_legacy()). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} reported SEC(".maps");

/* Events that did not fit the ring buffer. */
__u64 lost;

/* Wake the consumer only once this much waits (set by user space: a
 * quarter of the ring). A wakeup is an irq_work, i.e. a self-IPI: measured
 * here it took a record from 0.4 us to 12.5 us when the consumer waited on
 * every one, so wakeups are batched and the consumer also polls each tick. */
const volatile __u64 wakeup_bytes = 64 * 1024;

/* Sums min_flt/maj_flt over the group's live thread list. The list is
 * walked with scalar addresses (task_mem.bpf.h): the entries are reached
 * through untyped list pointers, and container_of() on a pointer is math
 * some verifiers refuse. */
static __always_inline void group_faults(struct task_struct *p, struct signal_struct *sig,
					 struct process_exit_rec *e, const bool fast)
{
	__u64 head, pos, node, minf, majf;

	e->min_flt = sig->min_flt;
	e->maj_flt = sig->maj_flt;
	if (!bpf_core_field_exists(sig->thread_head) || !bpf_core_field_exists(p->thread_node))
		return;
	node = bpf_core_field_offset(struct task_struct, thread_node);
	minf = bpf_core_field_offset(struct task_struct, min_flt);
	majf = bpf_core_field_offset(struct task_struct, maj_flt);
	head = tm_read_u64((__u64)&p->signal, fast) +
	       bpf_core_field_offset(struct signal_struct, thread_head);
	pos = tm_read_u64(head, fast); /* head->next */
	for (int i = 0; i < PROCESS_EXIT_MAX_THREADS; i++) {
		__u64 t;

		if (pos == head || pos == 0)
			return;
		t = pos - node;
		e->min_flt += tm_read_u64(t + minf, fast);
		e->maj_flt += tm_read_u64(t + majf, fast);
		pos = tm_read_u64(pos, fast); /* node->next */
	}
	if (pos != head)
		e->flags |= PROCESS_EXIT_F_THREADS_TRUNCATED;
}

static __always_inline int emit(struct task_struct *p, __u32 flags, const bool fast)
{
	struct task_struct *leader = p->group_leader;
	struct signal_struct *sig = p->signal;
	struct process_exit_rec *e;
	struct mm_struct *mm;
	__u64 now = bpf_ktime_get_boot_ns();

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->pid = p->tgid;
	e->ppid = leader->real_parent->tgid;
	e->flags = flags;
	if (p->flags & PF_KTHREAD)
		e->flags |= PROCESS_EXIT_F_KTHREAD;
	e->exit_code = p->exit_code;
	e->start_boottime_ns = leader->start_boottime;
	e->lifetime_ns = now - e->start_boottime_ns;
	e->rss_pages = 0;
	e->hiwater_rss_pages = 0;
	mm = p->mm;
	if (mm && !(p->flags & PF_KTHREAD)) {
		struct mem_counts c;

		mm_counts_exact(mm, &c, fast);
		e->rss_pages = c.anon + c.file + c.shmem;
		e->hiwater_rss_pages = mm->hiwater_rss > e->rss_pages ? mm->hiwater_rss
								     : e->rss_pages;
	} else {
		e->flags |= PROCESS_EXIT_F_NO_MM;
	}
	e->maxrss_pages = sig->maxrss;
	group_faults(p, sig, e, fast);
	e->memcg_id = task_memcg_id(p);
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), leader->comm);
	bpf_ringbuf_submit(e, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes
				      ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

/* The four programs: (6.16+ prototype, or the one before) x (fast, or
 * portable reads: task_mem.bpf.h). User space loads one. */
static __always_inline int on_exit(struct task_struct *p, bool group_dead, const bool fast)
{
	TASK_MEM_REJECT_IF_TESTING();
	if (!group_dead)
		return 0;
	return emit(p, 0, fast);
}

static __always_inline int on_exit_legacy(struct task_struct *p, const bool fast)
{
	TASK_MEM_REJECT_IF_TESTING();
	/* signal->live drops to 0 with the last thread's exit, but the
	 * tracepoint fires later, so threads exiting together can all see 0:
	 * one report per process. */
	if (p->signal->live.counter != 0)
		return 0;
	if (!once_per_process(&reported, p->tgid, p->group_leader->start_boottime))
		return 0;
	return emit(p, PROCESS_EXIT_F_LEGACY, fast);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_process_exit, struct task_struct *p, bool group_dead)
{
	return on_exit(p, group_dead, true);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_process_exit_portable, struct task_struct *p, bool group_dead)
{
	return on_exit(p, group_dead, false);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_process_exit_legacy, struct task_struct *p)
{
	return on_exit_legacy(p, true);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_process_exit_legacy_portable, struct task_struct *p)
{
	return on_exit_legacy(p, false);
}
