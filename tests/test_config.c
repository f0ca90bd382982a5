/* SPDX-License-Identifier: MIT */
/* Tests of the config module (agent/config.c) and of jsonpos, the positions it reports.
 *
 * Error messages are compared whole where the position matters: file, line,
 * column and key path are the contract. Fixture files live in
 * tests/fixtures/config/ (tests run from the top of the tree).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <jansson.h>

#include "config.h"
#include "jsonpos.h"
#include "listen.h"
#include "test.h"

#define FIXTURES "tests/fixtures/config/"

/* Parses text named "t.json"; frees the config. Returns config_parse()'s result. */
static int parse_n(const char *text, size_t len, char err[CONFIG_ERROR_MAX])
{
	struct config *c = NULL;
	int r = config_parse(text, len, "t.json", &c, err);

	config_free(c);
	return r;
}

static int parse(const char *text, char err[CONFIG_ERROR_MAX])
{
	return parse_n(text, strlen(text), err);
}

#define CHECK_ERR(text, expected) do { \
	char e_[CONFIG_ERROR_MAX]; \
	CHECK_EQ(parse(text, e_), -EINVAL); \
	CHECK_STR(e_, expected); \
} while (0)

#define CHECK_OK(text) do { \
	char e_[CONFIG_ERROR_MAX]; \
	int r_ = parse(text, e_); \
	if (r_ != 0) \
		test_fail_at(__FILE__, __LINE__, "parse failed: %s", e_); \
} while (0)

/* ---- the three errors the issue names, from fixture files ----------------- */

static void test_syntax_error_fixture(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	/* Line 5 starts a second target without a comma after the first. */
	CHECK_EQ(config_load(FIXTURES "syntax_error.json", &c, err), -EINVAL);
	CHECK(c == NULL);
	CHECK_STR(err, FIXTURES "syntax_error.json:5:5: targets: ']' expected near '{'");
}

static void test_bad_regex_fixture(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	CHECK_EQ(config_load(FIXTURES "bad_regex.json", &c, err), -EINVAL);
	CHECK(c == NULL);
	CHECK_STR(err, FIXTURES "bad_regex.json:8:29: targets[2].match.cmdline: invalid regex: "
		       "Unmatched ( or \\(");
}

static void test_unknown_key_fixture(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	CHECK_EQ(config_load(FIXTURES "unknown_key.json", &c, err), -EINVAL);
	CHECK(c == NULL);
	CHECK_STR(err, FIXTURES "unknown_key.json:7:7: targets[0].per_proces: unknown key "
		       "\"per_proces\"; did you mean \"per_process\"?");
}

/* ---- syntax ---------------------------------------------------------------- */

static void test_syntax_errors_inline(void)
{
	CHECK_ERR("{\"interval_ms\": tru}", "t.json:1:17: interval_ms: invalid token near 'tru'");
	CHECK_ERR("{\n  \"targets\": [\n    {\"name\": \"a\", \"match\": {\"comm\": \"x\",}}\n  ]\n}",
		  "t.json:3:41: targets[0].match: string or '}' expected near '}'");
	CHECK_ERR("{\"listen\": \"127.0.0.1:1",
		  "t.json:1:12: listen: premature end of input near '\"127.0.0.1:1'");
	CHECK_ERR("{\"targets\": [", "t.json:1:14: targets: ']' expected near end of file");
	CHECK_ERR("{\"listen\" \"x\"}", "t.json:1:11: listen: ':' expected near '\"x\"'");
	CHECK_ERR("{\"interval_ms\": 99999999999999999999999}",
		  "t.json:1:17: interval_ms: too big integer");
	CHECK_ERR("{\"listen\": \"a\\qb\"}", "t.json:1:14: listen: invalid escape near '\"a\\q'");
}

static void test_duplicate_key_fixture(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	CHECK_EQ(config_load(FIXTURES "duplicate_key.json", &c, err), -EINVAL);
	CHECK_STR(err, FIXTURES "duplicate_key.json:7:7: targets[0].name: duplicate key; "
		       "first defined at line 5, column 7");
}

static void test_duplicate_key_inline(void)
{
	CHECK_ERR("{\"interval_ms\": 1000,\n \"interval_ms\": 2000}",
		  "t.json:2:2: interval_ms: duplicate key; first defined at line 1, column 2");
	/* The same key in different objects is no duplicate. */
	CHECK_OK("{\"targets\": [{\"name\": \"a\", \"match\": {}}, {\"name\": \"b\", \"match\": {}}]}");
	/* Escapes are undone before keys are compared, as Jansson does. */
	CHECK_ERR("{\"listen\": \"127.0.0.1:1\", \"l\\u0069sten\": \"127.0.0.1:2\"}",
		  "t.json:1:27: listen: duplicate key; first defined at line 1, column 2");
}

static void test_trailing_garbage(void)
{
	CHECK_ERR("{\"interval_ms\": 1000}\n\n  x", "t.json:3:3: end of file expected near 'x'");
	CHECK_ERR("{} {}", "t.json:1:4: end of file expected near '{'");
	CHECK_OK("{\"interval_ms\": 1000}\n\n\t \n");
}

static void test_empty_file(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	CHECK_EQ(config_load(FIXTURES "empty.json", &c, err), -EINVAL);
	CHECK_STR(err, FIXTURES "empty.json:1:1: empty file: expected a JSON object");
	CHECK_EQ(parse_n(NULL, 0, err), -EINVAL);
	CHECK_STR(err, "t.json:1:1: empty file: expected a JSON object");
	CHECK_ERR(" \n\t\r\n ", "t.json:1:1: empty file: expected a JSON object");
}

static void test_non_object_top_level(void)
{
	CHECK_ERR("[]", "t.json:1:1: the top level must be a JSON object, got an array");
	CHECK_ERR("\n  \"x\"", "t.json:2:3: the top level must be a JSON object, got a string");
	CHECK_ERR("42", "t.json:1:1: the top level must be a JSON object, got an integer");
	CHECK_ERR("null", "t.json:1:1: the top level must be a JSON object, got null");
}

