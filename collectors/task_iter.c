/* SPDX-License-Identifier: MIT */
/* taskiter: the user side of bpf/task_iter.bpf.c: runs a pass, parses records, folds threads.
 *
 * Two passes give the same array. On 6.7+ (in the initial pid namespace,
 * fast reads chosen) the task-list walk: one BPF_PROG_TEST_RUN of
 * task_walk, whose process records (threads already folded) are read from
 * the mmapped walk_recs array and sorted by pid if pids wrapped. Elsewhere,
 * and for any pass with more processes than that array holds, iter/task,
 * which stays loaded and attached beside it:
 *
 * The stream is process records (one per thread-group leader) and thread
 * records (fault counts of other threads) in the kernel's pid order. A
 * thread usually follows its leader (its tid is larger), but after pid
 * wrap-around it may come first, so threads whose process is not yet in the
 * array wait in `pending` and are folded at the end. bpf_seq_read() never
 * splits a record across read() calls; the parser carries a partial record
 * over anyway rather than trust that.
 */
#include "task_iter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "array.h"
#include "bpf_support.h"
#include "task_iter_abi.h"
#include "task_iter.skel.h"
#include "task_iter.nokfunc.skel.h"

#define DEFAULT_MAX_PROCS 65536
#define READ_CHUNK (64 * 1024)

struct task_iter {
	struct task_iter_bpf *skel;
	struct bpf_link *link;
	size_t page_size;
	uint64_t ns_per_tick;
	size_t max_procs;
	struct task_iter_proc *procs;
	size_t n, cap;
	struct task_iter_thread_rec *pending;
	size_t npending, cappending;
	unsigned char *buf; /* READ_CHUNK + room for one carried-over record */
	struct task_iter_stats st;
	bool portable;
	/* The task-list walk (task_walk), when loaded: its records, mmapped. */
	const struct task_iter_proc_rec *walk;
	size_t walk_cap, walk_len;
	struct pid_key *order; /* walk_cap entries, for sorting a pass by pid */
};

struct pid_key {
	__u32 pid, idx;
};

/* Records the walk's array holds: the tasks alive now (threads included,
 * an upper bound on processes) with room to grow, at most max_procs. A
 * pass with more processes than this falls back to iter/task. */
static size_t walk_capacity(size_t max_procs)
{
	struct sysinfo si;
	size_t cap = 4096;

	if (sysinfo(&si) == 0)
		cap += (size_t)si.procs + si.procs / 2;
	return cap < max_procs ? cap : max_procs;
}

/* Opens and loads the skeleton, with the task-list walk or without it. */
static int load(struct task_iter *t, unsigned ncpu, bool walk, struct bpf_failure *f)
{
	int err;

	t->skel = BPF_SUPPORT_OPEN(task_iter);
	if (!t->skel)
		return bpf_support_libbpf_error(-errno, "task_iter", "open", f);
	t->skel->rodata->nr_cpus = (__u32)ncpu;
	t->skel->rodata->task_mem_test_reject = bpf_support_test_reject("task_iter");
	t->walk_cap = walk ? walk_capacity(t->max_procs) : 0;
	err = bpf_support_walk_size(t->skel->progs.task_walk, t->skel->maps.walk_recs, walk, t->walk_cap,
				    "task_iter", f);
	if (err)
		return err;
	return bpf_support_load(t->skel->skeleton, "task_iter", ncpu, f);
}

static int walk_map(struct task_iter *t)
{
	size_t len;
	const void *m = bpf_support_map_mmap(t->skel->maps.walk_recs,
					     t->walk_cap * sizeof(struct task_iter_proc_rec), &len);

	if (!m)
		return -errno;
	t->order = malloc(t->walk_cap * sizeof(*t->order));
	if (!t->order) {
		munmap((void *)m, len);
		return -ENOMEM;
	}
	t->walk = m;
	t->walk_len = len;
	return 0;
}

