/* SPDX-License-Identifier: MIT */
/* tally: the per-target series from made-up readings, and the invariant that
 * no counter a target exports ever decreases (members leave, are unreadable,
 * read lower, exit, are replaced by a process with their pid, overflow). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "snapcheck.h"
#include "tally.h"
#include "test.h"

#define MINFLT "memagent_process_minor_faults_total"
#define MAJFLT "memagent_process_major_faults_total"

/* Three targets, one of each shape: an aggregate, per_process, group_by comm. */
enum { AGG, PP, GRP };
#define B(i) (1ull << (i))

struct fix {
	struct target v[3];
	struct target_set set;
	struct collector_limits limits;
	struct tally *t;
	struct snapshot *snap;
};

static int fix_start(struct fix *f, unsigned max_processes, unsigned max_groups)
{
	memset(f, 0, sizeof(*f));
	f->v[AGG].name = "agg";
	f->v[PP].name = "pp";
	f->v[PP].per_process = true;
	f->v[GRP].name = "grp";
	f->v[GRP].group_by = TARGET_GROUP_COMM;
	f->set = (struct target_set){ f->v, 3, 0 };
	f->limits = (struct collector_limits){ max_processes, max_groups };
	f->t = tally_new(&f->set, &f->limits, true);
	return f->t ? 0 : -1;
}

static void fix_stop(struct fix *f)
{
	f->t = tally_free(f->t);
	snapshot_unref(f->snap);
}

/* Begins a sample into a fresh snapshot. */
static void begin(struct fix *f)
{
	snapshot_unref(f->snap);
	f->snap = snapshot_new();
	tally_start(f->t);
}

static int end(struct fix *f, bool with_exits)
{
	return tally_emit(f->t, f->snap, with_exits);
}

static struct tally_reading reading(int32_t pid, const char *comm, uint64_t rss, uint64_t minflt,
				    uint64_t majflt)
{
	struct tally_reading rd = { .pid = pid, .start_time_s = 1000.0 + pid };

	snprintf(rd.status.comm, sizeof(rd.status.comm), "%s", comm);
	rd.status.state = 'S';
	rd.status.rss = rd.status.hwm = rss;
	rd.stat.minflt = minflt;
	rd.stat.majflt = majflt;
	rd.has = TALLY_NEED_STAT;
	return rd;
}

static int add(struct fix *f, struct tally_member *m, int32_t pid, uint64_t minflt, uint64_t majflt)
{
	struct tally_reading rd = reading(pid, "worker", 4096, minflt, majflt);

	return tally_add(f->t, f->snap, m, &rd);
}

static double val(const struct fix *f, const char *name, const char *const *kv)
{
	return snapcheck_value(f->snap, name, kv);
}

/* The exit histogram of target name in this sample, or NULL. */
static const struct snapshot_sample *histogram(const struct fix *f, const char *name)
{
	for (const struct snapshot_family *fam = snapshot_families(f->snap); fam; fam = fam->next) {
		if (strcmp(fam->desc->name, "memagent_process_exit_peak_resident_bytes") != 0)
			continue;
		for (const struct snapshot_sample *x = fam->samples; x; x = x->next)
			if (snapcheck_labels(x, SNAP_LABELS("target", name)))
				return x;
	}
	return NULL;
}

#define AGG_L SNAP_LABELS("target", "agg")
#define OTHER_L SNAP_LABELS("target", "pp", "pid", "other")

static void test_needs(void)
{
	struct fix f;

	REQUIRE(fix_start(&f, 10, 10) == 0);
	CHECK_EQ(tally_needs(f.t, 0), 0);
	CHECK_EQ(tally_needs(f.t, B(GRP)), 0); /* a census reads status alone */
	CHECK_EQ(tally_needs(f.t, B(AGG)), TALLY_NEED_STAT | TALLY_NEED_PEAK | TALLY_NEED_FDS);
	f.v[PP].smaps = true;
	f.t = tally_free(f.t);
	f.t = tally_new(&f.set, &f.limits, false);
	REQUIRE(f.t);
	CHECK_EQ(tally_needs(f.t, B(PP) | B(GRP)), TALLY_NEED_STAT | TALLY_NEED_PEAK | TALLY_NEED_SMAPS);
	fix_stop(&f);
}

