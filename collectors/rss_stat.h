/* SPDX-License-Identifier: MIT */
/* bpf_rss: the peak resident memory of watched processes between two reads, from tp_btf/rss_stat.
 *
 * Polling rss every few seconds misses a spike that comes and goes between
 * two samples. The kernel program (bpf/rss_stat.bpf.c) sees every change of
 * a watched process's rss counters and keeps the interval's highest value;
 * rss_stat_read() closes the interval, starts the next and returns the peaks.
 *
 *   struct rss_stat *r; struct bpf_failure f;
 *   if (rss_stat_new(256, &r, &f) < 0) ...run on /proc only, say f.why...
 *   rss_stat_watch(r, pid, start_ticks);
 *   ...each tick: rss_stat_read(r, peaks, n, &got); peak = max(peak, current rss)...
 *   rss_stat_free(r);
 *
 * Only this module touches the rss_stat skeleton. Not thread-safe: one
 * owner (the sampler) calls everything. Needs CAP_BPF + CAP_PERFMON.
 */
#ifndef MEMAGENT_BPF_RSS_H
#define MEMAGENT_BPF_RSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_failure;
struct rss_stat;

/* One watched process's interval. */
struct rss_stat_peak {
	pid_t pid;
	int err;             /* 0, or -ESRCH: the process is gone and is no longer watched */
	bool changed;        /* its rss changed during the interval; else peak_bytes is 0
			      * and the peak is the current rss */
	uint64_t peak_bytes; /* highest anon + file + shmem seen in the interval */
};

struct rss_stat_stats {
	uint64_t watched;  /* processes watched now */
	uint64_t map_full; /* watches refused because max_watch were watched */
	uint64_t vanished; /* watched processes found gone */
	uint64_t errors;   /* other failed map operations */
	unsigned programs; /* programs loaded and attached: 1 */
	bool exact;        /* peaks are exact per-CPU sums (hosts with few CPUs), else
			    * count + this CPU's residue (see docs/bpf.md) */
	bool portable;     /* the portable variant is loaded (bpf/task_mem_abi.h) */
};

/* Loads and attaches the program; at most max_watch (>= 1) processes can be
 * watched. Returns 0 and *ret, or a negative errno with the reason in f (no
 * BTF, no privilege, missing kernel feature, verifier ...); *ret is then
 * untouched and everything the attempt allocated is freed. f may be NULL. */
int rss_stat_new(size_t max_watch, struct rss_stat **ret, struct bpf_failure *f);

/* Detaches and frees everything. NULL-safe; returns NULL. */
struct rss_stat *rss_stat_free(struct rss_stat *r);

/* Starts watching pid (a process, i.e. a thread-group id) whose start time
 * is start_ticks (/proc/PID/stat field 22): changes of another process that
 * reuses the pid are never counted. Its first interval starts now. Returns
 * 0 (also when already watched with that start time; another start time
 * starts over), -ENOSPC when max_watch processes are watched (counted in
 * map_full), -ESRCH when there is no such process, or another negative
 * errno. */
int rss_stat_watch(struct rss_stat *r, pid_t pid, uint64_t start_ticks);

/* Stops watching pid. Returns 0 or -ENOENT when it was not watched. */
int rss_stat_unwatch(struct rss_stat *r, pid_t pid);

bool rss_stat_watching(const struct rss_stat *r, pid_t pid);

/* Ends the current interval and starts the next, then writes one entry per
 * process watched during the interval just ended (at most cap; the rest is
 * dropped and -ENOBUFS returned after writing cap) in pid order. Processes
 * found gone are reported with err -ESRCH and unwatched. Returns 0 and
 * *ret_n, or a negative errno. Cost: one bpf() syscall per watched process. */
int rss_stat_read(struct rss_stat *r, struct rss_stat_peak *out, size_t cap, size_t *ret_n);

void rss_stat_stats(const struct rss_stat *r, struct rss_stat_stats *ret);

/* Whether the portable variant is loaded (bpf/task_mem_abi.h). */
bool rss_stat_portable(const struct rss_stat *r);

#endif
