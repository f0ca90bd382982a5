/* SPDX-License-Identifier: MIT */
/* Alertmanager API v2 delivery over the push thread: per-Alertmanager queues, retries.
 *
 * Each Alertmanager has its own queue of alerts waiting (one JSON object per
 * alert fingerprint, the newest notice winning) and at most one post in
 * flight. A post takes the whole queue; if it fails, what it carried goes
 * back under whatever newer notices arrived meanwhile, and the next attempt
 * waits a backoff (250 ms doubling to 8 s) unless new notices come first. So a returning Alertmanager gets
 * the latest state of every alert, never a stale "firing" after a
 * "resolved", and a live one is never held up by a dead one.
 *
 * The posts go through the push thread (exporters/push), as a client: its
 * run callback starts posts, its done callback ends them, both on that
 * thread; notify() comes from the sampler's. `lock` guards the queues and
 * the counters. The struct is reference-counted, one reference per post in
 * flight: alertmanager_free() never waits for a hanging Alertmanager, the
 * last done frees it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertmanager.h"
#include "push.h"
#include "strbuf.h"
#include "utf8.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000

static const struct metric_desc m_notifications = {
	"memagent_alert_notifications_total", METRIC_COUNTER, NULL,
	"Posts of alerts to an Alertmanager by result (success, failure; dropped: alerts that found the queue full).",
};
const struct metric_desc *const alertmanager_metrics[] = { &m_notifications, NULL };

struct queued {
	uint64_t fp;
	char *json;
};

struct queue {
	struct queued *v;
	size_t n;
};

struct alertmanager;

struct target {
	struct alertmanager *owner;
	char *base;   /* as configured, less any user:password: the metric's label */
	char *url;    /* base + /api/v2/alerts */
	struct queue waiting, in_flight;
	bool busy;
	uint64_t next_try_ns;
	unsigned backoff_ms;
	uint64_t success, failure, dropped;
};

struct alertmanager {
	pthread_mutex_t lock;
	struct push *push;
	bool registered, stopped;
	unsigned refs; /* 1 for the owner, 1 per post in flight */
	unsigned timeout_ms;
	char *generator_url;
	struct target t[ALERTMANAGER_MAX];
	size_t n;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- encoding ------------------------------------------------------------------- */

/* A JSON string of s; bytes that are not UTF-8 become U+FFFD (label values
 * come from processes, and Alertmanager refuses a batch over one of them). */
static void json_string(struct strbuf *b, const char *s)
{
	size_t n = strlen(s);

	strbuf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t k;

		if (c == '"' || c == '\\') {
			strbuf_putc(b, '\\');
			strbuf_putc(b, (char)c);
			i++;
		} else if (c < 0x20) {
			strbuf_printf(b, "\\u%04x", c);
			i++;
		} else if ((k = utf8_char_len(s + i, n - i)) == 0) {
			strbuf_puts(b, "\xef\xbf\xbd");
			i++;
		} else {
			strbuf_append(b, s + i, k);
			i += k;
		}
	}
	strbuf_putc(b, '"');
}

static void json_pairs(struct strbuf *b, const struct alert_pair *v, size_t n)
{
	strbuf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_putc(b, ',');
		json_string(b, v[i].key);
		strbuf_putc(b, ':');
		json_string(b, v[i].value);
	}
	strbuf_putc(b, '}');
}

/* RFC 3339 in UTC with milliseconds, as Go's time parser reads it. */
static void json_time(struct strbuf *b, int64_t ms)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strbuf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		      tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - (int64_t)t * 1000));
}

static void encode_one(struct strbuf *b, const struct alert_notice *a, const char *generator_url)
{
	strbuf_puts(b, "{\"labels\":");
	json_pairs(b, a->labels, a->n_labels);
	strbuf_puts(b, ",\"annotations\":");
	json_pairs(b, a->annotations, a->n_annotations);
	strbuf_puts(b, ",\"startsAt\":");
	json_time(b, a->starts_at_ms);
	strbuf_puts(b, ",\"endsAt\":");
	json_time(b, a->ends_at_ms);
	if (generator_url) {
		strbuf_puts(b, ",\"generatorURL\":");
		json_string(b, generator_url);
	}
	strbuf_putc(b, '}');
}

char *alertmanager_encode(const struct alert_notice *v, size_t n, const char *generator_url)
{
	struct strbuf b = { 0 };
	char *s;

	strbuf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_putc(&b, ',');
		encode_one(&b, &v[i], generator_url);
	}
	strbuf_putc(&b, ']');
	s = strbuf_take(&b, NULL);
	strbuf_done(&b);
	return s;
}