static void test_non_utf8(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	CHECK_EQ(config_load(FIXTURES "not_utf8.json", &c, err), -EINVAL);
	CHECK_STR(err, FIXTURES "not_utf8.json:3:19: targets[0].name: invalid UTF-8 byte 0xe9: "
		       "the file must be UTF-8");
	/* Columns count characters: the é before the bad byte is one. */
	CHECK_ERR("{\"listen\": \"\xc3\xa9\xff\"}",
		  "t.json:1:14: listen: invalid UTF-8 byte 0xff: the file must be UTF-8");
	/* Overlong NUL, a surrogate, a truncated sequence, in a key, outside strings. */
	CHECK_ERR("{\"listen\": \"\xc0\x80\"}",
		  "t.json:1:13: listen: invalid UTF-8 byte 0xc0: the file must be UTF-8");
	CHECK_ERR("{\"listen\": \"\xed\xa0\x80\"}",
		  "t.json:1:13: listen: invalid UTF-8 byte 0xed: the file must be UTF-8");
	CHECK_ERR("{\"listen\": \"\xe2\x82",
		  "t.json:1:13: listen: invalid UTF-8 byte 0xe2: the file must be UTF-8");
	CHECK_ERR("{\"li\xfe\": 1}", "t.json:1:5: invalid UTF-8 byte 0xfe: the file must be UTF-8");
	CHECK_ERR("{\"listen\": \xff}",
		  "t.json:1:12: listen: invalid UTF-8 byte 0xff: the file must be UTF-8");
}

static void test_nul_byte(void)
{
	static const char text[] = "{\"interval_ms\": 1000}\0garbage";
	static const char inside[] = "{\"interval_ms\": \0 1000}";
	static const char escaped[] = "{\"listen\": \"a\\u0000b\"}";
	char err[CONFIG_ERROR_MAX];

	CHECK_EQ(parse_n(text, sizeof(text) - 1, err), -EINVAL);
	CHECK_STR(err, "t.json:1:22: unexpected NUL byte: not a text file?");
	CHECK_EQ(parse_n(inside, sizeof(inside) - 1, err), -EINVAL);
	CHECK_STR(err, "t.json:1:17: interval_ms: unexpected NUL byte: not a text file?");
	CHECK_EQ(parse(escaped, err), -EINVAL);
	CHECK_CONTAINS(err, "t.json:1:12: listen: \\u0000 is not allowed");
}

static void test_byte_order_mark(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	REQUIRE(config_load(FIXTURES "bom.json", &c, err) == 0);
	CHECK_EQ(c->interval_ms, 1000);
	config_free(c);
	/* Positions after a BOM are as an editor shows them: the BOM is no column. */
	CHECK_ERR("\xef\xbb\xbf{\"interval_ms\": 1}",
		  "t.json:1:17: interval_ms: 1 is out of range 100..3600000");
}

/* Input that would take a recursive scanner down: Jansson refuses depth >
 * 2048, the error is placed at the 2049th bracket, and the path is cut. */
static void test_deep_nesting(void)
{
	size_t n = 200000;
	char *text = malloc(2 * n + 1);
	char err[CONFIG_ERROR_MAX];

	REQUIRE(text);
	memset(text, '[', n);
	CHECK_EQ(parse_n(text, n, err), -EINVAL);
	CHECK_CONTAINS(err, "t.json:1:2049: [0][0][0][0]");
	CHECK_CONTAINS(err, "...: maximum parsing depth reached near '['");
	CHECK(strlen(err) < CONFIG_ERROR_MAX);

	for (size_t i = 0; i < n / 5; i++)
		memcpy(text + 5 * i, "{\"a\":", 5);
	CHECK_EQ(parse_n(text, n, err), -EINVAL);
	CHECK_CONTAINS(err, "t.json:1:10241: a.a.a.a.a.a");
	CHECK_CONTAINS(err, "maximum parsing depth reached");
	free(text);
}

static void test_huge_input(void)
{
	size_t n = CONFIG_FILE_MAX_BYTES;
	char *text = malloc(n + 2);
	char err[CONFIG_ERROR_MAX];
	size_t o = 0;

	REQUIRE(text);
	/* A megabyte of a valid array: placed at its start, scanned once. */
	text[o++] = '[';
	while (o + 4 <= n)
		memcpy(text + o, "1,", 2), o += 2;
	memcpy(text + o, "1]", 2), o += 2;
	CHECK_EQ(parse_n(text, o, err), -EINVAL);
	CHECK_STR(err, "t.json:1:1: the top level must be a JSON object, got an array");

	/* 100000 targets: refused at the 65th, before any is looked at. */
	o = 0;
	o += (size_t)sprintf(text, "{\"targets\": [");
	for (int i = 0; i < 100000; i++)
		o += (size_t)sprintf(text + o, "%s{}", i ? "," : "");
	o += (size_t)sprintf(text + o, "]}");
	CHECK_EQ(parse_n(text, o, err), -EINVAL);
	CHECK_STR(err, "t.json:1:206: targets[64]: too many targets: 100000, at most 64 (each "
		       "process carries one bit per target)");

	/* A string of almost a megabyte where a name goes: the message stays short. */
	o = (size_t)sprintf(text, "{\"targets\": [{\"match\": {}, \"name\": \"");
	memset(text + o, 'x', n - 100);
	o += n - 100;
	o += (size_t)sprintf(text + o, "\"}]}");
	CHECK_EQ(parse_n(text, o, err), -EINVAL);
	CHECK_STR(err, "t.json:1:36: targets[0].name: too long: 1048476 bytes, at most 64");

	/* Over the limit: refused unread. */
	memset(text, ' ', n + 1);
	text[0] = '{';
	text[n] = '}';
	CHECK_EQ(parse_n(text, n + 1, err), -EINVAL);
	CHECK_STR(err, "t.json: too large: 1048577 bytes, at most 1048576");
	free(text);
}

/* A key as long as a message: the message is cut, marked, and whole UTF-8. */
static void test_long_key_message(void)
{
	size_t n = 3000;
	char *text = malloc(n * 2 + 32);
	char err[CONFIG_ERROR_MAX];
	size_t o;

	REQUIRE(text);
	o = (size_t)sprintf(text, "{\"");
	for (size_t i = 0; i < n; i++)
		memcpy(text + o, "\xc3\xa9", 2), o += 2;
	o += (size_t)sprintf(text + o, "\": 1}");
	CHECK_EQ(parse_n(text, o, err), -EINVAL);
	CHECK_EQ(strncmp(err, "t.json:1:2: [\"\xc3\xa9\xc3\xa9", 17), 0);
	CHECK_CONTAINS(err, "...\"]: unknown key \"");
	CHECK_CONTAINS(err, "...\"; expected one of: interval_ms, listen, limits, targets");
	CHECK(strlen(err) < CONFIG_ERROR_MAX);
	free(text);
}

/* ---- semantic errors ------------------------------------------------------- */

