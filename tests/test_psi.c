/* SPDX-License-Identifier: MIT */
/* psi: the PSI parser on real, busy, truncated, empty and garbage text. */
#include <stdlib.h>
#include <string.h>

#include "psi.h"
#include "test.h"

#define PSI(text) psi_parse(text, strlen(text), &p)

static void test_parse_fixtures(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/pressure-memory-busy.txt", &len);
	struct psi p;

	REQUIRE(buf);
	CHECK_EQ(psi_parse(buf, len, &p), 0);
	CHECK(p.some.present && p.full.present);
	CHECK(p.some.avg10 == 1.53 && p.some.avg60 == 0.87 && p.some.avg300 == 0.21);
	CHECK_U64(p.some.total_us, 3141592);
	CHECK_U64(p.full.total_us, 1000000);
	free(buf);

	buf = test_slurp("tests/fixtures/proc/pressure-memory.txt", &len);
	REQUIRE(buf);
	CHECK_EQ(psi_parse(buf, len, &p), 0);
	free(buf);

	/* "full" is optional (older kernels' cpu file has none). */
	const char *some_only = "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n";

	CHECK_EQ(psi_parse(some_only, strlen(some_only), &p), 0);
	CHECK(!p.full.present);
}

static void test_parse_bad(void)
{
	const char *good = "some avg10=1.00 avg60=2.00 avg300=3.00 total=7\n"
			   "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n";
	struct psi p;
	uint64_t seed = 7;
	char junk[256];

	CHECK_EQ(PSI(""), -EBADMSG);
	size_t first_line = (size_t)(strchr(good, '\n') - good) + 1;

	for (size_t cut = 0; cut < strlen(good); cut++) {
		int r = psi_parse(good, cut, &p);

		/* Only a cut right after the first line's newline parses. */
		CHECK_EQ(r, cut == first_line ? 0 : -EBADMSG);
	}
	CHECK_EQ(PSI("some avg10=1 avg60=2 total=3\n"), -EBADMSG);
	CHECK_EQ(PSI("some avg10=101.00 avg60=2.00 avg300=3.00 total=7\n"), -EBADMSG);
	CHECK_EQ(PSI("some avg10=-1.00 avg60=2.00 avg300=3.00 total=7\n"), -EBADMSG);
	CHECK_EQ(PSI("oops avg10=1.00 avg60=2.00 avg300=3.00 total=7\n"), -EBADMSG);
	for (int round = 0; round < 2000; round++) {
		size_t n = test_rand(&seed) % sizeof(junk);

		for (size_t i = 0; i < n; i++)
			junk[i] = (char)test_rand(&seed);
		(void)psi_parse(junk, n, &p);
	}
}

static void test_add_labels(void)
{
	struct snapshot *s = snapshot_new();
	static const struct metric_desc ratio = { "t_ratio", METRIC_GAUGE, NULL, "r" };
	static const struct metric_desc stall = { "t_stall_seconds_total", METRIC_COUNTER, NULL, "s" };
	struct psi p = { .some = { true, 10, 20, 30, 2000000 }, .full = { true, 1, 2, 3, 500000 } };
	const char *const lv[] = { "target", "api", NULL };
	const struct snapshot_family *f;

	REQUIRE(s);
	CHECK_EQ(psi_add(s, &p, &ratio, &stall, lv), 0);
	f = snapshot_families(s);
	REQUIRE(f && f->desc == &ratio && f->next && f->next->desc == &stall);
	CHECK_EQ(f->n_samples, 6);
	CHECK_EQ(f->samples->n_labels, 3);
	CHECK_STR(f->samples->labels[0].value, "api");
	CHECK_STR(f->samples->labels[1].value, "some");
	CHECK_STR(f->samples->labels[2].value, "10s");
	CHECK(f->samples->value == 0.10);
	CHECK_EQ(f->next->n_samples, 2);
	CHECK(f->next->samples->value == 2.0);
	snapshot_unref(s);
}

int main(void)
{
	RUN(test_parse_fixtures);
	RUN(test_parse_bad);
	RUN(test_add_labels);
	return test_done();
}
