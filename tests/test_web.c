/* SPDX-License-Identifier: MIT */
/* web: basic auth through bcrypt, the credential cache, the rate limit, file errors. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "web.h"

/* A bcrypt hash of password at cost 4 (the checks count here, not their price). */
static void hash_of(const char *password, char out[CRYPT_OUTPUT_SIZE])
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = { 0 };

	out[0] = '\0';
	if (crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)) &&
	    crypt_rn(password, salt, &cd, sizeof(cd)))
		snprintf(out, CRYPT_OUTPUT_SIZE, "%s", cd.output);
}

static struct web *users_web(void)
{
	static char h1[CRYPT_OUTPUT_SIZE], h2[CRYPT_OUTPUT_SIZE];
	struct web_user users[2] = { { "prom", h1 }, { "other", h2 } };
	struct web_options o = { .users = users, .n_users = 2 };
	struct web *w = NULL;
	char err[256];

	hash_of("right", h1);
	hash_of("second", h2);
	if (strlen(h1) != 60 || web_new(&o, &w, err, sizeof(err)) < 0)
		return NULL;
	return w;
}

static void test_cache(void)
{
	struct web *w = users_web();
	int bcrypt, checks = 0;

	REQUIRE(w);
	CHECK(web_auth_required(w));
	CHECK(!web_tls(w));
	for (int i = 0; i < 100; i++) {
		CHECK_EQ(web_check_basic(w, "prom", "right", &bcrypt), WEB_AUTH_OK);
		checks += bcrypt != 0;
	}
	CHECK_EQ(checks, 1);
	CHECK_EQ(web_check_basic(w, "other", "second", &bcrypt), WEB_AUTH_OK);
	CHECK_EQ(bcrypt, 1);
	CHECK_EQ(web_check_basic(w, "other", "second", &bcrypt), WEB_AUTH_OK);
	CHECK_EQ(bcrypt, 0);
	/* The cache is keyed by user and password together. */
	CHECK_EQ(web_check_basic(w, "other", "right", &bcrypt), WEB_AUTH_DENIED);
	CHECK_EQ(bcrypt, -1);
	CHECK_EQ(web_check_basic(w, "prom", "righ", &bcrypt), WEB_AUTH_DENIED);
	CHECK_EQ(web_check_basic(w, "nobody", "right", &bcrypt), WEB_AUTH_DENIED);
	CHECK_EQ(bcrypt, -1); /* an unknown user costs a check too */
	CHECK_EQ(web_check_basic(w, NULL, NULL, &bcrypt), WEB_AUTH_MISSING);
	CHECK_EQ(bcrypt, 0);
	web_unref(w);
}

static void test_rate_limit(void)
{
	struct web *w = users_web();
	int bcrypt, checks = 0, limited = 0;
	char pw[32];

	REQUIRE(w);
	CHECK_EQ(web_check_basic(w, "prom", "right", &bcrypt), WEB_AUTH_OK);
	/* Wrong passwords, as fast as they come: the bucket runs dry. */
	for (int i = 0; i < 50; i++) {
		enum web_auth a;

		snprintf(pw, sizeof(pw), "guess%d", i);
		a = web_check_basic(w, "prom", pw, &bcrypt);
		CHECK(a == WEB_AUTH_DENIED || a == WEB_AUTH_RATE_LIMITED);
		checks += bcrypt != 0;
		limited += a == WEB_AUTH_RATE_LIMITED;
		CHECK(a != WEB_AUTH_RATE_LIMITED || bcrypt == 0);
	}
	printf("  50 wrong passwords: %d checked, %d refused unchecked\n", checks, limited);
	CHECK(limited > 0);
	CHECK(checks >= WEB_BCRYPT_BURST - 1);
	/* Cached credentials still pass, unchecked. */
	CHECK_EQ(web_check_basic(w, "prom", "right", &bcrypt), WEB_AUTH_OK);
	CHECK_EQ(bcrypt, 0);
	web_unref(w);
}

static void test_no_users(void)
{
	struct web_options o = { .min_version = WEB_TLS12 };
	struct web *w = NULL;
	char err[128];
	int bcrypt;

	REQUIRE(web_new(&o, &w, err, sizeof(err)) == 0);
	CHECK(!web_auth_required(w));
	CHECK_EQ(web_check_basic(w, NULL, NULL, &bcrypt), WEB_AUTH_OK);
	CHECK(!web_tls(NULL) && !web_auth_required(NULL));
	CHECK(web_priorities(NULL) == web_priorities(w));
	web_unref(w);
}

static void test_file_errors(void)
{
	struct web_options o = { .cert_file = "/nonexistent/cert.pem", .key_file = "/nonexistent/k" };
	struct web *w = NULL;
	char err[256];

	CHECK_EQ(web_new(&o, &w, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "/nonexistent/cert.pem: cannot open: No such file or directory");
	CHECK(w == NULL);
	/* Not PEM at all. */
	o.cert_file = "tests/test_web.c";
	o.key_file = "tests/test_web.c";
	CHECK_EQ(web_new(&o, &w, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "tests/test_web.c, tests/test_web.c: ");
	o.cert_file = "/proc";
	CHECK_EQ(web_new(&o, &w, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "/proc: not a regular file");
}

static void test_names(void)
{
	CHECK_STR(web_client_auth_name(WEB_CLIENT_REQUIRE_VERIFY), "RequireAndVerifyClientCert");
	CHECK_STR(web_tls_version_name(WEB_TLS12), "TLS12");
}

int main(void)
{
	RUN(test_cache);
	RUN(test_rate_limit);
	RUN(test_no_users);
	RUN(test_file_errors);
	RUN(test_names);
	return test_done();
}
