/* SPDX-License-Identifier: MIT */
/* alert: rules over hand-made snapshots at given times; the Alertmanager body they become. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "alertmanager.h"
#include "test.h"

static const struct metric_desc d_rss = { "memagent_process_resident_bytes", METRIC_GAUGE, NULL, "r" };
static const struct metric_desc d_used = { "memagent_heap_space_used_bytes", METRIC_GAUGE, NULL, "u" };
static const struct metric_desc d_limit = { "memagent_heap_size_limit_bytes", METRIC_GAUGE, NULL, "l" };
static const struct metric_desc d_oom = { "memagent_oom_kills_total", METRIC_COUNTER, NULL, "o" };
static const struct metric_desc d_pause = { "memagent_gc_pause_seconds", METRIC_HISTOGRAM, NULL, "p" };
static const struct metric_desc d_leak = { "memagent_heap_leak_suspected", METRIC_GAUGE, NULL, "k" };

#define SEC 1000000000ULL

static struct alert_time at(unsigned s)
{
	return (struct alert_time){ .mono_ns = 1000 * SEC + s * SEC, .wall_ms = 1700000000000LL + s * 1000LL };
}

static struct alert_pair *pairs(const char *const *kv)
{
	size_t n = 0;
	struct alert_pair *v;

	while (kv[2 * n])
		n++;
	v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i].key = strdup(kv[2 * i]);
		v[i].value = strdup(kv[2 * i + 1]);
	}
	return v;
}

static struct alert_rule rule(const char *name, enum alert_kind k, double threshold)
{
	return (struct alert_rule){ .name = strdup(name), .kind = k,
				    .metric = strdup(alert_kind_info(k)->metric), .threshold = threshold,
				    .quantile = 0.99, .window_ms = 60000 };
}

/* One gauge/counter sample per (label value) of a family keyed by comm. */
static struct snapshot *snap_rss(const char *comm, double v, const char *comm2, double v2)
{
	struct snapshot *s = snapshot_new();
	const char *const l1[] = { "target", "all", "comm", comm, NULL };
	const char *const l2[] = { "target", "all", "comm", comm2, NULL };

	if (comm)
		snapshot_add(s, &d_rss, v, l1);
	if (comm2)
		snapshot_add(s, &d_rss, v2, l2);
	snapshot_seal(s, 1);
	return s;
}

static const char *get(const struct alert_pair *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return v[i].value;
	return NULL;
}

/* Evaluates s at time t; frees s; returns the number of notices. */
static size_t eval(struct alert_engine *e, struct snapshot *s, unsigned t, const struct alert_notice **v)
{
	size_t n = 99;
	int r = alert_engine_eval(e, s, at(t), v, &n);

	snapshot_unref(s);
	CHECK_EQ(r, 0);
	return n;
}

