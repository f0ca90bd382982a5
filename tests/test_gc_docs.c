/* SPDX-License-Identifier: MIT */
/* Keeps docs/gengc.md true: its example is tests/helpers/gc_example.c verbatim and prints what the guide says; every GENGC_ variable the code reads is documented. */
#include <unistd.h>

#include "test.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = 0;
	fclose(f);
	return buf;
}

static void test_guide_embeds_the_example(void)
{
	char *doc = slurp("docs/gengc.md"), *src = slurp("tests/helpers/gc_example.c");
	const char *marker = "<!-- example: tests/helpers/gc_example.c -->\n```c\n";
	char *start, *end;

	REQUIRE(doc && src);
	start = strstr(doc, marker);
	CHECK(start != NULL);
	if (start) {
		start += strlen(marker);
		end = strstr(start, "```\n");
		CHECK(end != NULL);
		if (end) {
			*end = 0;
			CHECK(strcmp(start, src) == 0);
		}
	}
	free(doc);
	free(src);
}

static void test_example_prints_what_the_guide_says(void)
{
	const char *build = getenv("MEMAGENT_BUILD");
	char cmd[512], out[1024] = "";
	size_t got;
	FILE *p;

	if (!build)
		TEST_SKIP("MEMAGENT_BUILD not set (run through tests/run.sh)");
	snprintf(cmd, sizeof(cmd), "%s/tests/helpers/gc_example", build);
	REQUIRE(access(cmd, X_OK) == 0);
	p = popen(cmd, "r");
	REQUIRE(p);
	got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = 0;
	CHECK_EQ(pclose(p), 0);
	CHECK_CONTAINS(out, "entries kept: 1000\n");
	CHECK_CONTAINS(out, "sum of counts: 99499500\n");
	CHECK_CONTAINS(out, ", full GCs: 1, heap used: ");
}

/* Every "GENGC_..." variable name in gc/options.c is in the guide's
 * options table and in gengc.h's environment list. */
static void test_every_environment_variable_is_documented(void)
{
	char *src = slurp("gc/options.c"), *doc = slurp("docs/gengc.md"), *hdr = slurp("gc/gengc.h");
	int n = 0;

	REQUIRE(src && doc && hdr);
	for (char *p = src; (p = strstr(p, "\"GENGC_"));) {
		char name[64], pat[80];
		size_t len = strcspn(p + 1, "\"");

		p += 1 + len;
		if (len >= sizeof(name))
			continue;
		memcpy(name, p - len, len);
		name[len] = 0;
		n++;
		snprintf(pat, sizeof(pat), "| `%s", name);
		if (!strstr(doc, pat))
			test_fail_at(__FILE__, __LINE__, "docs/gengc.md has no table row for %s", name);
		if (!strstr(hdr, name))
			test_fail_at(__FILE__, __LINE__, "gc/gengc.h does not list %s", name);
	}
	CHECK_CMP(n, >=, 15);
	free(src);
	free(doc);
	free(hdr);
}

int main(void)
{
	RUN(test_guide_embeds_the_example);
	RUN(test_example_prints_what_the_guide_says);
	RUN(test_every_environment_variable_is_documented);
	return test_done();
}
