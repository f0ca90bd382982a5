/* SPDX-License-Identifier: MIT */
/* ABI between bpf/task_iter.bpf.c and collectors/task_iter.c: the records one iterator pass emits.
 *
 * Fixed-width fields only; the including file provides __u32/__u64.
 *
 * The stream is a sequence of records, each starting with a __u32 kind that
 * fixes its size. One TASK_ITER_PROC record per thread-group leader, one
 * TASK_ITER_THREAD record per other thread (its fault counts only), in the
 * kernel's pid order; the reader folds threads into their process.
 */
#ifndef MEMAGENT_BPF_TASK_ITER_H
#define MEMAGENT_BPF_TASK_ITER_H

#define TASK_ITER_COMM_LEN 16

enum {
	TASK_ITER_PROC = 1,
	TASK_ITER_THREAD = 2,
};

enum {
	TASK_ITER_F_KTHREAD = 1u << 0, /* PF_KTHREAD */
	TASK_ITER_F_NO_MM = 1u << 1,   /* no mm (kernel thread, zombie): memory fields 0 */
};

struct task_iter_proc_rec {
	__u32 kind;              /* TASK_ITER_PROC */
	__u32 pid;               /* thread-group id */
	__u32 ppid;
	__u32 flags;             /* TASK_ITER_F_* */
	__u32 nr_threads;        /* signal->nr_threads */
	__u32 _pad;
	__u64 start_boottime_ns; /* /proc/PID/stat field 22 is this / (1e9 / USER_HZ) */
	__u64 memcg_id;
	__u64 rss_anon_pages;    /* exact per-CPU sums, as /proc/PID/status */
	__u64 rss_file_pages;
	__u64 rss_shmem_pages;
	__u64 swap_pages;
	__u64 total_vm_pages;    /* VmSize; stat's vsize = this * page size */
	__u64 hiwater_rss_pages; /* VmHWM: max(mm->hiwater_rss, rss) */
	__u64 min_flt;           /* signal's (released threads) + the leader's own */
	__u64 maj_flt;
	char comm[TASK_ITER_COMM_LEN];
};

struct task_iter_thread_rec {
	__u32 kind;              /* TASK_ITER_THREAD */
	__u32 pid;               /* thread-group id it belongs to */
	__u64 min_flt;
	__u64 maj_flt;
};

#endif
