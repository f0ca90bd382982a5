/* SPDX-License-Identifier: MIT */
/* The leak and queue growth rules (core/trend) on recorded series, beside memwatch's rule.
 *
 * Every .tsv of tests/fixtures/leaks is a series with its expected verdict
 * (README.md there): a heap's old space after each full GC or a queue's
 * depth, the index where a leak or growth starts, or none. The rule must flag
 * a leak within 10 full GCs of its start (or of the warm-up's end), never
 * before it starts, and never flag a series expected clean.
 *
 *   test_trend              the checks
 *   test_trend --table      prints docs/leaks.md's evaluation table; a check
 *                           here fails when the document's table differs
 *   test_trend --sweep DIR...   the synthetic shapes from many seeds (one
 *                           folder each: tests/fixtures/leaks/sweep.sh)
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>

#include "test.h"
#include "trend.h"

#define FIXTURES "tests/fixtures/leaks"
#define MAX_POINTS 1024
#define MAX_SERIES 64
#define LATENCY_MAX 10         /* full GCs, for a heap */
#define QUEUE_LATENCY_MAX 12   /* reports, for a queue: its rule's window */

struct series {
	char name[64];
	char source[512];
	bool queue;
	bool leak;
	uint64_t from;
	uint64_t n;
	struct trend_point pts[MAX_POINTS];
};

struct verdict {
	int64_t first;            /* index of the first flagged point; -1: never */
	int64_t base;             /* where latency counts from: the start, or the warm-up's end */
	uint64_t flagged_points;  /* points the flag was up */
};

static struct series all[MAX_SERIES];
static unsigned n_all;

static int load_series(const char *path, struct series *s)
{
	FILE *f = fopen(path, "r");
	char line[512];

	if (!f)
		return -errno;
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f)) {
		char val[256];

		if (line[0] == '#') {
			if (sscanf(line, "# shape: %63s", s->name) == 1)
				continue;
			if (sscanf(line, "# kind: %255s", val) == 1)
				s->queue = strcmp(val, "queue") == 0;
			else if (sscanf(line, "# expect: %255s", val) == 1)
				s->leak = strcmp(val, "leak") == 0;
			else if (sscanf(line, "# from: %" SCNu64, &s->from) == 1)
				continue;
			else if (strncmp(line, "# source: ", 10) == 0) {
				strncpy(s->source, line + 10, sizeof(s->source) - 1);
				s->source[strcspn(s->source, "\n")] = '\0';
			}
			continue;
		}
		struct trend_point *p = &s->pts[s->n];
		if (s->n >= MAX_POINTS || sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64, &p->t_ns, &p->value,
						 &p->rss) != 3) {
			fclose(f);
			return -EINVAL;
		}
		s->n++;
	}
	fclose(f);
	return s->name[0] && s->n > 0 ? 0 : -EINVAL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct series *)a)->name, ((const struct series *)b)->name);
}

/* Loads every .tsv of dir into set[], sorted by name; returns how many. */
static unsigned load_dir(const char *dir, struct series *set, unsigned cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < cap) {
		char path[512];
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".tsv") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (load_series(path, &set[n]) == 0)
			n++;
		else
			printf("  unreadable fixture %s\n", path);
	}
	closedir(d);
	qsort(set, n, sizeof(set[0]), by_name);
	return n;
}

static void load_all(void)
{
	if (!n_all)
		n_all = load_dir(FIXTURES, all, MAX_SERIES);
}

/* The rule replayed: every point fed in order, as the heap collector feeds a
 * page's ring. */
static struct verdict replay_rule(const struct series *s)
{
	struct verdict v = { .first = -1, .base = (int64_t)s->from };

	if (s->queue) {
		struct trend_queue q;

		trend_queue_init(&q, NULL);
		for (uint64_t i = 0; i < s->n; i++) {
			trend_queue_add(&q, s->pts[i].t_ns, s->pts[i].value);
			if (trend_queue_suspected(&q)) {
				v.flagged_points++;
				if (v.first < 0)
					v.first = (int64_t)i;
			}
		}
		return v;
	}
	struct trend_leak l;
	int64_t warm_end = -1;

