/* SPDX-License-Identifier: MIT */
/* taskiter: every process's memory counters in one pass of a BPF task iterator (iter/task, or the task-list walk on 6.7+).
 *
 * The fast backend of the process collector: one pass instead of
 * opening /proc/PID/{stat,status} for each process. The figures are what
 * /proc reports (see each field); what the kernel structures do not hold
 * cheaply (cmdline, exe) still comes from /proc.
 *
 *   struct task_iter *t; struct bpf_failure f;
 *   if (task_iter_new(0, &t, &f) < 0) ...use the /proc backend, say f.why...
 *   const struct task_iter_proc *p; size_t n;
 *   if (task_iter_read(t, &p, &n) >= 0) ...p[0..n) in pid order...
 *   task_iter_free(t);
 *
 * Only this module touches the task_iter skeleton. Not thread-safe: one
 * owner reads. Needs CAP_BPF + CAP_PERFMON to create; a pass is a bpf()
 * call too (an iterator fd, or the walk's test run).
 */
#ifndef MEMAGENT_TASKITER_H
#define MEMAGENT_TASKITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_failure;
struct task_iter;

struct task_iter_proc {
	pid_t pid;                /* thread-group id, as /proc/PID */
	pid_t ppid;               /* stat field 4 */
	uint32_t threads;         /* status Threads */
	bool kthread;             /* PF_KTHREAD */
	bool no_mm;               /* no memory (kernel thread, zombie): memory fields 0 */
	uint64_t start_ns;        /* CLOCK_BOOTTIME ns at start */
	uint64_t start_ticks;     /* stat field 22: start_ns / (1e9 / sysconf(_SC_CLK_TCK)) */
	uint64_t memcg_id;        /* inode of its memory cgroup's directory (v1 or v2) */
	uint64_t rss_anon_bytes;  /* status RssAnon */
	uint64_t rss_file_bytes;  /* status RssFile */
	uint64_t rss_shmem_bytes; /* status RssShmem; VmRSS is the sum of the three */
	uint64_t swap_bytes;      /* status VmSwap */
	uint64_t vsize_bytes;     /* stat field 23, status VmSize */
	uint64_t hwm_bytes;       /* status VmHWM */
	uint64_t min_flt;         /* stat field 10, whole group */
	uint64_t maj_flt;         /* stat field 12, whole group */
	char comm[16];            /* stat field 2 / comm */
};

struct task_iter_stats {
	uint64_t reads;     /* passes completed */
	uint64_t procs;     /* processes in the last pass */
	uint64_t overflow;  /* processes dropped because max_procs were read */
	uint64_t orphans;   /* thread records whose process vanished mid-pass */
	uint64_t malformed; /* records that made no sense (never, unless ABI skew) */
	unsigned programs;  /* programs loaded and attached: 1 */
	uint64_t walks;     /* passes run by the task-list walk (6.7+), not iter/task */
	uint64_t walk_fallbacks; /* passes too large for the walk's array: iter/task ran */
};

/* Loads the iterator program and attaches it (an iterator link; nothing
 * runs until a read), and on 6.7+ the task-list walk beside it (a record
 * array of 120 bytes × (1.5 × tasks now + 4096), at most max_procs, in
 * kernel memory; a walk the verifier refuses is left out, not an error).
 * max_procs bounds a pass (0: 65536); processes beyond
 * it are dropped and counted. Returns 0 and *ret, or a negative errno with
 * the reason in f; *ret is then untouched and what the attempt allocated
 * freed. f may be NULL. */
int task_iter_new(size_t max_procs, struct task_iter **ret, struct bpf_failure *f);

/* Whether the portable variant is loaded (bpf/task_mem_abi.h). */
bool task_iter_portable(const struct task_iter *t);

/* Detaches and frees everything, including the last pass's array.
 * NULL-safe; returns NULL. */
struct task_iter *task_iter_free(struct task_iter *t);

/* Runs one pass: every process of the system, threads folded into their
 * process, in pid order. *ret_procs points into t and stays valid until the
 * next task_iter_read() or task_iter_free(). Returns the number of processes
 * (also in *ret_n), or a negative errno (then nothing is written).
 * Cost: about a microsecond per process (docs/bpf.md). */
int task_iter_read(struct task_iter *t, const struct task_iter_proc **ret_procs, size_t *ret_n);

void task_iter_stats(const struct task_iter *t, struct task_iter_stats *ret);

#endif
