/* SPDX-License-Identifier: MIT */
/* GC events of libgengc apps from their USDT probe (gengc:gc__done), counted by BPF, telemetry page or not. */
#ifndef MEMAGENT_GC_EVENTS_H
#define MEMAGENT_GC_EVENTS_H

#include "collector.h"

/* memagent_gc_events_total{target,pid,kind} and the pause histogram
 * memagent_gc_event_pause_seconds, for every process running a file that
 * carries gengc:gc__done (at most ctx->limits.max_instrumented). Needs BPF
 * (ctx->use_bpf and privilege): init fails otherwise, and says why through
 * collector_bpf_unavailable(). */
extern const struct collector gc_events_collector;

#endif