static void test_unknown_keys(void)
{
	CHECK_ERR("{\n  \"intervall_ms\": 1000\n}",
		  "t.json:2:3: intervall_ms: unknown key \"intervall_ms\"; did you mean "
		  "\"interval_ms\"?");
	CHECK_ERR("{\"Listen\": \"127.0.0.1:1\"}",
		  "t.json:1:2: Listen: unknown key \"Listen\"; did you mean \"listen\"?");
	CHECK_ERR("{\"limits\": {\"max_proceses\": 10}}",
		  "t.json:1:13: limits.max_proceses: unknown key \"max_proceses\"; did you mean "
		  "\"max_processes\"?");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"cmd_line\": \"x\"}}]}",
		  "t.json:1:38: targets[0].match.cmd_line: unknown key \"cmd_line\"; did you mean "
		  "\"cmdline\"?");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"unti\": \"x\"}}]}",
		  "t.json:1:38: targets[0].match.unti: unknown key \"unti\"; expected one of: pid, "
		  "comm, exe, cmdline, cgroup, systemd_unit");
	/* Far from every key: no guess, the list instead. */
	CHECK_ERR("{\"outputs\": []}",
		  "t.json:1:2: outputs: unknown key \"outputs\"; expected one of: interval_ms, listen, "
		  "limits, targets, heap, web, state_dir, sinks, alerts");
	CHECK_ERR("{\"targets\": [{\"nmae\": \"a\", \"match\": {}}]}",
		  "t.json:1:15: targets[0].nmae: unknown key \"nmae\"; did you mean \"name\"?");
	/* Odd keys are shown escaped, in brackets. */
	CHECK_ERR("{\"a.b\\n\": 1}",
		  "t.json:1:2: [\"a.b\\x0a\"]: unknown key \"a.b\\x0a\"; expected one of: "
		  "interval_ms, listen, limits, targets, heap, web, state_dir, sinks, alerts");
}

/* "web": exporter-toolkit's key names, each error placed. Files only have
 * to open here (their content is the server's to check). */
#define F FIXTURES "bom.json"
#define HASH "$2y$05$BVb.jt7TAUy88iCuRPxQrOF2Y0IX5NeVr7inUMm8xLO3h/feFnMOC"
static void test_web_section(void)
{
	struct config *c = NULL;
	char err[CONFIG_ERROR_MAX];
	const char *ok = "{\"web\": {\"tls_server_config\": {\"cert_file\": \"" F "\", "
			 "\"key_file\": \"" F "\", \"client_auth_type\": \"VerifyClientCertIfGiven\", "
			 "\"client_ca_file\": \"" F "\", \"min_version\": \"TLS13\"}, "
			 "\"basic_auth_users\": {\"prom\": \"" HASH "\"}}}";

	REQUIRE(config_parse(ok, strlen(ok), "t.json", &c, err) == 0);
	CHECK_STR(c->web.cert_file, F);
	CHECK_STR(c->web.client_ca_file, F);
	CHECK_EQ(c->web.client_auth, WEB_CLIENT_VERIFY_IF_GIVEN);
	CHECK_EQ(c->web.min_version, WEB_TLS13);
	CHECK_EQ(c->web.n_users, 1);
	CHECK_STR(c->web.users[0].name, "prom");
	CHECK_STR(c->web.users[0].hash, HASH);
	config_free(c);
	/* Defaults: no TLS, no users, TLS12 should TLS be turned on. */
	REQUIRE(config_parse("{}", 2, "t.json", &c, err) == 0);
	CHECK(c->web.cert_file == NULL && c->web.n_users == 0 && c->web.min_version == WEB_TLS12);
	CHECK_EQ(c->limits.http_connections_per_address, 32);
	CHECK_EQ(c->limits.http_header_timeout_s, 5);
	config_free(c);

	CHECK_ERR("{\"web\": {\"tls_server_config\": {\"cert_file\": \"" F "\"}}}",
		  "t.json:1:31: web.tls_server_config: missing required key \"key_file\"");
	CHECK_ERR("{\"web\": {\"tls_server_config\": {\"cert_file\": \"/nonexistent.pem\", "
		  "\"key_file\": \"" F "\"}}}",
		  "t.json:1:45: web.tls_server_config.cert_file: cannot open /nonexistent.pem: No such "
		  "file or directory");
	CHECK_ERR("{\"web\": {\"tls_server_config\": {\"cert_file\": \"" F "\", \"key_file\": \""
		  F "\", \"client_auth_type\": \"RequireClientCert\"}}}",
		  "t.json:1:145: web.tls_server_config.client_auth_type: unknown value "
		  "\"RequireClientCert\"; expected one of \"NoClientCert\", \"RequestClientCert\", "
		  "\"RequireAnyClientCert\", \"VerifyClientCertIfGiven\", \"RequireAndVerifyClientCert\"");
	CHECK_ERR("{\"web\": {\"tls_server_config\": {\"cert_file\": \"" F "\", \"key_file\": \""
		  F "\", \"min_version\": \"TLS14\"}}}",
		  "t.json:1:140: web.tls_server_config.min_version: unknown value \"TLS14\"; expected "
		  "one of \"TLS10\", \"TLS11\", \"TLS12\", \"TLS13\"");
	CHECK_ERR("{\"web\": {\"tls_server_config\": {\"cert_file\": \"" F "\", \"key_file\": \""
		  F "\", \"client_auth_type\": \"RequireAndVerifyClientCert\"}}}",
		  "t.json:1:145: web.tls_server_config.client_auth_type: \"RequireAndVerifyClientCert\" "
		  "verifies client certificates: it needs \"client_ca_file\"");
	CHECK_ERR("{\"web\": {\"basic_auth_users\": {\"prom\": \"secret\"}}}",
		  "t.json:1:39: web.basic_auth_users.prom: not a bcrypt hash: expected 60 characters "
		  "starting with $2a$, $2b$ or $2y$ (htpasswd -nB USER makes one)");
	CHECK_ERR("{\"web\": {\"basic_auth_users\": {\"a:b\": \"" HASH "\"}}}",
		  "t.json:1:31: web.basic_auth_users[\"a:b\"]: a user name must be non-empty, without ':' "
		  "or control characters (basic auth splits user and password at the first ':')");
	CHECK_ERR("{\"web\": {\"basic_auth_users\": {\"prom\": 1}}}",
		  "t.json:1:39: web.basic_auth_users.prom: expected a bcrypt hash (a string), got an "
		  "integer");
	CHECK_ERR("{\"web\": {\"tls\": {}}}",
		  "t.json:1:10: web.tls: unknown key \"tls\"; expected one of: tls_server_config, "
		  "basic_auth_users");
}
#undef F
#undef HASH

