/* SPDX-License-Identifier: MIT */
/* oomkill: the user side of bpf/mark_victim.bpf.c: decodes ring-buffer records into oomkill_event. */
#include "oomkill.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_support.h"
#include "mark_victim.h"
#include "mark_victim.skel.h"

struct oomkill {
	struct mark_victim_bpf *skel;
	struct ring_buffer *rb;
	size_t page_size;
	/* Valid only during oomkill_poll(). */
	oomkill_cb cb;
	void *cb_arg;
	struct oomkill_stats st;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct oomkill *o = ctx;
	const struct mark_victim_event *e = data;
	struct oomkill_event ev;
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

int oomkill_new(size_t ring_bytes, struct oomkill **ret, char *why, size_t whylen)
{
	struct oomkill *o;
	int ncpu, err;

	if (!ret)
		return -EINVAL;
	err = bpf_support_check("mark_victim", NULL, why, whylen);
	if (err < 0)
		return err;
	ncpu = bpf_support_nr_cpus();
	if (ncpu < 0)
		return bpf_support_libbpf_error(ncpu, "mark_victim: possible CPUs", why, whylen);

	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->page_size = (size_t)sysconf(_SC_PAGESIZE);
	o->skel = mark_victim_bpf__open();
	if (!o->skel) {
		err = bpf_support_libbpf_error(-errno, "mark_victim: open", why, whylen);
		goto fail;
	}
	o->skel->rodata->nr_cpus = (__u32)ncpu;
	if (ring_bytes) {
		err = bpf_map__set_max_entries(o->skel->maps.events, (__u32)ring_bytes);
		if (err) {
			err = bpf_support_libbpf_error(err, "mark_victim: ring size", why, whylen);
			goto fail;
		}
	}
	err = mark_victim_bpf__load(o->skel);
	if (err) {
		err = bpf_support_libbpf_error(err, "mark_victim: load", why, whylen);
		goto fail;
	}
	err = bpf_support_percpu_init(bpf_program__fd(o->skel->progs.percpu_offsets_init),
				      (unsigned)ncpu);
	if (err) {
		err = bpf_support_libbpf_error(err, "mark_victim: per-CPU offsets", why, whylen);
		goto fail;
	}
	err = mark_victim_bpf__attach(o->skel);
	if (err) {
		err = bpf_support_libbpf_error(err, "mark_victim: attach", why, whylen);
		goto fail;
	}
	o->rb = ring_buffer__new(bpf_map__fd(o->skel->maps.events), on_record, o, NULL);
	if (!o->rb) {
		err = bpf_support_libbpf_error(-errno, "mark_victim: ring buffer", why, whylen);
		goto fail;
	}
	o->st.programs = 1;
	*ret = o;
	return 0;
fail:
	oomkill_free(o);
	return err;
}

struct oomkill *oomkill_free(struct oomkill *o)
{
	if (!o)
		return NULL;
	ring_buffer__free(o->rb);
	mark_victim_bpf__destroy(o->skel);
	free(o);
	return NULL;
}

int oomkill_fd(const struct oomkill *o)
{
	return ring_buffer__epoll_fd(o->rb);
}

int oomkill_poll(struct oomkill *o, oomkill_cb cb, void *arg)
{
	uint64_t before = o->st.events;
	int r;

	o->cb = cb;
	o->cb_arg = arg;
	r = ring_buffer__consume(o->rb);
	o->cb = NULL;
	o->cb_arg = NULL;
	if (r < 0)
		return r;
	return (int)(o->st.events - before);
}

void oomkill_stats(const struct oomkill *o, struct oomkill_stats *ret)
{
	*ret = o->st;
	ret->lost = o->skel->bss->lost;
}
