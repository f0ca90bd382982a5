/* SPDX-License-Identifier: MIT */
/* Alertmanager API v2 delivery: one libcurl multi thread, per-Alertmanager queues, retries.
 *
 * Each Alertmanager has its own queue of alerts waiting (one JSON object per
 * alert fingerprint, the newest notice winning) and at most one post in
 * flight. A post takes the whole queue; if it fails, what it carried goes
 * back under whatever newer notices arrived meanwhile, and the next attempt
 * waits a backoff (250 ms doubling to 8 s). So a returning Alertmanager gets
 * the latest state of every alert, never a stale "firing" after a
 * "resolved", and a live one is never held up by a dead one.
 *
 * Locking: `lock` guards the queues, the counters and `stop`; curl handles
 * are touched by the thread alone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "alertmanager.h"
#include "strbuf.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
/* The thread looks at its queues at least this often. */
#define IDLE_MS 1000

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

struct target {
	char *base;   /* as configured: the metric's label */
	char *url;    /* base + /api/v2/alerts */
	struct queue waiting, in_flight;
	CURL *easy;
	bool busy;
	uint64_t next_try_ns;
	unsigned backoff_ms;
	uint64_t success, failure, dropped;
	char *body; /* of the post in flight */
};

struct alertmanager {
	pthread_mutex_t lock;
	pthread_t thread;
	bool started, stop;
	CURLM *multi;
	struct curl_slist *headers;
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

/* The length of the well-formed UTF-8 character at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

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
		} else if ((k = utf8_len((const unsigned char *)s + i, n - i)) == 0) {
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

/* ---- the thread ------------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Starts a post of t's waiting alerts. Called with the lock held. */
static void start_post(struct alertmanager *a, struct target *t)
{
	struct strbuf b = { 0 };
	struct queue swap;

	strbuf_putc(&b, '[');
	for (size_t i = 0; i < t->waiting.n; i++) {
		if (i)
			strbuf_putc(&b, ',');
		strbuf_puts(&b, t->waiting.v[i].json);
	}
	strbuf_putc(&b, ']');
	if (strbuf_failed(&b)) {
		strbuf_done(&b);
		return; /* tried again at the next round */
	}
	t->body = strbuf_take(&b, NULL);
	strbuf_done(&b);
	swap = t->in_flight;
	t->in_flight = t->waiting;
	t->waiting = swap;
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->body));
	if (curl_multi_add_handle(a->multi, t->easy) != CURLM_OK) {
		free(t->body);
		t->body = NULL;
		swap = t->in_flight;
		t->in_flight = t->waiting;
		t->waiting = swap;
		return;
	}
	t->busy = true;
}

/* Ends t's post. Called with the lock held. */
static void end_post(struct alertmanager *a, struct target *t, bool ok)
{
	curl_multi_remove_handle(a->multi, t->easy);
	free(t->body);
	t->body = NULL;
	t->busy = false;
	if (ok) {
		t->success++;
		t->backoff_ms = 0;
		t->next_try_ns = 0;
		queue_clear(&t->in_flight);
		return;
	}
	t->failure++;
	t->backoff_ms = t->backoff_ms ? t->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (t->backoff_ms > BACKOFF_MAX_MS)
		t->backoff_ms = BACKOFF_MAX_MS;
	t->next_try_ns = now_ns() + (uint64_t)t->backoff_ms * 1000000ULL;
	/* Back under anything newer that came meanwhile. */
	for (size_t i = 0; i < t->in_flight.n; i++)
		t->dropped += (uint64_t)queue_put(&t->waiting, t->in_flight.v[i].fp, t->in_flight.v[i].json, true);
	t->in_flight.n = 0;
}