int task_iter_new(size_t max_procs, struct task_iter **ret, struct bpf_failure *f)
{
	struct task_iter *t;
	long tck;
	int ncpu, err;
	bool walk;

	if (!ret)
		return -EINVAL;
	err = bpf_support_check("task_iter", NULL, NULL, f);
	if (err < 0)
		return err;
	ncpu = bpf_support_nr_cpus();
	if (ncpu < 0)
		return bpf_support_libbpf_error(ncpu, "task_iter", "possible CPUs", f);
	tck = sysconf(_SC_CLK_TCK);
	if (tck <= 0)
		tck = 100;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->page_size = (size_t)sysconf(_SC_PAGESIZE);
	t->ns_per_tick = 1000000000ull / (uint64_t)tck;
	t->max_procs = max_procs ? max_procs : DEFAULT_MAX_PROCS;
	t->buf = malloc(READ_CHUNK + sizeof(struct task_iter_proc_rec));
	if (!t->buf) {
		err = -ENOMEM;
		goto fail;
	}
	/* The walk reads with the fast loads only; MEMAGENT_BPF_PORTABLE and
	 * MEMAGENT_TASK_ITER_NO_WALK=1 keep iter/task alone (tests of both). */
	walk = bpf_support_task_walk("MEMAGENT_TASK_ITER_NO_WALK");
	err = load(t, (unsigned)ncpu, walk, f);
	if (err && walk) {
		/* A verifier that refuses the walk still runs iter/task. */
		task_iter_bpf__destroy(t->skel);
		t->skel = NULL;
		walk = false;
		err = load(t, (unsigned)ncpu, false, f);
	}
	if (err)
		goto fail;
	/* The skeleton attached the iterator: each pass opens a new one. */
	t->link = bpf_support_link(t->skel->skeleton, "task_iter");
	if (!t->link) {
		err = bpf_support_libbpf_error(-ENOENT, "task_iter", "attach", f);
		goto fail;
	}
	if (walk && walk_map(t) < 0)
		t->walk = NULL; /* iter/task alone */
	t->st.programs = 1;
	t->portable = bpf_support_portable(t->skel->skeleton);
	*ret = t;
	return 0;
fail:
	task_iter_free(t);
	return err;
}

struct task_iter *task_iter_free(struct task_iter *t)
{
	if (!t)
		return NULL;
	if (t->walk)
		munmap((void *)t->walk, t->walk_len);
	free(t->order);
	task_iter_bpf__destroy(t->skel);
	free(t->procs);
	free(t->pending);
	free(t->buf);
	free(t);
	return NULL;
}

