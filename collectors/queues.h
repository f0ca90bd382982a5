/* SPDX-License-Identifier: MIT */
/* The queues collector: the kernel queues of every target's processes, without instrumenting them.
 *
 * Per target (unless its "queues" is false): the receive and send bytes of
 * its sockets summed, each socket once however many of its members hold
 * it; each TCP and UNIX listener's accept queue and maximum; each System V
 * and POSIX message queue it uses; per network namespace TCP's listen
 * overflow counter; and a growth verdict per sum, listener and queue
 * (core/trend's queue rule). docs/queues.md says what is read where.
 *
 * Two backends, chosen at init: the BPF pass (sock_iter: every process's
 * files in one read) when it loads, else sock_diag netlink joined to the
 * owners by socket inode through a map built from the targets'
 * /proc/PID/fd (rebuilt when an unknown inode appears, at most every 2 s,
 * and every 30 s, in slices of at most 50 ms per sample), with other
 * network namespaces read from a member's /proc/PID/net. MEMAGENT_QUEUES_BACKEND=netlink (read at init)
 * forces the second, for tests and the benchmark.
 */
#ifndef MEMAGENT_QUEUES_H
#define MEMAGENT_QUEUES_H

#include "collector.h"

extern const struct collector queues_collector;

#endif
