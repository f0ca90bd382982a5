/* SPDX-License-Identifier: MIT */
/* tp_btf/mark_victim: an event per process the OOM killer kills, with its rss and memory cgroup.
 *
 * mark_oom_victim() traces once per thread (TIF_MEMDIE is tested and set
 * before the tracepoint), but more than one thread of a dying victim can be
 * marked: a thread of a process already killed that runs into the OOM killer
 * again is marked as well. `reported` remembers (tgid, start time) of recent
 * victims so that a process is reported once; it is an LRU, so it is bounded
 * and a reused pid with another start time is reported again.
 *
 * OOM kills are rare, so this program may be thorough: exact rss sums and
 * the cgroup path resolved here, while the cgroup surely still exists (the
 * agent may look only after it was removed).
 */
#include "task_mem.bpf.h"
#include "mark_victim_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024); /* ~110 events; user space may resize */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} reported SEC(".maps");

/* Events that did not fit the ring buffer. */
__u64 lost;

/* Appends "/name" of each node from the hierarchy's root down to kn. The
 * root itself has no name in the path ("/" alone means the root cgroup). */
static __always_inline void memcg_path(struct kernfs_node *kn, struct mark_victim_rec *e)
{
	struct kernfs_node *chain[MARK_VICTIM_PATH_DEPTH];
	__u32 off = 0;
	int n = 0;

	for (int i = 0; i < MARK_VICTIM_PATH_DEPTH; i++) {
		if (!kn || !kn_parent(kn))
			break;
		chain[i] = kn;
		n = i + 1;
		kn = kn_parent(kn);
	}
	if (kn && kn_parent(kn))
		e->flags |= MARK_VICTIM_F_PATH_TRUNCATED;
	for (int i = MARK_VICTIM_PATH_DEPTH - 1; i >= 0; i--) {
		const char *name;
		__u32 pos;
		long len;

		if (i >= n)
			continue;
		/* A component starts below PATH_LEN / 2 and takes at most
		 * PATH_LEN / 2 - 1 bytes: the buffer cannot overflow. */
		if (off >= MARK_VICTIM_PATH_LEN / 2 - 1) {
			e->flags |= MARK_VICTIM_F_PATH_TRUNCATED;
			break;
		}
		pos = off;
		barrier_var(pos);
		e->memcg_path[pos & (MARK_VICTIM_PATH_LEN / 2 - 1)] = '/';
		pos = off + 1;
		barrier_var(pos);
		pos &= MARK_VICTIM_PATH_LEN / 2 - 1;
		name = BPF_CORE_READ(chain[i], name);
		len = bpf_probe_read_kernel_str(&e->memcg_path[pos], MARK_VICTIM_PATH_LEN / 2 - 1,
						name);
		if (len <= 1)
			break;
		off = pos + (__u32)len - 1;
	}
	if (off == 0)
		e->memcg_path[0] = '/';
}

static __always_inline int on_victim(struct task_struct *tsk, const bool fast)
{
	struct task_struct *leader = tsk->group_leader;
	struct mark_victim_rec *e;
	struct mm_struct *mm;
	__u32 tgid = tsk->tgid;
	__u64 start = leader->start_boottime;

	TASK_MEM_REJECT_IF_TESTING();
	if (!once_per_process(&reported, tgid, start))
		return 0;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = tgid;
	e->tid = tsk->pid;
	e->uid = BPF_CORE_READ(tsk, cred, uid.val);
	e->oom_score_adj = BPF_CORE_READ(tsk, signal, oom_score_adj);
	e->timestamp_ns = bpf_ktime_get_boot_ns();
	mm = tsk->mm;
	if (mm) {
		struct mem_counts c;

		mm_counts_exact(mm, &c, fast);
		e->rss_anon_pages = c.anon;
		e->rss_file_pages = c.file;
		e->rss_shmem_pages = c.shmem;
		e->swap_pages = c.swap;
		e->total_vm_pages = mm->total_vm;
		e->pgtables_bytes = mm->pgtables_bytes.counter;
	} else {
		e->flags |= MARK_VICTIM_F_NO_MM;
	}
	e->memcg_id = task_memcg_id(tsk);
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), leader->comm);
	memcg_path(task_memcg_kn(tsk), e);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(on_mark_victim, struct task_struct *tsk)
{
	return on_victim(tsk, true);
}

SEC("tp_btf/mark_victim")
int BPF_PROG(on_mark_victim_portable, struct task_struct *tsk)
{
	return on_victim(tsk, false);
}