static void test_wrong_types(void)
{
	CHECK_ERR("{\"interval_ms\": \"1000\"}",
		  "t.json:1:17: interval_ms: expected an integer, got a string");
	CHECK_ERR("{\"interval_ms\": 1000.0}",
		  "t.json:1:17: interval_ms: expected an integer, got a real number");
	CHECK_ERR("{\"listen\": 9470}", "t.json:1:12: listen: expected a string, got an integer");
	CHECK_ERR("{\"limits\": []}", "t.json:1:12: limits: expected an object, got an array");
	CHECK_ERR("{\"targets\": {}}", "t.json:1:13: targets: expected an array, got an object");
	CHECK_ERR("{\"targets\": [\"all\"]}",
		  "t.json:1:14: targets[0]: expected an object, got a string");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {}, \"per_process\": \"yes\"}]}",
		  "t.json:1:56: targets[0].per_process: expected a boolean, got a string");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {}, \"smaps\": 1}]}",
		  "t.json:1:50: targets[0].smaps: expected a boolean, got an integer");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"pid\": \"1\"}}]}",
		  "t.json:1:45: targets[0].match.pid: expected an integer, got a string");
	CHECK_ERR("{\"targets\": [{\"name\": null, \"match\": {}}]}",
		  "t.json:1:23: targets[0].name: expected a string, got null");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": []}]}",
		  "t.json:1:37: targets[0].match: expected an object, got an array");
}

static void test_out_of_range(void)
{
	CHECK_ERR("{\"interval_ms\": 99}", "t.json:1:17: interval_ms: 99 is out of range 100..3600000");
	CHECK_ERR("{\"interval_ms\": 3600001}",
		  "t.json:1:17: interval_ms: 3600001 is out of range 100..3600000");
	CHECK_ERR("{\"interval_ms\": -5}", "t.json:1:17: interval_ms: -5 is out of range 100..3600000");
	CHECK_OK("{\"interval_ms\": 100}");
	CHECK_OK("{\"interval_ms\": 3600000}");
	CHECK_ERR("{\"limits\": {\"max_processes\": 0}}",
		  "t.json:1:30: limits.max_processes: 0 is out of range 1..100000");
	CHECK_ERR("{\"limits\": {\"max_groups\": 100001}}",
		  "t.json:1:27: limits.max_groups: 100001 is out of range 1..100000");
	CHECK_ERR("{\"limits\": {\"http_connections\": 10001}}",
		  "t.json:1:33: limits.http_connections: 10001 is out of range 1..10000");
	CHECK_ERR("{\"limits\": {\"max_listeners\": 100001}}",
		  "t.json:1:30: limits.max_listeners: 100001 is out of range 0..100000");
	CHECK_ERR("{\"limits\": {\"max_message_queues\": -1}}",
		  "t.json:1:35: limits.max_message_queues: -1 is out of range 0..100000");
	CHECK_ERR("{\"limits\": {\"http_timeout_s\": 0}}",
		  "t.json:1:31: limits.http_timeout_s: 0 is out of range 1..3600");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"pid\": 0}}]}",
		  "t.json:1:45: targets[0].match.pid: 0 is out of range 1..4194304");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"pid\": 4294967297}}]}",
		  "t.json:1:45: targets[0].match.pid: 4294967297 is out of range 1..4194304");
}

static void test_listen_values(void)
{
	CHECK_ERR("{\"listen\": \"localhost:9470\"}",
		  "t.json:1:12: listen: \"localhost\" is not an IPv4 address (host names are not "
		  "resolved; IPv6 goes in brackets)");
	CHECK_ERR("{\"listen\": \"::1:9470\"}",
		  "t.json:1:12: listen: \"::1:9470\": an IPv6 address goes in brackets, e.g. "
		  "[::1]:9470");
	CHECK_ERR("{\"listen\": \"127.0.0.1\"}",
		  "t.json:1:12: listen: \"127.0.0.1\": expected ADDR:PORT, e.g. 127.0.0.1:9470 or "
		  "[::1]:9470");
	CHECK_ERR("{\"listen\": \"127.0.0.1:65536\"}",
		  "t.json:1:12: listen: port \"65536\" is not a number in 0..65535");
	CHECK_ERR("{\"listen\": \"[::1]9470\"}",
		  "t.json:1:12: listen: \"[::1]9470\": expected [IPV6]:PORT, e.g. [::1]:9470");
	CHECK_ERR("{\"listen\": \"[zz::1]:9470\"}",
		  "t.json:1:12: listen: \"zz::1\" is not an IPv6 address");
}

static void test_missing_keys(void)
{
	CHECK_ERR("{\"targets\": [{\"match\": {}}]}",
		  "t.json:1:14: targets[0]: missing required key \"name\"");
	CHECK_ERR("{\"targets\": [\n  {\"name\": \"a\"}\n]}",
		  "t.json:2:3: targets[0]: missing required key \"match\"");
}

static void test_target_values(void)
{
	CHECK_ERR("{\"targets\": [{\"name\": \"\", \"match\": {}}]}",
		  "t.json:1:23: targets[0].name: must not be empty");
	CHECK_ERR("{\"targets\": [{\"name\": "
		  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", "
		  "\"match\": {}}]}",
		  "t.json:1:23: targets[0].name: too long: 65 bytes, at most 64");
	CHECK_OK("{\"targets\": [{\"name\": "
		 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", "
		 "\"match\": {}}]}");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\\tb\", \"match\": {}}]}",
		  "t.json:1:23: targets[0].name: must not contain control characters");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"comm\": \"0123456789abcdef\"}}]}",
		  "t.json:1:46: targets[0].match.comm: must be 1 to 15 bytes, got 16: the kernel "
		  "keeps 15 bytes of a process name; match longer names with \"exe\" or \"cmdline\"");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"comm\": \"\"}}]}",
		  "t.json:1:46: targets[0].match.comm: must be 1 to 15 bytes, got 0: the kernel "
		  "keeps 15 bytes of a process name; match longer names with \"exe\" or \"cmdline\"");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"exe\": \"bin/x\"}}]}",
		  "t.json:1:45: targets[0].match.exe: must be an absolute path (starting with \"/\")");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"cgroup\": \"system.slice\"}}]}",
		  "t.json:1:48: targets[0].match.cgroup: must be a path in the memory controller's "
		  "hierarchy, starting with \"/\" (e.g. \"/system.slice\")");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"systemd_unit\": \"nginx\"}}]}",
		  "t.json:1:54: targets[0].match.systemd_unit: \"nginx\" is not a unit name: "
		  "expected NAME.TYPE such as \"nginx.service\" or \"getty@tty1.service\" (a "
		  "template such as \"getty@.service\" has no processes)");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"systemd_unit\": \"getty@.service\"}}]}",
		  "t.json:1:54: targets[0].match.systemd_unit: \"getty@.service\" is not a unit "
		  "name: expected NAME.TYPE such as \"nginx.service\" or \"getty@tty1.service\" (a "
		  "template such as \"getty@.service\" has no processes)");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"systemd_unit\": \"system.slice\"}}]}",
		  "t.json:1:54: targets[0].match.systemd_unit: \"system.slice\" is a slice, and no "
		  "process runs in a slice itself; to match everything below it use \"cgroup\" "
		  "with the slice's path");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {}, \"group_by\": \"exe\"}]}",
		  "t.json:1:53: targets[0].group_by: unknown value \"exe\"; expected \"none\" or "
		  "\"comm\"");
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {\"cmdline\": \"a{2,1}\"}}]}",
		  "t.json:1:49: targets[0].match.cmdline: invalid regex: Invalid content of \\{\\}");
}

