/* SPDX-License-Identifier: MIT */
/* iter/task and the task-list walk: every process's memory counters in one pass, the fast backend of the process collector.
 *
 * One pass replaces an open/read/close of /proc/PID/{stat,status} per
 * process. Two programs make it, the same record either way:
 *   - task_walk (6.7+, SEC("syscall"), bottom of the file): an open-coded
 *     task iterator over the task list, records into an mmapped array;
 *   - task_iter / task_iter_portable (iter/task, every kernel): the task
 *     iterator visits every task (threads included) in pid order; a leader
 *     emits its process record, any other thread only its fault counts,
 *     which the reader adds to its process's.
 * The leader's record carries signal->min_flt (threads already released)
 * plus its own, so the folded sum is what /proc/PID/stat reports.
 *
 * The memory figures are those of /proc/PID/status: exact per-CPU sums of
 * the rss counters (task_mem.bpf.h), VmHWM as max(hiwater_rss, rss).
 *
 * Cost at N = 10000 idle processes (bench-agent; perf record -g), and what
 * was tried. With iter/task a pass cost ~9.5 ms of the agent's 11 ms cycle:
 * 40 % this program (first touches of each task's task_struct, mm_struct
 * and per-CPU counters), 30 % the kernel's pid walk feeding it
 * (task_seq_get_next(): an idr lookup, get_pid_task() with its reference
 * taken and dropped on a cold task, pid_nr_ns()). The walk drops the second
 * part: next_task() follows a list, takes no reference, and a thread
 * follows its leader, so faults fold here and no thread record crosses to
 * user space. Measured on the same population, interleaved, twice: a pass
 * 9.5 -> 3.1-3.7 ms, the agent's cycle 15.5 -> 7.9-8.1 ms CPU on a loaded
 * machine (bench/RESULTS.md). What lost: hoisting the per-CPU layout check
 * out of the per-CPU loop (those lines are hot already: no difference).
 * Not tried, since the walk met the target: reading fewer fields per task
 * (the cost is one miss per distinct cache line, and most lines read hold
 * several fields we need), fewer read()s of the iterator fd (the user
 * buffer is 64 KiB already; the kernel's seq buffer bounds each read),
 * caching per-pid label strings in user space (~15 % of the cycle).
 */
#include "task_mem.bpf.h"
#include "task_iter_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define PF_KTHREAD 0x00200000

/* Fills *r from the thread-group leader t. */
static __always_inline void proc_record(struct task_iter_proc_rec *r, struct task_struct *t,
					const bool fast)
{
	struct mm_struct *mm;

	r->kind = TASK_ITER_PROC;
	r->pid = t->tgid;
	r->ppid = t->real_parent->tgid;
	r->nr_threads = t->signal->nr_threads;
	r->start_boottime_ns = t->start_boottime;
	r->memcg_id = task_memcg_id(t);
	r->min_flt = t->signal->min_flt + t->min_flt;
	r->maj_flt = t->signal->maj_flt + t->maj_flt;
	if (t->flags & PF_KTHREAD)
		r->flags |= TASK_ITER_F_KTHREAD;
	mm = t->mm;
	if (mm && !(t->flags & PF_KTHREAD)) {
		struct mem_counts c;
		__u64 rss;

		mm_counts_exact(mm, &c, fast);
		r->rss_anon_pages = c.anon;
		r->rss_file_pages = c.file;
		r->rss_shmem_pages = c.shmem;
		r->swap_pages = c.swap;
		r->total_vm_pages = mm->total_vm;
		rss = c.anon + c.file + c.shmem;
		r->hiwater_rss_pages = mm->hiwater_rss > rss ? mm->hiwater_rss : rss;
	} else {
		r->flags |= TASK_ITER_F_NO_MM;
	}
	__builtin_memcpy(r->comm, t->comm, sizeof(r->comm));
}

static __always_inline int visit(struct seq_file *seq, struct task_struct *t, const bool fast)
{
	struct task_iter_proc_rec r;

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
	proc_record(&r, t, fast);
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

/* ---------------------------------------------------------------------------
 * The task-list walk (6.7+): a SEC("syscall") program user space runs with
 * BPF_PROG_TEST_RUN. The open-coded task iterator follows the task list
 * (next_task(), then each process's threads) instead of looking every pid
 * up in the pid idr and taking a reference on its task, which is what
 * iter/task's task_seq_get_next() does and what cost 30 % of a pass at
 * N = 10000 (get_pid_task, pid_nr_ns). A thread follows its leader here, so
 * its faults are folded into the leader's record in the kernel and only
 * process records are written, into walk_recs (mmapped by user space).
 * Used only where the kernel has bpf_iter_task_new (BTF, checked by the
 * user side before load); elsewhere the iter/task programs above run.
 */

#include "kfunc.bpf.h"

#define WALK_ALL_THREADS 1 /* BPF_TASK_ITER_ALL_THREADS */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by user space before load */
	__type(key, __u32);
	__type(value, struct task_iter_proc_rec);
} walk_recs SEC(".maps");

/* Results of the last walk: records written, processes that did not fit. */
__u32 walk_n;
__u32 walk_overflow;

SEC("syscall")
int task_walk(void *ctx)
{
	struct task_iter_proc_rec *cur = NULL;
	struct bpf_iter_task it;
	struct task_struct *t;
	__u32 n = 0, over = 0;

	TASK_MEM_REJECT_IF_TESTING();
	bpf_rcu_read_lock();
	bpf_iter_task_new(&it, NULL, WALK_ALL_THREADS);
	while ((t = bpf_iter_task_next(&it))) {
		if (t->pid == 0)
			continue; /* init_task, the idle task: not in /proc */
		if (t->pid != t->tgid) {
			if (cur && cur->pid == (__u32)t->tgid) {
				cur->min_flt += t->min_flt;
				cur->maj_flt += t->maj_flt;
			}
			continue;
		}
		cur = bpf_map_lookup_elem(&walk_recs, &n);
		if (!cur) {
			over++;
			continue;
		}
		__builtin_memset(cur, 0, sizeof(*cur));
		proc_record(cur, t, true);
		n++;
	}
	bpf_iter_task_destroy(&it);
	bpf_rcu_read_unlock();
	walk_n = n;
	walk_overflow = over;
	return 0;
}