static void *run(void *arg)
{
	struct alertmanager *a = arg;

	pthread_mutex_lock(&a->lock);
	while (!a->stop) {
		uint64_t now = now_ns(), wait_ms = IDLE_MS;
		struct CURLMsg *msg;
		int running, left;

		for (size_t i = 0; i < a->n; i++) {
			struct target *t = &a->t[i];

			if (t->busy || t->waiting.n == 0)
				continue;
			if (now >= t->next_try_ns)
				start_post(a, t);
			else if ((t->next_try_ns - now) / 1000000 < wait_ms)
				wait_ms = (t->next_try_ns - now) / 1000000 + 1;
		}
		pthread_mutex_unlock(&a->lock);
		curl_multi_perform(a->multi, &running);
		pthread_mutex_lock(&a->lock);
		while ((msg = curl_multi_info_read(a->multi, &left))) {
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			for (size_t i = 0; i < a->n; i++)
				if (a->t[i].easy == msg->easy_handle)
					end_post(a, &a->t[i], msg->data.result == CURLE_OK && code >= 200 &&
								       code < 300);
			wait_ms = 0; /* look at the queues again at once */
		}
		pthread_mutex_unlock(&a->lock);
		if (wait_ms)
			curl_multi_poll(a->multi, NULL, 0, (int)wait_ms, NULL);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* ---- the interface ---------------------------------------------------------------- */

int alertmanager_new(const struct alertmanager_options *o, struct alertmanager **ret)
{
	struct alertmanager *a;

	if (o->n_urls == 0 || o->n_urls > ALERTMANAGER_MAX)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	a->timeout_ms = o->timeout_ms;
	a->multi = curl_multi_init();
	a->headers = curl_slist_append(NULL, "Content-Type: application/json");
	a->generator_url = o->generator_url ? strdup(o->generator_url) : NULL;
	if (!a->multi || !a->headers || (o->generator_url && !a->generator_url))
		goto nomem;
	for (size_t i = 0; i < o->n_urls; i++) {
		struct target *t = &a->t[i];
		size_t len = strlen(o->urls[i]);

		a->n = i + 1;
		t->base = strdup(o->urls[i]);
		t->url = malloc(len + sizeof("/api/v2/alerts"));
		t->waiting.v = calloc(ALERT_SERIES_MAX, sizeof(*t->waiting.v));
		t->in_flight.v = calloc(ALERT_SERIES_MAX, sizeof(*t->in_flight.v));
		t->easy = curl_easy_init();
		if (!t->base || !t->url || !t->waiting.v || !t->in_flight.v || !t->easy)
			goto nomem;
		/* "http://host:9093/" and "http://host:9093" name the same API. */
		while (len > 0 && o->urls[i][len - 1] == '/')
			len--;
		memcpy(t->url, o->urls[i], len);
		strcpy(t->url + len, "/api/v2/alerts");
		if (curl_easy_setopt(t->easy, CURLOPT_URL, t->url) != CURLE_OK) {
			alertmanager_free(a);
			return -EINVAL;
		}
		curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, a->headers);
		curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
		curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	}
	if (pthread_create(&a->thread, NULL, run, a) != 0)
		goto nomem;
	a->started = true;
	*ret = a;
	return 0;
nomem:
	alertmanager_free(a);
	return -ENOMEM;
}

struct alertmanager *alertmanager_free(struct alertmanager *a)
{
	if (!a)
		return NULL;
	if (a->started) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		pthread_mutex_unlock(&a->lock);
		curl_multi_wakeup(a->multi);
		pthread_join(a->thread, NULL);
	}
	for (size_t i = 0; i < a->n; i++) {
		struct target *t = &a->t[i];

		if (t->busy)
			curl_multi_remove_handle(a->multi, t->easy);
		if (t->easy)
			curl_easy_cleanup(t->easy);
		if (t->waiting.v)
			queue_clear(&t->waiting);
		if (t->in_flight.v)
			queue_clear(&t->in_flight);
		free(t->waiting.v);
		free(t->in_flight.v);
		free(t->body);
		free(t->url);
		free(t->base);
	}
	if (a->multi)
		curl_multi_cleanup(a->multi);
	curl_slist_free_all(a->headers);
	free(a->generator_url);
	pthread_mutex_destroy(&a->lock);
	free(a);
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
	for (size_t k = 0; k < a->n; k++)
		for (size_t i = 0; i < n; i++)
			a->t[k].dropped += (uint64_t)queue_put(&a->t[k].waiting, v[i].fingerprint, json[k * n + i], false);
	pthread_mutex_unlock(&a->lock);
	free(json);
	curl_multi_wakeup(a->multi);
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