	trend_leak_init(&l, NULL);
	for (uint64_t i = 0; i < s->n; i++) {
		trend_leak_add(&l, s->pts[i].t_ns, s->pts[i].value, s->pts[i].rss);
		if (warm_end < 0 && !trend_leak_warming(&l))
			warm_end = (int64_t)i;
		if (trend_leak_suspected(&l)) {
			v.flagged_points++;
			if (v.first < 0)
				v.first = (int64_t)i;
		}
	}
	if (warm_end > v.base)
		v.base = warm_end;
	return v;
}

/* memwatch's rule (lloyd/node-memwatch, the 'leak' event): old space after
 * a full GC grew in 5 consecutive full GCs. No warm-up, no noise band; for a
 * queue, the depth grew in 5 consecutive reports. */
static struct verdict replay_memwatch(const struct series *s)
{
	struct verdict v = { .first = -1, .base = (int64_t)s->from };
	unsigned run = 0;

	for (uint64_t i = 1; i < s->n; i++) {
		run = s->pts[i].value > s->pts[i - 1].value ? run + 1 : 0;
		if (run >= 5) {
			v.flagged_points++;
			if (v.first < 0)
				v.first = (int64_t)i;
		}
	}
	return v;
}

/* One cell: "flagged at N (+L)", "-" when never flagged; whether right. */
static bool verdict_right(const struct series *s, const struct verdict *v)
{
	if (!s->leak)
		return v->first < 0;
	return v->first >= (int64_t)s->from && v->first - v->base <= (s->queue ? QUEUE_LATENCY_MAX : LATENCY_MAX);
}

static void verdict_cell(const struct series *s, const struct verdict *v, char *buf, size_t len)
{
	const char *mark = verdict_right(s, v) ? "right" : "WRONG";

	if (v->first < 0)
		snprintf(buf, len, "never (%s)", mark);
	else if (s->leak && v->first >= (int64_t)s->from)
		snprintf(buf, len, "at %" PRId64 ", +%" PRId64 " (%s)", v->first, v->first - v->base, mark);
	else
		snprintf(buf, len, "at %" PRId64 " (%s)", v->first, mark);
}

/* The evaluation table of docs/leaks.md, written into buf. */
static void table_render(char *buf, size_t len)
{
	size_t off = 0;

	off += (size_t)snprintf(buf + off, len - off,
				"| series | kind | expected | points | this rule: first flag, latency | memwatch: first flag, latency |\n"
				"|---|---|---|---|---|---|\n");
	for (unsigned i = 0; i < n_all && off < len; i++) {
		const struct series *s = &all[i];
		struct verdict r = replay_rule(s), m = replay_memwatch(s);
		char rc[64], mc[64], exp[32];

		if (s->leak)
			snprintf(exp, sizeof(exp), "%s from %" PRIu64, s->queue ? "growth" : "leak", s->from);
		else
			snprintf(exp, sizeof(exp), "none");
		verdict_cell(s, &r, rc, sizeof(rc));
		verdict_cell(s, &m, mc, sizeof(mc));
		off += (size_t)snprintf(buf + off, len - off, "| `%s` | %s | %s | %" PRIu64 " | %s | %s |\n",
					s->name, s->queue ? "queue" : "heap", exp, s->n, rc, mc);
	}
}

/* ------------------------------------------------------------------ cases */

static void test_fixtures_present(void)
{
	static const char *const shapes[] = {
		"fast", "slow_churn", "step", "bounded_cache", "grow_then_flat", "sawtooth",
		"random_steady", "queue_lag", "queue_burst",
	};

	load_all();
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		bool found = false;

		for (unsigned j = 0; j < n_all; j++)
			found |= strcmp(all[j].name, shapes[i]) == 0;
		if (!found)
			test_fail_at(__FILE__, __LINE__, "no fixture of shape %s", shapes[i]);
	}
}

static void test_rule_on_every_fixture(void)
{
	load_all();
	REQUIRE(n_all > 0);
	for (unsigned i = 0; i < n_all; i++) {
		const struct series *s = &all[i];
		struct verdict v = replay_rule(s);

		if (!verdict_right(s, &v))
			test_fail_at(__FILE__, __LINE__, "%s: expected %s from %" PRIu64 ", first flag at %" PRId64
				     " (latency counted from %" PRId64 ")",
				     s->name, s->leak ? "leak" : "none", s->from, v.first, v.base);
	}
}

