/* SPDX-License-Identifier: MIT */
/* mark_victim: the user side of bpf/mark_victim.bpf.c: decodes ring-buffer records into mark_victim_event. */
#include "mark_victim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_support.h"
#include "procfs.h"
#include "mark_victim_abi.h"
#include "mark_victim.skel.h"
#include "mark_victim.nokfunc.skel.h"

struct mark_victim {
	struct mark_victim_bpf *skel;
	struct ring_buffer *rb;
	size_t page_size;
	/* Valid only during mark_victim_poll(). */
	mark_victim_cb cb;
	void *cb_arg;
	struct mark_victim_stats st;
	bool portable;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct mark_victim *o = ctx;
	const struct mark_victim_rec *e = data;
	struct mark_victim_event ev;
	char path[MARK_VICTIM_PATH_LEN + 1];

	if (size < sizeof(*e)) {
		o->st.malformed++;
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.pid = (pid_t)e->pid;
	ev.tid = (pid_t)e->tid;
	ev.uid = e->uid;
	ev.oom_score_adj = e->oom_score_adj;
	ev.timestamp_ns = e->timestamp_ns;
	ev.rss_anon_bytes = e->rss_anon_pages * o->page_size;
	ev.rss_file_bytes = e->rss_file_pages * o->page_size;
	ev.rss_shmem_bytes = e->rss_shmem_pages * o->page_size;
	ev.rss_bytes = ev.rss_anon_bytes + ev.rss_file_bytes + ev.rss_shmem_bytes;
	ev.swap_bytes = e->swap_pages * o->page_size;
	ev.vsize_bytes = e->total_vm_pages * o->page_size;
	ev.pgtables_bytes = e->pgtables_bytes;
	ev.memcg_id = e->memcg_id;
	/* Kernel strings are NUL-terminated by the program, but trust nothing. */
	memcpy(path, e->memcg_path, MARK_VICTIM_PATH_LEN);
	path[MARK_VICTIM_PATH_LEN] = '\0';
	ev.memcg_path = path;
	ev.memcg_path_truncated = e->flags & MARK_VICTIM_F_PATH_TRUNCATED;
	ev.no_mm = e->flags & MARK_VICTIM_F_NO_MM;
	memcpy(ev.comm, e->comm, sizeof(ev.comm));
	ev.comm[sizeof(ev.comm) - 1] = '\0';
	o->st.events++;
	if (o->cb)
		o->cb(o->cb_arg, &ev);
	return 0;
}

int mark_victim_new(size_t ring_bytes, struct mark_victim **ret, struct bpf_failure *f)
{
	struct mark_victim *o;
	int ncpu, err;

	if (!ret)
		return -EINVAL;
	err = bpf_support_check("mark_victim", "mark_victim", NULL, f);
	if (err < 0)
		return err;
	ncpu = bpf_support_nr_cpus();
	if (ncpu < 0)
		return bpf_support_libbpf_error(ncpu, "mark_victim", "possible CPUs", f);

	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->page_size = (size_t)sysconf(_SC_PAGESIZE);
	o->skel = BPF_SUPPORT_OPEN(mark_victim);
	if (!o->skel) {
		err = bpf_support_libbpf_error(-errno, "mark_victim", "open", f);
		goto fail;
	}
	o->skel->rodata->nr_cpus = (__u32)ncpu;
	o->skel->rodata->task_mem_test_reject = bpf_support_test_reject("mark_victim");
	if (ring_bytes) {
		err = bpf_map__set_max_entries(o->skel->maps.events, (__u32)ring_bytes);
		if (err) {
			err = bpf_support_libbpf_error(err, "mark_victim", "ring size", f);
			goto fail;
		}
	}
	err = bpf_support_load(o->skel->skeleton, "mark_victim", (unsigned)ncpu, f);
	if (err)
		goto fail;
	o->rb = bpf_support_ring_new(o->skel->maps.events, on_record, o, "mark_victim", f);
	if (!o->rb) {
		err = -errno;
		goto fail;
	}
	o->st.programs = 1;
	o->portable = bpf_support_portable(o->skel->skeleton);
	*ret = o;
	return 0;
fail:
	mark_victim_free(o);
	return err;
}

struct mark_victim *mark_victim_free(struct mark_victim *o)
{
	if (!o)
		return NULL;
	ring_buffer__free(o->rb);
	mark_victim_bpf__destroy(o->skel);
	free(o);
	return NULL;
}

int mark_victim_fd(const struct mark_victim *o)
{
	return ring_buffer__epoll_fd(o->rb);
}

int mark_victim_poll(struct mark_victim *o, mark_victim_cb cb, void *arg)
{
	int r;

	o->cb = cb;
	o->cb_arg = arg;
	r = bpf_support_ring_consume(o->rb, &o->st.events);
	o->cb = NULL;
	o->cb_arg = NULL;
	return r;
}

void mark_victim_stats(const struct mark_victim *o, struct mark_victim_stats *ret)
{
	*ret = o->st;
	ret->lost = o->skel->bss->lost;
}

bool mark_victim_portable(const struct mark_victim *o)
{
	return o->portable;
}
