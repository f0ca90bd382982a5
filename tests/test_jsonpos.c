/* SPDX-License-Identifier: MIT */
/* jsonpos: the scanner's nodes and locations, placing Jansson's syntax errors,
 * and escaping text for messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonpos.h"
#include "test.h"

static void test_nodes(void)
{
	static const char text[] =
		"{\n"
		"\t\"a\": [1, {\"b\\u00e9\": \"x\"}],\n"
		"  \"\xc3\xa9\": true, \"we.ird\": null,\n"
		"  \"\\ud83d\\ude00\": {}\n"
		"}";
	struct jsonpos *p = NULL;
	struct jsonpos_loc loc;
	char path[JSONPOS_PATH_MAX];
	long n, a;

	REQUIRE(jsonpos_scan(text, sizeof(text) - 1, &p) == 0);
	n = jsonpos_root(p);
	CHECK(n >= 0);
	CHECK_EQ(jsonpos_value_loc(p, n, &loc), 0);
	CHECK_EQ(loc.line, 1);
	CHECK_EQ(loc.column, 1);
	CHECK_EQ(jsonpos_key_loc(p, n, &loc), -ENOENT);

	a = n = jsonpos_member(p, jsonpos_root(p), "a", 1);
	REQUIRE(n >= 0);
	CHECK_EQ(jsonpos_value_loc(p, n, &loc), 0);
	CHECK_EQ(loc.line, 2);
	CHECK_EQ(loc.column, 7); /* a tab is one column */
	CHECK_EQ(jsonpos_key_loc(p, n, &loc), 0);
	CHECK_EQ(loc.column, 2);

	n = jsonpos_member(p, jsonpos_element(p, a, 1), "b\xc3\xa9", 3);
	REQUIRE(n >= 0);
	CHECK_EQ(jsonpos_value_loc(p, n, &loc), 0);
	CHECK_EQ(loc.line, 2);
	CHECK_EQ(loc.column, 23);
	CHECK_EQ(jsonpos_path(p, n, path, sizeof(path)), 0);
	CHECK_STR(path, "a[1][\"b\xc3\xa9\"]");
	CHECK_EQ(jsonpos_element(p, a, 2), -ENOENT);
	CHECK_EQ(jsonpos_member(p, jsonpos_element(p, a, 0), "x", 1), -ENOENT);
	CHECK_EQ(jsonpos_element(p, jsonpos_element(p, a, 1), 0), -ENOENT);

	/* Columns count characters: "é" is two bytes, one column. */
	n = jsonpos_member(p, jsonpos_root(p), "\xc3\xa9", 2);
	REQUIRE(n >= 0);
	CHECK_EQ(jsonpos_value_loc(p, n, &loc), 0);
	CHECK_EQ(loc.line, 3);
	CHECK_EQ(loc.column, 8);
	CHECK_EQ(loc.offset, 39);

	n = jsonpos_member(p, jsonpos_root(p), "we.ird", 6);
	REQUIRE(n >= 0);
	CHECK_EQ(jsonpos_value_loc(p, n, &loc), 0);
	CHECK_EQ(loc.column, 24);
	CHECK_EQ(jsonpos_member(p, jsonpos_root(p), "we.ird", 6), n);
	CHECK_EQ(jsonpos_member(p, jsonpos_root(p), "we", 2), -ENOENT);

	/* A surrogate pair decodes to one character, U+1F600. */
	n = jsonpos_member(p, jsonpos_root(p), "\xf0\x9f\x98\x80", 4);
	REQUIRE(n >= 0);
	CHECK_EQ(jsonpos_key_loc(p, n, &loc), 0);
	CHECK_EQ(loc.line, 4);
	CHECK_EQ(loc.column, 3);
	jsonpos_free(p);

	CHECK_EQ(jsonpos_scan("{", 1, &p), -EINVAL);
	CHECK_EQ(jsonpos_scan("1 2", 3, &p), -EINVAL);
	CHECK_EQ(jsonpos_scan("", 0, &p), -EINVAL);
	CHECK_EQ(jsonpos_scan("[1,]", 4, &p), -EINVAL);
	CHECK_EQ(jsonpos_scan(" 7 ", 3, &p), 0);
	p = jsonpos_free(p);
	CHECK(jsonpos_free(NULL) == NULL);
}

