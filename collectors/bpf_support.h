/* SPDX-License-Identifier: MIT */
/* BPF support: what this kernel and this process can do with BPF, and why not, as data.
 *
 * Two audiences. `memagent --probe` calls bpf_support_probe() and prints one
 * line per feature. The four BPF modules (bpf_rss, oomkill, exits, taskiter)
 * use the helpers below to check preconditions before loading and to turn a
 * failure into a one-line reason; nothing here logs.
 *
 * Privileges (kernel >= 5.8; CAP_SYS_ADMIN alone also does):
 *   - every program here is a tracing program (tp_btf, iter): CAP_BPF +
 *     CAP_PERFMON to load and attach;
 *   - maps (task storage, ring buffer, arrays): CAP_BPF;
 *   - reading the ring buffers, the task-storage map and the iterator needs
 *     only the fds, no capability;
 *   - kernel.bpf_stats_enabled (benchmarks only): CAP_SYS_ADMIN;
 *   - bpf_support_memcg_path()'s fast path (open_by_handle_at):
 *     CAP_DAC_READ_SEARCH; without it the hierarchy is walked instead.
 * RLIMIT_MEMLOCK: since 5.11 BPF memory is charged to the memory cgroup, not
 * to RLIMIT_MEMLOCK, and libbpf >= 1.0 raises the limit by itself only on
 * older kernels (its LIBBPF_STRICT_AUTO_RLIMIT_MEMLOCK behaviour, always on
 * in 1.x), so the agent never touches it; BPF_FEATURE_MEMLOCK reports which
 * case applies.
 */
#ifndef MEMAGENT_BPF_SUPPORT_H
#define MEMAGENT_BPF_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"

enum bpf_feature {
	BPF_FEATURE_BTF,          /* /sys/kernel/btf/vmlinux: CO-RE and tp_btf */
	BPF_FEATURE_PRIVILEGE,    /* CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN */
	BPF_FEATURE_MEMLOCK,      /* whether RLIMIT_MEMLOCK matters (informative) */
	BPF_FEATURE_RINGBUF,      /* BPF_MAP_TYPE_RINGBUF (5.8) */
	BPF_FEATURE_TASK_STORAGE, /* BPF_MAP_TYPE_TASK_STORAGE (5.11) */
	BPF_FEATURE_RSS_STAT,     /* bpf_rss: loads, attaches */
	BPF_FEATURE_MARK_VICTIM,  /* oomkill: loads, attaches */
	BPF_FEATURE_PROCESS_EXIT, /* exits: loads, attaches */
	BPF_FEATURE_TASK_ITER,    /* taskiter: loads, attaches, reads a pass */
	BPF_FEATURE_MAX
};

struct bpf_feature_status {
	bool available;
	int err;       /* 0, or the negative errno that made it unavailable */
	char why[192]; /* unavailable: the reason; available: a short detail */
};

/* The feature's name for output ("btf", "privilege", "rss_stat", ...). */
const char *bpf_feature_name(enum bpf_feature f);

/* Fills ret[f] for every feature. Loads and attaches every program for real
 * (and detaches them), so it takes a few tens of milliseconds. Returns the
 * number of features available. */
int bpf_support_probe(struct bpf_feature_status ret[BPF_FEATURE_MAX]);

/* --- for the BPF modules --------------------------------------------------- */

/* Checks what every module needs before it loads anything: kernel BTF,
 * privilege, and, when tracepoint is not NULL, that the kernel has that
 * BTF tracepoint (btf_trace_<tracepoint>). When ret_nargs is not NULL it
 * receives the tracepoint's argument count. Returns 0, or -EOPNOTSUPP (no
 * BTF, or no such tracepoint: kernel too old), -EPERM (no privilege), with
 * the reason in why. Also silences libbpf (see bpf_support_libbpf_error()). */
int bpf_support_check(const char *tracepoint, int *ret_nargs, char *why, size_t whylen);

/* libbpf prints warnings on stderr by default; the modules must not. After
 * bpf_support_check() libbpf's messages are kept per thread instead, and
 * this turns the last failure into a reason: err (a negative errno from
 * libbpf) and the verifier's error line when there is one
 * ("what: verifier rejected prog 'x': R1 invalid mem access 'scalar'").
 * Returns err. */
int bpf_support_libbpf_error(int err, const char *what, char *why, size_t whylen);

/* Runs a module's percpu_offsets_init program (bpf/task_mem.bpf.h) and
 * checks it filled nr_cpus offsets. Returns 0 or a negative errno. */
int bpf_support_percpu_init(int prog_fd, unsigned nr_cpus);

/* Possible CPUs, as the per-CPU loops of the programs need them; -errno on
 * failure, -E2BIG beyond what the programs handle. */
int bpf_support_nr_cpus(void);

/* Resolves a memory cgroup id (the kernfs id the programs report, which is
 * the inode number of the cgroup's directory) to its path below the memory
 * hierarchy's root ("/a/b", "/" for the root). cgroup_root is the cgroupfs
 * mount point ("/sys/fs/cgroup"); the memory hierarchy is cgroup_root/memory
 * (v1), else cgroup_root/unified or cgroup_root itself when its
 * cgroup.controllers lists memory (v2). Tries open_by_handle_at() first
 * (one syscall; needs CAP_DAC_READ_SEARCH), then walks the hierarchy, at
 * most 100000 directories deep-first. Returns the path length, -ENOENT
 * (no such cgroup: it may have been removed since), -ENOBUFS, or -errno. */
int bpf_support_memcg_path(const char *cgroup_root, uint64_t id, char *buf, size_t len);

/* --- self metrics ----------------------------------------------------------- */

/* The families every BPF user reports under, one series per program
 * ({program="rss_stat"} ...): each must be one family in a snapshot, so
 * they are defined once here. NULL-terminated. */
extern const struct metric_desc *const bpf_support_metrics[];

enum {
	BPF_REPORT_LOST = 1u << 0,     /* the program has a ring buffer: events lost */
	BPF_REPORT_MAP_FULL = 1u << 1, /* the program has a bounded map: map full */
};

/* Adds memagent_bpf_enabled{program} (1 when loaded and attached), and per
 * which, memagent_bpf_events_lost_total and memagent_bpf_map_full_total.
 * Returns 0 or -ENOMEM. */
int bpf_support_report(struct snapshot *s, const char *program, bool enabled, unsigned which,
		       uint64_t lost, uint64_t map_full);

#endif
