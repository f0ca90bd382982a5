/* SPDX-License-Identifier: MIT */
/* exits: the user side of bpf/process_exit.bpf.c: picks the program for this kernel, decodes records.
 *
 * Which program: on 6.16+ sched_process_exit has a group_dead argument and
 * fires before exit_mm(); before, it had one argument and fired after. The
 * tracepoint's BTF prototype tells them apart (two arguments or one), so
 * exactly one of the two programs is loaded.
 */
#include "process_exit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_support.h"
#include "process_exit_abi.h"
#include "process_exit.skel.h"
#include "process_exit.nokfunc.skel.h"

struct process_exit {
	struct process_exit_bpf *skel;
	struct ring_buffer *rb;
	size_t page_size;
	/* Valid only during process_exit_poll(). */
	process_exit_cb cb;
	void *cb_arg;
	struct process_exit_stats st;
};

int process_exit_decode(const void *data, size_t size, size_t page_size, struct process_exit_event *ret)
{
	const struct process_exit_rec *e = data;
	struct process_exit_event ev;

	if (size < sizeof(*e))
		return -EBADMSG;
	memset(&ev, 0, sizeof(ev));
	ev.pid = (pid_t)e->pid;
	ev.ppid = (pid_t)e->ppid;
	ev.exit_code = e->exit_code;
	ev.kthread = e->flags & PROCESS_EXIT_F_KTHREAD;
	ev.no_mm = e->flags & PROCESS_EXIT_F_NO_MM;
	ev.faults_truncated = e->flags & PROCESS_EXIT_F_THREADS_TRUNCATED;
	ev.legacy = e->flags & PROCESS_EXIT_F_LEGACY;
	ev.start_boottime_ns = e->start_boottime_ns;
	ev.lifetime_ns = e->lifetime_ns;
	ev.rss_bytes = e->rss_pages * page_size;
	ev.hiwater_rss_bytes = e->hiwater_rss_pages * page_size;
	ev.maxrss_bytes = e->maxrss_pages * page_size;
	/* Before 6.16 the record comes after exit_mm(): the final image's
	 * high-water mark is gone, but do_exit() folded it into
	 * signal->maxrss first, so that is the closest peak there is. */
	ev.peak_rss_bytes = ev.no_mm ? ev.maxrss_bytes : ev.hiwater_rss_bytes;
	ev.min_flt = e->min_flt;
	ev.maj_flt = e->maj_flt;
	ev.memcg_id = e->memcg_id;
	memcpy(ev.comm, e->comm, sizeof(ev.comm));
	ev.comm[sizeof(ev.comm) - 1] = '\0';
	*ret = ev;
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct process_exit *x = ctx;
	struct process_exit_event ev;

	if (process_exit_decode(data, size, x->page_size, &ev) < 0) {
		x->st.malformed++;
		return 0;
	}
	x->st.events++;
	if (x->cb)
		x->cb(x->cb_arg, &ev);
	return 0;
}

int process_exit_new(size_t ring_bytes, struct process_exit **ret, struct bpf_failure *f)
{
	struct process_exit *x;
	int ncpu, nargs = 0, err;
	bool legacy;

	if (!ret)
		return -EINVAL;
	err = bpf_support_check("sched_process_exit", "sched_process_exit", &nargs, f);
	if (err < 0)
		return err;
	legacy = nargs < 2;
	ncpu = bpf_support_nr_cpus();
	if (ncpu < 0)
		return bpf_support_libbpf_error(ncpu, "sched_process_exit", "possible CPUs", f);

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->page_size = (size_t)sysconf(_SC_PAGESIZE);
	x->skel = BPF_SUPPORT_OPEN(process_exit);
	if (!x->skel) {
		err = bpf_support_libbpf_error(-errno, "sched_process_exit", "open", f);
		goto fail;
	}
	x->skel->rodata->nr_cpus = (__u32)ncpu;
	x->skel->rodata->task_mem_test_reject = bpf_support_test_reject("sched_process_exit");
	x->skel->rodata->wakeup_bytes = bpf_map__max_entries(x->skel->maps.events) / 4;
	bpf_program__set_autoload(x->skel->progs.on_process_exit, !legacy);
	bpf_program__set_autoload(x->skel->progs.on_process_exit_legacy, legacy);
	if (ring_bytes) {
		x->skel->rodata->wakeup_bytes = ring_bytes / 4;
		err = bpf_map__set_max_entries(x->skel->maps.events, (__u32)ring_bytes);
		if (err) {
			err = bpf_support_libbpf_error(err, "sched_process_exit", "ring size", f);
			goto fail;
		}
	}
	err = bpf_support_load(x->skel->skeleton, "sched_process_exit", (unsigned)ncpu, f);
	if (err)
		goto fail;
	x->rb = bpf_support_ring_new(x->skel->maps.events, on_record, x, "sched_process_exit", f);
	if (!x->rb) {
		err = -errno;
		goto fail;
	}
	x->st.programs = 1;
	x->st.legacy = legacy;
	x->st.portable = bpf_support_portable(x->skel->skeleton);
	*ret = x;
	return 0;
fail:
	process_exit_free(x);
	return err;
}

struct process_exit *process_exit_free(struct process_exit *x)
{
	if (!x)
		return NULL;
	ring_buffer__free(x->rb);
	process_exit_bpf__destroy(x->skel);
	free(x);
	return NULL;
}

int process_exit_fd(const struct process_exit *x)
{
	return ring_buffer__epoll_fd(x->rb);
}

int process_exit_poll(struct process_exit *x, process_exit_cb cb, void *arg)
{
	int r;

	x->cb = cb;
	x->cb_arg = arg;
	r = bpf_support_ring_consume(x->rb, &x->st.events);
	x->cb = NULL;
	x->cb_arg = NULL;
	return r;
}

void process_exit_stats(const struct process_exit *x, struct process_exit_stats *ret)
{
	*ret = x->st;
	ret->lost = x->skel->bss->lost;
}
