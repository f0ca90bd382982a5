/* SPDX-License-Identifier: MIT */
/* pidscan: which processes a discovering collector looks at this sample, listing /proc only when one may have been born.
 *
 * The heap and gc_events collectors find their processes by looking at
 * each once (its fd table, its maps): a new pid on first sight and again
 * at the next sample (a process may open its page just after exec), every
 * pid on a rescan (every PIDSCAN_RESCAN_NS, and whenever the caller's
 * rescan request count moved: SIGUSR1). Listing /proc is itself the cost
 * on a busy host, so it is skipped while nothing can be new: the last pid
 * allocated (/proc/loadavg) has not moved over two samples and no pid
 * awaits its second look. Exits are the caller's to see (pidfds); a caller
 * without one for some process asks for the listing (need_list).
 */
#ifndef MEMAGENT_PIDSCAN_H
#define MEMAGENT_PIDSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIDSCAN_RESCAN_NS (30ull * 1000000000ull)

struct pidscan;

/* Lists proc_dirfd's pids (the fd is duplicated, not taken). NULL when out
 * of memory or descriptors. */
struct pidscan *pidscan_new(int proc_dirfd);

/* NULL-safe; returns NULL. */
struct pidscan *pidscan_free(struct pidscan *s);

/* One sample's decision and listing. rescan_requests is the caller's count
 * of asked-for rescans (a change asks for one). Returns 0 when /proc was
 * not listed (nothing to look at), 1 when it was, 2 when it was and this
 * is a rescan, or -ENOMEM. pidscan_look() then holds the pids to look at
 * (all on a rescan; else those new now and those new last time), sorted. */
int pidscan_run(struct pidscan *s, uint64_t rescan_requests, bool need_list);

/* The pids to look at after a listing, and their count. */
const int *pidscan_look(const struct pidscan *s, size_t *ret_n);

/* Whether pid was absent from the last listing (false before the first):
 * for callers whose process has no pidfd to tell its exit. */
bool pidscan_gone(const struct pidscan *s, int pid);

#endif