static void test_duplicate_target_names(void)
{
	CHECK_ERR("{\"targets\": [\n"
		  "  {\"name\": \"web\", \"match\": {\"comm\": \"nginx\"}},\n"
		  "  {\"name\": \"db\", \"match\": {\"comm\": \"postgres\"}},\n"
		  "  {\"name\": \"web\", \"match\": {\"comm\": \"apache2\"}}\n"
		  "]}",
		  "t.json:4:12: targets[2].name: duplicate target name \"web\", already used by "
		  "targets[0]");
	/* Names are compared exactly. */
	CHECK_OK("{\"targets\": [{\"name\": \"web\", \"match\": {}}, {\"name\": \"Web\", \"match\": {}}]}");
}

static void test_reserved_name(void)
{
	CHECK_ERR("{\"targets\": [{\"name\": \"other\", \"match\": {}}]}",
		  "t.json:1:23: targets[0].name: \"other\" is reserved: it counts the OOM kills of "
		  "processes no target matches");
	CHECK_OK("{\"targets\": [{\"name\": \"others\", \"match\": {}}]}");
}

static void test_too_many_targets(void)
{
	char text[8192], err[CONFIG_ERROR_MAX];
	struct config *c = NULL;
	size_t o;

	o = (size_t)sprintf(text, "{\"targets\": [\n");
	for (int i = 0; i < TARGET_MAX; i++)
		o += (size_t)sprintf(text + o, "  {\"name\": \"t%d\", \"match\": {\"pid\": %d}},\n",
				     i, i + 1);
	memcpy(text + o, "]}", 3);
	/* The comma after the last element: make it the 64th ending the array. */
	text[o - 2] = ' ';
	REQUIRE(config_parse(text, strlen(text), "t.json", &c, err) == 0);
	CHECK_EQ(c->targets.n, TARGET_MAX);
	CHECK_EQ(c->targets.v[63].match.pid, 64);
	c = config_free(c);

	text[o - 2] = ',';
	o += (size_t)sprintf(text + o, "  {\"name\": \"t64\", \"match\": {}}\n]}");
	CHECK_EQ(config_parse(text, strlen(text), "t.json", &c, err), -EINVAL);
	CHECK_STR(err, "t.json:66:3: targets[64]: too many targets: 65, at most 64 (each process "
		       "carries one bit per target)");
}

static void test_per_process_group_by_conflict(void)
{
	CHECK_ERR("{\"targets\": [{\"name\": \"a\", \"match\": {},\n"
		  "  \"per_process\": true,\n  \"group_by\": \"comm\"}]}",
		  "t.json:3:15: targets[0].group_by: \"comm\" cannot be combined with "
		  "\"per_process\": true: per_process gives each process its own series (label pid), "
		  "group_by sums processes per comm; choose one");
	CHECK_OK("{\"targets\": [{\"name\": \"a\", \"match\": {}, \"per_process\": true, "
		 "\"group_by\": \"none\"}]}");
	CHECK_OK("{\"targets\": [{\"name\": \"a\", \"match\": {}, \"per_process\": false, "
		 "\"group_by\": \"comm\"}]}");
}

/* ---- valid configs --------------------------------------------------------- */

static void test_values_stored(void)
{
	static const char text[] =
		"{\n"
		"  \"interval_ms\": 1500,\n"
		"  \"listen\": \"[::1]:0\",\n"
		"  \"limits\": {\"max_processes\": 7, \"max_groups\": 8, \"http_connections\": 9,\n"
		"             \"http_timeout_s\": 11, \"max_listeners\": 12, \"max_message_queues\": 0},\n"
		"  \"targets\": [\n"
		"    {\"name\": \"web\", \"match\": {\"comm\": \"nginx\", \"exe\": \"/usr/sbin/nginx\"},\n"
		"     \"group_by\": \"none\"},\n"
		"    {\"name\": \"java\", \"match\": {\"cmdline\": \"^java .*-jar\", \"pid\": 42},\n"
		"     \"per_process\": true, \"smaps\": true, \"queues\": false},\n"
		"    {\"name\": \"svc\", \"match\": {\"cgroup\": \"/system.slice//\",\n"
		"     \"systemd_unit\": \"user@1000.service\"}, \"group_by\": \"comm\"}\n"
		"  ]\n"
		"}\n";
	char err[CONFIG_ERROR_MAX] = "x";
	struct config *c = NULL;
	const struct target *t;

	REQUIRE(config_parse(text, sizeof(text) - 1, "t.json", &c, err) == 0);
	CHECK_STR(err, "");
	CHECK_STR(c->source, "t.json");
	CHECK_EQ(c->interval_ms, 1500);
	CHECK_STR(c->listen, "[::1]:0");
	CHECK_EQ(c->limits.max_listeners, 12);
	CHECK_EQ(c->limits.max_message_queues, 0);
	CHECK(!c->targets.v[0].no_queues);
	CHECK(c->targets.v[1].no_queues);
	CHECK_EQ(c->limits.max_processes, 7);
	CHECK_EQ(c->limits.max_groups, 8);
	CHECK_EQ(c->limits.http_connections, 9);
	CHECK_EQ(c->limits.http_timeout_s, 11);
	REQUIRE(c->targets.n == 3);
	CHECK_EQ(c->targets.needs, TARGET_NEED_EXE | TARGET_NEED_CMDLINE | TARGET_NEED_CGROUP);
	t = &c->targets.v[0];
	CHECK_STR(t->name, "web");
	CHECK_STR(t->match.comm, "nginx");
	CHECK_STR(t->match.exe, "/usr/sbin/nginx");
	CHECK(!t->match.has_pid && !t->match.cmdline && !t->match.cgroup && !t->match.systemd_unit);
	CHECK(!t->per_process && !t->smaps);
	CHECK_EQ(t->group_by, TARGET_GROUP_NONE);
	t = &c->targets.v[1];
	CHECK_STR(t->match.cmdline, "^java .*-jar");
	CHECK(t->match.has_pid);
	CHECK_EQ(t->match.pid, 42);
	CHECK(t->per_process && t->smaps);
	CHECK(target_matches(t, &(struct target_proc){ .pid = 42, .cmdline = "java -Xmx1g -jar a" }));
	t = &c->targets.v[2];
	CHECK_STR(t->match.cgroup, "/system.slice");
	CHECK_STR(t->match.systemd_unit, "user@1000.service");
	CHECK_EQ(t->group_by, TARGET_GROUP_COMM);
	config_free(c);
}

