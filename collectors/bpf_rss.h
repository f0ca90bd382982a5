/* SPDX-License-Identifier: MIT */
/* bpf_rss: the peak resident memory of watched processes between two reads, from tp_btf/rss_stat.
 *
 * Polling rss every few seconds misses a spike that comes and goes between
 * two samples. The kernel program (bpf/rss_stat.bpf.c) sees every change of
 * a watched process's rss counters and keeps the interval's highest value;
 * bpf_rss_read() closes the interval, starts the next and returns the peaks.
 *
 *   struct bpf_rss *r; char why[128];
 *   if (bpf_rss_new(256, &r, why, sizeof(why)) < 0) ...run on /proc only, say why...
 *   bpf_rss_watch(r, pid);
 *   ...each tick: bpf_rss_read(r, peaks, n, &got); peak = max(peak, current rss)...
 *   bpf_rss_free(r);
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

struct bpf_rss;

/* One watched process's interval. */
struct bpf_rss_peak {
	pid_t pid;
	int err;             /* 0, or -ESRCH: the process is gone and is no longer watched */
	bool changed;        /* its rss changed during the interval; else peak_bytes is 0
			      * and the peak is the current rss */
	uint64_t peak_bytes; /* highest anon + file + shmem seen in the interval */
};

struct bpf_rss_stats {
	uint64_t watched;  /* processes watched now */
	uint64_t map_full; /* watches refused because max_watch were watched */
	uint64_t vanished; /* watched processes found gone */
	uint64_t errors;   /* other failed map operations */
	unsigned programs; /* programs loaded and attached: 1 */
	bool exact;        /* peaks are exact per-CPU sums (hosts with few CPUs), else
			    * count + this CPU's residue (see docs/bpf.md) */
};

/* Loads and attaches the program; at most max_watch (>= 1) processes can be
 * watched. Returns 0 and *ret, or a negative errno with a one-line reason in
 * why (no BTF, no privilege, kernel too old, verifier rejected ...); *ret is
 * then untouched. why may be NULL. */
int bpf_rss_new(size_t max_watch, struct bpf_rss **ret, char *why, size_t whylen);

/* Detaches and frees everything. NULL-safe; returns NULL. */
struct bpf_rss *bpf_rss_free(struct bpf_rss *r);

/* Starts watching pid (a process, i.e. a thread-group leader). Its first
 * interval starts now. Returns 0 (also when already watched), -ENOSPC when
 * max_watch processes are watched (counted in map_full), -ESRCH when there
 * is no such process, -EINVAL when pid is a thread that is not a leader,
 * or another negative errno. Holds one pidfd per watched process. */
int bpf_rss_watch(struct bpf_rss *r, pid_t pid);

/* Stops watching pid. Returns 0 or -ENOENT when it was not watched. */
int bpf_rss_unwatch(struct bpf_rss *r, pid_t pid);

bool bpf_rss_watching(const struct bpf_rss *r, pid_t pid);

/* Ends the current interval and starts the next, then writes one entry per
 * process watched during the interval just ended (at most cap; the rest is
 * dropped and -ENOBUFS returned after writing cap) in pid order. Processes
 * found gone are reported with err -ESRCH and unwatched. Returns 0 and
 * *ret_n, or a negative errno. Cost: one bpf() syscall per watched process. */
int bpf_rss_read(struct bpf_rss *r, struct bpf_rss_peak *out, size_t cap, size_t *ret_n);

void bpf_rss_stats(const struct bpf_rss *r, struct bpf_rss_stats *ret);

#endif