/* The scanner itself has no depth limit and no recursion: a million levels. */
static void test_jsonpos_deep_scan(void)
{
	size_t n = 1000000;
	char *text = malloc(2 * n);
	struct jsonpos *p = NULL;
	struct jsonpos_loc loc;
	char path[JSONPOS_PATH_MAX];
	long node;

	REQUIRE(text);
	memset(text, '[', n);
	memset(text + n, ']', n);
	REQUIRE(jsonpos_scan(text, 2 * n, &p) == 0);
	node = jsonpos_root(p);
	for (size_t i = 1; i < n && node >= 0; i++)
		node = jsonpos_element(p, node, 0);
	REQUIRE(node >= 0);
	CHECK_EQ(jsonpos_value_loc(p, node, &loc), 0);
	CHECK_EQ(loc.column, n);
	CHECK_EQ(jsonpos_path(p, node, path, sizeof(path)), 0);
	CHECK_EQ(strncmp(path, "[0][0][0]", 9), 0);
	CHECK_EQ(strlen(path), sizeof(path) - 1);
	CHECK_STR(path + strlen(path) - 3, "...");
	CHECK_EQ(jsonpos_element(p, node, 0), -ENOENT);
	jsonpos_free(p);
	free(text);
}

/* Jansson's own line/column/position against what an editor shows. */
static void test_jansson_positions(void)
{
	static const struct {
		const char *text;
		unsigned line, column;
		const char *path;
	} cases[] = {
		{ "{\"a\":tru}", 1, 6, "a" },                  /* Jansson: column 8 */
		{ "{\"a\":1 \"b\":2}", 1, 8, "" },             /* the token it objects to */
		{ "{\"a\": [1 2]}", 1, 10, "a" },
		{ "{\"a\":1,}", 1, 8, "" },
		{ "{\"a\":\"abc", 1, 6, "a" },                 /* the string left open */
		{ "{\"a\":\"ab\ncd\"}", 1, 9, "a" },           /* the newline itself */
		{ "{\"a\":\"ab\\qx\"}", 1, 9, "a" },           /* the backslash */
		{ "{\"a\":\"x\x01\"}", 1, 8, "a" },            /* the control character */
		{ "{\"a\":\"ab\\u12G\"}", 1, 9, "a" },          /* a short unicode escape */
		{ "{\"a\":\"a\\n\\q\n\"}", 1, 10, "a" },       /* the bad escape, not the newline */
		{ "{\"\xc3\xa9\":\"\xc3\xa9\xff\"}", 1, 8, "[\"\xc3\xa9\"]" }, /* chars, not bytes */
		{ "{\"a\":[1,2", 1, 10, "a" },                 /* end of input */
		{ "{\"a\":{\"b\":1},\"a\":2}", 1, 14, "a" },
		{ "{\"a\": 123456789012345678901234567890}", 1, 7, "a" },
		{ "\n\n  {\"a\":1} }", 3, 11, "" },
		{ "[1,]", 1, 4, "[1]" },
		{ "{\"a\" 1}", 1, 6, "a" },
		{ "{\"a\":[{\"b\":[1,{\"c\":@}]}]}", 1, 20, "a[0].b[1].c" },
		{ "{\"a\":{}, \"b\":{\"c\":1,\"d\":2", 1, 26, "b" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;
		struct jsonpos_syntax s;
		json_error_t e;
		json_t *j = json_loadb(t, strlen(t), JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);

		if (j) {
			test_fail_at(__FILE__, __LINE__, "case %zu: Jansson accepted it", i);
			json_decref(j);
			continue;
		}
		REQUIRE(jsonpos_syntax_error(t, strlen(t), &e, &s) == 0);
		if (s.loc.line != cases[i].line || s.loc.column != cases[i].column ||
		    strcmp(s.path, cases[i].path) != 0)
			test_fail_at(__FILE__, __LINE__,
				     "case %zu (%s): got %u:%u \"%s\", want %u:%u \"%s\"", i, e.text,
				     s.loc.line, s.loc.column, s.path, cases[i].line,
				     cases[i].column, cases[i].path);
	}
}

static void test_escape_append(void)
{
	char buf[16] = "";

	jsonpos_escape_append(buf, sizeof(buf), "a\"\\\n\xff", 5, true, 10);
	CHECK_STR(buf, "a\\\"\\\\\\x0a\\xff");
	buf[0] = '\0';
	jsonpos_escape_append(buf, sizeof(buf), "abcdef", 6, false, 3);
	CHECK_STR(buf, "abc...");
	/* Never splits a character at the end of the buffer. */
	buf[0] = '\0';
	jsonpos_escape_append(buf, 6, "ab\xc3\xa9\xc3\xa9", 6, false, 10);
	CHECK_STR(buf, "ab\xc3\xa9");
}

int main(void)
{
	RUN(test_nodes);
	RUN(test_jsonpos_deep_scan);
	RUN(test_jansson_positions);
	RUN(test_escape_append);
	return test_done();
}
