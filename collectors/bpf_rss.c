/* SPDX-License-Identifier: MIT */
/* bpf_rss: interval peaks of watched processes' rss; the user side of bpf/rss_stat.bpf.c.
 *
 * A watched process is an entry in the program's task-storage map, keyed by
 * a pidfd (the kernel attaches it to the process's leader task). The table
 * here maps pid -> pidfd, sorted by pid, and bounds the map: the program
 * never creates entries.
 *
 * Intervals: the program writes interval e's peak to slot[e & 1] tagged
 * with e. bpf_rss_read() bumps the epoch (sequentially consistent store),
 * then reads slot[old & 1]; a slot tagged with another epoch means no rss
 * change in the interval. Epoch 0 is never used, so a fresh (zeroed) entry
 * never looks current.
 */
#include "bpf_rss.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_support.h"
#include "rss_stat.h"
#include "rss_stat.skel.h"

struct watch {
	pid_t pid;
	int pidfd;
};

struct bpf_rss {
	struct rss_stat_bpf *skel;
	int map_fd;
	size_t page_size;
	struct watch *w; /* sorted by pid */
	size_t n, cap;
	struct bpf_rss_stats st;
};

/* Index of pid in r->w, or -(insertion point) - 1. */
static long find(const struct bpf_rss *r, pid_t pid)
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

static void drop(struct bpf_rss *r, size_t i)
{
	close(r->w[i].pidfd);
	memmove(&r->w[i], &r->w[i + 1], (r->n - i - 1) * sizeof(r->w[0]));
	r->n--;
}

int bpf_rss_new(size_t max_watch, struct bpf_rss **ret, char *why, size_t whylen)
{
	struct bpf_rss *r;
	int ncpu, err;

	if (max_watch == 0 || !ret)
		return -EINVAL;
	err = bpf_support_check("rss_stat", NULL, why, whylen);
	if (err < 0)
		return err;
	ncpu = bpf_support_nr_cpus();
	if (ncpu < 0)
		return bpf_support_libbpf_error(ncpu, "rss_stat: possible CPUs", why, whylen);

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

	r->skel = rss_stat_bpf__open();
	if (!r->skel) {
		err = bpf_support_libbpf_error(-errno, "rss_stat: open", why, whylen);
		goto fail;
	}
	r->skel->rodata->nr_cpus = (__u32)ncpu;
	err = rss_stat_bpf__load(r->skel);
	if (err) {
		err = bpf_support_libbpf_error(err, "rss_stat: load", why, whylen);
		goto fail;
	}
	err = bpf_support_percpu_init(bpf_program__fd(r->skel->progs.percpu_offsets_init),
				      (unsigned)ncpu);
	if (err) {
		err = bpf_support_libbpf_error(err, "rss_stat: per-CPU offsets", why, whylen);
		goto fail;
	}
	r->skel->bss->epoch = 1;
	err = rss_stat_bpf__attach(r->skel);
	if (err) {
		err = bpf_support_libbpf_error(err, "rss_stat: attach", why, whylen);
		goto fail;
	}
	r->map_fd = bpf_map__fd(r->skel->maps.peaks);
	r->st.programs = 1;
	r->st.exact = (__u32)ncpu <= r->skel->rodata->exact_max_cpus;
	*ret = r;
	return 0;
fail:
	bpf_rss_free(r);
	return err;
}

struct bpf_rss *bpf_rss_free(struct bpf_rss *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n; i++)
		close(r->w[i].pidfd);
	rss_stat_bpf__destroy(r->skel);
	free(r->w);
	free(r);
	return NULL;
}

/* Creates the task-storage entry for pidfd; an existing one is kept. */
static int storage_create(struct bpf_rss *r, int pidfd)
{
	struct rss_stat_peaks zero = { { 0, 0 } };

	if (bpf_map_update_elem(r->map_fd, &pidfd, &zero, BPF_NOEXIST) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int bpf_rss_watch(struct bpf_rss *r, pid_t pid)
{
	long i;
	int pidfd, err;

	if (pid <= 0)
		return -EINVAL;
	i = find(r, pid);
	if (i >= 0)
		return 0;
	if (r->n == r->cap) {
		r->st.map_full++;
		return -ENOSPC;
	}
	/* pidfds are always close-on-exec. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	err = storage_create(r, pidfd);
	if (err < 0) {
		close(pidfd);
		if (err != -ESRCH)
			r->st.errors++;
		return err;
	}
	i = -i - 1;
	memmove(&r->w[i + 1], &r->w[i], (r->n - (size_t)i) * sizeof(r->w[0]));
	r->w[i].pid = pid;
	r->w[i].pidfd = pidfd;
	r->n++;
	return 0;
}

int bpf_rss_unwatch(struct bpf_rss *r, pid_t pid)
{
	long i = find(r, pid);

	if (i < 0)
		return -ENOENT;
	/* Fails with ESRCH when the process is gone, and then the entry is
	 * gone with its task: nothing to undo either way. */
	(void)bpf_map_delete_elem(r->map_fd, &r->w[i].pidfd);
	drop(r, (size_t)i);
	return 0;
}

bool bpf_rss_watching(const struct bpf_rss *r, pid_t pid)
{
	return find(r, pid) >= 0;
}

int bpf_rss_read(struct bpf_rss *r, struct bpf_rss_peak *out, size_t cap, size_t *ret_n)
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
		struct rss_stat_peaks v;
		struct bpf_rss_peak p = { .pid = r->w[i].pid };

		if (bpf_map_lookup_elem(r->map_fd, &r->w[i].pidfd, &v) < 0) {
			int e = -errno;

			/* ENOENT: no task behind the pid any more (reaped), or
			 * the leader task changed under the pid (a thread
			 * exec'd) and the storage went with the old task. A
			 * null signal tells them apart. */
			if ((e == -ENOENT || e == -ESRCH) &&
			    syscall(SYS_pidfd_send_signal, r->w[i].pidfd, 0, NULL, 0) < 0 &&
			    errno == ESRCH) {
				r->st.vanished++;
				p.err = -ESRCH;
				drop(r, i);
				goto emit;
			}
			if (e == -ENOENT)
				e = storage_create(r, r->w[i].pidfd);
			if (e < 0)
				r->st.errors++;
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

void bpf_rss_stats(const struct bpf_rss *r, struct bpf_rss_stats *ret)
{
	*ret = r->st;
	ret->watched = r->n;
}
