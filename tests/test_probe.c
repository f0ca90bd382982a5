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
	CHECK_CONTAINS(st[BPF_FEATURE_SOCK_ITER].why, "sockets");
	CHECK_CONTAINS(st[BPF_FEATURE_MEMLOCK].why, "not needed");
	CHECK_STR(bpf_feature_name(BPF_FEATURE_MAX), "?");
}

/* Whether bpftool finds `name` as a function in the kernel's BTF: an oracle
 * independent of our libbpf code. -1 when bpftool cannot tell. */
static int kernel_has_func(const char *name)
{
	char line[512], want[128];
	int found = 0;
	FILE *p;

	p = popen("bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null", "re");
	if (!p)
		return -1;
	snprintf(want, sizeof(want), "FUNC '%s' ", name);
	while (fgets(line, sizeof(line), p))
		if (strstr(line, want))
			found = 1;
	return pclose(p) == 0 ? found : -1;
}

/* Where the kernel lacks the kfunc of the fast reads (6.1), every program
 * is loaded in its portable variant, and only there (docs/bpf.md). */
static void test_variants_follow_the_kernel(void)
{
	struct bpf_feature_status st[BPF_FEATURE_MAX];
	int have;

	if (!bpf_usable())
		TEST_SKIP_UNLESS_CI(fl.why);
	have = kernel_has_func("bpf_rdonly_cast");
	REQUIRE(have >= 0);
	probe_run(st);
	for (int f = BPF_FEATURE_RSS_STAT; f <= BPF_FEATURE_TASK_ITER; f++) {
		REQUIRE(st[f].available);
		if (have)
			CHECK(strstr(st[f].why, "portable") == NULL);
		else
			CHECK_CONTAINS(st[f].why, "(portable reads)");
	}
	printf("  bpf_rdonly_cast %s: %s variants\n", have ? "present" : "absent",
	       have ? "fast" : "portable");
}

int main(void)
{
	RUN(test_probe_all);
	RUN(test_variants_follow_the_kernel);
	return test_done();
}