static void test_sums_and_maxima(void)
{
	struct fix f;
	struct tally_member a = {0}, b = {0};
	struct tally_reading ra = reading(10, "worker", 100, 5, 1), rb = reading(11, "worker", 300, 7, 2);

	REQUIRE(fix_start(&f, 10, 10) == 0);
	tally_set(f.t, &a, B(AGG));
	tally_set(f.t, &b, B(AGG));
	ra.peak_bytes = 900;
	ra.has |= TALLY_NEED_PEAK;
	begin(&f);
	CHECK_EQ(tally_add(f.t, f.snap, &a, &ra), 0);
	CHECK_EQ(tally_add(f.t, f.snap, &b, &rb), 0);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_process_count", AGG_L) == 2);
	CHECK(val(&f, "memagent_process_resident_bytes", AGG_L) == 400);
	CHECK(val(&f, "memagent_process_resident_hwm_bytes", AGG_L) == 300);
	CHECK(val(&f, "memagent_process_resident_peak_bytes", AGG_L) == 900);
	CHECK(val(&f, MINFLT, AGG_L) == 12);
	CHECK(val(&f, MAJFLT, AGG_L) == 3);
	/* Neither read fds: the family is left out, not reported as 0. */
	CHECK(isnan(val(&f, "memagent_process_open_fds", AGG_L)));
	/* The next sample starts from nothing: gauges are this sample's. */
	begin(&f);
	CHECK_EQ(add(&f, &a, 10, 5, 1), 0);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_process_count", AGG_L) == 1);
	CHECK(val(&f, "memagent_process_resident_bytes", AGG_L) == 4096);
	fix_stop(&f);
}

/* A member that leaves keeps its last counts in the target's counters. */
static void test_member_leaves(void)
{
	struct fix f;
	struct tally_member a = {0}, b = {0};

	REQUIRE(fix_start(&f, 10, 10) == 0);
	tally_set(f.t, &a, B(AGG));
	tally_set(f.t, &b, B(AGG));
	begin(&f);
	add(&f, &a, 10, 100, 10);
	add(&f, &b, 11, 50, 5);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, MINFLT, AGG_L) == 150);
	tally_set(f.t, &b, 0); /* reclassified away, or gone */
	CHECK_EQ(b.targets, 0);
	begin(&f);
	add(&f, &a, 10, 110, 10);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_process_count", AGG_L) == 1);
	CHECK(val(&f, MINFLT, AGG_L) == 160);
	CHECK(val(&f, MAJFLT, AGG_L) == 15);
	/* Every member gone: the counters stay where they were. */
	tally_set(f.t, &a, 0);
	begin(&f);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_process_count", AGG_L) == 0);
	CHECK(val(&f, MINFLT, AGG_L) == 160);
	fix_stop(&f);
}

/* A member that cannot be read, or is read without its fault counts, keeps
 * what it contributed. */
static void test_unreadable_member(void)
{
	struct fix f;
	struct tally_member a = {0};
	struct tally_reading rd = reading(10, "worker", 4096, 0, 0);

	REQUIRE(fix_start(&f, 10, 10) == 0);
	tally_set(f.t, &a, B(AGG));
	begin(&f);
	add(&f, &a, 10, 100, 3);
	end(&f, false);
	begin(&f);
	tally_keep(f.t, &a);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, MINFLT, AGG_L) == 100);
	CHECK(val(&f, MAJFLT, AGG_L) == 3);
	CHECK(val(&f, "memagent_process_count", AGG_L) == 0);
	begin(&f);
	rd.has = 0; /* status only */
	CHECK_EQ(tally_add(f.t, f.snap, &a, &rd), 0);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, MINFLT, AGG_L) == 100);
	CHECK(val(&f, "memagent_process_count", AGG_L) == 1);
	fix_stop(&f);
}

/* A reading lower than what the member contributed (a backend switch, a
 * glitch) takes nothing back, from the aggregate nor from a pid series. */
