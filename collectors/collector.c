/* SPDX-License-Identifier: MIT */
/* What every collector shares beyond its interface: the reason label values. */
#include "collector.h"

const char *collector_reason_name(enum collector_reason r)
{
	static const char *const names[COLLECTOR_REASON_MAX] = {
		[COLLECTOR_VANISHED] = "vanished",
		[COLLECTOR_UNREADABLE] = "unreadable",
		[COLLECTOR_PARSE] = "parse",
		[COLLECTOR_OVERFLOW] = "overflow",
		[COLLECTOR_FD_LIMIT] = "fd_limit",
		[COLLECTOR_ABSENT] = "absent",
		[COLLECTOR_BPF] = "bpf",
	};

	return (unsigned)r < COLLECTOR_REASON_MAX ? names[r] : "unknown";
}
