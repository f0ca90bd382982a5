/* SPDX-License-Identifier: MIT */
/* oomkill: the collector of OOM kills: each victim of the mark_victim module classified into targets and counted. */
#include "oomkill.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf_support.h"
#include "mark_victim.h"
#include "procfs.h"

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
	struct mark_victim *o;   /* NULL without BPF */
	enum bpf_reason why; /* when o is NULL */
	int proc_fd;
	uint64_t *kills;     /* per target, then "other" */
	struct collector_errors *err; /* during a poll */
};

/* Attributes a kill to targets: the victim is still there when the event
 * arrives (it is being killed, not yet reaped), so exe and cmdline are
 * read from /proc when a target matches on them; a victim already gone
 * matches only on pid, comm and cgroup. */
static void on_kill(void *arg, const struct mark_victim_event *ev)
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
	r = mark_victim_poll(cs->o, on_kill, cs);
	if (r < 0)
		err->n[COLLECTOR_BPF]++;
	return r;
}

static int cread(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct cstate *cs = state;
	const struct target_set *ts = cs->ctx->targets;
	struct mark_victim_stats st = {0};
	int r = 0;

	cpoll(cs, err);
	if (cs->o) {
		mark_victim_stats(cs->o, &st);
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

	return cs->o ? mark_victim_fd(cs->o) : -1;
}

static void cdone(void *state)
{
	struct cstate *cs = state;

	if (!cs)
		return;
	mark_victim_free(cs->o);
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
		if (mark_victim_new(0, &cs->o, &f) < 0) {
			cs->why = f.reason;
			collector_bpf_unavailable(ctx, "mark_victim", f.why);
		}
	}
	*ret_state = cs;
	return 0;
}

/* The kill counts are per target: they start afresh with the new targets,
 * as after init(); mark_victim stays loaded and attached. */
static int creconfigure(void **state)
{
	struct cstate *cs = *state;
	uint64_t *kills = calloc(cs->ctx->targets->n + 1, sizeof(*kills));

	if (!kills)
		return -ENOMEM;
	free(cs->kills);
	cs->kills = kills;
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
	.reconfigure = creconfigure,
};

