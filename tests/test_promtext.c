/* SPDX-License-Identifier: MIT */
/* promtext: exposition in text 0.0.4 and OpenMetrics 1.0, escaping, numbers,
 * histograms, and Accept negotiation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"
#include "test.h"

static const struct metric_desc g = { "t_resident_bytes", METRIC_GAUGE, "bytes", "Resident \\ memory\nnow \"x\"." };
static const struct metric_desc c = { "t_samples_total", METRIC_COUNTER, NULL, "Samples." };
static const struct metric_desc h = { "t_exit_peak_bytes", METRIC_HISTOGRAM, "bytes", "Peaks." };

static struct snapshot *fixture(void)
{
	struct snapshot *s = snapshot_new();
	double bounds[2] = { 1048576, 8388608 };
	uint64_t counts[3] = { 2, 0, 1 };

	snapshot_add(s, &g, 1234, (const char *[]){ "target", "a\"b\\c\nd", "pid", "42", NULL });
	snapshot_add(s, &g, 0.5, (const char *[]){ "target", "x", NULL });
	snapshot_add(s, &c, 7, NULL);
	snapshot_histogram(s, &h, (const char *[]){ "target", "t", NULL }, bounds, counts, 2, 12.5);
	snapshot_seal(s, 1);
	return s;
}

static void test_text_format(void)
{
	struct snapshot *s = fixture();
	struct strbuf b = {0};

	promtext_render(s, PROMTEXT_TEXT, &b);
	promtext_end(&b, PROMTEXT_TEXT);
	REQUIRE(!strbuf_failed(&b));
	CHECK_STR(b.buf,
		  "# HELP t_resident_bytes Resident \\\\ memory\\nnow \"x\".\n"
		  "# TYPE t_resident_bytes gauge\n"
		  "t_resident_bytes{target=\"a\\\"b\\\\c\\nd\",pid=\"42\"} 1234\n"
		  "t_resident_bytes{target=\"x\"} 0.5\n"
		  "# HELP t_samples_total Samples.\n"
		  "# TYPE t_samples_total counter\n"
		  "t_samples_total 7\n"
		  "# HELP t_exit_peak_bytes Peaks.\n"
		  "# TYPE t_exit_peak_bytes histogram\n"
		  "t_exit_peak_bytes_bucket{target=\"t\",le=\"1048576\"} 2\n"
		  "t_exit_peak_bytes_bucket{target=\"t\",le=\"8388608\"} 2\n"
		  "t_exit_peak_bytes_bucket{target=\"t\",le=\"+Inf\"} 3\n"
		  "t_exit_peak_bytes_sum{target=\"t\"} 12.5\n"
		  "t_exit_peak_bytes_count{target=\"t\"} 3\n");
	strbuf_done(&b);
	snapshot_unref(s);
}

static void test_openmetrics_format(void)
{
	struct snapshot *s = fixture();
	struct strbuf b = {0};

	promtext_render(s, PROMTEXT_OPENMETRICS, &b);
	promtext_end(&b, PROMTEXT_OPENMETRICS);
	REQUIRE(!strbuf_failed(&b));
	/* Counter family without _total, units announced, quotes escaped in
	 * HELP, and the mandatory # EOF. */
	CHECK_CONTAINS(b.buf, "# HELP t_resident_bytes Resident \\\\ memory\\nnow \\\"x\\\".\n"
			      "# TYPE t_resident_bytes gauge\n# UNIT t_resident_bytes bytes\n");
	CHECK_CONTAINS(b.buf, "# TYPE t_samples counter\nt_samples_total 7\n");
	CHECK_CONTAINS(b.buf, "# UNIT t_exit_peak_bytes bytes\n");
	CHECK(b.len > 6 && strcmp(b.buf + b.len - 6, "# EOF\n") == 0);
	strbuf_done(&b);
	snapshot_unref(s);
}

/* Whether s is UTF-8 as Go's utf8.Valid sees it: no stray continuation
 * bytes, no overlongs, no surrogates, nothing above U+10FFFF. */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		unsigned b0 = *s, n, cp, min;

		if (b0 < 0x80) {
			s++;
			continue;
		}
		if (b0 >= 0xc2 && b0 <= 0xdf)
			n = 2, cp = b0 & 0x1f, min = 0x80;
		else if ((b0 & 0xf0) == 0xe0)
			n = 3, cp = b0 & 0x0f, min = 0x800;
		else if (b0 >= 0xf0 && b0 <= 0xf4)
			n = 4, cp = b0 & 0x07, min = 0x10000;
		else
			return false;
		for (unsigned i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n;
	}
	return true;
}