/* The process pid in t->procs[0..n), which is sorted by pid, or NULL. */
static struct task_iter_proc *find_proc(struct task_iter *t, pid_t pid)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->procs[mid].pid == pid)
			return &t->procs[mid];
		if (t->procs[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int add_proc(struct task_iter *t, const struct task_iter_proc_rec *r)
{
	struct task_iter_proc *p;
	int err;

	/* Pid order is the kernel's; a pass is sorted unless it is not (a
	 * task iterator restarting after a vanished task could repeat one):
	 * keep the array sorted and unique, which find_proc() relies on. */
	if (t->n > 0 && t->procs[t->n - 1].pid >= (pid_t)r->pid) {
		t->st.malformed++;
		return 0;
	}
	err = array_grow((void **)&t->procs, &t->cap, t->n + 1, sizeof(*t->procs), t->max_procs);
	if (err == -ENOSPC) {
		t->st.overflow++;
		return 0;
	}
	if (err < 0)
		return err;
	p = &t->procs[t->n++];
	memset(p, 0, sizeof(*p));
	p->pid = (pid_t)r->pid;
	p->ppid = (pid_t)r->ppid;
	p->threads = r->nr_threads;
	p->kthread = r->flags & TASK_ITER_F_KTHREAD;
	p->no_mm = r->flags & TASK_ITER_F_NO_MM;
	p->start_ns = r->start_boottime_ns;
	p->start_ticks = r->start_boottime_ns / t->ns_per_tick;
	p->memcg_id = r->memcg_id;
	p->rss_anon_bytes = r->rss_anon_pages * t->page_size;
	p->rss_file_bytes = r->rss_file_pages * t->page_size;
	p->rss_shmem_bytes = r->rss_shmem_pages * t->page_size;
	p->swap_bytes = r->swap_pages * t->page_size;
	p->vsize_bytes = r->total_vm_pages * t->page_size;
	p->hwm_bytes = r->hiwater_rss_pages * t->page_size;
	p->min_flt = r->min_flt;
	p->maj_flt = r->maj_flt;
	memcpy(p->comm, r->comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
	return 0;
}

static int add_thread(struct task_iter *t, const struct task_iter_thread_rec *r)
{
	struct task_iter_proc *p = find_proc(t, (pid_t)r->pid);
	int err;

	if (p) {
		p->min_flt += r->min_flt;
		p->maj_flt += r->maj_flt;
		return 0;
	}
	/* Bounded like the processes: threads waiting for a leader that comes
	 * later in the pass are rare (pid wrap-around). */
	err = array_grow((void **)&t->pending, &t->cappending, t->npending + 1, sizeof(*t->pending),
		   t->max_procs);
	if (err == -ENOSPC) {
		t->st.orphans++;
		return 0;
	}
	if (err < 0)
		return err;
	t->pending[t->npending++] = *r;
	return 0;
}

/* Parses whole records from buf[0..len); returns the bytes consumed. */
static ssize_t parse(struct task_iter *t, const unsigned char *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= sizeof(__u32)) {
		__u32 kind;
		int err;

		memcpy(&kind, buf + off, sizeof(kind));
		if (kind == TASK_ITER_PROC) {
			struct task_iter_proc_rec r;

			if (len - off < sizeof(r))
				break;
			memcpy(&r, buf + off, sizeof(r));
			err = add_proc(t, &r);
			off += sizeof(r);
		} else if (kind == TASK_ITER_THREAD) {
			struct task_iter_thread_rec r;

			if (len - off < sizeof(r))
				break;
			memcpy(&r, buf + off, sizeof(r));
			err = add_thread(t, &r);
			off += sizeof(r);
		} else {
			/* Out of step: nothing after this can be trusted. */
			t->st.malformed++;
			return -EPROTO;
		}
		if (err < 0)
			return err;
	}
	return (ssize_t)off;
}

static ssize_t parse_cb(void *arg, const unsigned char *buf, size_t len)
{
	return parse(arg, buf, len);
}

static int cmp_pid_key(const void *a, const void *b)
{
	const struct pid_key *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* One pass of the task-list walk into t->procs. The task list is in fork
 * order, which is pid order until pids wrap: then the records are sorted
 * through an index (8 bytes a record) first. Returns 0, 1 when the
 * processes did not fit the array (the caller runs iter/task instead), or
 * a negative errno. */
static int read_walk(struct task_iter *t)
{
	ssize_t got = bpf_support_walk_run(t->skel->progs.task_walk, &t->skel->bss->walk_n,
					   &t->skel->bss->walk_overflow, t->walk_cap);
	size_t n;
	bool sorted = true;

	if (got == -ENOSPC)
		return 1;
	if (got < 0)
		return (int)got;
	n = (size_t)got;
	for (size_t i = 0; i < n; i++) {
		t->order[i] = (struct pid_key){ t->walk[i].pid, (__u32)i };
		sorted = sorted && (i == 0 || t->walk[i].pid > t->walk[i - 1].pid);
	}
	if (!sorted)
		qsort(t->order, n, sizeof(*t->order), cmp_pid_key);
	for (size_t i = 0; i < n; i++) {
		int err = add_proc(t, &t->walk[t->order[i].idx]);

		if (err < 0)
			return err;
	}
	return 0;
}

int task_iter_read(struct task_iter *t, const struct task_iter_proc **ret_procs, size_t *ret_n)
{
	int fd, err = 0;

	if (t->walk) {
		t->n = 0;
		t->npending = 0;
		err = read_walk(t);
		if (err < 0) {
			t->n = 0;
			return err;
		}
		if (err == 0) {
			t->st.walks++;
			goto done;
		}
		t->st.walk_fallbacks++;
		err = 0;
	}
	fd = bpf_iter_create(bpf_link__fd(t->link));
	if (fd < 0)
		return fd;
	t->n = 0;
	t->npending = 0;
	err = bpf_support_iter_drain(fd, t->buf, READ_CHUNK, parse_cb, t, &t->st.malformed);
	if (err < 0) {
		t->n = 0;
		return err;
	}
	for (size_t i = 0; i < t->npending; i++) {
		struct task_iter_proc *p = find_proc(t, (pid_t)t->pending[i].pid);

		if (p) {
			p->min_flt += t->pending[i].min_flt;
			p->maj_flt += t->pending[i].maj_flt;
		} else {
			t->st.orphans++;
		}
	}
done:
	t->st.reads++;
	t->st.procs = t->n;
	*ret_procs = t->procs;
	*ret_n = t->n;
	return (int)t->n;
}

void task_iter_stats(const struct task_iter *t, struct task_iter_stats *ret)
{
	*ret = t->st;
}

bool task_iter_portable(const struct task_iter *t)
{
	return t->portable;
}
