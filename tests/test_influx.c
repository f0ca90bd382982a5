/* SPDX-License-Identifier: MIT */
/* Line protocol: escaping, nanosecond timestamps, NaN and Inf skipped. */
#include <math.h>

#include "influx.h"
#include "series.h"
#include "test.h"

static void test_lines(void)
{
	struct series_table *t = series_table_new();
	struct snapshot_label l[] = { { "comm", "a b,c=d" }, { "empty", "" } };
	struct series *s = series_intern(t, "m total,x", l, 2), *u = series_intern(t, "u", NULL, 0);
	struct series_sample v[] = { { s, 1.5, 1700000000123 }, { u, NAN, 1 }, { u, INFINITY, 1 }, { u, 3, 7 } };
	struct series_span sp[2] = { { v, 2 }, { v + 2, 2 } };
	struct strbuf out = { 0 };
	size_t skipped = 0;

	REQUIRE(s && u);
	influx_encode(sp, 2, &out, &skipped);
	REQUIRE(!strbuf_failed(&out));
	CHECK_STR(out.buf, "m\\ total\\,x,comm=a\\ b\\,c\\=d value=1.5 1700000000123000000\n"
			   "u value=3 7000000\n");
	CHECK_EQ(skipped, 2);
	strbuf_done(&out);
	series_table_free(t);
}

int main(void)
{
	RUN(test_lines);
	return test_done();
}