static void test_threshold_fires_resends_resolves(void)
{
	struct alert_rule r = rule("BigProcess", ALERT_RSS, 1000);
	struct alert_engine_options o = { .resend_ms = 10000, .interval_ms = 1000 };
	const char *const labels[] = { "severity", "page", "target", "overridden", NULL };
	const char *const ann[] = { "summary", "{{ $labels.comm }} at {{$value}} bytes ({{ $labels.nope }})", NULL };
	const struct alert_notice *v;
	struct alert_engine *e;

	r.labels = pairs(labels);
	r.n_labels = 2;
	r.annotations = pairs(ann);
	r.n_annotations = 1;
	REQUIRE(alert_engine_new(&r, 1, &o, &e) == 0);

	/* Only the series above the threshold fires, at once (for 0). */
	CHECK_EQ(eval(e, snap_rss("big", 5000, "small", 10), 0, &v), 1);
	CHECK(!v[0].resolved);
	CHECK_EQ(v[0].n_labels, 4);
	CHECK_STR(v[0].labels[0].key, "alertname");
	CHECK_STR(v[0].labels[0].value, "BigProcess");
	CHECK_STR(get(v[0].labels, v[0].n_labels, "comm"), "big");
	CHECK_STR(get(v[0].labels, v[0].n_labels, "target"), "overridden"); /* the rule's label wins */
	CHECK_STR(get(v[0].labels, v[0].n_labels, "severity"), "page");
	for (size_t i = 1; i < v[0].n_labels; i++)
		CHECK(strcmp(v[0].labels[i - 1].key, v[0].labels[i].key) < 0);
	CHECK_STR(get(v[0].annotations, v[0].n_annotations, "summary"), "big at 5000 bytes ()");
	CHECK_EQ(v[0].starts_at_ms, at(0).wall_ms);
	/* Valid for 4 resend intervals, as Prometheus' endsAt. */
	CHECK_EQ(v[0].ends_at_ms, at(0).wall_ms + 40000);
	CHECK_EQ(alert_engine_firing(e, 0), 1);
	uint64_t fp = v[0].fingerprint;

	/* No resend before the interval, one at it. */
	CHECK_EQ(eval(e, snap_rss("big", 6000, "small", 10), 5, &v), 0);
	CHECK_EQ(eval(e, snap_rss("big", 7000, "small", 10), 10, &v), 1);
	CHECK_U64(v[0].fingerprint, fp);
	CHECK_EQ(v[0].starts_at_ms, at(0).wall_ms);
	CHECK_EQ(v[0].ends_at_ms, at(10).wall_ms + 40000);
	CHECK_STR(get(v[0].annotations, v[0].n_annotations, "summary"), "big at 7000 bytes ()");

	/* Below the threshold: resolved at once, endsAt now; then silence. */
	CHECK_EQ(eval(e, snap_rss("big", 10, "small", 10), 11, &v), 1);
	CHECK(v[0].resolved);
	CHECK_U64(v[0].fingerprint, fp);
	CHECK_EQ(v[0].ends_at_ms, at(11).wall_ms);
	CHECK_EQ(alert_engine_firing(e, 0), 0);
	CHECK_EQ(eval(e, snap_rss("big", 10, "small", 10), 12, &v), 0);

	/* Firing again, then the series vanishes: resolved in that evaluation. */
	CHECK_EQ(eval(e, snap_rss("big", 5000, NULL, 0), 13, &v), 1);
	CHECK_EQ(v[0].starts_at_ms, at(13).wall_ms);
	CHECK_EQ(eval(e, snap_rss(NULL, 0, "small", 10), 14, &v), 1);
	CHECK(v[0].resolved);
	CHECK_STR(get(v[0].labels, v[0].n_labels, "comm"), "big");
	CHECK_EQ(eval(e, snap_rss(NULL, 0, NULL, 0), 15, &v), 0);
	alert_engine_free(e);
	alert_rule_done(&r);
}

static void test_for_waits_and_resets(void)
{
	struct alert_rule r = rule("Slow", ALERT_RSS, 100);
	struct alert_engine_options o = { .resend_ms = 60000, .interval_ms = 1000 };
	const struct alert_notice *v;
	struct alert_engine *e;

	r.for_ms = 3000;
	REQUIRE(alert_engine_new(&r, 1, &o, &e) == 0);
	CHECK_EQ(eval(e, snap_rss("a", 500, NULL, 0), 0, &v), 0);
	CHECK_EQ(alert_engine_pending(e, 0), 1);
	CHECK_EQ(eval(e, snap_rss("a", 500, NULL, 0), 2, &v), 0);
	/* One evaluation below: back to the start, and nothing announced. */
	CHECK_EQ(eval(e, snap_rss("a", 50, NULL, 0), 3, &v), 0);
	CHECK_EQ(alert_engine_pending(e, 0), 0);
	CHECK_EQ(eval(e, snap_rss("a", 500, NULL, 0), 4, &v), 0);
	CHECK_EQ(eval(e, snap_rss("a", 500, NULL, 0), 6, &v), 0);
	CHECK_EQ(alert_engine_firing(e, 0), 0);
	CHECK_EQ(eval(e, snap_rss("a", 500, NULL, 0), 7, &v), 1);
	CHECK_EQ(v[0].starts_at_ms, at(4).wall_ms);
	CHECK_EQ(alert_engine_firing(e, 0), 1);
	CHECK_EQ(alert_engine_pending(e, 0), 0);
	/* A pending alert that goes away is never announced. */
	alert_engine_free(e);
	REQUIRE(alert_engine_new(&r, 1, &o, &e) == 0);
	CHECK_EQ(eval(e, snap_rss("a", 500, NULL, 0), 0, &v), 0);
	CHECK_EQ(eval(e, snap_rss(NULL, 0, NULL, 0), 1, &v), 0);
	alert_engine_free(e);
	alert_rule_done(&r);
}

