/* SPDX-License-Identifier: MIT */
/* iter/task: every process's memory counters in one pass, the fast backend of the process collector.
 *
 * One read() pass over the iterator's fd replaces an open/read/close of
 * /proc/PID/{stat,status} per process. The task iterator visits every task
 * (threads included) in pid order; a leader emits its process record, any
 * other thread only its fault counts, which the reader adds to its
 * process's: the leader's record carries signal->min_flt (threads already
 * released) plus its own, so the folded sum is what /proc/PID/stat reports.
 *
 * The memory figures are those of /proc/PID/status: exact per-CPU sums of
 * the rss counters (task_mem.bpf.h), VmHWM as max(hiwater_rss, rss).
 */
#include "task_mem.bpf.h"
#include "task_iter_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define PF_KTHREAD 0x00200000

static __always_inline int visit(struct seq_file *seq, struct task_struct *t, const bool fast)
{
	struct task_iter_proc_rec r;
	struct mm_struct *mm;

	TASK_MEM_REJECT_IF_TESTING();
	if (!t)
		return 0;
	if (t->pid != t->tgid) {
		struct task_iter_thread_rec th = {
			.kind = TASK_ITER_THREAD,
			.pid = t->tgid,
			.min_flt = t->min_flt,
			.maj_flt = t->maj_flt,
		};

		bpf_seq_write(seq, &th, sizeof(th));
		return 0;
	}
	__builtin_memset(&r, 0, sizeof(r));
	r.kind = TASK_ITER_PROC;
	r.pid = t->tgid;
	r.ppid = t->real_parent->tgid;
	r.nr_threads = t->signal->nr_threads;
	r.start_boottime_ns = t->start_boottime;
	r.memcg_id = task_memcg_id(t);
	r.min_flt = t->signal->min_flt + t->min_flt;
	r.maj_flt = t->signal->maj_flt + t->maj_flt;
	if (t->flags & PF_KTHREAD)
		r.flags |= TASK_ITER_F_KTHREAD;
	mm = t->mm;
	if (mm && !(t->flags & PF_KTHREAD)) {
		struct mem_counts c;
		__u64 rss;

		mm_counts_exact(mm, &c, fast);
		r.rss_anon_pages = c.anon;
		r.rss_file_pages = c.file;
		r.rss_shmem_pages = c.shmem;
		r.swap_pages = c.swap;
		r.total_vm_pages = mm->total_vm;
		rss = c.anon + c.file + c.shmem;
		r.hiwater_rss_pages = mm->hiwater_rss > rss ? mm->hiwater_rss : rss;
	} else {
		r.flags |= TASK_ITER_F_NO_MM;
	}
	__builtin_memcpy(r.comm, t->comm, sizeof(r.comm));
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}

SEC("iter/task")
int task_iter(struct bpf_iter__task *ctx)
{
	return visit(ctx->meta->seq, ctx->task, true);
}

SEC("iter/task")
int task_iter_portable(struct bpf_iter__task *ctx)
{
	return visit(ctx->meta->seq, ctx->task, false);
}
