/* SPDX-License-Identifier: MIT */
/* mark_victim: OOM kills as they happen, from tp_btf/mark_victim through a ring buffer.
 *
 *   struct mark_victim *o; struct bpf_failure f;
 *   if (mark_victim_new(0, &o, &f) < 0) ...no OOM events, say f.why...
 *   ...epoll on mark_victim_fd(o); when readable: mark_victim_poll(o, on_kill, arg)...
 *   mark_victim_free(o);
 *
 * Only this module touches the mark_victim skeleton. Not thread-safe: one
 * owner polls. Needs CAP_BPF + CAP_PERFMON to create; none to poll.
 */
#ifndef MEMAGENT_MARK_VICTIM_H
#define MEMAGENT_MARK_VICTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


struct bpf_failure;
struct mark_victim;

struct mark_victim_event {
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
typedef void (*mark_victim_cb)(void *arg, const struct mark_victim_event *ev);

struct mark_victim_stats {
	uint64_t events;    /* delivered to callbacks */
	uint64_t lost;      /* did not fit the ring buffer */
	uint64_t malformed; /* records of an unexpected size (never, unless ABI skew) */
	unsigned programs;  /* programs loaded and attached: 1 */
};

/* Loads and attaches the program. ring_bytes is the ring buffer's size (a
 * power of two, multiple of the page size; 0: 64 KiB, about 110 events).
 * Returns 0 and *ret, or a negative errno with the reason in f;
 * *ret is then untouched and what the attempt allocated freed. f may be NULL. */
int mark_victim_new(size_t ring_bytes, struct mark_victim **ret, struct bpf_failure *f);

/* Whether the portable variant is loaded (bpf/task_mem_abi.h). */
bool mark_victim_portable(const struct mark_victim *o);

/* Detaches and frees everything. NULL-safe; returns NULL. */
struct mark_victim *mark_victim_free(struct mark_victim *o);

/* An fd (epoll) that is readable when events wait. Owned by o. */
int mark_victim_fd(const struct mark_victim *o);

/* Hands every waiting event to cb without blocking. Returns the number of
 * events handled, or a negative errno. */
int mark_victim_poll(struct mark_victim *o, mark_victim_cb cb, void *arg);

void mark_victim_stats(const struct mark_victim *o, struct mark_victim_stats *ret);

#endif