/* A leak that starts in the warm-up is flagged after it, and not in it. */
static void test_warmup_bounds(void)
{
	struct trend_leak l;
	uint64_t i;

	REQUIRE(trend_leak_init(&l, NULL) == 0);
	for (i = 0; i < 100 && trend_leak_warming(&l); i++) {
		CHECK(!trend_leak_suspected(&l));
		trend_leak_add(&l, (i + 1) * 100000000ull, 10000000 + i * 1000000, 0);
	}
	/* 20 full GCs 0.1 s apart: the count ends it, long before 60 s. */
	CHECK_EQ(i, 21);
	for (; i < 40 && !trend_leak_suspected(&l); i++)
		trend_leak_add(&l, (i + 1) * 100000000ull, 10000000 + i * 1000000, 0);
	CHECK(trend_leak_suspected(&l));
	CHECK_CMP(i, <=, 21 + LATENCY_MAX);

	/* One full GC every 10 s: the time ends it, at the 7th (60 s). */
	REQUIRE(trend_leak_init(&l, NULL) == 0);
	for (i = 0; i < 100 && trend_leak_warming(&l); i++)
		trend_leak_add(&l, (i + 1) * 10000000000ull, 10000000, 0);
	CHECK_EQ(i, 7);
}

/* Records fed again (a ring read twice) change nothing. */
static void test_repeated_points_ignored(void)
{
	struct trend_leak a, b;
	struct trend_queue q;

	REQUIRE(trend_leak_init(&a, NULL) == 0);
	REQUIRE(trend_leak_init(&b, NULL) == 0);
	for (uint64_t i = 1; i <= 50; i++) {
		CHECK_EQ(trend_leak_add(&a, i * 1000000000ull, i * 3000000, 0), 0);
		trend_leak_add(&b, i * 1000000000ull, i * 3000000, 0);
		CHECK_EQ(trend_leak_add(&b, i * 1000000000ull, i * 3000000, 0), -EINVAL);
		CHECK_EQ(trend_leak_add(&b, i * 1000000000ull - 1, 1, 0), -EINVAL);
	}
	CHECK_EQ(a.n, b.n);
	CHECK_EQ(trend_leak_suspected(&a), trend_leak_suspected(&b));
	CHECK(trend_leak_suspected(&a));
	/* 3 MB per second, exactly. */
	CHECK_CMP(fabs(trend_leak_growth_bytes_per_second(&a) - 3000000.0), <, 1.0);

	REQUIRE(trend_queue_init(&q, NULL) == 0);
	CHECK_EQ(trend_queue_add(&q, 5, 1), 0);
	CHECK_EQ(trend_queue_add(&q, 5, 1), -EINVAL);
	CHECK_EQ(q.n, 1);
}

static void test_bad_params(void)
{
	struct trend_leak l;
	struct trend_leak_params lp;
	struct trend_queue q;
	struct trend_queue_params qp;

	trend_leak_params_default(&lp);
	lp.history = TREND_HISTORY_MAX + 1;
	CHECK_EQ(trend_leak_init(&l, &lp), -EINVAL);
	trend_leak_params_default(&lp);
	lp.lag = 2;
	lp.hold = 3;
	CHECK_EQ(trend_leak_init(&l, &lp), -EINVAL);
	trend_queue_params_default(&qp);
	qp.window = 10;
	CHECK_EQ(trend_queue_init(&q, &qp), -EINVAL);
	trend_queue_params_default(&qp);
	CHECK_EQ(trend_queue_init(&q, &qp), 0);
}

/* A leak stops: the flag clears after clear_after points without new ground. */
static void test_flag_clears(void)
{
	struct trend_leak l;
	uint64_t i, t = 0;

	REQUIRE(trend_leak_init(&l, NULL) == 0);
	for (i = 0; i < 40; i++)
		trend_leak_add(&l, ++t * 1000000000ull, 10000000 + i * 1000000, 0);
	CHECK(trend_leak_suspected(&l));
	for (i = 0; i < 100 && trend_leak_suspected(&l); i++)
		trend_leak_add(&l, ++t * 1000000000ull, 50000000, 0);
	CHECK(!trend_leak_suspected(&l));
	CHECK_CMP(i, <=, l.p.lag + l.p.hold + l.p.clear_after);
}

/* rss raises confidence, never vetoes: a heap whose rss stays flat is judged
 * as one without rss. */
