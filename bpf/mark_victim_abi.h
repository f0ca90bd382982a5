/* SPDX-License-Identifier: MIT */
/* ABI between bpf/mark_victim.bpf.c and collectors/oomkill.c: one record per OOM-killed process.
 *
 * Fixed-width fields only; the including file provides __u32/__u64.
 */
#ifndef MEMAGENT_BPF_MARK_VICTIM_H
#define MEMAGENT_BPF_MARK_VICTIM_H

#define MARK_VICTIM_COMM_LEN 16
/* The memory cgroup's path below its hierarchy's root, "/a/b"; at most
 * MARK_VICTIM_PATH_DEPTH components are resolved. */
#define MARK_VICTIM_PATH_LEN 512
#define MARK_VICTIM_PATH_DEPTH 16

enum {
	MARK_VICTIM_F_PATH_TRUNCATED = 1u << 0, /* deeper or longer than the buffer */
	MARK_VICTIM_F_NO_MM = 1u << 1,          /* mm already gone: rss fields are 0 */
};

struct mark_victim_rec {
	__u32 pid;            /* thread-group id of the victim */
	__u32 tid;            /* the thread the kernel marked */
	__u32 uid;
	__s32 oom_score_adj;
	__u32 flags;          /* MARK_VICTIM_F_* */
	__u32 _pad;
	__u64 timestamp_ns;   /* CLOCK_BOOTTIME */
	__u64 rss_anon_pages; /* exact per-CPU sums, as /proc/PID/status */
	__u64 rss_file_pages;
	__u64 rss_shmem_pages;
	__u64 swap_pages;
	__u64 total_vm_pages;
	__u64 pgtables_bytes;
	__u64 memcg_id;       /* kernfs id = inode of the cgroup directory */
	char comm[MARK_VICTIM_COMM_LEN]; /* the thread-group leader's */
	char memcg_path[MARK_VICTIM_PATH_LEN];
};

#endif
