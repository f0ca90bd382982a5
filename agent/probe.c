/* SPDX-License-Identifier: MIT */
/* probe: every BPF feature and program, loaded for real, with the reason when it cannot be had. */
#include "probe.h"

#include <string.h>

#include "rss_stat.h"
#include "process_exit.h"
#include "gc_usdt.h"
#include "mark_victim.h"
#include "sock_iter.h"
#include "task_iter.h"

static const char *reads(bool portable)
{
	return portable ? " (portable reads)" : "";
}

static void unavailable(struct bpf_feature_status *st, int r, const struct bpf_failure *f)
{
	bpf_feature_set(st, r, "[%s] %s", bpf_reason_name(f->reason), f->why);
}

int probe_run(struct bpf_feature_status ret[BPF_FEATURE_MAX])
{
	struct bpf_failure f;
	int r, n = 0;

	bpf_support_probe_host(ret);
	{
		struct rss_stat *m = NULL;

		r = rss_stat_new(1, &m, &f);
		if (r == 0)
			bpf_feature_set(&ret[BPF_FEATURE_RSS_STAT], 0, "tp_btf/rss_stat attached%s",
					reads(rss_stat_portable(m)));
		else
			unavailable(&ret[BPF_FEATURE_RSS_STAT], r, &f);
		rss_stat_free(m);
	}
	{
		struct mark_victim *m = NULL;

		r = mark_victim_new(0, &m, &f);
		if (r == 0)
			bpf_feature_set(&ret[BPF_FEATURE_MARK_VICTIM], 0, "tp_btf/mark_victim attached%s",
					reads(mark_victim_portable(m)));
		else
			unavailable(&ret[BPF_FEATURE_MARK_VICTIM], r, &f);
		mark_victim_free(m);
	}
	{
		struct process_exit *m = NULL;

		r = process_exit_new(0, &m, &f);
		if (r == 0) {
			struct process_exit_stats es;

			process_exit_stats(m, &es);
			bpf_feature_set(&ret[BPF_FEATURE_PROCESS_EXIT], 0,
					"tp_btf/sched_process_exit attached%s%s",
					es.legacy ? " (before 6.16: no group_dead, mm already released)"
						  : "",
					reads(es.portable));
		} else {
			unavailable(&ret[BPF_FEATURE_PROCESS_EXIT], r, &f);
		}
		process_exit_free(m);
	}
	{
		struct task_iter *m = NULL;

		r = task_iter_new(0, &m, &f);
		if (r == 0) {
			const struct task_iter_proc *procs;
			size_t np;

			struct task_iter_stats st;

			r = task_iter_read(m, &procs, &np);
			task_iter_stats(m, &st);
			if (r < 0)
				bpf_feature_set(&ret[BPF_FEATURE_TASK_ITER], r,
						"iter/task read failed: %s", strerror(-r));
			else
				bpf_feature_set(&ret[BPF_FEATURE_TASK_ITER], 0,
						"%s read %zu processes%s",
						st.walks ? "task-list walk" : "iter/task", np,
						reads(task_iter_portable(m)));
		} else {
			unavailable(&ret[BPF_FEATURE_TASK_ITER], r, &f);
		}
		task_iter_free(m);
	}
	{
		struct gc_usdt *m = NULL;

		r = gc_usdt_new(&m, &f);
		if (r == 0)
			bpf_feature_set(&ret[BPF_FEATURE_GC_USDT], 0,
					"usdt gengc:gc__done loaded (attached per file that carries it, with %s)",
					gc_usdt_multi(m) ? "uprobe_multi links" : "perf uprobes");
		else
			unavailable(&ret[BPF_FEATURE_GC_USDT], r, &f);
		gc_usdt_free(m);
	}
	{
		struct sock_iter *m = NULL;

		r = sock_iter_new(0, &m, &f);
		if (r == 0) {
			const struct sockq *socks;
			size_t ns;

			r = sock_iter_read(m, &socks, &ns);
			if (r < 0)
				bpf_feature_set(&ret[BPF_FEATURE_SOCK_ITER], r,
						"iter/task_file read failed: %s", strerror(-r));
			else
				bpf_feature_set(&ret[BPF_FEATURE_SOCK_ITER], 0,
						"iter/task_file read %zu sockets%s", ns,
						reads(sock_iter_portable(m)));
		} else {
			unavailable(&ret[BPF_FEATURE_SOCK_ITER], r, &f);
		}
		sock_iter_free(m);
	}
	for (int i = 0; i < BPF_FEATURE_MAX; i++)
		n += ret[i].available;
	return n;
}