static void test_lower_reading(void)
{
	struct fix f;
	struct tally_member a = {0};
	const char *const *pl = SNAP_LABELS("target", "pp", "pid", "10");

	REQUIRE(fix_start(&f, 10, 10) == 0);
	tally_set(f.t, &a, B(AGG) | B(PP));
	begin(&f);
	add(&f, &a, 10, 100, 9);
	end(&f, false);
	CHECK(val(&f, MINFLT, pl) == 100);
	begin(&f);
	add(&f, &a, 10, 40, 2);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, MINFLT, AGG_L) == 100);
	CHECK(val(&f, MAJFLT, AGG_L) == 9);
	CHECK(val(&f, MINFLT, pl) == 100);
	CHECK(val(&f, MAJFLT, pl) == 9);
	begin(&f);
	add(&f, &a, 10, 120, 9);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, MINFLT, AGG_L) == 120);
	CHECK(val(&f, MINFLT, pl) == 120);
	fix_stop(&f);
}

/* A process replaced by another with its pid: the old one leaves (its
 * counts stay), the new one starts its own contribution and, per_process,
 * a new series that is not the old one's continued. */
static void test_pid_reuse(void)
{
	struct fix f;
	struct tally_member old = {0}, young = {0};
	const char *const *pl = SNAP_LABELS("target", "pp", "pid", "10");

	REQUIRE(fix_start(&f, 10, 10) == 0);
	tally_set(f.t, &old, B(AGG) | B(PP));
	begin(&f);
	add(&f, &old, 10, 500, 50);
	end(&f, false);
	CHECK(val(&f, MINFLT, pl) == 500);
	tally_set(f.t, &old, 0);
	tally_set(f.t, &young, B(AGG) | B(PP));
	begin(&f);
	add(&f, &young, 10, 3, 0);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, MINFLT, AGG_L) == 503);
	CHECK(val(&f, MAJFLT, AGG_L) == 50);
	CHECK(val(&f, MINFLT, pl) == 3);
	/* The old series ended with its process: nothing went to "other". */
	CHECK(isnan(val(&f, MINFLT, OTHER_L)));
	fix_stop(&f);
}

/* An exit folds the final counts in (never lower than those contributed)
 * and is counted in exits_total and the exit histogram. */
static void test_exit_folds_final_counts(void)
{
	struct fix f;
	struct tally_member a = {0}, b = {0};
	const struct snapshot_sample *h;

	REQUIRE(fix_start(&f, 10, 10) == 0);
	tally_set(f.t, &a, B(AGG));
	tally_set(f.t, &b, B(AGG));
	begin(&f);
	add(&f, &a, 10, 100, 1);
	add(&f, &b, 11, 200, 2);
	end(&f, true);
	CHECK(val(&f, "memagent_process_exits_total", AGG_L) == 0);
	tally_final_counts(&a, 130, 4);
	tally_exit(f.t, a.targets, 3u << 20);
	tally_set(f.t, &a, 0);
	tally_final_counts(&b, 90, 0); /* lower than read: changes nothing */
	tally_exit(f.t, b.targets, 100ull << 30); /* past the last bound */
	tally_set(f.t, &b, 0);
	tally_exit(f.t, B(AGG) | B(PP), 1u << 20); /* born and gone between samples */
	begin(&f);
	CHECK_EQ(end(&f, true), 0);
	CHECK(val(&f, MINFLT, AGG_L) == 330);
	CHECK(val(&f, MAJFLT, AGG_L) == 6);
	CHECK(val(&f, "memagent_process_exits_total", AGG_L) == 3);
	CHECK(val(&f, "memagent_process_exits_total", SNAP_LABELS("target", "pp")) == 1);
	CHECK(val(&f, "memagent_process_exits_total", SNAP_LABELS("target", "grp")) == 0);
	h = histogram(&f, "agg");
	REQUIRE(h && h->n_bounds == 17);
	CHECK_U64(h->counts[0], 1);  /* 1 MiB: le="1048576" */
	CHECK_U64(h->counts[1], 0);
	CHECK_U64(h->counts[2], 1);  /* 3 MiB: le="4194304" */
	CHECK_U64(h->counts[17], 1); /* +Inf */
	CHECK(h->value == (double)((4u << 20) + (100ull << 30)));
	/* Without exits followed, no exit families at all. */
	begin(&f);
	CHECK_EQ(end(&f, false), 0);
	CHECK_EQ(snapcheck_count(f.snap, "memagent_process_exits_total", "target", NULL), 0);
	fix_stop(&f);
}

