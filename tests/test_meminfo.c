/* SPDX-License-Identifier: MIT */
/* meminfo: the parser on real, old, truncated, empty and garbage files, and
 * the collector on a fixture tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meminfo.h"
#include "test.h"

#define MEMINFO(text) meminfo_parse(text, strlen(text), &mi)

static void test_parse_real(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/meminfo.txt", &len);
	struct meminfo mi;
	unsigned long long total = 0, avail = 0;
	const char *p;

	REQUIRE(buf);
	CHECK_EQ(meminfo_parse(buf, len, &mi), 0);
	p = strstr(buf, "MemTotal:");
	REQUIRE(p && sscanf(p, "MemTotal: %llu kB", &total) == 1);
	p = strstr(buf, "MemAvailable:");
	REQUIRE(p && sscanf(p, "MemAvailable: %llu kB", &avail) == 1);
	CHECK_U64(mi.bytes[MEMINFO_MEM_TOTAL], total * 1024);
	CHECK_U64(mi.bytes[MEMINFO_MEM_AVAILABLE], avail * 1024);
	CHECK(mi.present & (1ull << MEMINFO_SHMEM));
	CHECK(mi.present & (1ull << MEMINFO_ANON_PAGES));
	free(buf);
}

static void test_parse_old_kernel(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/meminfo-3.10.txt", &len);
	struct meminfo mi;

	REQUIRE(buf);
	CHECK_EQ(meminfo_parse(buf, len, &mi), 0);
	CHECK_U64(mi.bytes[MEMINFO_MEM_FREE], 712376ull * 1024);
	/* No MemAvailable before 3.14: absent, not zero. */
	CHECK(!(mi.present & (1ull << MEMINFO_MEM_AVAILABLE)));
	free(buf);
}

/* Every prefix of a real file either fails or parses the lines it holds:
 * a cut inside a line never yields a wrong number. */
static void test_parse_every_truncation(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/meminfo.txt", &len);
	struct meminfo full, mi;
	size_t ok = 0;

	REQUIRE(buf);
	REQUIRE(meminfo_parse(buf, len, &full) == 0);
	for (size_t cut = 0; cut < len; cut++) {
		if (meminfo_parse(buf, cut, &mi) != 0)
			continue;
		ok++;
		CHECK(buf[cut - 1] == '\n');
		for (int i = 0; i < MEMINFO_MAX; i++)
			if (mi.present & (1ull << i))
				CHECK_U64(mi.bytes[i], full.bytes[i]);
	}
	/* Cuts at line ends after MemFree parse; all others fail. */
	CHECK(ok > 10);
	free(buf);
}

static void test_parse_empty_and_garbage(void)
{
	struct meminfo mi;
	char junk[512];
	uint64_t seed = 42;

	CHECK_EQ(meminfo_parse("", 0, &mi), -EBADMSG);
	CHECK_EQ(meminfo_parse("\n", 1, &mi), -EBADMSG);
	CHECK_EQ(MEMINFO("MemTotal: 12 kB\n"), -EBADMSG); /* no MemFree */
	CHECK_EQ(MEMINFO("MemTotal: x kB\nMemFree: 1 kB\n"), -EBADMSG);
	CHECK_EQ(MEMINFO("MemTotal: 1 MB\nMemFree: 1 kB\n"), -EBADMSG);
	CHECK_EQ(MEMINFO("MemTotal: 1\nMemFree: 1 kB\n"), -EBADMSG);
	CHECK_EQ(MEMINFO("MemTotal 1 kB\nMemFree: 1 kB\n"), -EBADMSG);
	for (int round = 0; round < 2000; round++) {
		size_t n = test_rand(&seed) % sizeof(junk);

		for (size_t i = 0; i < n; i++)
			junk[i] = (char)test_rand(&seed);
		/* Must not crash or read out of bounds (ASan watches). */
		(void)meminfo_parse(junk, n, &mi);
	}
	/* Huge values saturate instead of wrapping. */
	const char *big = "MemTotal: 99999999999999999999999 kB\nMemFree: 1 kB\n";

	CHECK_EQ(meminfo_parse(big, strlen(big), &mi), 0);
	CHECK_U64(mi.bytes[MEMINFO_MEM_TOTAL], UINT64_MAX);
}

static void test_read_root(void)
{
	char dir[] = "/tmp/memagent-meminfo-XXXXXX", path[128];
	struct meminfo mi;
	FILE *f;

	REQUIRE(mkdtemp(dir));
	CHECK_EQ(meminfo_read(dir, &mi), -ENOENT);
	snprintf(path, sizeof(path), "%s/meminfo", dir);
	/* A folder where the file should be: unreadable, not a crash. */
	REQUIRE(mkdir(path, 0755) == 0);
	CHECK_EQ(meminfo_read(dir, &mi), -EISDIR);
	rmdir(path);
	f = fopen(path, "w");
	REQUIRE(f);
	fputs("MemTotal: 2048 kB\nMemFree: 1024 kB\nMemAvailable: 1536 kB\n", f);
	fclose(f);
	CHECK_EQ(meminfo_read(dir, &mi), 0);
	CHECK_U64(mi.bytes[MEMINFO_MEM_AVAILABLE], 1536 * 1024);
	unlink(path);
	rmdir(dir);
}

static void test_collector(void)
{
	struct collector_ctx ctx = { .proc_root = "/proc" };
	struct collector_errors err = {0};
	struct snapshot *s = snapshot_new();
	void *st = NULL;
	int n = 0;

	REQUIRE(s);
	REQUIRE(meminfo_collector.init(&ctx, &st) == 0);
	CHECK_EQ(meminfo_collector.read(st, s, &err), 0);
	for (const struct snapshot_family *f = snapshot_families(s); f; f = f->next) {
		n++;
		CHECK_EQ(f->n_samples, 1);
		if (strcmp(f->desc->name, "memagent_system_memory_total_bytes") == 0)
			CHECK(f->samples->value > 0);
	}
	CHECK(n >= 10);
	for (int i = 0; i < COLLECTOR_REASON_MAX; i++)
		CHECK_EQ(err.n[i], 0);
	meminfo_collector.done(st);
	snapshot_unref(s);
}

int main(void)
{
	RUN(test_parse_real);
	RUN(test_parse_old_kernel);
	RUN(test_parse_every_truncation);
	RUN(test_parse_empty_and_garbage);
	RUN(test_read_root);
	RUN(test_collector);
	return test_done();
}
