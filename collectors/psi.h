/* SPDX-License-Identifier: MIT */
/* Memory pressure (PSI) from /proc/pressure/memory and cgroup memory.pressure. */
#ifndef MEMAGENT_PSI_H
#define MEMAGENT_PSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

struct psi_line {
	bool present;
	double avg10, avg60, avg300; /* percent of wall time, 0..100 */
	uint64_t total_us;           /* cumulative stall time */
};

struct psi {
	struct psi_line some, full;
};

/* Parses "some avg10=.. avg60=.. avg300=.. total=..\nfull ...\n" (the same
 * text /proc/pressure/memory and a v2 cgroup's memory.pressure hold). The
 * "some" line is required, "full" optional. Returns 0 or -EBADMSG. */
int psi_parse(const char *buf, size_t len, struct psi *ret);

/* Adds the ratio and stall-time samples of p to snap under the given metric
 * families, with labels (NULL-terminated pairs, may be NULL) plus kind and
 * window. Shared by the system PSI and the cgroup collectors. */
int psi_add(struct snapshot *snap, const struct psi *p, const struct metric_desc *ratio,
	    const struct metric_desc *stall, const char *const *labels);

extern const struct collector psi_collector;

#endif
