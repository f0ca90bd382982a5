/* SPDX-License-Identifier: MIT */
/* oomkill: the user side of bpf/mark_victim.bpf.c: decodes ring-buffer records into oomkill_event. */
#include "oomkill.h"

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
	bool portable;
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

int oomkill_new(size_t ring_bytes, struct oomkill **ret, struct bpf_failure *f)
{
	struct oomkill *o;
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
	o->skel = mark_victim_bpf__open();
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
	o->rb = ring_buffer__new(bpf_map__fd(o->skel->maps.events), on_record, o, NULL);
	if (!o->rb) {
		err = bpf_support_libbpf_error(-errno, "mark_victim", "ring buffer", f);
		goto fail;
	}
	o->st.programs = 1;
	o->portable = bpf_support_portable(o->skel->skeleton);
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

/* ---------------------------------------------------------------------------
 * The collector
 */

static const struct metric_desc m_kills = {
	"memagent_oom_kills_total", METRIC_COUNTER, NULL,
	"Processes the kernel's OOM killer chose (BPF mark_victim), by the target they matched; target=\"other\" for the rest.",
};
static const struct metric_desc *const oomkill_metrics[] = { &m_kills, NULL };

struct cstate {
	const struct collector_ctx *ctx;
	struct oomkill *o;   /* NULL without BPF */
	enum bpf_reason why; /* when o is NULL */
	int proc_fd;
	uint64_t *kills;     /* per target, then "other" */
	struct collector_errors *err; /* during a poll */
};

/* Attributes a kill to targets: the victim is still there when the event
 * arrives (it is being killed, not yet reaped), so exe and cmdline are
 * read from /proc when a target matches on them; a victim already gone
 * matches only on pid, comm and cgroup. */
static void on_kill(void *arg, const struct oomkill_event *ev)
{
	struct cstate *cs = arg;
	const struct target_set *ts = cs->ctx->targets;
	char exe[PATH_MAX], cmdline[4096], names[512] = "";
	struct target_proc tp = { .pid = ev->pid, .comm = ev->comm, .cgroup = ev->memcg_path };
	uint64_t mask;
	size_t used = 0;

	if ((ts->needs & TARGET_NEED_EXE) && procfs_read_exe(cs->proc_fd, ev->pid, exe, sizeof(exe)) >= 0)
		tp.exe = exe;
	if ((ts->needs & TARGET_NEED_CMDLINE) &&
	    procfs_read_cmdline(cs->proc_fd, ev->pid, cmdline, sizeof(cmdline)) >= 0)
		tp.cmdline = cmdline;
	mask = target_set_classify(ts, &tp);
	if (!mask)
		cs->kills[ts->n]++;
	for (uint64_t m = mask; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctzll(m);

		cs->kills[i]++;
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", used ? "," : "",
						 ts->v[i].name);
	}

	struct collector_event ce = {
		.kind = COLLECTOR_EVENT_OOM_KILL, .pid = ev->pid, .comm = ev->comm,
		.target = mask ? names : TARGET_OTHER, .rss_bytes = ev->rss_bytes, .cgroup = ev->memcg_path,
	};

	collector_event(cs->ctx, &ce);
}

static int cpoll(void *state, struct collector_errors *err)
{
	struct cstate *cs = state;
	int r;

	if (!cs->o)
		return 0;
	r = oomkill_poll(cs->o, on_kill, cs);
	if (r < 0)
		err->n[COLLECTOR_BPF]++;
	return r;
}

static int cread(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct cstate *cs = state;
	const struct target_set *ts = cs->ctx->targets;
	struct oomkill_stats st = {0};
	int r = 0;

	cpoll(cs, err);
	if (cs->o) {
		oomkill_stats(cs->o, &st);
		for (size_t i = 0; i <= ts->n; i++) {
			const char *const lv[] = { "target", i < ts->n ? ts->v[i].name : TARGET_OTHER, NULL };

			r |= snapshot_add(snap, &m_kills, (double)cs->kills[i], lv);
		}
	}
	r |= bpf_support_report(snap, "mark_victim", cs->o, cs->why, BPF_REPORT_LOST, st.lost, 0);
	return r < 0 ? -ENOMEM : 0;
}

static int cfd(void *state)
{
	struct cstate *cs = state;

	return cs->o ? oomkill_fd(cs->o) : -1;
}

static void cdone(void *state)
{
	struct cstate *cs = state;

	if (!cs)
		return;
	oomkill_free(cs->o);
	if (cs->proc_fd >= 0)
		close(cs->proc_fd);
	free(cs->kills);
	free(cs);
}

static int cinit(const struct collector_ctx *ctx, void **ret_state)
{
	struct cstate *cs = calloc(1, sizeof(*cs));
	struct bpf_failure f;

	if (!cs)
		return -ENOMEM;
	cs->ctx = ctx;
	cs->kills = calloc(ctx->targets->n + 1, sizeof(*cs->kills));
	cs->proc_fd = open(ctx->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!cs->kills) {
		cdone(cs);
		return -ENOMEM;
	}
	cs->why = BPF_REASON_DISABLED;
	if (ctx->use_bpf) {
		cs->why = BPF_REASON_NONE;
		if (oomkill_new(0, &cs->o, &f) < 0) {
			cs->why = f.reason;
			collector_bpf_unavailable(ctx, "mark_victim", f.why);
		}
	}
	*ret_state = cs;
	return 0;
}

const struct collector oomkill_collector = {
	.name = "oomkill",
	.metrics = oomkill_metrics,
	.init = cinit,
	.read = cread,
	.fd = cfd,
	.poll = cpoll,
	.done = cdone,
};

bool oomkill_portable(const struct oomkill *o)
{
	return o->portable;
}
