/* SPDX-License-Identifier: MIT */
/* dashboard: examples/grafana/memagent.json is valid JSON whose every query
 * names only metrics the agent exports, and systemd/memagent.rules.yml too
 * (checked against the list the code registers, as test_docs does). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sampler.h"
#include "test.h"

/* Whether name is a family the agent exports, or a histogram's series. */
static bool exported(const char *name)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };

	for (const struct metric_desc *const *d = sampler_all_metrics(); *d; d++) {
		size_t n = strlen((*d)->name);

		if (strcmp((*d)->name, name) == 0)
			return true;
		if ((*d)->type != METRIC_HISTOGRAM || strncmp((*d)->name, name, n) != 0)
			continue;
		for (size_t i = 0; i < 3; i++)
			if (strcmp(name + n, suffixes[i]) == 0)
				return true;
	}
	return false;
}

/* Checks every memagent_* name in text; returns how many there were. */
static int check_names(const char *where, const char *text)
{
	int n = 0;

	for (const char *p = strstr(text, "memagent_"); p; p = strstr(p, "memagent_")) {
		char name[128];
		size_t k = 0;

		/* A name, not the tail of another identifier. */
		if (p > text && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z'))) {
			p++;
			continue;
		}
		while (k + 1 < sizeof(name) &&
		       (p[k] == '_' || (p[k] >= 'a' && p[k] <= 'z') || (p[k] >= '0' && p[k] <= '9'))) {
			name[k] = p[k];
			k++;
		}
		name[k] = '\0';
		n++;
		if (!exported(name))
			test_fail_at(__FILE__, __LINE__, "%s queries %s, which the agent does not export", where, name);
		p += k;
	}
	return n;
}

/* Every query string of the dashboard ("expr", and the variables' "query"
 * and "definition"); counts the panels' targets. */
static void walk(json_t *v, int *n_exprs, int *n_names)
{
	const char *key;
	json_t *e;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			walk(e, n_exprs, n_names);
		return;
	}
	if (!json_is_object(v))
		return;
	json_object_foreach(v, key, e) {
		if (json_is_string(e) && (strcmp(key, "expr") == 0 || strcmp(key, "definition") == 0)) {
			*n_exprs += strcmp(key, "expr") == 0;
			*n_names += check_names("examples/grafana/memagent.json", json_string_value(e));
		} else {
			walk(e, n_exprs, n_names);
		}
	}
}

static void test_dashboard_queries(void)
{
	json_error_t je;
	json_t *d = json_load_file("examples/grafana/memagent.json", JSON_REJECT_DUPLICATES, &je);
	int n_exprs = 0, n_names = 0, n_panels = 0;
	json_t *p;
	size_t i;

	if (!d)
		test_fail_at(__FILE__, __LINE__, "not valid JSON: %d:%d: %s", je.line, je.column, je.text);
	REQUIRE(d);
	CHECK(json_is_string(json_object_get(d, "title")));
	json_array_foreach(json_object_get(d, "panels"), i, p)
		n_panels += json_array_size(json_object_get(p, "targets")) > 0;
	walk(d, &n_exprs, &n_names);
	/* Host memory, top targets, heap spaces, GC pauses, queues, flags... */
	CHECK(n_panels >= 8);
	CHECK(n_exprs >= n_panels);
	CHECK(n_names >= n_exprs);
	json_decref(d);
}

static void test_rules_file_metrics(void)
{
	char *text = test_slurp("systemd/memagent.rules.yml", NULL);

	REQUIRE(text);
	CHECK(check_names("systemd/memagent.rules.yml", text) >= 8);
	free(text);
}

/* The check itself: a misspelt name, a counter's _bucket, are caught. */
static void test_check_catches(void)
{
	CHECK(exported("memagent_gc_pause_seconds_bucket"));
	CHECK(exported("memagent_process_count"));
	CHECK(!exported("memagent_process_rss_bytes"));
	CHECK(!exported("memagent_oom_kills_total_bucket"));
}

int main(void)
{
	RUN(test_dashboard_queries);
	RUN(test_rules_file_metrics);
	RUN(test_check_catches);
	return test_done();
}