static void test_rss_never_vetoes(void)
{
	load_all();
	for (unsigned i = 0; i < n_all; i++) {
		struct series *s = &all[i];
		struct verdict with, without;

		if (s->queue || !s->leak)
			continue;
		with = replay_rule(s);
		for (uint64_t j = 0; j < s->n; j++)
			s->pts[j].rss = 100000000;
		without = replay_rule(s);
		CHECK(verdict_right(s, &with));
		CHECK(verdict_right(s, &without));
	}
	n_all = 0; /* the series were changed: load them again */
}

/* docs/leaks.md carries the table this rule and memwatch's give today. */
static void test_docs_table_current(void)
{
	static char table[16384];
	char *doc = test_slurp("docs/leaks.md", NULL);

	load_all();
	table_render(table, sizeof(table));
	REQUIRE(doc);
	if (!strstr(doc, table))
		test_fail_at(__FILE__, __LINE__,
			     "docs/leaks.md lacks the current table: run build/tests/test_trend --table");
	free(doc);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* "right R/N, latency median M, max X" over the runs of one shape. */
static void summary_cell(int64_t *lat, unsigned n_lat, unsigned right, unsigned runs, bool leak, char *buf, size_t len)
{
	if (!leak || n_lat == 0) {
		snprintf(buf, len, "%u/%u right", right, runs);
		return;
	}
	qsort(lat, n_lat, sizeof(lat[0]), cmp_i64);
	snprintf(buf, len, "%u/%u right; latency median +%" PRId64 ", max +%" PRId64, right, runs, lat[n_lat / 2],
		 lat[n_lat - 1]);
}

/* The same shapes from many seeds (one folder each, synth.py DIR SEED):
 * per shape, how often each rule is right and its latency. */
static void sweep(int n_dirs, char **dirs)
{
	static struct series set[MAX_SERIES];
	static int64_t lat_r[MAX_SERIES][256], lat_m[MAX_SERIES][256];
	static unsigned nl_r[MAX_SERIES], nl_m[MAX_SERIES], ok_r[MAX_SERIES], ok_m[MAX_SERIES];
	static char names[MAX_SERIES][64];
	static bool leak[MAX_SERIES];
	unsigned n_names = 0, runs = 0;

	for (int d = 0; d < n_dirs && runs < 256; d++, runs++) {
		unsigned n = load_dir(dirs[d], set, MAX_SERIES);

		for (unsigned i = 0; i < n; i++) {
			unsigned j = 0;
			while (j < n_names && strcmp(names[j], set[i].name) != 0)
				j++;
			if (j == n_names) {
				if (n_names == MAX_SERIES)
					continue;
				snprintf(names[n_names], sizeof(names[0]), "%.63s", set[i].name);
				leak[n_names++] = set[i].leak;
			}
			struct verdict r = replay_rule(&set[i]), m = replay_memwatch(&set[i]);
			ok_r[j] += verdict_right(&set[i], &r);
			ok_m[j] += verdict_right(&set[i], &m);
			if (set[i].leak && r.first >= (int64_t)set[i].from)
				lat_r[j][nl_r[j]++] = r.first - r.base;
			if (set[i].leak && m.first >= (int64_t)set[i].from)
				lat_m[j][nl_m[j]++] = m.first - m.base;
		}
	}
	printf("| series (%u seeds) | this rule | memwatch |\n|---|---|---|\n", runs);
	for (unsigned j = 0; j < n_names; j++) {
		char rc[96], mc[96];

		summary_cell(lat_r[j], nl_r[j], ok_r[j], runs, leak[j], rc, sizeof(rc));
		summary_cell(lat_m[j], nl_m[j], ok_m[j], runs, leak[j], mc, sizeof(mc));
		printf("| `%s` | %s | %s |\n", names[j], rc, mc);
	}
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--sweep") == 0) {
		sweep(argc - 2, argv + 2);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--table") == 0) {
		static char table[16384];

		load_all();
		table_render(table, sizeof(table));
		fputs(table, stdout);
		return 0;
	}
	RUN(test_fixtures_present);
	RUN(test_rule_on_every_fixture);
	RUN(test_warmup_bounds);
	RUN(test_repeated_points_ignored);
	RUN(test_bad_params);
	RUN(test_flag_clears);
	RUN(test_rss_never_vetoes);
	RUN(test_docs_table_current);
	return test_done();
}