static void test_defaults(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL, *d = NULL;

	/* Every key is optional: "{}" is the embedded default. */
	REQUIRE(config_parse("{}", 2, "t.json", &c, err) == 0);
	REQUIRE(config_default(&d, err) == 0);
	CHECK_STR(d->source, CONFIG_DEFAULT_NAME);
	CHECK_EQ(d->interval_ms, CONFIG_INTERVAL_DEFAULT_MS);
	CHECK_EQ(d->interval_ms, 5000);
	CHECK_STR(d->listen, CONFIG_LISTEN_DEFAULT);
	CHECK_EQ(listen_parse(d->listen, NULL, NULL, NULL, 0), 0);
	CHECK_EQ(d->limits.max_processes, 100);
	CHECK_EQ(d->limits.max_groups, 500);
	CHECK_EQ(d->limits.http_connections, 256);
	CHECK_EQ(d->limits.http_timeout_s, 10);
	CHECK_EQ(d->limits.max_listeners, 256);
	CHECK_EQ(d->limits.max_message_queues, 64);
	REQUIRE(d->targets.n == 1);
	CHECK_STR(d->targets.v[0].name, "all");
	CHECK_EQ(d->targets.v[0].group_by, TARGET_GROUP_COMM);
	CHECK(!d->targets.v[0].per_process && !d->targets.v[0].smaps);
	CHECK(!d->targets.v[0].no_queues); /* queue depths on for the default target */
	CHECK_EQ(d->targets.needs, 0);
	CHECK(target_matches(&d->targets.v[0], &(struct target_proc){ .pid = 1 }));

	CHECK_EQ(c->interval_ms, d->interval_ms);
	CHECK_STR(c->listen, d->listen);
	CHECK(memcmp(&c->limits, &d->limits, sizeof(c->limits)) == 0);
	REQUIRE(c->targets.n == 1);
	CHECK_STR(c->targets.v[0].name, "all");
	CHECK_EQ(c->targets.v[0].group_by, TARGET_GROUP_COMM);
	config_free(c);
	config_free(d);

	/* An explicit empty list means no targets. */
	REQUIRE(config_parse("{\"targets\": []}", 15, "t.json", &c, err) == 0);
	CHECK_EQ(c->targets.n, 0);
	config_free(c);
}

static void test_default_json(void)
{
	const char *text = config_default_json();
	json_t *j = json_loads(text, 0, NULL);
	json_t *want = json_loads("{\"interval_ms\":5000,\"listen\":\"127.0.0.1:9470\","
				  "\"targets\":[{\"name\":\"all\",\"match\":{},\"group_by\":\"comm\"}]}",
				  0, NULL);

	REQUIRE(j && want);
	CHECK(json_equal(j, want));
	CHECK(strchr(text, '\n') != NULL); /* pretty-printed */
	CHECK_OK(text);
	json_decref(j);
	json_decref(want);
}

static void test_systemd_example(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	if (config_load("systemd/memagent.json", &c, err) != 0)
		test_fail_at(__FILE__, __LINE__, "%s", err);
	REQUIRE(c);
	CHECK_STR(c->listen, CONFIG_LISTEN_DEFAULT);
	CHECK(c->targets.n >= 2);
	CHECK_STR(c->targets.v[0].name, "all");
	config_free(c);
}

static void test_load_errors(void)
{
	char err[CONFIG_ERROR_MAX], path[] = "/tmp/memagent-test-config-XXXXXX";
	char dir[] = "/tmp/memagent-test-fifo-XXXXXX", fifo[64];
	struct config *c = NULL;
	char *big;
	int fd;

	CHECK_EQ(config_load(FIXTURES "no-such-file.json", &c, err), -ENOENT);
	CHECK_STR(err, FIXTURES "no-such-file.json: cannot open: No such file or directory");
	CHECK_EQ(config_load(FIXTURES, &c, err), -EISDIR);
	CHECK_STR(err, FIXTURES ": cannot read: Is a directory");
	CHECK(c == NULL);
	/* A FIFO nobody writes to: refused at once, not waited on. */
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	REQUIRE(mkfifo(fifo, 0600) == 0);
	CHECK_EQ(config_load(fifo, &c, err), -EINVAL);
	CHECK_CONTAINS(err, ": cannot read: not a regular file");
	CHECK(c == NULL);
	unlink(fifo);
	rmdir(dir);

	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	big = malloc(CONFIG_FILE_MAX_BYTES + 1);
	REQUIRE(big);
	memset(big, ' ', CONFIG_FILE_MAX_BYTES + 1);
	big[0] = '{';
	big[CONFIG_FILE_MAX_BYTES - 1] = '}';
	/* Exactly at the limit: read and parsed. */
	CHECK_EQ(write(fd, big, CONFIG_FILE_MAX_BYTES), CONFIG_FILE_MAX_BYTES);
	CHECK_EQ(config_load(path, &c, err), 0);
	c = config_free(c);
	/* One byte over: refused. */
	CHECK_EQ(write(fd, " ", 1), 1);
	CHECK_EQ(config_load(path, &c, err), -EFBIG);
	CHECK_CONTAINS(err, path);
	CHECK_CONTAINS(err, ": too large: more than 1048576 bytes");
	CHECK(c == NULL);
	close(fd);
	unlink(path);
	free(big);
}

/* Every single-byte deletion and a set of replacements over the operators'
 * example: each outcome is success or one message placed inside the text
 * (a disagreement between Jansson and the scanner would lose the position). */
static void test_mutations(void)
{
	static const char repl[] = "{}[]:,\"\\ x0-\n\xff";
	struct config *c = NULL;
	char err[CONFIG_ERROR_MAX], *text, *m;
	size_t len = 0, cap = 1 << 16;
	unsigned n_err = 0, n_ok = 0;
	FILE *f = fopen("systemd/memagent.json", "r");

	REQUIRE(f);
	text = malloc(cap);
	m = malloc(cap + 1);
	REQUIRE(text && m);
	len = fread(text, 1, cap, f);
	fclose(f);
	REQUIRE(len > 0 && len < cap);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k <= sizeof(repl) - 1; k++) {
			size_t n = len, lines = 1;
			unsigned line, col;
			int r;

			memcpy(m, text, len);
			if (k == sizeof(repl) - 1) /* deletion */
				memmove(m + i, m + i + 1, --n - i);
			else
				m[i] = repl[k];
			for (size_t j = 0; j < n; j++)
				lines += m[j] == '\n';
			r = config_parse(m, n, "t.json", &c, err);
			c = config_free(c);
			if (r == 0) {
				n_ok++;
				continue;
			}
			n_err++;
			if (r != -EINVAL || sscanf(err, "t.json:%u:%u: ", &line, &col) != 2 ||
			    line < 1 || line > lines || col < 1 || col > 200 ||
			    strlen(err) >= CONFIG_ERROR_MAX) {
				test_fail_at(__FILE__, __LINE__, "byte %zu, mutation %zu: %d %s", i, k,
					     r, err);
				goto out;
			}
		}
	}
	/* Both outcomes were exercised. */
	CHECK(n_ok > 100);
	CHECK(n_err > 1000);