/* ---- queues ---------------------------------------------------------------------- */

static void queue_clear(struct queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].json);
	q->n = 0;
}

/* Puts (fp, json) into q, taking json: it replaces an entry of the same
 * alert unless keep_newer (then an entry already there wins and json is
 * freed). Past the bound the oldest entry is dropped; returns 1 then. */
static int queue_put(struct queue *q, uint64_t fp, char *json, bool keep_newer)
{
	int dropped = 0;

	for (size_t i = 0; i < q->n; i++) {
		if (q->v[i].fp == fp) {
			if (keep_newer) {
				free(json);
			} else {
				free(q->v[i].json);
				q->v[i].json = json;
			}
			return 0;
		}
	}
	if (q->n == ALERT_SERIES_MAX) {
		free(q->v[0].json);
		memmove(q->v, q->v + 1, (q->n - 1) * sizeof(q->v[0]));
		q->n--;
		dropped = 1;
	}
	q->v[q->n++] = (struct queued){ fp, json };
	return dropped;
}

/* ---- on the push thread ------------------------------------------------------------- */

static const char *const post_headers[] = { "Content-Type: application/json", NULL };

static void destroy(struct alertmanager *a);

/* Ends t's post. */
static void post_done(void *arg, const struct push_result *r)
{
	struct target *t = arg;
	struct alertmanager *a = t->owner;
	bool ok = r->error == 0 && r->status >= 200 && r->status < 300, last;

	pthread_mutex_lock(&a->lock);
	t->busy = false;
	if (ok) {
		t->success++;
		t->backoff_ms = 0;
		t->next_try_ns = 0;
		queue_clear(&t->in_flight);
	} else {
		t->failure++;
		t->backoff_ms = t->backoff_ms ? t->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (t->backoff_ms > BACKOFF_MAX_MS)
			t->backoff_ms = BACKOFF_MAX_MS;
		t->next_try_ns = now_ns() + (uint64_t)t->backoff_ms * 1000000ULL;
		/* Back under anything newer that came meanwhile. */
		for (size_t i = 0; i < t->in_flight.n; i++)
			t->dropped += (uint64_t)queue_put(&t->waiting, t->in_flight.v[i].fp, t->in_flight.v[i].json,
							  true);
		t->in_flight.n = 0;
	}
	last = --a->refs == 0;
	pthread_mutex_unlock(&a->lock);
	/* The push thread runs every client after a finished request: run()
	 * sets the retry deadline. */
	if (last)
		destroy(a);
}

/* Starts a post of t's waiting alerts. Called with the lock held. */
static void start_post(struct alertmanager *a, struct target *t)
{
	struct strbuf b = { 0 };
	struct push_request rq = { .method = "POST", .url = t->url, .headers = post_headers,
				   .timeout_ms = a->timeout_ms, .done = post_done, .arg = t };
	struct queue swap;

	strbuf_putc(&b, '[');
	for (size_t i = 0; i < t->waiting.n; i++) {
		if (i)
			strbuf_putc(&b, ',');
		strbuf_puts(&b, t->waiting.v[i].json);
	}
	strbuf_putc(&b, ']');
	rq.body = strbuf_take(&b, &rq.body_len);
	strbuf_done(&b);
	if (!rq.body)
		return; /* tried again at the next turn */
	if (push_submit(a->push, &rq) < 0)
		return; /* the body is freed; the alerts stay waiting */
	swap = t->in_flight;
	t->in_flight = t->waiting;
	t->waiting = swap;
	t->busy = true;
	a->refs++;
}

/* The push thread's turn: a post for every Alertmanager with alerts waiting,
 * none in flight and its backoff over. Returns the next backoff's end. */
static uint64_t run(void *arg, uint64_t now)
{
	struct alertmanager *a = arg;
	uint64_t next = UINT64_MAX;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; !a->stopped && i < a->n; i++) {
		struct target *t = &a->t[i];

		if (t->busy || t->waiting.n == 0)
			continue;
		if (now >= t->next_try_ns)
			start_post(a, t);
		else if (t->next_try_ns < next)
			next = t->next_try_ns;
	}
	pthread_mutex_unlock(&a->lock);
	return next;
}

/* ---- the interface ---------------------------------------------------------------- */

/* The URL as a metric label: without user and password ("http://u:p@h"
 * would put a secret into every scrape). malloc'ed, NULL when out of memory. */
