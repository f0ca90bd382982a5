/* SPDX-License-Identifier: MIT */
/* snapshot: building, labels, histograms, misuse, memoised rendering. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "test.h"

static const struct metric_desc g = { "t_gauge_bytes", METRIC_GAUGE, "bytes", "a gauge" };
static const struct metric_desc c = { "t_things_total", METRIC_COUNTER, NULL, "a counter" };
static const struct metric_desc h = { "t_hist_bytes", METRIC_HISTOGRAM, "bytes", "a histogram" };

static void test_families_in_first_add_order(void)
{
	struct snapshot *s = snapshot_new();
	const struct snapshot_family *f;
	char name[16];

	REQUIRE(s);
	CHECK_EQ(snapshot_add(s, &c, 1, NULL), 0);
	CHECK_EQ(snapshot_add(s, &g, 2, (const char *[]){ "target", "a", NULL }), 0);
	CHECK_EQ(snapshot_add(s, &c, 3, NULL), 0);
	/* Many families: the descriptor index must grow without losing any. */
	static struct metric_desc many[200];
	for (int i = 0; i < 200; i++) {
		many[i] = (struct metric_desc){ "t_many", METRIC_GAUGE, NULL, "x" };
		snprintf(name, sizeof(name), "%d", i);
		CHECK_EQ(snapshot_add(s, &many[i], i, (const char *[]){ "i", name, NULL }), 0);
		CHECK_EQ(snapshot_add(s, &many[i], i, (const char *[]){ "i", name, NULL }), 0);
	}
	f = snapshot_families(s);
	REQUIRE(f && f->desc == &c);
	CHECK_EQ(f->n_samples, 2);
	CHECK(f->samples->value == 1 && f->samples->next->value == 3);
	f = f->next;
	REQUIRE(f && f->desc == &g);
	CHECK_EQ(f->samples->n_labels, 1);
	CHECK_STR(f->samples->labels[0].key, "target");
	CHECK_STR(f->samples->labels[0].value, "a");
	for (int i = 0; i < 200; i++) {
		f = f->next;
		REQUIRE(f && f->desc == &many[i]);
		CHECK_EQ(f->n_samples, 2);
	}
	CHECK(f->next == NULL);
	CHECK_EQ(snapshot_n_samples(s), 403);
	snapshot_unref(s);
}

static void test_labels_are_copied(void)
{
	struct snapshot *s = snapshot_new();
	char value[8] = "before";

	REQUIRE(s);
	CHECK_EQ(snapshot_add(s, &g, 1, (const char *[]){ "k", value, NULL }), 0);
	strcpy(value, "after");
	CHECK_STR(snapshot_families(s)->samples->labels[0].value, "before");
	snapshot_unref(s);
}

static void test_misuse_rejected(void)
{
	struct snapshot *s = snapshot_new();
	double b[1] = { 1 };
	uint64_t n[2] = { 0, 0 };

	REQUIRE(s);
	CHECK_EQ(snapshot_add(s, &g, 1, (const char *[]){ "odd", NULL }), -EINVAL);
	CHECK_EQ(snapshot_add(s, &h, 1, NULL), -EINVAL);
	CHECK_EQ(snapshot_histogram(s, &g, NULL, b, n, 1, 0), -EINVAL);
	snapshot_seal(s, 7);
	CHECK_EQ(snapshot_add(s, &g, 1, NULL), -EINVAL);
	CHECK_U64(snapshot_sample_no(s), 7);
	CHECK(snapshot_families(s) == NULL);
	snapshot_unref(s);
}

static void test_histogram_copied(void)
{
	struct snapshot *s = snapshot_new();
	double bounds[3] = { 1, 2, 4 };
	uint64_t counts[4] = { 1, 0, 5, 2 };
	const struct snapshot_sample *smp;

	REQUIRE(s);
	CHECK_EQ(snapshot_histogram(s, &h, NULL, bounds, counts, 3, 99.5), 0);
	counts[0] = 100;
	smp = snapshot_families(s)->samples;
	CHECK_EQ(smp->n_bounds, 3);
	CHECK_U64(smp->counts[0], 1);
	CHECK_U64(smp->counts[3], 2);
	CHECK(smp->value == 99.5);
	snapshot_unref(s);
}

static int render_calls;

static int render(const struct snapshot *s, char **ret_buf, size_t *ret_len)
{
	__atomic_add_fetch(&render_calls, 1, __ATOMIC_SEQ_CST);
	*ret_buf = strdup(snapshot_n_samples(s) ? "rendered" : "empty");
	*ret_len = strlen(*ret_buf);
	return 0;
}

static void *memo_thread(void *arg)
{
	const char *buf;
	size_t len;

	for (int i = 0; i < 1000; i++)
		if (snapshot_memo(arg, 1, render, &buf, &len) < 0 || strcmp(buf, "rendered") != 0)
			return (void *)1;
	return NULL;
}

static void test_memo_renders_once(void)
{
	struct snapshot *s = snapshot_new();
	pthread_t t[4];
	void *rv;

	REQUIRE(s);
	snapshot_add(s, &g, 1, NULL);
	snapshot_seal(s, 1);
	render_calls = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, memo_thread, s);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &rv);
		CHECK(rv == NULL);
	}
	CHECK_EQ(render_calls, 1);
	CHECK_EQ(snapshot_memo(s, SNAPSHOT_MEMO_SLOTS, render, &(const char *){ NULL }, &(size_t){ 0 }),
		 -EINVAL);
	snapshot_unref(s);
}

int main(void)
{
	RUN(test_families_in_first_add_order);
	RUN(test_labels_are_copied);
	RUN(test_misuse_rejected);
	RUN(test_histogram_copied);
	RUN(test_memo_renders_once);
	return test_done();
}