static void test_match_filters(void)
{
	struct alert_rule r = rule("OnlyB", ALERT_RSS, 1);
	const char *const m[] = { "comm", "b", NULL };
	struct alert_engine_options o = { .resend_ms = 60000, .interval_ms = 1000 };
	const struct alert_notice *v;
	struct alert_engine *e;

	r.match = pairs(m);
	r.n_match = 1;
	REQUIRE(alert_engine_new(&r, 1, &o, &e) == 0);
	CHECK_EQ(eval(e, snap_rss("a", 500, "b", 500), 0, &v), 1);
	CHECK_STR(get(v[0].labels, v[0].n_labels, "comm"), "b");
	alert_engine_free(e);
	alert_rule_done(&r);
}

static struct snapshot *snap_heap(double old_used, double limit, double leak)
{
	struct snapshot *s = snapshot_new();
	const char *const old[] = { "target", "app", "pid", "7", "heap", "1", "space", "old_space", NULL };
	const char *const young[] = { "target", "app", "pid", "7", "heap", "1", "space", "new_space", NULL };
	const char *const heap[] = { "target", "app", "pid", "7", "heap", "1", NULL };
	const char *const other[] = { "target", "app", "pid", "8", "heap", "1", NULL };

	snapshot_add(s, &d_used, old_used, old);
	snapshot_add(s, &d_used, limit, young); /* never read: not old space */
	snapshot_add(s, &d_limit, limit * 100, other);
	snapshot_add(s, &d_limit, limit, heap);
	snapshot_add(s, &d_leak, leak, heap);
	snapshot_seal(s, 1);
	return s;
}

static void test_old_space_and_leak(void)
{
	struct alert_rule r[2] = { rule("OldSpace", ALERT_OLD_SPACE_NEAR_LIMIT, 90),
				   rule("heap_leak", ALERT_HEAP_LEAK, 1) };
	struct alert_engine_options o = { .resend_ms = 60000, .interval_ms = 1000 };
	const struct alert_notice *v;
	struct alert_engine *e;

	REQUIRE(alert_engine_new(r, 2, &o, &e) == 0);
	CHECK_EQ(eval(e, snap_heap(80, 100, 0), 0, &v), 0);
	CHECK_EQ(eval(e, snap_heap(95, 100, 1), 1, &v), 2);
	CHECK_STR(v[0].labels[0].value, "OldSpace");
	CHECK(get(v[0].labels, v[0].n_labels, "space") == NULL); /* about the heap, not a space */
	CHECK_STR(get(v[0].labels, v[0].n_labels, "pid"), "7");
	CHECK(fabs(v[0].value - 95) < 1e-9);
	CHECK_STR(v[1].labels[0].value, "heap_leak");
	CHECK_STR(get(v[1].labels, v[1].n_labels, "heap"), "1");
	CHECK_EQ(eval(e, snap_heap(95, 100, 0), 2, &v), 1);
	CHECK(v[0].resolved);
	CHECK_STR(v[0].labels[0].value, "heap_leak");
	alert_engine_free(e);
	alert_rule_done(&r[0]);
	alert_rule_done(&r[1]);
}

static struct snapshot *snap_oom(const char *target, double kills)
{
	struct snapshot *s = snapshot_new();
	const char *const l[] = { "target", "all", NULL };
	const char *const l2[] = { "target", target, NULL };

	snapshot_add(s, &d_oom, 0, l);
	if (target)
		snapshot_add(s, &d_oom, kills, l2);
	snapshot_seal(s, 1);
	return s;
}

