/* SPDX-License-Identifier: MIT */
/* Per-process memory of the processes each target selects. */
#ifndef MEMAGENT_PROCESS_H
#define MEMAGENT_PROCESS_H

#include "collector.h"

/* The process collector. Per tick it lists /proc, reads each watched process
 * through descriptors kept open across ticks (one pread per file, no path
 * walk), and emits per target: an aggregate, one series per comm (group_by),
 * or one series per pid (per_process, capped, the rest under pid="other").
 *
 * Cost: one getdents pass over /proc plus, per watched process, one pread of
 * status (and of stat for targets that report faults). Processes no target
 * selects are re-checked for a changed comm every few ticks, without a kept
 * descriptor. */
extern const struct collector process_collector;

#endif
