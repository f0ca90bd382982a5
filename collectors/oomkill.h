/* SPDX-License-Identifier: MIT */
/* oomkill: OOM kills as they happen, from tp_btf/mark_victim through a ring buffer.
 *
 *   struct oomkill *o; struct bpf_failure f;
 *   if (oomkill_new(0, &o, &f) < 0) ...no OOM events, say f.why...
 *   ...epoll on oomkill_fd(o); when readable: oomkill_poll(o, on_kill, arg)...
 *   oomkill_free(o);
 *
 * Only this module touches the mark_victim skeleton. Not thread-safe: one
 * owner polls. Needs CAP_BPF + CAP_PERFMON to create; none to poll.
 */
#ifndef MEMAGENT_OOMKILL_H
#define MEMAGENT_OOMKILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collector.h"

struct bpf_failure;
struct oomkill;

struct oomkill_event {
	pid_t pid;               /* the victim process (thread-group id) */
	pid_t tid;               /* the thread the kernel marked */
	uid_t uid;
	int oom_score_adj;
	uint64_t timestamp_ns;   /* CLOCK_BOOTTIME */
	uint64_t rss_bytes;      /* anon + file + shmem at the kill, as /proc/PID/status */
	uint64_t rss_anon_bytes;
	uint64_t rss_file_bytes;
	uint64_t rss_shmem_bytes;
	uint64_t swap_bytes;
	uint64_t vsize_bytes;
	uint64_t pgtables_bytes;
	uint64_t memcg_id;       /* inode of its memory cgroup's directory */
	const char *memcg_path;  /* below the memory hierarchy's root: "/a/b", "/" */
	bool memcg_path_truncated;
	bool no_mm;              /* the mm was already gone: memory fields are 0 */
	char comm[16];           /* the process's (leader's) comm */
};

/* Called once per event; ev and its strings live until the call returns. */
typedef void (*oomkill_cb)(void *arg, const struct oomkill_event *ev);

struct oomkill_stats {
	uint64_t events;    /* delivered to callbacks */
	uint64_t lost;      /* did not fit the ring buffer */
	uint64_t malformed; /* records of an unexpected size (never, unless ABI skew) */
	unsigned programs;  /* programs loaded and attached: 1 */
};

/* Loads and attaches the program. ring_bytes is the ring buffer's size (a
 * power of two, multiple of the page size; 0: 64 KiB, about 110 events).
 * Returns 0 and *ret, or a negative errno with the reason in f;
 * *ret is then untouched and what the attempt allocated freed. f may be NULL. */
int oomkill_new(size_t ring_bytes, struct oomkill **ret, struct bpf_failure *f);

/* Whether the portable variant is loaded (bpf/task_mem.h). */
bool oomkill_portable(const struct oomkill *o);

/* Detaches and frees everything. NULL-safe; returns NULL. */
struct oomkill *oomkill_free(struct oomkill *o);

/* An fd (epoll) that is readable when events wait. Owned by o. */
int oomkill_fd(const struct oomkill *o);

/* Hands every waiting event to cb without blocking. Returns the number of
 * events handled, or a negative errno. */
int oomkill_poll(struct oomkill *o, oomkill_cb cb, void *arg);

void oomkill_stats(const struct oomkill *o, struct oomkill_stats *ret);

/* The collector over this module: memagent_oom_kills_total{target} (victims
 * that matched no target count under target="other"), a COLLECTOR_EVENT_OOM_KILL
 * per kill for the log, and memagent_bpf_*{program="mark_victim"}. Without
 * BPF it still runs and reports the program as not enabled. */
extern const struct collector oomkill_collector;

#endif
