/* SPDX-License-Identifier: MIT */
/* The unit-test harness: a few macros and the line protocol tests/run.sh counts.
 *
 * Why not cmocka: every test program here is a plain C program that prints one
 * line per test case ("PASS name", "FAIL name", "SKIP name: reason") and exits
 * non-zero when any case failed. The runner counts those lines for C programs
 * and shell integration tests alike, and a crash (ASan report, signal) still
 * shows as a failure by the exit status. Nothing to install, nothing to mock.
 * A "NOTE name: what" line counts as nothing; the runner shows it, and the
 * lines after it, whatever the verdict (tests/kernels/systemd_guest.sh's rerun).
 *
 *   static void test_parse(void) { CHECK_EQ(parse("1"), 1); }
 *   int main(void) { RUN(test_parse); return test_done(); }
 */
#ifndef MEMAGENT_TEST_H
#define MEMAGENT_TEST_H

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int test_case_failed;
static const char *test_case_skip;
static int test_n_pass, test_n_fail, test_n_skip;

static inline void test_fail_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void test_fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	test_case_failed = 1;
}

#define CHECK(cond) \
	do { if (!(cond)) test_fail_at(__FILE__, __LINE__, "CHECK(%s) failed", #cond); } while (0)

/* Integer comparisons print both sides; they evaluate each argument once. */
#define CHECK_CMP(a, op, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (!(a_ op b_)) \
		test_fail_at(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a, #op, #b, a_, b_); \
} while (0)
#define CHECK_EQ(a, b) CHECK_CMP(a, ==, b)
#define CHECK_U64(a, b) do { \
	uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); \
	if (a_ != b_) \
		test_fail_at(__FILE__, __LINE__, "%s == %s: %" PRIu64 " vs %" PRIu64, #a, #b, a_, b_); \
} while (0)
#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (!a_ || !b_ || strcmp(a_, b_) != 0) \
		test_fail_at(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", #a, #b, \
			     a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
} while (0)
#define CHECK_CONTAINS(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (!h_ || !strstr(h_, n_)) \
		test_fail_at(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay, n_, \
			     h_ ? h_ : "(null)"); \
} while (0)

/* A precondition that must hold for the rest of the case to mean anything. */
#define REQUIRE(cond) do { \
	if (!(cond)) { test_fail_at(__FILE__, __LINE__, "REQUIRE(%s) failed", #cond); return; } \
} while (0)

/* Skips the current case: something it needs is absent here. Under CI=true a
 * case that must not skip (BPF) calls TEST_SKIP_UNLESS_CI, which fails instead. */
#define TEST_SKIP(reason) do { test_case_skip = (reason); return; } while (0)
#define TEST_SKIP_UNLESS_CI(reason) do { \
	if (test_in_ci()) { test_fail_at(__FILE__, __LINE__, "may not skip under CI: %s", reason); return; } \
	TEST_SKIP(reason); \
} while (0)

static inline int test_in_ci(void)
{
	const char *ci = getenv("CI");

	return ci && strcmp(ci, "true") == 0;
}

/* Reads a whole file (fixtures live under tests/fixtures; tests run from the
 * repository root). Returns a malloc'ed NUL-terminated buffer or NULL. */
static inline char *test_slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = (cap ? cap * 2 : 8192));

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return buf;
}

/* A small seeded generator for reproducible random inputs. */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* Writes content to dir/rel, creating parent folders: fixture trees are
 * built by the tests that use them. Returns 0 or -errno. */
static inline int test_write_file(const char *dir, const char *rel, const char *content)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(content, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static inline int test_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes a fixture tree. */
static inline void test_rm_rf(const char *dir)
{
	nftw(dir, test_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

#define RUN(fn) test_run(#fn, fn)

static inline void test_run(const char *name, void (*fn)(void))
{
	test_case_failed = 0;
	test_case_skip = NULL;
	fn();
	if (test_case_failed) {
		printf("FAIL %s\n", name);
		test_n_fail++;
	} else if (test_case_skip) {
		printf("SKIP %s: %s\n", name, test_case_skip);
		test_n_skip++;
	} else {
		printf("PASS %s\n", name);
		test_n_pass++;
	}
	fflush(stdout);
}

static inline int test_done(void)
{
	return test_n_fail ? 1 : 0;
}

#endif
