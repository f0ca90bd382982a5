/* SPDX-License-Identifier: MIT */
/* Reading a telemetry page (docs/telemetry.md): the consistent copy, the checks, the reasons. */
#ifndef MEMAGENT_TELEMETRY_H
#define MEMAGENT_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gengc_telemetry.h"

/* Why a page was refused: the `reason` label values of
 * memagent_telemetry_errors_total (docs/telemetry.md, "What a reader refuses"). */
enum telemetry_reason {
	TELEMETRY_OK = 0,
	TELEMETRY_MAGIC,
	TELEMETRY_VERSION,
	TELEMETRY_SIZE,
	TELEMETRY_TORN,
	TELEMETRY_OWNER,
	TELEMETRY_NAME,
	TELEMETRY_ABSURD,
	TELEMETRY_REGRESSED,
	TELEMETRY_UNREADABLE,
	TELEMETRY_OVERFLOW,
	TELEMETRY_REASON_MAX,
	/* Not a refusal: the writer closed the page (its magic is zeroed:
	 * docs/telemetry.md, "Closing"). telemetry_read() only. */
	TELEMETRY_CLOSED = TELEMETRY_REASON_MAX,
};
/* "magic", "version", ...; "unknown" out of range. */
const char *telemetry_reason_name(enum telemetry_reason r);

/* Is the text of a /proc/PID/fd link (n bytes at l, not terminated) that of
 * a page file? memfd pages by their exact name, tmpfs files by the reserved
 * basename prefix, both unlinked; *ret_memfd says which. The caller still
 * checks what the link opens (a regular file; for tmpfs, unlinked on tmpfs). */
bool telemetry_page_link(const char *l, size_t n, bool *ret_memfd);

/* Opens entry `name` of a /proc/PID/fd directory (fd_dir) if it is a page:
 * its link passes telemetry_page_link() and what it opens is a regular
 * file, and for a tmpfs page an unlinked file on a tmpfs. Returns the
 * descriptor (O_RDONLY, close-on-exec, non-blocking) with its fstat in
 * *ret_sb; -ENOENT when the entry is no page; another -errno when a page's
 * link could not be opened. */
int telemetry_page_open(int fd_dir, const char *name, struct stat *ret_sb);

/* Attempts a reader makes for one whole copy before it says "torn". */
#define TELEMETRY_READ_ATTEMPTS 4

/* Checks a copy of a page (len bytes at buf, any alignment, any content):
 * magic, version, size, the consistency counters (both even and equal),
 * names (non-empty, terminated, unique), counts within their arrays and
 * values that cannot be (used > size, histogram != count, records out of
 * place). A pure function of the bytes: the fuzz target's entry point.
 * Returns TELEMETRY_OK and the page in *ret, or the first reason that
 * refuses it (*ret untouched). Cost: one pass over 8 KiB. */
enum telemetry_reason telemetry_parse(const void *buf, size_t len, struct gengc_telemetry_page *ret);

/* Reads a consistent copy of the page open on fd (a regular file) with pread (seq, the page,
 * seq again; TELEMETRY_READ_ATTEMPTS times at most) and parses it.
 * Returns TELEMETRY_OK and the page, TELEMETRY_UNREADABLE when a read
 * failed, TELEMETRY_SIZE for a short file, TELEMETRY_TORN when no attempt
 * gave one whole copy, TELEMETRY_CLOSED for a page its writer closed, or
 * what telemetry_parse() says. */
enum telemetry_reason telemetry_read(int fd, struct gengc_telemetry_page *ret);

/* What must never go back between two readings of one page. */
struct telemetry_counters {
	uint32_t n_kinds;
	char kind_name[GENGC_TELEMETRY_KINDS][GENGC_TELEMETRY_KEY_BYTES];
	uint64_t kind_count[GENGC_TELEMETRY_KINDS];
	uint64_t full_gcs, gc_seq, promoted_bytes, allocated_bytes;
};
void telemetry_counters_of(const struct gengc_telemetry_page *p, struct telemetry_counters *ret);
/* True when a counter of cur is below prev's, or a GC kind prev had is gone
 * (kinds are matched by name: a writer may add kinds, never drop one). */
bool telemetry_regressed(const struct telemetry_counters *prev, const struct gengc_telemetry_page *cur);

#endif
