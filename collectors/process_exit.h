/* SPDX-License-Identifier: MIT */
/* exits: every process that exits, with its lifetime, high-water rss and faults, from tp_btf/sched_process_exit.
 *
 * A process that lives 200 ms between two samples never shows in /proc
 * polling; its exit record does. One record per thread group, whichever of
 * its threads is the last to exit.
 *
 *   struct process_exit *x; struct bpf_failure f;
 *   if (process_exit_new(0, &x, &f) < 0) ...no exit events, say f.why...
 *   ...each tick, and whenever process_exit_fd(x) is readable: process_exit_poll(x, on_exit, arg)...
 *   process_exit_free(x);
 *
 * Wakeups are batched: the fd becomes readable only once a quarter of the
 * ring buffer is filled (a wakeup per record cost 12 us of the exiting
 * task's time on this VM, against 0.4 us for the record itself), so the
 * owner must also poll at every tick; records then arrive within a tick.
 *
 * Only this module touches the process_exit skeleton. Not thread-safe: one
 * owner polls. Needs CAP_BPF + CAP_PERFMON to create; none to poll.
 */
#ifndef MEMAGENT_EXITS_H
#define MEMAGENT_EXITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bpf_failure;
struct process_exit;

struct process_exit_event {
	pid_t pid;                 /* thread-group id */
	pid_t ppid;                /* the real parent's thread-group id */
	int exit_code;             /* wait(2) status: (code << 8) | signal */
	bool kthread;
	bool no_mm;                /* memory already released: rss and hiwater are 0
				    * (kernel threads; kernels before 6.16) */
	bool faults_truncated;     /* > 256 live threads: some threads' faults missing */
	bool legacy;               /* pre-6.16 tracepoint (see docs/bpf.md) */
	uint64_t start_boottime_ns;/* CLOCK_BOOTTIME */
	uint64_t lifetime_ns;
	uint64_t rss_bytes;        /* anon + file + shmem at exit */
	uint64_t hiwater_rss_bytes;/* VmHWM of the final image (since its execve) */
	uint64_t maxrss_bytes;     /* getrusage() ru_maxrss: includes images replaced
				    * by execve(), e.g. the parent's copy after fork */
	uint64_t peak_rss_bytes;   /* the process's peak: hiwater_rss_bytes, or
				    * maxrss_bytes when the mm was already gone */
	uint64_t min_flt;          /* the whole group's */
	uint64_t maj_flt;
	uint64_t memcg_id;         /* inode of its memory cgroup's directory */
	char comm[16];             /* the leader's */
};

/* Called once per event; ev lives until the call returns. */
typedef void (*process_exit_cb)(void *arg, const struct process_exit_event *ev);

struct process_exit_stats {
	uint64_t events;    /* delivered to callbacks */
	uint64_t lost;      /* did not fit the ring buffer */
	uint64_t malformed; /* records of an unexpected size */
	unsigned programs;  /* programs loaded and attached: 1 */
	bool legacy;        /* the pre-6.16 program is in use */
	bool portable;      /* the portable variant is loaded (bpf/task_mem_abi.h) */
};

/* Loads and attaches the program. ring_bytes is the ring buffer's size (a
 * power of two, multiple of the page size; 0: 256 KiB, about 2300 events,
 * which at 2000+ exits/s is a second of slack for the poller). Returns 0 and
 * *ret, or a negative errno with the reason in f; *ret is then untouched
 * and everything the attempt allocated is freed. f may be NULL. */
int process_exit_new(size_t ring_bytes, struct process_exit **ret, struct bpf_failure *f);

/* Detaches and frees everything. NULL-safe; returns NULL. */
struct process_exit *process_exit_free(struct process_exit *x);

/* An fd (epoll) that is readable when a quarter of the ring buffer is
 * filled (see above). Owned by x. */
int process_exit_fd(const struct process_exit *x);

/* Hands every waiting event to cb without blocking. Returns the number of
 * events handled, or a negative errno. */
int process_exit_poll(struct process_exit *x, process_exit_cb cb, void *arg);

void process_exit_stats(const struct process_exit *x, struct process_exit_stats *ret);

/* Decodes one ring-buffer record (struct process_exit_rec) into *ret.
 * Returns 0, or -EBADMSG when size is shorter than a record; *ret is then
 * untouched. */
int process_exit_decode(const void *data, size_t size, size_t page_size, struct process_exit_event *ret);

#endif
