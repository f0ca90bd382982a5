/* SPDX-License-Identifier: MIT */
/* bpf_rss: interval peaks of watched processes' rss; the user side of bpf/rss_stat.bpf.c.
 *
 * A watched process is an entry in the program's hash map, keyed by pid,
 * holding the process's start time so that a reused pid is not taken for
 * it. The table here (pid -> start time, sorted by pid) mirrors the map and
 * bounds it: the program never creates entries.
 *
 * Intervals: the program writes interval e's peak to slot[e & 1] tagged
 * with e. rss_stat_read() bumps the epoch (sequentially consistent store),
 * then reads slot[old & 1]; a slot tagged with another epoch means no rss
 * change in the interval. Epoch 0 is never used, so a fresh (zeroed) entry
 * never looks current.
 */
#include "rss_stat.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_support.h"
#include "rss_stat_abi.h"
#include "rss_stat.skel.h"
#include "rss_stat.nokfunc.skel.h"

struct watch {
	pid_t pid;
	uint64_t start_ticks;
};

struct rss_stat {
	struct rss_stat_bpf *skel;
	int map_fd;
	size_t page_size;
	struct watch *w; /* sorted by pid */
	size_t n, cap;
	struct rss_stat_stats st;
};

/* Index of pid in r->w, or -(insertion point) - 1. */
static long find(const struct rss_stat *r, pid_t pid)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->w[mid].pid == pid)
			return (long)mid;
		if (r->w[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static void drop(struct rss_stat *r, size_t i)
{
	__u32 key = (__u32)r->w[i].pid;

	(void)bpf_map_delete_elem(r->map_fd, &key);
	memmove(&r->w[i], &r->w[i + 1], (r->n - i - 1) * sizeof(r->w[0]));
	r->n--;
}

int rss_stat_new(size_t max_watch, struct rss_stat **ret, struct bpf_failure *f)
{
	struct rss_stat *r;
	long tck;
	int ncpu, err;

	if (max_watch == 0 || max_watch > UINT32_MAX || !ret)
		return -EINVAL;
	err = bpf_support_check("rss_stat", "rss_stat", NULL, f);
	if (err < 0)
		return err;
	ncpu = bpf_support_nr_cpus();
	if (ncpu < 0)
		return bpf_support_libbpf_error(ncpu, "rss_stat", "possible CPUs", f);
	tck = sysconf(_SC_CLK_TCK);
	if (tck <= 0)
		tck = 100;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->w = calloc(max_watch, sizeof(r->w[0]));
	if (!r->w) {
		free(r);
		return -ENOMEM;
	}
	r->cap = max_watch;
	r->page_size = (size_t)sysconf(_SC_PAGESIZE);

	r->skel = BPF_SUPPORT_OPEN(rss_stat);
	if (!r->skel) {
		err = bpf_support_libbpf_error(-errno, "rss_stat", "open", f);
		goto fail;
	}
	r->skel->rodata->nr_cpus = (__u32)ncpu;
	r->skel->rodata->task_mem_test_reject = bpf_support_test_reject("rss_stat");
	r->skel->rodata->ns_per_tick = 1000000000ull / (__u64)tck;
	err = bpf_map__set_max_entries(r->skel->maps.peaks, (__u32)max_watch);
	if (err) {
		err = bpf_support_libbpf_error(err, "rss_stat", "map size", f);
		goto fail;
	}
	r->skel->bss->epoch = 1;
	err = bpf_support_load(r->skel->skeleton, "rss_stat", (unsigned)ncpu, f);
	if (err)
		goto fail;
	r->map_fd = bpf_map__fd(r->skel->maps.peaks);
	r->st.programs = 1;
	r->st.exact = (__u32)ncpu <= r->skel->rodata->exact_max_cpus;
	r->st.portable = bpf_support_portable(r->skel->skeleton);
	*ret = r;
	return 0;
fail:
	rss_stat_free(r);
	return err;
}

struct rss_stat *rss_stat_free(struct rss_stat *r)
{
	if (!r)
		return NULL;
	rss_stat_bpf__destroy(r->skel);
	free(r->w);
	free(r);
	return NULL;
}

int rss_stat_watch(struct rss_stat *r, pid_t pid, uint64_t start_ticks)
{
	struct rss_stat_entry v = { .start_ticks = start_ticks };
	__u32 key = (__u32)pid;
	long i;

	if (pid <= 0)
		return -EINVAL;
	i = find(r, pid);
	if (i >= 0) {
		if (r->w[i].start_ticks == start_ticks)
			return 0;
		/* Another process under the same pid: start over. */
		drop(r, (size_t)i);
		i = find(r, pid);
	}
	if (r->n == r->cap) {
		r->st.map_full++;
		return -ENOSPC;
	}
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return -ESRCH;
	if (bpf_map_update_elem(r->map_fd, &key, &v, BPF_ANY) < 0) {
		r->st.errors++;
		return -errno;
	}
	i = -i - 1;
	memmove(&r->w[i + 1], &r->w[i], (r->n - (size_t)i) * sizeof(r->w[0]));
	r->w[i].pid = pid;
	r->w[i].start_ticks = start_ticks;
	r->n++;
	return 0;
}

int rss_stat_unwatch(struct rss_stat *r, pid_t pid)
{
	long i = find(r, pid);

	if (i < 0)
		return -ENOENT;
	drop(r, (size_t)i);
	return 0;
}

bool rss_stat_watching(const struct rss_stat *r, pid_t pid)
{
	return find(r, pid) >= 0;
}

int rss_stat_read(struct rss_stat *r, struct rss_stat_peak *out, size_t cap, size_t *ret_n)
{
	__u32 old, next;
	size_t i = 0, n = 0;
	int ret = 0;

	old = __atomic_load_n(&r->skel->bss->epoch, __ATOMIC_RELAXED);
	next = old + 1 == 0 ? 1 : old + 1;
	/* Sequentially consistent: ordered before the lookups below (the
	 * other half of the Dekker pair in rss_stat.bpf.c). */
	__atomic_store_n(&r->skel->bss->epoch, next, __ATOMIC_SEQ_CST);

	while (i < r->n) {
		struct rss_stat_entry v;
		struct rss_stat_peak p = { .pid = r->w[i].pid };
		__u32 key = (__u32)r->w[i].pid;

		if (bpf_map_lookup_elem(r->map_fd, &key, &v) < 0) {
			/* Only we delete entries: a missing one is an error of
			 * ours; put it back. */
			struct rss_stat_entry z = { .start_ticks = r->w[i].start_ticks };

			r->st.errors++;
			(void)bpf_map_update_elem(r->map_fd, &key, &z, BPF_ANY);
			i++;
			goto emit;
		}
		{
			__u64 w = v.slot[old & 1];

			if (RSS_STAT_SLOT_EPOCH(w) == old) {
				p.changed = true;
				p.peak_bytes = (uint64_t)RSS_STAT_SLOT_PAGES(w) * r->page_size;
			}
		}
		/* Gone: its last interval is reported, then it is unwatched.
		 * (A zombie still answers: it is gone once reaped.) */
		if (kill(p.pid, 0) < 0 && errno == ESRCH) {
			r->st.vanished++;
			p.err = -ESRCH;
			drop(r, i);
			goto emit;
		}
		i++;
emit:
		if (n < cap)
			out[n++] = p;
		else
			ret = -ENOBUFS;
	}
	*ret_n = n;
	return ret;
}

void rss_stat_stats(const struct rss_stat *r, struct rss_stat_stats *ret)
{
	*ret = r->st;
	ret->watched = r->n;
}

bool rss_stat_portable(const struct rss_stat *r)
{
	return r->st.portable;
}