out:
	free(text);
	free(m);
}

/* ---- jsonpos ---------------------------------------------------------------- */

/* ---- alerts ------------------------------------------------------------------ */

static void test_alerts(void)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;
	const char *ok =
		"{\"alerts\": {\"alertmanagers\": [\"http://127.0.0.1:9093\", \"http://127.0.0.1:9094/\"],\n"
		"  \"resend_interval_ms\": 5000,\n"
		"  \"rules\": [\n"
		"    {\"alert\": \"BigRss\", \"kind\": \"rss\", \"threshold\": 1e9, \"for_ms\": 30000,\n"
		"     \"match\": {\"target\": \"db\"}, \"labels\": {\"severity\": \"page\"},\n"
		"     \"annotations\": {\"summary\": \"{{ $labels.target }} at {{ $value }}\"}},\n"
		"    {\"alert\": \"Pressure\", \"kind\": \"psi\", \"threshold\": 0.25},\n"
		"    {\"alert\": \"CgroupBig\", \"kind\": \"rss\", \"metric\": \"memagent_cgroup_memory_usage_bytes\",\n"
		"     \"threshold\": 5},\n"
		"    {\"alert\": \"Oom\", \"kind\": \"oom_kill\", \"window_ms\": 600000},\n"
		"    {\"alert\": \"Pause\", \"kind\": \"gc_pause\", \"threshold\": 0.1, \"quantile\": 0.9}]}}";

	REQUIRE(config_parse(ok, strlen(ok), "t.json", &c, err) == 0);
	CHECK_EQ(c->alerts.n_alertmanagers, 2);
	CHECK_EQ(c->alerts.resend_interval_ms, 5000);
	CHECK_EQ(c->alerts.timeout_ms, 10000);
	REQUIRE(c->alerts.n_rules == 5);
	CHECK_STR(c->alerts.rules[0].name, "BigRss");
	CHECK_EQ(c->alerts.rules[0].kind, ALERT_RSS);
	CHECK_STR(c->alerts.rules[0].metric, "memagent_process_resident_bytes");
	CHECK(c->alerts.rules[0].threshold == 1e9);
	CHECK_U64(c->alerts.rules[0].for_ms, 30000);
	CHECK_STR(c->alerts.rules[0].match[0].value, "db");
	CHECK_STR(c->alerts.rules[0].labels[0].key, "severity");
	CHECK_STR(c->alerts.rules[2].metric, "memagent_cgroup_memory_usage_bytes");
	CHECK(c->alerts.rules[3].threshold == 0);
	CHECK_U64(c->alerts.rules[3].window_ms, 600000);
	CHECK(c->alerts.rules[4].quantile == 0.9);
	config_free(c);

	/* A metric the agent does not export, at the metric's position. */
	CHECK_ERR("{\"alerts\": {\"rules\": [\n  {\"alert\": \"A\", \"kind\": \"rss\", \"threshold\": 1,\n"
		  "   \"metric\": \"memagent_process_rss_bytes\"}]}}",
		  "t.json:3:14: alerts.rules[0].metric: \"memagent_process_rss_bytes\" is not a metric the "
		  "agent exports (docs/metrics.md lists them)");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"alert\": \"A\", \"kind\": \"rss\", \"threshold\": 1,"
		  " \"metric\": \"memagent_oom_kills_total\"}]}}",
		  "t.json:1:79: alerts.rules[0].metric: kind \"rss\" reads a gauge; "
		  "\"memagent_oom_kills_total\" is a counter");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"alert\": \"A\", \"kind\": \"rsss\"}]}}",
		  "t.json:1:46: alerts.rules[0].kind: unknown kind \"rsss\"; expected one of: heap_leak, "
		  "queue_growth, old_space_near_limit, rss, memory_available, psi, oom_kill, gc_pause");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"alert\": \"A\", \"kind\": \"psi\"}]}}",
		  "t.json:1:23: alerts.rules[0]: missing required key \"threshold\" (kind \"psi\")");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"kind\": \"psi\", \"threshold\": 1}]}}",
		  "t.json:1:23: alerts.rules[0]: missing required key \"alert\"");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"alert\": \"a b\", \"kind\": \"psi\", \"threshold\": 1}]}}",
		  "t.json:1:33: alerts.rules[0].alert: \"a b\" is not an alert name: letters, digits, \"_\" "
		  "and \":\", not starting with a digit");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"alert\": \"A\", \"kind\": \"psi\", \"threshold\": 1,"
		  " \"window_ms\": 5000}]}}",
		  "t.json:1:82: alerts.rules[0].window_ms: only kinds \"oom_kill\" and \"gc_pause\" take a "
		  "window");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"alert\": \"A\", \"kind\": \"psi\", \"threshold\": 1,"
		  " \"labels\": {\"1x\": \"v\"}}]}}",
		  "t.json:1:80: alerts.rules[0].labels.1x: \"1x\" is not a label name: letters, digits and "
		  "\"_\", not starting with a digit or \"__\"");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"alert\": \"A\", \"kind\": \"psi\", \"threshold\": 1,"
		  " \"annotations\": {\"s\": \"{{ .Value }}\"}}]}}",
		  "t.json:1:90: alerts.rules[0].annotations.s: placeholder at byte 0: expected {{ $value }} "
		  "or {{ $labels.NAME }}");
	CHECK_ERR("{\"alerts\": {\"rules\": [{\"alert\": \"A\", \"kind\": \"psi\", \"threshold\": \"1\"}]}}",
		  "t.json:1:66: alerts.rules[0].threshold: expected a number, got a string");
	CHECK_ERR("{\"alerts\": {\"alertmanagers\": [\"localhost:9093\"]}}",
		  "t.json:1:31: alerts.alertmanagers[0]: \"localhost:9093\": not an http:// or https:// URL");
	/* One URL rule for both: an alertmanager with no host is refused as a sink's is. */
	CHECK_ERR("{\"alerts\": {\"alertmanagers\": [\"http://\"]}}",
		  "t.json:1:31: alerts.alertmanagers[0]: \"http://\": not a URL: no host, or a space or control character in it");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"https://\"}]}",
		  "t.json:1:51: sinks[0].url: not a URL: no host, or a space or control character in it");
	CHECK_ERR("{\"alerts\": {\"alertmanagers\": [\"http://a\", \"http://a\"]}}",
		  "t.json:1:43: alerts.alertmanagers[1]: duplicate: already alertmanagers[0]");
	CHECK_ERR("{\"alerts\": {\"resend_interval_ms\": 10}}",
		  "t.json:1:35: alerts.resend_interval_ms: 10 is out of range 1000..86400000");
}

