/* SPDX-License-Identifier: MIT */
/* docs: docs/metrics.md and the code name the same metrics with the same types. */
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "test.h"

static const char *type_word(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER: return "counter";
	case METRIC_HISTOGRAM: return "histogram";
	case METRIC_UNTYPED: return "untyped";
	default: return "gauge";
	}
}

/* The table row of name: "| `name` | type |", or NULL. */
static const char *row_of(const char *doc, const char *name)
{
	char needle[256];

	snprintf(needle, sizeof(needle), "\n| `%s` | ", name);
	return strstr(doc, needle);
}

static void test_every_metric_documented(void)
{
	char *doc = test_slurp("docs/metrics.md", NULL);
	int n = 0;

	REQUIRE(doc);
	for (const struct metric_desc *const *d = sampler_all_metrics(); *d; d++, n++) {
		const char *row = row_of(doc, (*d)->name);
		char want[300];

		if (!row) {
			test_fail_at(__FILE__, __LINE__, "%s is not in docs/metrics.md", (*d)->name);
			continue;
		}
		snprintf(want, sizeof(want), "\n| `%s` | %s |", (*d)->name, type_word((*d)->type));
		if (strncmp(row, want, strlen(want)) != 0)
			test_fail_at(__FILE__, __LINE__, "%s: docs give another type than %s", (*d)->name,
				     type_word((*d)->type));
		CHECK(strlen((*d)->help) > 0);
	}
	CHECK(n > 50);
	free(doc);
}

static void test_no_phantom_metric_documented(void)
{
	char *doc = test_slurp("docs/metrics.md", NULL);

	REQUIRE(doc);
	for (const char *p = strstr(doc, "\n| `memagent_"); p; p = strstr(p + 1, "\n| `memagent_")) {
		char name[256];
		const char *s = p + 4, *e = strchr(s, '`');
		bool found = false;

		REQUIRE(e && (size_t)(e - s) < sizeof(name));
		memcpy(name, s, (size_t)(e - s));
		name[e - s] = '\0';
		for (const struct metric_desc *const *d = sampler_all_metrics(); *d; d++)
			found |= strcmp((*d)->name, name) == 0;
		if (!found)
			test_fail_at(__FILE__, __LINE__, "docs/metrics.md lists %s, which the code never emits", name);
	}
	free(doc);
}

int main(void)
{
	RUN(test_every_metric_documented);
	RUN(test_no_phantom_metric_documented);
	return test_done();
}
