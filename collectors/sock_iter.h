/* SPDX-License-Identifier: MIT */
/* sock_iter: every socket and POSIX message queue every process holds, with its queue state, in one pass of a BPF iter/task_file.
 *
 * The BPF backend of the queues collector: one pass instead of listing
 * every fd table and asking sock_diag (on 6.7+ a walk of the fd tables
 * run with BPF_PROG_TEST_RUN, elsewhere iter/task_file read()). Sockets in every network
 * namespace are included (the kernel's struct sock is read wherever it
 * lives). What is read per socket type: bpf/sock_iter.bpf.c, docs/queues.md.
 *
 *   struct sock_iter *it; struct bpf_failure f;
 *   if (sock_iter_new(0, &it, &f) < 0) ...use sock_diag, say f.why...
 *   const struct sockq *s; size_t n;
 *   if (sock_iter_read(it, &s, &n) >= 0) ...s[0..n): one per (process, descriptor)...
 *   sock_iter_free(it);
 *
 * Only this module touches the sock_iter skeleton. Not thread-safe: one
 * owner reads. Needs CAP_BPF + CAP_PERFMON to create; none to read.
 */
#ifndef MEMAGENT_SOCK_ITER_H
#define MEMAGENT_SOCK_ITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockq.h"

struct bpf_failure;
struct sock_iter;

/* A descriptor of a POSIX message queue. */
struct sock_iter_mq {
	int32_t pid;
	int32_t fd;
	uint64_t start_ns;
	uint64_t ino;
};

/* A process that holds a socket or queue, as the pass saw it. */
struct sock_iter_proc {
	int32_t pid;
	uint64_t start_ns;
	char comm[16];
};

struct sock_iter_stats {
	uint64_t reads;      /* passes completed */
	uint64_t sockets;    /* socket records in the last pass */
	uint64_t overflow;   /* records dropped because max_records were read */
	uint64_t truncated;  /* UNIX receive queues longer than the walk (bpf/sock_iter_abi.h) */
	uint64_t malformed;  /* records that made no sense (never, unless ABI skew) */
	uint64_t walks;      /* passes the fd-table walk ran (6.7+; bpf/sock_iter.bpf.c) */
	uint64_t walk_fallbacks; /* walks whose records did not fit: iter/task_file ran */
	unsigned programs;   /* programs loaded and attached: 1 */
};

/* Loads the iterator and attaches it (nothing runs until a read).
 * max_records bounds the socket and the queue records of a pass each (0:
 * 262144); beyond, records are dropped and counted. Returns 0 and *ret, or
 * a negative errno with the reason in f (may be NULL); *ret is then
 * untouched and what the attempt allocated freed. */
int sock_iter_new(size_t max_records, struct sock_iter **ret, struct bpf_failure *f);

/* Whether the portable variant is loaded. */
bool sock_iter_portable(const struct sock_iter *it);

/* Whether the program knows sockets and queues by their f_op (the fast
 * check; bpf/sock_iter.bpf.c), after the pass sock_iter_new() runs. */
bool sock_iter_learned(const struct sock_iter *it);

/* Detaches and frees everything. NULL-safe; returns NULL. */
struct sock_iter *sock_iter_free(struct sock_iter *it);

/* Runs one pass. *ret_socks (and sock_iter_mqs()) point into it, valid
 * until the next read or free. Returns the number of sockets (also in
 * *ret_n) or a negative errno (nothing written). Cost: proportional to the
 * open files of every process (docs/queues.md has the measurement). */
int sock_iter_read(struct sock_iter *it, const struct sockq **ret_socks, size_t *ret_n);

/* The processes of the last pass's records, in pass order; a hint: a
 * process may be missing (a retried element), never wrong. */
const struct sock_iter_proc *sock_iter_procs(const struct sock_iter *it, size_t *ret_n);

/* The message-queue descriptors of the last pass. */
const struct sock_iter_mq *sock_iter_mqs(const struct sock_iter *it, size_t *ret_n);

void sock_iter_stats(const struct sock_iter *it, struct sock_iter_stats *ret);

#endif
