/* SPDX-License-Identifier: MIT */
/* Tests of agent/probe: every feature and program of `memagent --probe`, for real. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "bpf_support.h"
#include "probe.h"

static struct bpf_failure fl;

static bool bpf_usable(void)
{
	return bpf_support_check("test", NULL, NULL, &fl) == 0;
}

/* As root on a kernel with BTF every feature is there, each with a detail. */
static void test_probe_all(void)
{
	struct bpf_feature_status st[BPF_FEATURE_MAX];
	int n;

	if (!bpf_usable())
		TEST_SKIP_UNLESS_CI(fl.why);
	n = probe_run(st);
	for (int f = 0; f < BPF_FEATURE_MAX; f++) {
		CHECK(strcmp(bpf_feature_name(f), "?") != 0);
		CHECK(st[f].why[0] != '\0');
		if (!st[f].available)
			printf("  %s: %s\n", bpf_feature_name(f), st[f].why);
		CHECK(st[f].available);
		CHECK_EQ(st[f].err, 0);
	}
	CHECK_EQ(n, BPF_FEATURE_MAX);
	CHECK_CONTAINS(st[BPF_FEATURE_TASK_ITER].why, "processes");
	CHECK_CONTAINS(st[BPF_FEATURE_MEMLOCK].why, "not needed");
	CHECK_STR(bpf_feature_name(BPF_FEATURE_MAX), "?");
}

int main(void)
{
	RUN(test_probe_all);
	return test_done();
}
