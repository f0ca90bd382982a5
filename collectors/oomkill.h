/* SPDX-License-Identifier: MIT */
/* oomkill: the collector of OOM kills, over the mark_victim BPF module. */
#ifndef MEMAGENT_OOMKILL_H
#define MEMAGENT_OOMKILL_H

#include "collector.h"

/* The collector over this module: memagent_oom_kills_total{target} (victims
 * that matched no target count under target="other"), a COLLECTOR_EVENT_OOM_KILL
 * per kill for the log, and memagent_bpf_*{program="mark_victim"}. Without
 * BPF it still runs and reports the program as not enabled. */
extern const struct collector oomkill_collector;

#endif
