/* SPDX-License-Identifier: MIT */
/* pidscan: what is looked at, and when /proc is listed at all, on a fixture /proc. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidscan.h"
#include "test.h"

static char root[] = "/tmp/test_pidscan.XXXXXX";

static void mkpid(int pid)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%d", root, pid);
	mkdir(p, 0755);
}

static void rmpid(int pid)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%d", root, pid);
	rmdir(p);
}

/* /proc/loadavg with last_pid as its last field. */
static void last_pid(int pid)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/loadavg", root);
	f = fopen(p, "we");
	if (f) {
		fprintf(f, "0.00 0.01 0.05 1/100 %d\n", pid);
		fclose(f);
	}
}

/* The pids to look at, as "1,7,9". */
static const char *looked(const struct pidscan *s)
{
	static char out[256];
	size_t n, off = 0;
	const int *v = pidscan_look(s, &n);

	out[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(out) - 16; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%d", i ? "," : "", v[i]);
	return out;
}

static void test_births_exits_rescans(void)
{
	struct pidscan *s;
	int dfd;

	REQUIRE(mkdtemp(root) != NULL);
	mkpid(1);
	mkpid(20);
	mkpid(300);
	last_pid(300);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/self", root); /* not a pid: never listed */
		mkdir(p, 0755);
	}
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);
	s = pidscan_new(dfd);
	REQUIRE(s != NULL);
	CHECK(!pidscan_gone(s, 20)); /* nothing listed yet */

	/* The first call is a rescan: everyone, in order. */
	CHECK_EQ(pidscan_run(s, 0, false), 2);
	CHECK_STR(looked(s), "1,20,300");
	/* The last pid was seen once: listed again, nothing new. */
	CHECK_EQ(pidscan_run(s, 0, false), 1);
	CHECK_STR(looked(s), "");
	/* Unchanged over two calls: no listing at all. */
	CHECK_EQ(pidscan_run(s, 0, false), 0);
	CHECK_STR(looked(s), "");

	/* A birth: the new pid, then its second look, then quiet again. */
	mkpid(301);
	last_pid(301);
	CHECK_EQ(pidscan_run(s, 0, false), 1);
	CHECK_STR(looked(s), "301");
	CHECK_EQ(pidscan_run(s, 0, false), 1);
	CHECK_STR(looked(s), "301");
	CHECK_EQ(pidscan_run(s, 0, false), 0);

	/* An exit is not a birth: seen only when the caller asks to list. */
	rmpid(20);
	CHECK_EQ(pidscan_run(s, 0, false), 0);
	CHECK(!pidscan_gone(s, 20));
	CHECK_EQ(pidscan_run(s, 0, true), 1);
	CHECK(pidscan_gone(s, 20));
	CHECK(!pidscan_gone(s, 300));
	CHECK_STR(looked(s), "");

	/* A rescan request: everyone again. */
	CHECK_EQ(pidscan_run(s, 1, false), 2);
	CHECK_STR(looked(s), "1,300,301");
	CHECK_EQ(pidscan_run(s, 1, false), 0);

	/* Many pids: the arrays grow. */
	for (int pid = 1000; pid < 3500; pid++)
		mkpid(pid);
	last_pid(3499);
	CHECK_EQ(pidscan_run(s, 1, false), 1);
	{
		size_t n;
		const int *v = pidscan_look(s, &n);

		CHECK_EQ(n, 2500);
		CHECK(n == 2500 && v[0] == 1000 && v[n - 1] == 3499);
	}
	pidscan_free(s);
	close(dfd);
	for (int pid = 1000; pid < 3500; pid++)
		rmpid(pid);
	rmpid(1);
	rmpid(300);
	rmpid(301);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/self", root);
		rmdir(p);
		snprintf(p, sizeof(p), "%s/loadavg", root);
		unlink(p);
	}
	rmdir(root);
}

int main(void)
{
	RUN(test_births_exits_rescans);
	return test_done();
}
