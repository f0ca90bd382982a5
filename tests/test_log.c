/* SPDX-License-Identifier: MIT */
/* agent/log: syslog priority prefixes under the journal, level words without, and the rate limit. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "test.h"

/* Runs fn with stderr redirected to a file; returns what was written (malloc'd). */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/test_log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	static char buf[1 << 16];
	ssize_t n;

	unlink(path);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strdup(buf);
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void log_journal(void)
{
	setenv("JOURNAL_STREAM", "8:1234", 1);
	log_init(false);
	log_error("an error %d", 1);
	log_notice("a notice");
	log_debug("not shown");
}

static void test_journal_prefixes(void)
{
	char *out = capture(log_journal);

	CHECK(strstr(out, "<3>an error 1\n") != NULL);
	CHECK(strstr(out, "<5>a notice\n") != NULL);
	CHECK(strstr(out, "not shown") == NULL);
	free(out);
}

static void log_plain(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init(true);
	log_warning("a warning");
	log_debug("a debug line");
}

static void test_plain_words(void)
{
	char *out = capture(log_plain);

	CHECK(strstr(out, "memagent: warning: a warning\n") != NULL);
	CHECK(strstr(out, "memagent: debug: a debug line\n") != NULL);
	free(out);
}

static void log_flood(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init(false);
	for (int i = 0; i < 100; i++)
		log_error("same site %d", i);
	log_warning("another site");
	for (int i = 0; i < 20; i++)
		log_notice("notices pass %d", i);
}

static void test_rate_limited(void)
{
	uint64_t before = log_suppressed_total();
	char *out = capture(log_flood);

	/* One window: the burst passes, the rest is counted, other sites and
	 * notices are not held back. */
	CHECK_EQ(count_lines(out, "same site"), 10);
	CHECK(strstr(out, "same site 9\n") != NULL);
	CHECK(strstr(out, "same site 10\n") == NULL);
	CHECK_EQ(log_suppressed_total() - before, 90);
	CHECK(strstr(out, "another site\n") != NULL);
	CHECK_EQ(count_lines(out, "notices pass"), 20);
	free(out);
}

int main(void)
{
	RUN(test_journal_prefixes);
	RUN(test_plain_words);
	RUN(test_rate_limited);
	return test_done();
}
