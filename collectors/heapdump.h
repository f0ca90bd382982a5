/* SPDX-License-Identifier: MIT */
/* Heap snapshots on request: asking an instrumented app, over the socket its page names, to write one. */
#ifndef MEMAGENT_HEAPDUMP_H
#define MEMAGENT_HEAPDUMP_H

#include <stddef.h>

#define HEAPDUMP_PATH_BYTES 256          /* a snapshot path, NUL included (the page's field) */
#define HEAPDUMP_TIMEOUT_MS 120000       /* V8 writes ~50 MB/s: a heap of a few GB */

/* Asks process pid (as proc_root lists it) for a heap snapshot: finds its
 * telemetry page (docs/telemetry.md) in /proc/PID/fd, and when the page
 * allows snapshots connects to the abstract UNIX socket it names, sends the
 * page's token (only a reader of the page, which takes ptrace read access
 * to the process, knows it) and waits at most timeout_ms for the answer.
 * Returns 0 and the snapshot's path (as the app wrote it) in ret_path, or
 * -ENOENT (no readable page), -EOPNOTSUPP (the page does not allow
 * snapshots), -EBUSY (sooner than the app's interval allows), -EACCES (the
 * app refused the token), -EIO (the app failed to write it), -ETIMEDOUT,
 * -EPROTO (an answer that is not the protocol's), or another -errno of the
 * socket. ret_path is written only on success. Blocks: the app's event loop
 * stops while V8 writes the snapshot (seconds for a large heap). */
int heapdump_request(const char *proc_root, int pid, int timeout_ms, char *ret_path, size_t path_len);

struct gengc_telemetry_page;

/* Asks the writer of page p (a reading that passed telemetry_read() and
 * allows snapshots) for a heap snapshot without waiting for it: connects to
 * its socket, sends the request and closes. The app writes the snapshot on
 * its own time and says the outcome on its page (snapshot_status,
 * snapshots, snapshot_path). For the heap collector's rule (heap.snapshot_on_leak):
 * never blocks the sampler. Returns 0, -EOPNOTSUPP when p does not allow
 * snapshots, -ENOENT when nothing listens, or another -errno. */
int heapdump_send(const struct gengc_telemetry_page *p);

/* "no telemetry page", "snapshots not allowed by the app", ...: for the
 * negative errno heapdump_request() returned. */
const char *heapdump_strerror(int r);

#endif
