/* SPDX-License-Identifier: MIT */
/* ABI between bpf/process_exit.bpf.c and collectors/process_exit.c: one record per exited process (thread group).
 *
 * Fixed-width fields only; the including file provides __u32/__u64.
 */
#ifndef MEMAGENT_BPF_PROCESS_EXIT_H
#define MEMAGENT_BPF_PROCESS_EXIT_H

#define PROCESS_EXIT_COMM_LEN 16
/* Threads walked to sum the group's fault counts. */
#define PROCESS_EXIT_MAX_THREADS 256

enum {
	PROCESS_EXIT_F_KTHREAD = 1u << 0,   /* a kernel thread */
	PROCESS_EXIT_F_NO_MM = 1u << 1,     /* mm already released (kernels before 6.16,
					     * or a kernel thread): rss and hiwater are 0 */
	PROCESS_EXIT_F_THREADS_TRUNCATED = 1u << 2, /* faults of threads beyond the
						      * walk limit are missing */
	PROCESS_EXIT_F_LEGACY = 1u << 3,    /* pre-6.16 tracepoint: group death read from
					     * signal->live, which two threads exiting at
					     * once can both see as 0 */
};

struct process_exit_rec {
	__u32 pid;               /* thread-group id */
	__u32 ppid;              /* thread-group id of the real parent */
	__u32 flags;             /* PROCESS_EXIT_F_* */
	__s32 exit_code;         /* as wait(2) would see it: (code << 8) | signal */
	__u64 start_boottime_ns; /* the leader's start, CLOCK_BOOTTIME */
	__u64 lifetime_ns;       /* exit time minus start */
	__u64 rss_pages;         /* anon + file + shmem at exit (exact sums) */
	__u64 hiwater_rss_pages; /* max(mm->hiwater_rss, rss): VmHWM of the final image */
	__u64 maxrss_pages;      /* signal->maxrss: getrusage()'s ru_maxrss, which also
				  * covers images replaced by execve() */
	__u64 min_flt;           /* the whole group's, as /proc/PID/stat */
	__u64 maj_flt;
	__u64 memcg_id;
	char comm[PROCESS_EXIT_COMM_LEN]; /* the leader's */
};

#endif