static char *url_label(const char *url)
{
	const char *host = strstr(url, "://"), *at, *end;
	char *s;

	if (!host)
		return strdup(url);
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (!at)
		return strdup(url);
	s = malloc(strlen(url) + 1);
	if (s) {
		memcpy(s, url, (size_t)(host - url));
		strcpy(s + (host - url), at + 1);
	}
	return s;
}

int alertmanager_new(struct push *p, const struct alertmanager_options *o, struct alertmanager **ret)
{
	struct alertmanager *a;
	int r;

	if (o->n_urls == 0 || o->n_urls > ALERTMANAGER_MAX)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->push = p;
	a->refs = 1;
	a->timeout_ms = o->timeout_ms;
	a->generator_url = o->generator_url ? strdup(o->generator_url) : NULL;
	if (o->generator_url && !a->generator_url)
		goto nomem;
	for (size_t i = 0; i < o->n_urls; i++) {
		struct target *t = &a->t[i];
		size_t len = strlen(o->urls[i]);

		a->n = i + 1;
		t->owner = a;
		t->base = url_label(o->urls[i]);
		t->url = malloc(len + sizeof("/api/v2/alerts"));
		t->waiting.v = calloc(ALERT_SERIES_MAX, sizeof(*t->waiting.v));
		t->in_flight.v = calloc(ALERT_SERIES_MAX, sizeof(*t->in_flight.v));
		if (!t->base || !t->url || !t->waiting.v || !t->in_flight.v)
			goto nomem;
		/* "http://host:9093/" and "http://host:9093" name the same API. */
		while (len > 0 && o->urls[i][len - 1] == '/')
			len--;
		memcpy(t->url, o->urls[i], len);
		strcpy(t->url + len, "/api/v2/alerts");
	}
	r = push_client_add(p, run, a);
	if (r < 0) {
		destroy(a);
		return r;
	}
	a->registered = true;
	*ret = a;
	return 0;
nomem:
	destroy(a);
	return -ENOMEM;
}

static void destroy(struct alertmanager *a)
{
	for (size_t i = 0; i < a->n; i++) {
		struct target *t = &a->t[i];

		if (t->waiting.v)
			queue_clear(&t->waiting);
		if (t->in_flight.v)
			queue_clear(&t->in_flight);
		free(t->waiting.v);
		free(t->in_flight.v);
		free(t->url);
		free(t->base);
	}
	free(a->generator_url);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

struct alertmanager *alertmanager_free(struct alertmanager *a)
{
	bool last;

	if (!a)
		return NULL;
	if (a->registered)
		push_client_remove(a->push, run, a);
	pthread_mutex_lock(&a->lock);
	a->stopped = true;
	last = --a->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (last)
		destroy(a);
	return NULL;
}

int alertmanager_notify(struct alertmanager *a, const struct alert_notice *v, size_t n)
{
	char **json;

	if (n == 0)
		return 0;
	json = calloc(n * a->n, sizeof(*json));
	if (!json)
		return -ENOMEM;
	/* Encoded before taking the lock: the thread never waits on it. */
	for (size_t i = 0; i < n; i++) {
		struct strbuf b = { 0 };

		encode_one(&b, &v[i], a->generator_url);
		json[i] = strbuf_take(&b, NULL);
		strbuf_done(&b);
		for (size_t k = 1; json[i] && k < a->n; k++)
			json[k * n + i] = strdup(json[i]);
	}
	for (size_t i = 0; i < n * a->n; i++) {
		if (!json[i]) {
			for (size_t k = 0; k < n * a->n; k++)
				free(json[k]);
			free(json);
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&a->lock);
	for (size_t k = 0; k < a->n; k++) {
		for (size_t i = 0; i < n; i++)
			a->t[k].dropped += (uint64_t)queue_put(&a->t[k].waiting, v[i].fingerprint, json[k * n + i], false);
		/* New notices are tried at once, backoff or not (as Prometheus
		 * posts every batch): a returning Alertmanager has the firing
		 * alerts at the next resend. The backoff spaces retries only. */
		a->t[k].next_try_ns = 0;
	}
	pthread_mutex_unlock(&a->lock);
	free(json);
	push_wake(a->push);
	return 0;
}

int alertmanager_add_metrics(struct alertmanager *a, struct snapshot *s)
{
	static const char *const results[] = { "success", "failure", "dropped" };
	int r = 0;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n; i++) {
		const struct target *t = &a->t[i];
		const uint64_t counts[] = { t->success, t->failure, t->dropped };

		for (size_t k = 0; k < 3; k++) {
			const char *const lv[] = { "alertmanager", t->base, "result", results[k], NULL };

			r |= snapshot_add(s, &m_notifications, (double)counts[k], lv);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return r < 0 ? -ENOMEM : 0;
}