/* queue_growth covers every kind of queue the collectors flag. */
static void test_queue_growth_any_kind(void)
{
	static const struct metric_desc d_growth = { "memagent_queue_growth_suspected", METRIC_GAUGE, NULL, "q" };
	struct alert_rule r = rule("queue_growth", ALERT_QUEUE_GROWTH, 1);
	struct alert_engine_options o = { .resend_ms = 60000, .interval_ms = 1000 };
	static const char *const kinds[] = { "app", "socket", "listener", "msgqueue" };
	struct snapshot *s = snapshot_new();
	const struct alert_notice *v;
	struct alert_engine *e;

	for (size_t i = 0; i < 4; i++) {
		const char *const l[] = { "target", "t", "pid", "1", "queue", "q", "kind", kinds[i], NULL };

		snapshot_add(s, &d_growth, 1, l);
	}
	snapshot_seal(s, 1);
	REQUIRE(alert_engine_new(&r, 1, &o, &e) == 0);
	REQUIRE(eval(e, s, 0, &v) == 4);
	for (size_t i = 0; i < 4; i++)
		CHECK_STR(get(v[i].labels, v[i].n_labels, "kind"), kinds[i]);
	alert_engine_free(e);
	alert_rule_done(&r);
}

static void test_oom_kill_window(void)
{
	struct alert_rule r = rule("OomKill", ALERT_OOM_KILL, 0);
	struct alert_engine_options o = { .resend_ms = 600000, .interval_ms = 1000 };
	const struct alert_notice *v;
	struct alert_engine *e;

	r.window_ms = 40000;
	REQUIRE(alert_engine_new(&r, 1, &o, &e) == 0);
	/* At the first evaluation counters are where they start. */
	CHECK_EQ(eval(e, snap_oom("db", 3), 0, &v), 0);
	CHECK_EQ(eval(e, snap_oom("db", 3), 10, &v), 0);
	CHECK_EQ(eval(e, snap_oom("db", 4), 20, &v), 1);
	CHECK_STR(get(v[0].labels, v[0].n_labels, "target"), "db");
	CHECK(fabs(v[0].value - 1) < 1e-9);
	/* Still within the window (the kill came after t=10)... */
	for (unsigned t = 30; t <= 50; t += 10)
		CHECK_EQ(eval(e, snap_oom("db", 4), t, &v), 0);
	/* ...and out of it within 1.25 windows. */
	size_t n = 0;
	unsigned t;

	for (t = 60; t <= 10 + 50 + 10 && n == 0; t += 10)
		n = eval(e, snap_oom("db", 4), t, &v);
	CHECK_EQ(n, 1);
	CHECK(t - 10 > 10 + 40);
	CHECK(n == 1 && v[0].resolved);
	/* A series first seen later counts from 0: its first kill fires. */
	CHECK_EQ(eval(e, snap_oom("web", 1), 200, &v), 1);
	CHECK_STR(get(v[0].labels, v[0].n_labels, "target"), "web");
	alert_engine_free(e);
	alert_rule_done(&r);
}

static struct snapshot *snap_pause(uint64_t fast, uint64_t slow)
{
	static const double bounds[] = { 0.001, 0.01, 0.1 };
	uint64_t counts[] = { fast, 0, slow, 0 };
	struct snapshot *s = snapshot_new();
	const char *const l[] = { "target", "app", "pid", "7", "heap", "1", "kind", "mark_compact", NULL };

	snapshot_histogram(s, &d_pause, l, bounds, counts, 3, 0);
	snapshot_seal(s, 1);
	return s;
}

static void test_gc_pause_quantile(void)
{
	struct alert_rule r = rule("GcPause", ALERT_GC_PAUSE, 0.05);
	struct alert_engine_options o = { .resend_ms = 600000, .interval_ms = 1000 };
	const struct alert_notice *v;
	struct alert_engine *e;

	r.window_ms = 40000;
	REQUIRE(alert_engine_new(&r, 1, &o, &e) == 0);
	/* Lifetime pauses before the first look are not this window's. */
	CHECK_EQ(eval(e, snap_pause(1000, 500), 0, &v), 0);
	/* 1000 fast pauses, 5 slow: p99 in the fast bucket. */
	CHECK_EQ(eval(e, snap_pause(2000, 505), 10, &v), 0);
	/* 100 more slow ones: p99 among them (0.01..0.1). */
	CHECK_EQ(eval(e, snap_pause(2000, 600), 20, &v), 1);
	CHECK(v[0].value > 0.05 && v[0].value <= 0.1);
	alert_engine_free(e);
	alert_rule_done(&r);
}