/* per_process past max_processes: the rest is summed under pid="other" and
 * counted; a member promoted into a freed slot leaves its counts behind in
 * "other", so neither series goes back. */
static void test_overflow_counted(void)
{
	struct fix f;
	struct tally_member m[3] = {{0}};
	const char *const *pp = SNAP_LABELS("target", "pp");

	REQUIRE(fix_start(&f, 1, 10) == 0);
	for (int i = 0; i < 3; i++)
		tally_set(f.t, &m[i], B(PP));
	begin(&f);
	for (int i = 0; i < 3; i++)
		add(&f, &m[i], 10 + i, 100 * (i + 1), 0);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_process_count", pp) == 3);
	CHECK(val(&f, "memagent_target_overflow_processes", pp) == 2);
	CHECK(val(&f, MINFLT, SNAP_LABELS("target", "pp", "pid", "10")) == 100);
	CHECK(val(&f, MINFLT, OTHER_L) == 500);
	CHECK_EQ(m[0].series, B(PP));
	CHECK_EQ(m[1].series, 0);

	/* The owner exits: pid 11 takes the slot, "other" keeps its 200. */
	tally_set(f.t, &m[0], 0);
	begin(&f);
	add(&f, &m[1], 11, 210, 0);
	add(&f, &m[2], 12, 300, 0);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_target_overflow_processes", pp) == 1);
	CHECK(val(&f, MINFLT, SNAP_LABELS("target", "pp", "pid", "11")) == 210);
	CHECK(val(&f, MINFLT, OTHER_L) == 500);
	CHECK(isnan(val(&f, MINFLT, SNAP_LABELS("target", "pp", "pid", "10"))));

	/* Nobody left in "other": it stays, with what it kept. */
	tally_set(f.t, &m[2], 0);
	begin(&f);
	add(&f, &m[1], 11, 220, 0);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_target_overflow_processes", pp) == 0);
	CHECK(val(&f, MINFLT, OTHER_L) == 500);
	fix_stop(&f);
}

/* group_by comm past max_groups: one census series per comm, the rest under
 * comm="(other)", counted as overflow; an empty group's slot is reused. */
static void test_group_overflow(void)
{
	struct fix f;
	struct tally_member m[3] = {{0}};
	const char *comms[3] = { "alpha", "beta", "gamma" };
	struct tally_reading rd;

	REQUIRE(fix_start(&f, 10, 1) == 0);
	for (int i = 0; i < 3; i++)
		tally_set(f.t, &m[i], B(GRP));
	begin(&f);
	for (int i = 0; i < 3; i++) {
		rd = reading(10 + i, comms[i], 1000, 0, 0);
		rd.status.swap = 10;
		CHECK_EQ(tally_add(f.t, f.snap, &m[i], &rd), 0);
	}
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_process_count", SNAP_LABELS("target", "grp", "comm", "alpha")) == 1);
	CHECK(val(&f, "memagent_process_count", SNAP_LABELS("target", "grp", "comm", "(other)")) == 2);
	CHECK(val(&f, "memagent_process_resident_bytes", SNAP_LABELS("target", "grp", "comm", "(other)")) == 2000);
	CHECK(val(&f, "memagent_process_swap_bytes", SNAP_LABELS("target", "grp", "comm", "(other)")) == 20);
	CHECK(val(&f, "memagent_target_overflow_processes", SNAP_LABELS("target", "grp")) == 2);
	/* A census has no counters. */
	CHECK_EQ(snapcheck_count(f.snap, MINFLT, "target", "grp"), 0);

	/* alpha is gone for a sample: its group is freed, beta takes the slot. */
	begin(&f);
	rd = reading(11, "beta", 1000, 0, 0);
	tally_add(f.t, f.snap, &m[1], &rd);
	end(&f, false);
	begin(&f);
	rd = reading(11, "beta", 1000, 0, 0);
	tally_add(f.t, f.snap, &m[1], &rd);
	CHECK_EQ(end(&f, false), 0);
	CHECK(val(&f, "memagent_process_count", SNAP_LABELS("target", "grp", "comm", "beta")) == 1);
	CHECK(val(&f, "memagent_target_overflow_processes", SNAP_LABELS("target", "grp")) == 0);
	fix_stop(&f);
}

