/* SPDX-License-Identifier: MIT */
/* pidtab: lookups, growth, and backward-shift deletion against a model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pidtab.h"
#include "test.h"

struct ent {
	int32_t pid;
	uint32_t payload;
	char pad[20];
};

/* Every entry is reachable from its home without crossing a free slot, and
 * the count matches the slots in use. */
static int check_table(const struct pidtab *t)
{
	size_t used = 0;

	for (size_t i = 0; i < t->cap; i++) {
		const struct ent *e = pidtab_slot(t, i);

		if (!e)
			continue;
		used++;
		if (pidtab_find(t, e->pid) != e)
			return -1;
	}
	return used == t->n ? 0 : -2;
}

static void test_basic(void)
{
	struct pidtab t;
	struct ent *e;

	REQUIRE(pidtab_init(&t, sizeof(struct ent), 4) == 0);
	CHECK(pidtab_find(&t, 1) == NULL);
	CHECK(pidtab_find(&t, 0) == NULL);
	e = pidtab_insert(&t, 42);
	REQUIRE(e);
	CHECK_EQ(e->pid, 42);
	CHECK_EQ(e->payload, 0);
	e->payload = 7;
	CHECK(pidtab_find(&t, 42) == e);
	CHECK_EQ(t.n, 1);
	pidtab_remove(&t, e);
	CHECK(pidtab_find(&t, 42) == NULL);
	CHECK_EQ(t.n, 0);
	for (size_t i = 0; i < t.cap; i++)
		CHECK(pidtab_slot(&t, i) == NULL); /* no tombstone left */
	pidtab_done(&t);
	pidtab_done(&t);
	CHECK(pidtab_find(&t, 42) == NULL);
}

static void test_growth_keeps_entries(void)
{
	struct pidtab t;
	size_t cap0;

	REQUIRE(pidtab_init(&t, sizeof(struct ent), 8) == 0);
	cap0 = t.cap;
	for (int32_t pid = 1; pid <= 5000; pid++) {
		struct ent *e = pidtab_insert(&t, pid);

		REQUIRE(e);
		e->payload = (uint32_t)pid * 3;
	}
	CHECK(t.cap > cap0);
	CHECK(t.n * 2 <= t.cap); /* load at most one half */
	for (int32_t pid = 1; pid <= 5000; pid++) {
		const struct ent *e = pidtab_find(&t, pid);

		REQUIRE(e);
		CHECK_EQ(e->payload, (uint32_t)pid * 3);
	}
	CHECK(pidtab_find(&t, 5001) == NULL);
	CHECK_EQ(check_table(&t), 0);
	pidtab_done(&t);
}

/* Pids that share a home slot form one probe run, wrapping at the end of the
 * table: removing from its middle must pull the later ones back. */
static void test_colliding_run(void)
{
	struct pidtab t;
	int32_t same[6];
	int n = 0;

	REQUIRE(pidtab_init(&t, sizeof(struct ent), 8) == 0); /* 16 slots, no growth below 8 */
	REQUIRE(t.cap == 16);
	/* Find pids whose home is the last slot: the run wraps to slot 0. */
	for (int32_t pid = 1; n < 6 && pid < 1000000; pid++)
		if ((((uint32_t)pid * 2654435761u) & 15) == 15)
			same[n++] = pid;
	REQUIRE(n == 6);
	for (int i = 0; i < 6; i++)
		REQUIRE(pidtab_insert(&t, same[i]));
	CHECK(pidtab_slot(&t, 0) != NULL); /* wrapped */
	pidtab_remove(&t, pidtab_find(&t, same[1]));
	CHECK_EQ(check_table(&t), 0);
	pidtab_remove(&t, pidtab_find(&t, same[0]));
	CHECK_EQ(check_table(&t), 0);
	for (int i = 2; i < 6; i++)
		CHECK(pidtab_find(&t, same[i]) != NULL);
	CHECK(pidtab_find(&t, same[0]) == NULL);
	CHECK(pidtab_find(&t, same[1]) == NULL);
	pidtab_done(&t);
}

/* Random inserts and removals against a plain array of flags. */
static void test_random_against_model(void)
{
	enum { PIDS = 4096, OPS = 200000 };
	static uint32_t model[PIDS + 1]; /* payload + 1, 0 = absent */
	uint64_t seed = 12345;
	struct pidtab t;
	size_t n = 0;

	memset(model, 0, sizeof(model));
	REQUIRE(pidtab_init(&t, sizeof(struct ent), 16) == 0);
	for (int op = 0; op < OPS; op++) {
		int32_t pid = (int32_t)(test_rand(&seed) % PIDS) + 1;
		struct ent *e = pidtab_find(&t, pid);

		if (!!e != !!model[pid]) {
			test_fail_at(__FILE__, __LINE__, "op %d: pid %d presence differs", op, pid);
			break;
		}
		if (e) {
			if (e->payload + 1 != model[pid])
				test_fail_at(__FILE__, __LINE__, "op %d: pid %d payload", op, pid);
			pidtab_remove(&t, e);
			model[pid] = 0;
			n--;
		} else {
			e = pidtab_insert(&t, pid);
			REQUIRE(e);
			e->payload = (uint32_t)op;
			model[pid] = (uint32_t)op + 1;
			n++;
		}
		if (op % 10007 == 0)
			CHECK_EQ(check_table(&t), 0);
	}
	CHECK_EQ(t.n, n);
	CHECK_EQ(check_table(&t), 0);
	pidtab_done(&t);
}

int main(void)
{
	RUN(test_basic);
	RUN(test_growth_keeps_entries);
	RUN(test_colliding_run);
	RUN(test_random_against_model);
	return test_done();
}
