/* SPDX-License-Identifier: MIT */
/* keyval: the "Key: value [kB]" line iterator, and that every reader of such
 * files (meminfo, status, smaps_rollup, cgroup keyed files) saturates alike. */
#include <stdint.h>
#include <string.h>

#include "keyval.h"
#include "meminfo.h"
#include "procfs.h"
#include "test.h"

static int next(struct keyval_iter *it, struct keyval *kv, const char *key, const char *value)
{
	int r = keyval_next(it, kv);

	if (r != 1)
		return r;
	if (kv->key_len != strlen(key) || memcmp(kv->key, key, kv->key_len) != 0 ||
	    kv->value_len != strlen(value) || memcmp(kv->value, value, kv->value_len) != 0)
		return -1;
	return 1;
}

static void test_lines(void)
{
	const char text[] = "MemTotal:  16 kB\nName:\t x\nEmpty:\n";
	struct keyval_iter it;
	struct keyval kv;

	keyval_init(&it, text, strlen(text), ':');
	CHECK_EQ(next(&it, &kv, "MemTotal", "  16 kB"), 1);
	CHECK(KEYVAL_IS(&kv, "MemTotal"));
	CHECK(!KEYVAL_IS(&kv, "MemTota"));
	CHECK_EQ(next(&it, &kv, "Name", "\t x"), 1); /* leading blanks are the caller's */
	CHECK_EQ(next(&it, &kv, "Empty", ""), 1);
	CHECK_EQ(keyval_next(&it, &kv), 0);
	CHECK_EQ(keyval_next(&it, &kv), 0);
	keyval_init(&it, "", 0, ':');
	CHECK_EQ(keyval_next(&it, &kv), 0);
}

static void test_malformed_lines(void)
{
	struct keyval_iter it;
	struct keyval kv;

	keyval_init(&it, "A: 1\nB: 2", 9, ':'); /* cut short: no newline */
	CHECK_EQ(keyval_next(&it, &kv), 1);
	CHECK_EQ(keyval_next(&it, &kv), -EBADMSG);
	CHECK_EQ(keyval_next(&it, &kv), -EBADMSG); /* stays there */
	keyval_init(&it, "no separator\n", 13, ':');
	CHECK_EQ(keyval_next(&it, &kv), -EBADMSG);
	keyval_init(&it, ": 1\n", 4, ':');
	CHECK_EQ(keyval_next(&it, &kv), -EBADMSG);
	/* The separator is looked for on the line only. */
	keyval_init(&it, "A 1\nB: 2\n", 9, ':');
	CHECK_EQ(keyval_next(&it, &kv), -EBADMSG);
}

static int number(const char *value, uint64_t *ret)
{
	char line[128];
	struct keyval_iter it;
	struct keyval kv;

	snprintf(line, sizeof(line), "K:%s\n", value);
	keyval_init(&it, line, strlen(line), ':');
	if (keyval_next(&it, &kv) != 1)
		return -1000;
	return keyval_u64(&kv, ret);
}

static void test_numbers(void)
{
	uint64_t v = 7;

	CHECK_EQ(number(" 42", &v), KEYVAL_PLAIN);
	CHECK_U64(v, 42);
	CHECK_EQ(number("\t  16 kB", &v), KEYVAL_KB);
	CHECK_U64(v, 16384);
	CHECK_EQ(number("0 kB", &v), KEYVAL_KB);
	CHECK_U64(v, 0);
	v = 7;
	CHECK_EQ(number("", &v), -EBADMSG);
	CHECK_EQ(number("  ", &v), -EBADMSG);
	CHECK_EQ(number(" x", &v), -EBADMSG);
	CHECK_EQ(number(" -1", &v), -EBADMSG);
	CHECK_EQ(number(" 12 KB", &v), -EBADMSG);
	CHECK_EQ(number(" 12 kB ", &v), -EBADMSG);
	CHECK_EQ(number(" 12  kB", &v), -EBADMSG);
	CHECK_EQ(number(" 12x", &v), -EBADMSG);
	CHECK_U64(v, 7); /* untouched on error */
}

static void test_saturation(void)
{
	uint64_t v;

	/* 2^54 - 1 kB is the largest that fits; 2^54 kB is 2^64 bytes. */
	CHECK_EQ(number(" 18014398509481983 kB", &v), KEYVAL_KB);
	CHECK_U64(v, 18014398509481983ull * 1024);
	CHECK_EQ(number(" 18014398509481984 kB", &v), KEYVAL_KB);
	CHECK_U64(v, UINT64_MAX);
	CHECK_EQ(number(" 99999999999999999999999 kB", &v), KEYVAL_KB);
	CHECK_U64(v, UINT64_MAX);
	CHECK_EQ(number(" 99999999999999999999999", &v), KEYVAL_PLAIN);
	CHECK_U64(v, UINT64_MAX);
}

static void test_find(void)
{
	const char ev[] = "low 0\nhigh 5\noom 1\noom_kill 3\n";
	uint64_t v;

	CHECK_EQ(keyval_find_u64(ev, strlen(ev), ' ', "oom_kill", &v), KEYVAL_PLAIN);
	CHECK_U64(v, 3);
	CHECK_EQ(keyval_find_u64(ev, strlen(ev), ' ', "oom", &v), KEYVAL_PLAIN); /* not oom_kill */
	CHECK_U64(v, 1);
	CHECK_EQ(keyval_find_u64(ev, strlen(ev), ' ', "max", &v), -ENOENT);
	CHECK_EQ(keyval_find_u64("oom x\n", 6, ' ', "oom", &v), -EBADMSG);
	CHECK_EQ(keyval_find_u64("junk\noom 1\n", 11, ' ', "oom", &v), -EBADMSG);
}

/* Every reader of these files turns a huge kB count into UINT64_MAX. */
static void test_readers_saturate_alike(void)
{
	const char mi_text[] = "MemTotal: 18014398509481984 kB\nMemFree: 1 kB\n";
	const char st_text[] = "Name:\tx\nState:\tS (sleeping)\nVmRSS:\t18014398509481984 kB\n"
			       "RssAnon:\t18014398509481983 kB\nThreads:\t1\n";
	const char sm_text[] = "00400000-7ffe0000 ---p 00000000 00:00 0 [rollup]\n"
			       "Pss: 18014398509481984 kB\nPrivate_Clean: 18014398509481983 kB\n"
			       "Private_Dirty: 18014398509481983 kB\n";
	struct meminfo mi;
	struct procfs_status st;
	struct procfs_smaps sm;

	REQUIRE(meminfo_parse(mi_text, strlen(mi_text), &mi) == 0);
	CHECK_U64(mi.bytes[MEMINFO_MEM_TOTAL], UINT64_MAX);
	CHECK_U64(mi.bytes[MEMINFO_MEM_FREE], 1024);
	REQUIRE(procfs_parse_status(st_text, strlen(st_text), &st) == 0);
	CHECK_U64(st.rss, UINT64_MAX);
	CHECK_U64(st.rss_anon, 18014398509481983ull * 1024);
	REQUIRE(procfs_parse_smaps(sm_text, strlen(sm_text), &sm) == 0);
	CHECK_U64(sm.pss, UINT64_MAX);
	CHECK_U64(sm.uss, UINT64_MAX); /* the sum saturates too */
}

int main(void)
{
	RUN(test_lines);
	RUN(test_malformed_lines);
	RUN(test_numbers);
	RUN(test_saturation);
	RUN(test_find);
	RUN(test_readers_saturate_alike);
	return test_done();
}