static void test_templates(void)
{
	char why[128];

	CHECK_EQ(alert_template_check("plain", why, sizeof(why)), 0);
	CHECK_EQ(alert_template_check("{{ $value }} {{$labels.a_1}}", why, sizeof(why)), 0);
	CHECK_EQ(alert_template_check("{{ $value", why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "never closed");
	CHECK_EQ(alert_template_check("x {{ .Labels.a }}", why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "placeholder at byte 2");
	CHECK_EQ(alert_template_check("{{ $labels.1a }}", why, sizeof(why)), -EINVAL);
	CHECK_EQ(alert_template_check("{{ $labels. }}", why, sizeof(why)), -EINVAL);
	CHECK_EQ(alert_kind_from_name("queue_growth"), ALERT_QUEUE_GROWTH);
	CHECK_EQ(alert_kind_from_name("nope"), -EINVAL);
}

static void test_encode(void)
{
	struct alert_pair labels[] = { { "alertname", "A" }, { "comm", "x\xff\"y" } };
	struct alert_pair ann[] = { { "summary", "line\nbreak \xe2\x82\xac" } };
	struct alert_notice n = { .labels = labels, .n_labels = 2, .annotations = ann, .n_annotations = 1,
				  .starts_at_ms = 1700000000123LL, .ends_at_ms = 1700000060000LL };
	char *s = alertmanager_encode(&n, 1, "http://h:1/metrics");

	REQUIRE(s);
	CHECK_STR(s, "[{\"labels\":{\"alertname\":\"A\",\"comm\":\"x\xef\xbf\xbd\\\"y\"},"
		     "\"annotations\":{\"summary\":\"line\\u000abreak \xe2\x82\xac\"},"
		     "\"startsAt\":\"2023-11-14T22:13:20.123Z\",\"endsAt\":\"2023-11-14T22:14:20.000Z\","
		     "\"generatorURL\":\"http://h:1/metrics\"}]");
	free(s);
}

/* The Alertmanager label never carries a password given in the URL. */
static void test_label_without_password(void)
{
	const char *const urls[] = { "http://user:secret@127.0.0.1:1/", "http://127.0.0.1:2" };
	struct alertmanager_options o = { urls, 2, 1000, NULL };
	struct alertmanager *a = NULL;
	struct push *p = NULL;
	struct snapshot *s = snapshot_new();
	size_t n = 0;

	REQUIRE(push_new(&p) == 0);
	REQUIRE(alertmanager_new(p, &o, &a) == 0);
	REQUIRE(alertmanager_add_metrics(a, s) == 0);
	snapshot_seal(s, 1);
	for (const struct snapshot_family *f = snapshot_families(s); f; f = f->next) {
		for (const struct snapshot_sample *sm = f->samples; sm; sm = sm->next, n++) {
			CHECK(strstr(sm->labels[0].value, "secret") == NULL);
			CHECK(strcmp(sm->labels[0].value, "http://127.0.0.1:1/") == 0 ||
			      strcmp(sm->labels[0].value, "http://127.0.0.1:2") == 0);
		}
	}
	CHECK_EQ(n, 6); /* success, failure, dropped for each */
	snapshot_unref(s);
	alertmanager_free(a);
	push_free(p, 0);
}

int main(void)
{
	RUN(test_threshold_fires_resends_resolves);
	RUN(test_for_waits_and_resets);
	RUN(test_match_filters);
	RUN(test_old_space_and_leak);
	RUN(test_queue_growth_any_kind);
	RUN(test_oom_kill_window);
	RUN(test_gc_pause_quantile);
	RUN(test_templates);
	RUN(test_encode);
	RUN(test_label_without_password);
	return test_done();
}
