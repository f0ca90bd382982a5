/* SPDX-License-Identifier: MIT */
/* The one interface every collector implements.
 *
 * A collector turns one source (a /proc file, a cgroup tree, a BPF map) into
 * samples in a snapshot. The sampler owns the loop: it calls read() once per
 * tick with a fresh snapshot, times it, and turns the error counts into
 * metrics. Collectors never log (only agent/ does): they count what went wrong
 * by reason, and report rare events (an OOM kill) through ctx->event.
 */
#ifndef MEMAGENT_COLLECTOR_H
#define MEMAGENT_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot.h"
#include "target.h"

/* Why a read failed. Names are the `reason` label values. */
enum collector_reason {
	COLLECTOR_VANISHED,   /* the process exited while we read it */
	COLLECTOR_UNREADABLE, /* open/read failed (permissions, EISDIR, EIO...) */
	COLLECTOR_PARSE,      /* the text was not what the kernel writes */
	COLLECTOR_OVERFLOW,   /* a limit cut series or entries */
	COLLECTOR_FD_LIMIT,   /* out of descriptors: read without keeping an fd */
	COLLECTOR_ABSENT,     /* the source does not exist on this host */
	COLLECTOR_BPF,        /* a BPF map or program operation failed */
	COLLECTOR_REASON_MAX
};
/* The reason's label value ("vanished", ...); "unknown" out of range. */
const char *collector_reason_name(enum collector_reason r);

struct collector_errors {
	uint64_t n[COLLECTOR_REASON_MAX];
};

/* Rare events a collector reports as they happen; the agent logs them. */
enum collector_event_kind {
	COLLECTOR_EVENT_OOM_KILL,        /* pid, comm, target, rss_bytes, cgroup */
	COLLECTOR_EVENT_BPF_UNAVAILABLE, /* program, reason: running without it */
};
struct collector_event {
	enum collector_event_kind kind;
	int32_t pid;
	const char *comm;
	const char *target; /* matched targets (comma-separated), or TARGET_OTHER */
	uint64_t rss_bytes;
	const char *cgroup;
	const char *program;
	const char *reason;
};

/* The bounds a collector keeps to; the agent fills them from its
 * configuration's "limits" (collectors never see the configuration). */
struct collector_limits {
	unsigned max_processes; /* pid series per per_process target */
	unsigned max_groups;    /* comm series per group_by target */
	unsigned max_instrumented; /* telemetry pages read (heap collector); 0: none */
	unsigned max_listeners;    /* listen backlog series (queues collector) */
	unsigned max_message_queues; /* message queue series (queues collector) */
};

struct collector_ctx {
	const char *proc_root;   /* "/proc", or a fixture tree */
	const char *cgroup_root; /* "/sys/fs/cgroup", or a fixture tree */
	const struct target_set *targets;
	struct collector_limits limits;
	const char *heap_names;  /* extended regex telemetry page names must match, or NULL */
	bool heap_snapshot_on_leak; /* ask a page that allows it for a heap snapshot when its leak flag rises */
	bool use_bpf;
	/* Bumped by the agent when asked to look again (SIGUSR1): collectors
	 * that discover slowly (the heap collector's fd-table rescan) compare
	 * it with the value they last saw. */
	uint64_t rescan_requests;
	void (*event)(void *arg, const struct collector_event *ev);
	void *event_arg;
};

/* Hands ev to the agent (ctx->event), which logs it; ev lives for the call. */
static inline void collector_event(const struct collector_ctx *ctx, const struct collector_event *ev)
{
	if (ctx->event)
		ctx->event(ctx->event_arg, ev);
}

/* Says that a BPF program is not used, and why (the agent logs it once). */
static inline void collector_bpf_unavailable(const struct collector_ctx *ctx, const char *program,
					     const char *why)
{
	struct collector_event ev = { .kind = COLLECTOR_EVENT_BPF_UNAVAILABLE, .program = program,
				      .reason = why };

	collector_event(ctx, &ev);
}

struct collector {
	const char *name; /* the `collector` label value */
	/* Every family the collector may emit, NULL-terminated. */
	const struct metric_desc *const *metrics;
	/* Sets up state for ctx (which outlives the state). Returns 0, or a
	 * negative errno when the collector cannot run at all (the agent then
	 * runs without it and says why once). */
	int (*init)(const struct collector_ctx *ctx, void **ret_state);
	/* Adds this tick's samples to snap; counts failures in err. Returns 0, or
	 * a negative errno when nothing at all could be read. */
	int (*read)(void *state, struct snapshot *snap, struct collector_errors *err);
	/* Optional: an fd to watch between ticks, and what to do when readable. */
	int (*fd)(void *state);
	int (*poll)(void *state, struct collector_errors *err);
	/* Frees state; NULL-safe. */
	void (*done)(void *state);
	/* Optional: ctx's configuration changed (targets, limits; ctx itself is
	 * the same object, the previous configuration still alive during the
	 * call). Updates or replaces *state, keeping what does not follow the
	 * configuration: the BPF programs, whose loading is the costly part.
	 * Returns 0, or a negative errno with *state untouched, and the agent
	 * then calls done() and init() instead. */
	int (*reconfigure)(void **state);
};

#endif
