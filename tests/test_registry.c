/* SPDX-License-Identifier: MIT */
/* registry: publication of sealed snapshots and the readers' references. */
#include "registry.h"
#include "test.h"

static void test_publish_and_references(void)
{
	struct registry *r = registry_new();
	struct snapshot *a = snapshot_new(), *b = snapshot_new(), *got;

	REQUIRE(r && a && b);
	CHECK(registry_acquire(r) == NULL);
	snapshot_seal(a, 1);
	registry_publish(r, a);
	got = registry_acquire(r);
	CHECK(got == a);
	snapshot_seal(b, 2);
	registry_publish(r, b); /* a stays alive: we hold a reference */
	CHECK_U64(snapshot_sample_no(got), 1);
	snapshot_unref(got);
	got = registry_acquire(r);
	CHECK_U64(snapshot_sample_no(got), 2);
	snapshot_unref(got);
	registry_free(r);
}

int main(void)
{
	RUN(test_publish_and_references);
	return test_done();
}
