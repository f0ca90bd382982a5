/* SPDX-License-Identifier: MIT */
/* Remote-write payloads: what is encoded decodes back series by series, in
 * queue order, labels sorted with __name__ among them; histograms expanded. */
#include "remote_write.h"
#include "series.h"
#include "snapshot.h"
#include "strbuf.h"
#include "test.h"

static const struct metric_desc g = { "m_bytes", METRIC_GAUGE, "bytes", "g" };
static const struct metric_desc h = { "d_seconds", METRIC_HISTOGRAM, "seconds", "h" };

struct collect {
	struct series_sample v[64];
	size_t n;
	int64_t ts;
};

static int collect(void *arg, struct series *s, double value)
{
	struct collect *c = arg;

	if (c->n < 64)
		c->v[c->n++] = (struct series_sample){ s, value, c->ts };
	return 0;
}

struct decoded {
	struct strbuf text;
};

static int on_sample(void *arg, const char *const *pairs, size_t n, double value, int64_t ts)
{
	struct decoded *d = arg;

	for (size_t i = 0; i < n; i++)
		strbuf_printf(&d->text, "%s%s=%s", i ? "," : "", pairs[2 * i], pairs[2 * i + 1]);
	strbuf_printf(&d->text, " %g %lld\n", value, (long long)ts);
	return 0;
}

static void test_roundtrip(void)
{
	struct series_table *t = series_table_new();
	struct snapshot *a = snapshot_new(), *b = snapshot_new();
	const char *const l1[] = { "target", "web", "comm", "nginx", NULL };
	const char *const l2[] = { "target", "db", NULL };
	const double bounds[] = { 0.5 };
	const uint64_t counts[] = { 2, 3 };
	struct collect c = { .ts = 1000 };
	struct series_span sp;
	struct decoded d = { { 0 } };
	void *body;
	size_t len;

	REQUIRE(t && a && b);
	CHECK_EQ(snapshot_add(a, &g, 1, l1), 0);
	CHECK_EQ(snapshot_add(a, &g, 2, l2), 0);
	CHECK_EQ(snapshot_histogram(a, &h, NULL, bounds, counts, 1, 4.5), 0);
	CHECK_EQ(snapshot_add(b, &g, 10, l1), 0);
	CHECK_EQ(snapshot_add(b, &g, 20, l2), 0);
	snapshot_seal(a, 1);
	snapshot_seal(b, 2);
	CHECK_EQ(series_intern_snapshot(t, a, collect, &c), 0);
	CHECK_EQ(c.n, 2 + 4); /* two gauges, two buckets, sum, count */
	c.ts = 2000;
	CHECK_EQ(series_intern_snapshot(t, b, collect, &c), 0);
	CHECK_EQ(c.n, 8);
	/* The same label set is one series whatever snapshot it came from. */
	CHECK(c.v[0].s == c.v[6].s);
	CHECK_EQ(series_table_size(t), 6);
	sp = (struct series_span){ c.v, c.n };
	REQUIRE(remote_write_encode(&sp, 1, 1, &body, &len) == 0);
	CHECK_EQ(remote_write_decode(body, len, on_sample, &d), 0);
	CHECK_STR(d.text.buf,
		  "__name__=m_bytes,comm=nginx,target=web 1 1000\n"
		  "__name__=m_bytes,comm=nginx,target=web 10 2000\n"
		  "__name__=m_bytes,target=db 2 1000\n"
		  "__name__=m_bytes,target=db 20 2000\n"
		  "__name__=d_seconds_bucket,le=0.5 2 1000\n"
		  "__name__=d_seconds_bucket,le=+Inf 5 1000\n"
		  "__name__=d_seconds_sum 4.5 1000\n"
		  "__name__=d_seconds_count 5 1000\n");
	CHECK_EQ(remote_write_decode("not snappy", 10, on_sample, &d), -EBADMSG);
	free(body);
	strbuf_done(&d.text);
	/* Series no queue holds and the last snapshot lacked go. */
	series_sweep(t);
	CHECK_EQ(series_table_size(t), 2);
	snapshot_unref(a);
	snapshot_unref(b);
	series_table_free(t);
}

int main(void)
{
	RUN(test_roundtrip);
	return test_done();
}
