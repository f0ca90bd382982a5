/* SPDX-License-Identifier: MIT */
/* Heap generations of instrumented apps: telemetry pages found in each process's fd table. */
#ifndef MEMAGENT_HEAP_H
#define MEMAGENT_HEAP_H

#include "collector.h"

/* Finds every telemetry page (docs/telemetry.md) through /proc/PID/fd with no
 * configuration, reads each one per sample, and exports its heap spaces, GC
 * counts and pauses, full-GC records and queue depths under target (the
 * page's name), pid and heap. Refused pages are counted in
 * memagent_telemetry_errors_total{reason}; at most
 * ctx->limits.max_instrumented pages are read (0: none). */
extern const struct collector heap_collector;

#endif