/* The invariant under random traffic: members join and leave targets, are
 * read higher or lower, unreadable, exit with final counts, are replaced
 * under their pid, overflow and get promoted; after every sample no counter
 * series is lower than it was, and the aggregate equals a model's sum. */
#define N_MEMBERS 12
static void test_random_never_decreases(void)
{
	struct fix f;
	struct tally_member m[N_MEMBERS] = {{0}};
	uint64_t life[N_MEMBERS] = {0}; /* the process's true count now */
	uint64_t seed = 42, model_dead = 0;
	double prev[4] = {0};

	REQUIRE(fix_start(&f, 3, 10) == 0);
	for (int tick = 0; tick < 400; tick++) {
		uint64_t model = 0;

		begin(&f);
		for (int i = 0; i < N_MEMBERS; i++) {
			uint64_t x = test_rand(&seed) % 16;

			if (x == 0) {
				/* exits (sometimes with counts past the last read) */
				if (m[i].targets & B(AGG))
					model_dead += life[i] > m[i].minflt ? life[i] : m[i].minflt;
				tally_final_counts(&m[i], life[i], life[i] / 8);
				tally_exit(f.t, m[i].targets, life[i] << 12);
				tally_set(f.t, &m[i], 0);
				memset(&m[i], 0, sizeof(m[i])); /* its pid, reused */
				life[i] = test_rand(&seed) % 50;
				tally_set(f.t, &m[i], test_rand(&seed) & (B(AGG) | B(PP)));
			} else if (x == 1) {
				/* reclassified */
				uint64_t mask = test_rand(&seed) & (B(AGG) | B(PP));

				if ((m[i].targets & B(AGG)) && !(mask & B(AGG)))
					model_dead += m[i].minflt;
				tally_set(f.t, &m[i], mask);
			}
			life[i] += test_rand(&seed) % 100;
			if (!m[i].targets)
				continue;
			if (x == 2) {
				tally_keep(f.t, &m[i]);
			} else {
				/* now and then a reading lower than the truth */
				uint64_t v = x == 3 ? life[i] / 2 : life[i];

				CHECK_EQ(add(&f, &m[i], 100 + i, v, v / 8), 0);
			}
			if (m[i].targets & B(AGG))
				model += m[i].minflt;
		}
		CHECK_EQ(end(&f, true), 0);

		double now[4] = {
			val(&f, MINFLT, AGG_L), val(&f, MAJFLT, AGG_L),
			val(&f, MINFLT, OTHER_L), val(&f, MAJFLT, OTHER_L),
		};

		for (int k = 0; k < 4; k++) {
			if (isnan(now[k]))
				continue; /* "other" before its first member */
			if (now[k] < prev[k])
				test_fail_at(__FILE__, __LINE__, "tick %d: series %d went from %.0f to %.0f",
					     tick, k, prev[k], now[k]);
			prev[k] = now[k];
		}
		if (now[0] != (double)(model + model_dead))
			test_fail_at(__FILE__, __LINE__, "tick %d: agg %.0f, model %llu", tick, now[0],
				     (unsigned long long)(model + model_dead));
	}
	fix_stop(&f);
}

int main(void)
{
	RUN(test_needs);
	RUN(test_sums_and_maxima);
	RUN(test_member_leaves);
	RUN(test_unreadable_member);
	RUN(test_lower_reading);
	RUN(test_pid_reuse);
	RUN(test_exit_folds_final_counts);
	RUN(test_overflow_counted);
	RUN(test_group_overflow);
	RUN(test_random_never_decreases);
	return test_done();
}