/* Label values come from processes (comm is whatever prctl() or a 15-byte
 * cut of a UTF-8 name left); Prometheus refuses a whole scrape over one
 * value that is not UTF-8, so the renderer must never emit one. */
static void test_label_values_utf8(void)
{
	static const struct metric_desc d = { "t_count", METRIC_GAUGE, NULL, "Count." };
	const char *const values[] = {
		"\xff",                  /* a byte that is never UTF-8 */
		"\xc3\xb1\xc3\xb1\xc3",  /* a name cut inside a character */
		"\xc0\xaf",              /* an overlong '/' */
		"\xed\xa0\x80",          /* a surrogate */
		"a\x80" "b",            /* a stray continuation byte */
	};

	for (int f = PROMTEXT_TEXT; f <= PROMTEXT_OPENMETRICS; f++) {
		struct snapshot *s = snapshot_new();
		struct strbuf b = {0};

		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
			snapshot_add(s, &d, 1, (const char *[]){ "comm", values[i], NULL });
		snapshot_add(s, &d, 2, (const char *[]){ "comm", "caf\xc3\xa9 \xe6\x97\xa5", NULL });
		snapshot_seal(s, 1);
		promtext_render(s, (enum promtext_format)f, &b);
		REQUIRE(!strbuf_failed(&b));
		CHECK(valid_utf8((const unsigned char *)b.buf));
		/* Each bad byte shows as U+FFFD; valid characters pass unchanged. */
		CHECK_CONTAINS(b.buf, "t_count{comm=\"\xef\xbf\xbd\"} 1\n");
		CHECK_CONTAINS(b.buf, "t_count{comm=\"a\xef\xbf\xbd" "b\"} 1\n");
		CHECK_CONTAINS(b.buf, "t_count{comm=\"caf\xc3\xa9 \xe6\x97\xa5\"} 2\n");
		strbuf_done(&b);
		snapshot_unref(s);
	}
}

static void test_numbers(void)
{
	const double v[] = { 0, 1, 1e15, 0.1, 1.0 / 3, -2.5, 1e300, 9007199254740993.0 };
	struct strbuf b = {0};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		b.len = 0;
		strbuf_double(&b, v[i]);
		REQUIRE(!strbuf_failed(&b));
		CHECK(strtod(b.buf, NULL) == v[i]); /* round-trips exactly */
	}
	b.len = 0;
	strbuf_double(&b, 1073741824);
	CHECK_STR(b.buf, "1073741824");
	b.len = 0;
	strbuf_double(&b, NAN);
	CHECK_STR(b.buf, "NaN");
	b.len = 0;
	strbuf_double(&b, -INFINITY);
	CHECK_STR(b.buf, "-Inf");
	strbuf_done(&b);
}

static void test_negotiate(void)
{
	/* What Prometheus 2.x sends. */
	CHECK_EQ(promtext_negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
				    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
		 PROMTEXT_OPENMETRICS);
	CHECK_EQ(promtext_negotiate(NULL), PROMTEXT_TEXT);
	CHECK_EQ(promtext_negotiate("*/*"), PROMTEXT_TEXT);
	CHECK_EQ(promtext_negotiate("text/plain"), PROMTEXT_TEXT);
	CHECK_EQ(promtext_negotiate("application/openmetrics-text"), PROMTEXT_OPENMETRICS);
	CHECK_EQ(promtext_negotiate("application/openmetrics-text; version=1.0.0; charset=utf-8"),
		 PROMTEXT_OPENMETRICS);
	/* Only a version we do not speak: text. */
	CHECK_EQ(promtext_negotiate("application/openmetrics-text;version=0.0.1"), PROMTEXT_TEXT);
	CHECK_EQ(promtext_negotiate("application/openmetrics-text;version=10.0.0"), PROMTEXT_TEXT);
	CHECK_EQ(promtext_negotiate("application/openmetrics-text;version=1"), PROMTEXT_OPENMETRICS);
	CHECK_EQ(promtext_negotiate("application/openmetrics-text;version=1.0.0 "), PROMTEXT_OPENMETRICS);
	/* Text preferred by q: text. */
	CHECK_EQ(promtext_negotiate("application/openmetrics-text;q=0.2, text/plain;q=0.9"), PROMTEXT_TEXT);
	CHECK_EQ(promtext_negotiate("application/openmetrics-text;q=0"), PROMTEXT_TEXT);
	CHECK_EQ(promtext_negotiate(""), PROMTEXT_TEXT);
	CHECK_EQ(promtext_negotiate(",,;;;q=,"), PROMTEXT_TEXT);
}

int main(void)
{
	RUN(test_text_format);
	RUN(test_openmetrics_format);
	RUN(test_label_values_utf8);
	RUN(test_numbers);
	RUN(test_negotiate);
	return test_done();
}
