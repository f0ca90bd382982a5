/* SPDX-License-Identifier: MIT */
/* probe: `memagent --probe`: the agent asks the host and every BPF module what works here, and why not.
 *
 * The host's features come from collectors/bpf_support; each program's
 * entry is a real load and attach of its module (then freed), so a probe
 * takes tens of milliseconds and says exactly what the agent would get.
 */
#ifndef MEMAGENT_PROBE_H
#define MEMAGENT_PROBE_H

#include "bpf_support.h"

/* Fills ret[f] for every feature. Returns the number available. */
int probe_run(struct bpf_feature_status ret[BPF_FEATURE_MAX]);

#endif