/* "sinks": every key stored, defaults applied, errors placed at their key. */
static void test_sinks(void)
{
	const char *full = "{\"state_dir\": \"/tmp/s\", \"sinks\": ["
		"{\"name\": \"prom\", \"type\": \"remote_write\", \"url\": \"https://h:9090/api/v1/write\","
		" \"interval_ms\": 500, \"timeout_ms\": 2000, \"queue_max_samples\": 1000,"
		" \"batch_max_samples\": 100, \"concurrency\": 3, \"headers\": {\"X-Scope-OrgID\": \"t1\"},"
		" \"bearer_token_file\": \"/etc/tok\", \"basic_auth\": {\"username\": \"u\", \"password\": \"p\"},"
		" \"tls\": {\"ca_file\": \"/ca\", \"cert_file\": \"/c\", \"key_file\": \"/k\", \"insecure_skip_verify\": true},"
		" \"buffer\": \"disk\", \"buffer_max_bytes\": 65536},"
		"{\"name\": \"pg\", \"type\": \"pushgateway\", \"url\": \"http://h:9091\", \"job\": \"j\"}]}";
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;

	REQUIRE(config_parse(full, strlen(full), "t.json", &c, err) == 0);
	CHECK_EQ(c->n_sinks, 2);
	CHECK_STR(c->state_dir, "/tmp/s");
	CHECK_EQ(c->sinks[0].type, SINK_REMOTE_WRITE);
	CHECK_EQ(c->sinks[0].interval_ms, 500);
	CHECK_EQ(c->sinks[0].timeout_ms, 2000);
	CHECK_EQ(c->sinks[0].queue_max_samples, 1000);
	CHECK_EQ(c->sinks[0].batch_max_samples, 100);
	CHECK_EQ(c->sinks[0].concurrency, 3);
	CHECK_STR(c->sinks[0].headers[0], "X-Scope-OrgID: t1");
	CHECK(c->sinks[0].headers[1] == NULL);
	CHECK_STR(c->sinks[0].basic_auth, "u:p");
	CHECK_STR(c->sinks[0].tls_key_file, "/k");
	CHECK(c->sinks[0].tls_insecure_skip_verify);
	CHECK_EQ(c->sinks[0].buffer, SINK_BUFFER_DISK);
	CHECK_U64(c->sinks[0].buffer_max_bytes, 65536);
	CHECK_STR(c->sinks[1].job, "j");
	CHECK_EQ(c->sinks[1].interval_ms, SINK_INTERVAL_DEFAULT_MS);
	CHECK_EQ(c->sinks[1].queue_max_samples, SINK_QUEUE_DEFAULT_SAMPLES);
	CHECK_EQ(c->sinks[1].concurrency, SINK_CONCURRENCY_DEFAULT);
	CHECK(!c->sinks[1].tls_insecure_skip_verify);
	config_free(c);
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"http://h/write\", \"concurrency\": 9}]}",
		  "t.json:1:84: sinks[0].concurrency: 9 is out of range 1..8");

	CHECK_OK("{}");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"kafka\", \"url\": \"http://h\"}]}",
		  "t.json:1:34: sinks[0].type: unknown sink type \"kafka\"; expected \"remote_write\", "
		  "\"influx\", \"pushgateway\" or \"webhook\"");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"ftp://h\"}]}",
		  "t.json:1:51: sinks[0].url: not an http:// or https:// URL");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\"}]}",
		  "t.json:1:12: sinks[0]: missing required key \"url\"");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a/b\", \"type\": \"influx\", \"url\": \"http://h\"}]}",
		  "t.json:1:21: sinks[0].name: may only contain letters, digits, '_', '-' and '.' (not first)");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"http://h\"},\n"
		  " {\"name\": \"a\", \"type\": \"webhook\", \"url\": \"http://h\"}]}",
		  "t.json:2:11: sinks[1].name: duplicate sink name \"a\", already used by sinks[0]");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"webhook\", \"url\": \"http://h\", \"buffer\": \"disk\"}]}",
		  "t.json:1:74: sinks[0].buffer: \"disk\" is for queued sinks (remote_write, influx); a "
		  "webhook sink keeps only the latest snapshot");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"http://h\", \"job\": \"j\"}]}",
		  "t.json:1:63: sinks[0].job: only pushgateway sinks take \"job\" and \"instance\"");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"http://h\", "
		  "\"basic_auth\": {\"username\": \"u\"}}]}",
		  "t.json:1:77: sinks[0].basic_auth: missing required key \"password\"");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"http://h\", "
		  "\"headers\": {\"X\": 1}}]}",
		  "t.json:1:80: sinks[0].headers.X: expected a string, got an integer");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"http://h\", "
		  "\"tls\": {\"ca_fil\": \"/x\"}}]}",
		  "t.json:1:71: sinks[0].tls.ca_fil: unknown key \"ca_fil\"; did you mean \"ca_file\"?");
	CHECK_ERR("{\"sinks\": [{\"name\": \"a\", \"type\": \"influx\", \"url\": \"http://h\", "
		  "\"queue_max_samples\": 0}]}",
		  "t.json:1:84: sinks[0].queue_max_samples: 0 is out of range 1..100000000");
	CHECK_ERR("{\"state_dir\": \"rel\"}", "t.json:1:15: state_dir: must be an absolute path");
}

int main(void)
{
	RUN(test_syntax_error_fixture);
	RUN(test_bad_regex_fixture);
	RUN(test_unknown_key_fixture);
	RUN(test_syntax_errors_inline);
	RUN(test_duplicate_key_fixture);
	RUN(test_duplicate_key_inline);
	RUN(test_trailing_garbage);
	RUN(test_empty_file);
	RUN(test_non_object_top_level);
	RUN(test_non_utf8);
	RUN(test_nul_byte);
	RUN(test_byte_order_mark);
	RUN(test_deep_nesting);
	RUN(test_huge_input);
	RUN(test_long_key_message);
	RUN(test_unknown_keys);
	RUN(test_web_section);
	RUN(test_sinks);
	RUN(test_wrong_types);
	RUN(test_out_of_range);
	RUN(test_listen_values);
	RUN(test_missing_keys);
	RUN(test_target_values);
	RUN(test_duplicate_target_names);
	RUN(test_reserved_name);
	RUN(test_too_many_targets);
	RUN(test_per_process_group_by_conflict);
	RUN(test_values_stored);
	RUN(test_defaults);
	RUN(test_default_json);
	RUN(test_systemd_example);
	RUN(test_load_errors);
	RUN(test_mutations);
	RUN(test_alerts);
	return test_done();
}
