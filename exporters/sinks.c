/* SPDX-License-Identifier: MIT */
/* Push sinks on the push thread (see sinks.h).
 *
 * Invariants, under the set's lock:
 *  - a queued sink's samples are, oldest first, its batches still out
 *    (encoded, being sent or waiting to be retried; ordered by seq) then its
 *    ring; each sample is counted exactly once as sent, dropped (the bound),
 *    rejected (a 4xx answer, or no form in the payload: influx skips NaN
 *    and infinities) or is still queued;
 *  - a batch holds no series another batch of its sink still out holds: the
 *    requests in flight may end in any order, each series still arrives in
 *    queue order (a failed batch blocks the series in it until it is sent);
 *  - while a sink's last request failed, it has at most one in flight;
 *  - every series a ring or a batch out holds a sample of has refs > 0 (the
 *    sweep keeps it).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diskbuf.h"
#include "influx.h"
#include "promtext.h"
#include "remote_write.h"
#include "series.h"
#include "sinks.h"
#include "strbuf.h"
#include "utf8.h"

#define INBOX_MAX 16
/* Prometheus' remote write starts at 30 ms and stops at 5 s; the cap here is
 * lower so a receiver that returns is found within 2 s (a request per 1-2 s
 * to a dead receiver costs nothing). */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
/* A refused connection means nothing listens: a probe costs a SYN and a
 * RST, and no receiver is there to be overloaded, so it is repeated within
 * 250 ms; a receiver back from an outage is found that much sooner, while
 * its backlog waits (answers, 5xx and 429, and timeouts keep the 2 s cap). */
#define BACKOFF_REFUSED_MAX_MS 250
#define TOKEN_MAX_BYTES 4096

enum reason {
	R_TIMEOUT, R_REFUSED, R_CONNECT, R_TLS, R_IO, R_HTTP_4XX, R_HTTP_429, R_HTTP_5XX, R_HTTP_OTHER,
	R_ENCODE, R_BUFFER, R_MAX,
};
static const char *const reason_names[R_MAX] = {
	"timeout", "refused", "connect", "tls", "io", "http_4xx", "http_429", "http_5xx", "http_other",
	"encode", "buffer",
};

static const double send_bounds[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10 };
#define N_SEND_BOUNDS (sizeof(send_bounds) / sizeof(send_bounds[0]))

/* One request's payload, kept until it is answered (a failure keeps it for
 * its retry). */
struct batch {
	struct sink *k;
	bool used, busy;
	uint64_t seq;           /* queue order among the sink's batches */
	void *body;
	size_t len;
	size_t n;               /* samples it counts for */
	struct series **series; /* queued sinks: its samples' series, refs held */
	size_t n_series;
	uint64_t disk_start;    /* disk buffer: its first sample's number */
};

struct sink {
	struct sink *next;
	struct sinks *set;
	const struct sink_options *o;
	char *token;             /* the bearer token file's content */
	char *push_url;          /* pushgateway: url + /metrics/job/J/instance/I */
	char instance[256];      /* the configured instance, or the host name */
	/* queued sinks */
	struct series_sample *ring;
	size_t cap, head, len;
	/* the batches being sent or waiting for their retry */
	struct batch out[SINK_CONCURRENCY_MAX];
	unsigned n_out, n_busy;
	uint64_t out_seq;
	bool retired;
	uint64_t next_try_ns, last_send_ns;
	unsigned failures;
	uint64_t rng;
	/* latest-value sinks */
	struct snapshot *latest;
	/* disk buffer: samples from the file's start appended and settled */
	struct diskbuf *disk;
	uint64_t disk_appended;
	/* counters (the lock guards them like everything else) */
	uint64_t sent, dropped, rejected, superseded;
	uint64_t errors[R_MAX];
	uint64_t send_counts[N_SEND_BOUNDS + 1];
	double send_sum;
	uint64_t buffer_torn_bytes, buffer_replayed;
};

struct sinks {
	struct push *push;
	char *state_dir;
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a send ended or the queues changed: for flush */
	struct sink *list, *retired;
	struct series_table *series;
	struct snapshot *inbox[INBOX_MAX];
	size_t n_inbox;
	struct series_sample *scratch; /* one snapshot's samples, interned */
	size_t n_scratch, cap_scratch;
	uint64_t batch, mark;
	bool flushing;
};

static const struct metric_desc m_queue = {
	"memagent_sink_queue_samples", METRIC_GAUGE, NULL,
	"Samples waiting in the sink's queue (latest-value sinks: 0 or 1 snapshot).",
};
static const struct metric_desc m_sent = {
	"memagent_sink_sent_samples_total", METRIC_COUNTER, NULL,
	"Samples the sink's receiver accepted (latest-value sinks: pushes accepted).",
};
static const struct metric_desc m_dropped = {
	"memagent_sink_dropped_samples_total", METRIC_COUNTER, NULL,
	"Samples dropped because the sink's queue was full (oldest first).",
};
static const struct metric_desc m_rejected = {
	"memagent_sink_rejected_samples_total", METRIC_COUNTER, NULL,
	"Samples the receiver refused with a 4xx answer other than 429 (not retried), or that "
	"have no form in the payload (NaN or infinite values in line protocol).",
};
static const struct metric_desc m_superseded = {
	"memagent_sink_superseded_pushes_total", METRIC_COUNTER, NULL,
	"Latest-value sinks: snapshots replaced by a newer one before they were pushed.",
};
static const struct metric_desc m_errors = {
	"memagent_sink_errors_total", METRIC_COUNTER, NULL,
	"Failed sends by sink and reason (timeout, refused, connect, tls, io, http_4xx, http_429, "
	"http_5xx, http_other, encode, buffer).",
};
static const struct metric_desc m_send = {
	"memagent_sink_send_seconds", METRIC_HISTOGRAM, "seconds",
	"Duration of the sink's requests, failed ones included.",
};
static const struct metric_desc m_torn = {
	"memagent_sink_buffer_corrupt_bytes_total", METRIC_COUNTER, "bytes",
	"Bytes of the sink's disk buffer dropped at start-up because they were torn or failed "
	"their checksum.",
};
static const struct metric_desc m_replayed = {
	"memagent_sink_buffer_replayed_samples_total", METRIC_COUNTER, NULL,
	"Samples read back from the sink's disk buffer at start-up, queued to be sent.",
};
const struct metric_desc *const sinks_metrics[] = {
	&m_queue, &m_sent, &m_dropped, &m_rejected, &m_superseded, &m_errors, &m_send, &m_torn,
	&m_replayed, NULL,
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- queues ------------------------------------------------------------------ */

static size_t queued(const struct sink *k)
{
	size_t n = k->len;

	for (unsigned i = 0; i < SINK_CONCURRENCY_MAX; i++)
		if (k->out[i].used)
			n += k->out[i].n;
	return n;
}

static unsigned concurrency(const struct sink *k)
{
	unsigned c = k->o->concurrency;

	if (!sink_type_queued(k->o->type) || c < 1)
		return 1;
	return c < SINK_CONCURRENCY_MAX ? c : SINK_CONCURRENCY_MAX;
}

/* Samples per request: never the whole bound, so a full queue always has
 * ring samples to drop while its batches are out. */
static size_t batch_max(const struct sink *k)
{
	size_t b = k->o->batch_max_samples, part = k->o->queue_max_samples / (concurrency(k) + 1);

	if (part < 1)
		part = 1;
	return b < part ? b : part;
}

/* The oldest batch out, or NULL. */
static struct batch *oldest_out(struct sink *k)
{
	struct batch *o = NULL;

	for (unsigned i = 0; i < SINK_CONCURRENCY_MAX; i++)
		if (k->out[i].used && (!o || k->out[i].seq < o->seq))
			o = &k->out[i];
	return o;
}

/* Ends a batch: its body and its hold on its series go. */
static void batch_release(struct batch *b)
{
	for (size_t i = 0; i < b->n_series; i++)
		b->series[i]->refs--;
	free(b->series);
	free(b->body);
	b->k->n_out--;
	*b = (struct batch){ .k = b->k };
}

static void ring_pop(struct sink *k, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		k->ring[(k->head + i) % k->cap].s->refs--;
	}
	k->head = (k->head + n) % (k->cap ? k->cap : 1);
	k->len -= n;
}

/* Appends one sample, dropping the oldest queued one first when full.
 * Returns 0, or -ENOMEM (the sample is dropped and counted). */
static int ring_push(struct sink *k, struct series *s, double v, int64_t ts)
{
	if (queued(k) >= k->o->queue_max_samples) {
		if (k->len == 0) {
			k->dropped++;
			return 0;
		}
		ring_pop(k, 1);
		k->dropped++;
	}
	if (k->len == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 1024;
		struct series_sample *n;

		if (ncap > k->o->queue_max_samples)
			ncap = k->o->queue_max_samples;
		if (ncap <= k->cap) {
			k->dropped++;
			return 0;
		}
		n = malloc(ncap * sizeof(*n));
		if (!n) {
			k->dropped++;
			return -ENOMEM;
		}
		for (size_t i = 0; i < k->len; i++)
			n[i] = k->ring[(k->head + i) % k->cap];
		free(k->ring);
		k->ring = n;
		k->cap = ncap;
		k->head = 0;
	}
	k->ring[(k->head + k->len) % k->cap] = (struct series_sample){ s, v, ts };
	k->len++;
	s->refs++;
	return 0;
}

/* The first n samples of the ring as at most two spans. */
static size_t ring_spans(const struct sink *k, size_t n, struct series_span sp[2])
{
	size_t first = k->cap - k->head < n ? k->cap - k->head : n;

	sp[0] = (struct series_span){ &k->ring[k->head], first };
	sp[1] = (struct series_span){ k->ring, n - first };
	return n > first ? 2 : 1;
}

/* ---- offering snapshots ---------------------------------------------------- */

/* Collects one snapshot's interned samples into the set's scratch vector. */
static int collect(void *arg, struct series *se, double v)
{
	struct sinks *s = arg;

	if (s->n_scratch == s->cap_scratch) {
		size_t ncap = s->cap_scratch ? s->cap_scratch * 2 : 4096;
		struct series_sample *n = realloc(s->scratch, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->scratch = n;
		s->cap_scratch = ncap;
	}
	s->scratch[s->n_scratch++] = (struct series_sample){ se, v, 0 };
	return 0;
}

/* Queues the scratch samples (one snapshot, stamped ts) on k: written to
 * its disk buffer first when it has one, and dropped, counted, when that
 * write fails (what is queued is always on disk too). */
static void enqueue(struct sink *k, const struct series_sample *v, size_t n)
{
	if (k->disk) {
		int r = diskbuf_append(k->disk, v, n);

		if (r < 0) {
			k->errors[R_BUFFER]++;
			k->dropped += n;
			return;
		}
		k->disk_appended += n;
	}
	for (size_t i = 0; i < n; i++)
		ring_push(k, v[i].s, v[i].value, v[i].timestamp_ms);
}

/* Takes the inbox's snapshots into the sinks: interned once for all queued
 * sinks, referenced by latest-value ones. */
static void take_inbox(struct sinks *s)
{
	bool any_queued = false;

	for (struct sink *k = s->list; k; k = k->next)
		any_queued |= sink_type_queued(k->o->type);
	for (size_t i = 0; i < s->n_inbox; i++) {
		struct snapshot *snap = s->inbox[i];

		for (struct sink *k = s->list; k; k = k->next) {
			if (sink_type_queued(k->o->type))
				continue;
			if (k->latest)
				k->superseded++;
			snapshot_unref(k->latest);
			k->latest = snapshot_ref(snap);
		}
		if (any_queued) {
			int64_t ts = snapshot_timestamp_ms(snap);

			s->n_scratch = 0;
			if (series_intern_snapshot(s->series, snap, collect, s) < 0) {
				for (struct sink *k = s->list; k; k = k->next)
					if (sink_type_queued(k->o->type))
						k->dropped += snapshot_n_samples(snap);
			} else {
				for (size_t j = 0; j < s->n_scratch; j++)
					s->scratch[j].timestamp_ms = ts;
				for (struct sink *k = s->list; k; k = k->next)
					if (sink_type_queued(k->o->type))
						enqueue(k, s->scratch, s->n_scratch);
			}
			series_sweep(s->series);
		}
		snapshot_unref(snap);
	}
	s->n_inbox = 0;
}

void sinks_offer(struct sinks *s, struct snapshot *snap)
{
	pthread_mutex_lock(&s->lock);
	if (s->n_inbox == INBOX_MAX) {
		/* The push thread is far behind (it never blocks on the network,
		 * so this is CPU starvation): the oldest snapshot goes, counted
		 * per sink as dropped when it is known how many samples it had. */
		struct snapshot *old = s->inbox[0];

		for (struct sink *k = s->list; k; k = k->next)
			if (sink_type_queued(k->o->type))
				k->dropped += snapshot_n_samples(old);
		snapshot_unref(old);
		memmove(s->inbox, s->inbox + 1, (INBOX_MAX - 1) * sizeof(s->inbox[0]));
		s->n_inbox--;
	}
	s->inbox[s->n_inbox++] = snapshot_ref(snap);
	pthread_mutex_unlock(&s->lock);
	push_wake(s->push);
}

/* ---- sending --------------------------------------------------------------- */

struct webhook_ctx {
	json_t *samples;
};

/* A JSON string of s. jansson refuses one that is not UTF-8 (NULL, and the
 * label would silently go): label values come from processes, so bytes
 * that start no character become U+FFFD, as on /metrics. */
static json_t *json_label(const char *s)
{
	json_t *j = json_string(s);
	struct strbuf b = {0};

	if (j)
		return j;
	utf8_append_valid(&b, s);
	j = strbuf_failed(&b) ? NULL : json_string(b.buf ? b.buf : "");
	strbuf_done(&b);
	return j;
}

static int webhook_sample(void *arg, const char *name, const struct snapshot_label *labels, size_t n,
			  double value)
{
	struct webhook_ctx *w = arg;
	json_t *o = json_object(), *l = json_object();

	if (!o || !l) {
		json_decref(o);
		json_decref(l);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		json_object_set_new(l, labels[i].key, json_label(labels[i].value));
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "labels", l);
	/* JSON has no NaN or infinities: those values are sent as strings, as
	 * Prometheus writes them. */
	if (isfinite(value)) {
		json_object_set_new(o, "value", json_real(value));
	} else {
		json_object_set_new(o, "value", json_string(isnan(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf"));
	}
	return json_array_append_new(w->samples, o) < 0 ? -ENOMEM : 0;
}

static int encode_webhook(const struct sink *k, struct snapshot *snap, void **ret, size_t *ret_len)
{
	json_t *root = json_object();
	struct webhook_ctx w = { json_array() };
	char *text;
	int r;

	if (!root || !w.samples) {
		json_decref(root);
		json_decref(w.samples);
		return -ENOMEM;
	}
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "sink", json_string(k->o->name));
	json_object_set_new(root, "instance", json_string(k->instance));
	json_object_set_new(root, "sample", json_integer((json_int_t)snapshot_sample_no(snap)));
	json_object_set_new(root, "timestamp_ms", json_integer(snapshot_timestamp_ms(snap)));
	json_object_set_new(root, "samples", w.samples);
	r = series_visit(snap, webhook_sample, &w);
	text = r < 0 ? NULL : json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	*ret = text;
	*ret_len = strlen(text);
	return 0;
}

/* How many of the ring's first n samples may go in a new batch: up to the
 * first whose series a batch still out holds (sent before it, that sample
 * could overtake an older one of its series). */
static size_t order_cut(struct sinks *s, struct sink *k, size_t n)
{
	uint64_t mark;

	if (!k->n_out)
		return n;
	mark = ++s->mark;
	for (unsigned i = 0; i < SINK_CONCURRENCY_MAX; i++)
		for (size_t j = 0; k->out[i].used && j < k->out[i].n_series; j++)
			k->out[i].series[j]->mark = mark;
	for (size_t j = 0; j < n; j++)
		if (k->ring[(k->head + j) % k->cap].s->mark == mark)
			return j;
	return n;
}

/* Builds a batch in b (a free slot) from k's queue or its latest snapshot;
 * leaves b unused when there is nothing to send (yet). */
static void build_batch(struct sinks *s, struct sink *k, struct batch *b)
{
	int r = 0;

	if (sink_type_queued(k->o->type)) {
		size_t n = k->len < batch_max(k) ? k->len : batch_max(k), nsp, skipped = 0;
		struct series_span sp[2];

		n = order_cut(s, k, n);
		if (n == 0)
			return;
		nsp = ring_spans(k, n, sp);
		if (k->o->type == SINK_REMOTE_WRITE) {
			r = remote_write_encode(sp, nsp, ++s->batch, &b->body, &b->len);
		} else {
			struct strbuf sb = {0};

			influx_encode(sp, nsp, &sb, &skipped);
			if (strbuf_failed(&sb)) {
				strbuf_done(&sb);
				r = -ENOMEM;
			} else {
				b->body = strbuf_take(&sb, &b->len);
				if (!b->body) {
					/* Every sample had no line form. */
					b->body = strdup("");
					b->len = 0;
				}
			}
		}
		b->series = r < 0 || !b->body ? NULL : malloc(n * sizeof(*b->series));
		if (!b->series) {
			k->errors[R_ENCODE]++;
			free(b->body);
			b->body = NULL;
			return; /* tried again at the next turn */
		}
		/* The ring's references move to the batch: its series stay
		 * until it ends (order_cut reads them). */
		for (size_t i = 0; i < n; i++)
			b->series[i] = k->ring[(k->head + i) % k->cap].s;
		b->n_series = n;
		b->disk_start = k->disk_appended - k->len;
		k->head = (k->head + n) % k->cap;
		k->len -= n;
		k->rejected += skipped;
		b->n = n - skipped;
	} else {
		if (!k->latest)
			return;
		if (k->o->type == SINK_PUSHGATEWAY) {
			const char *text;
			size_t len;

			r = promtext_memo(k->latest, PROMTEXT_TEXT, &text, &len);
			if (r == 0 && (b->body = malloc(len ? len : 1))) {
				memcpy(b->body, text, len);
				b->len = len;
			}
		} else {
			r = encode_webhook(k, k->latest, &b->body, &b->len);
		}
		k->latest = snapshot_unref(k->latest);
		if (r < 0 || !b->body) {
			k->errors[R_ENCODE]++;
			b->body = NULL;
			return;
		}
		b->n = 1;
	}
	b->k = k;
	b->used = true;
	b->seq = ++k->out_seq;
	k->n_out++;
	if (b->n == 0)
		batch_release(b); /* nothing in it has a form: nothing to send */
}

/* Exponential backoff with equal jitter: half the step fixed, half random. */
static uint64_t backoff_ns(struct sink *k, uint64_t max_ms)
{
	uint64_t step = BACKOFF_MIN_MS;

	for (unsigned i = 1; i < k->failures && step < max_ms; i++)
		step *= 2;
	if (step > max_ms)
		step = max_ms;
	return (step / 2 + xorshift(&k->rng) % (step / 2 + 1)) * 1000000u;
}

static void sink_free(struct sink *k);

static void disk_ack(struct sink *k)
{
	uint64_t settled;

	struct batch *o;

	if (!k->disk)
		return;
	o = sink_type_queued(k->o ? k->o->type : SINK_REMOTE_WRITE) ? oldest_out(k) : NULL;
	settled = o ? o->disk_start : k->disk_appended - k->len;
	if (settled == k->disk_appended && diskbuf_size(k->disk) > DISKBUF_RESET_BYTES) {
		if (diskbuf_reset(k->disk) == 0)
			k->disk_appended = 0;
		return;
	}
	if (diskbuf_ack(k->disk, settled) < 0)
		k->errors[R_BUFFER]++;
}

static void on_done(void *arg, const struct push_result *res)
{
	struct batch *bt = arg;
	struct sink *k = bt->k;
	struct sinks *s = k->set;
	const char *reason = push_result_reason(res);
	size_t b = 0;

	pthread_mutex_lock(&s->lock);
	bt->busy = false;
	k->n_busy--;
	while (b < N_SEND_BOUNDS && res->seconds > send_bounds[b])
		b++;
	k->send_counts[b]++;
	k->send_sum += res->seconds;
	if (!reason) {
		k->sent += bt->n;
		k->failures = 0;
	} else {
		enum reason r = R_IO;

		for (int i = 0; i < R_MAX; i++)
			if (strcmp(reason_names[i], reason) == 0)
				r = (enum reason)i;
		if (res->error == -ECANCELED)
			r = R_TIMEOUT; /* stopped while in flight: the drain deadline passed */
		k->errors[r]++;
		if (r == R_HTTP_4XX) {
			k->rejected += bt->n;
		} else {
			uint64_t wait;

			k->failures++;
			wait = backoff_ns(k, r == R_REFUSED ? BACKOFF_REFUSED_MAX_MS : BACKOFF_MAX_MS);
			if (res->retry_after_s && (uint64_t)res->retry_after_s * 1000000000u > wait)
				wait = (uint64_t)res->retry_after_s * 1000000000u;
			k->next_try_ns = now_ns() + wait;
			goto out; /* keep the batch */
		}
	}
	batch_release(bt);
	disk_ack(k);
out:
	if (k->retired && !k->n_busy) {
		/* Its configuration is gone: unlink from the retired list. */
		for (struct sink **pp = &s->retired; *pp; pp = &(*pp)->next) {
			if (*pp == k) {
				*pp = k->next;
				break;
			}
		}
		sink_free(k);
	}
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
}

static void submit(struct sinks *s, struct sink *k, struct batch *b, uint64_t now)
{
	const struct sink_options *o = k->o;
	struct push_request rq = {
		.method = o->type == SINK_PUSHGATEWAY ? "PUT" : "POST",
		.url = k->push_url ? k->push_url : o->url,
		.headers = (const char *const *)o->headers,
		.bearer_token = k->token,
		.basic_auth = o->basic_auth,
		.tls = { o->tls_ca_file, o->tls_cert_file, o->tls_key_file, o->tls_insecure_skip_verify },
		.timeout_ms = o->timeout_ms,
		.done = on_done,
		.arg = b,
	};
	const char *const pg_headers[] = { "Content-Type: text/plain; version=0.0.4", NULL };
	const char *const wh_headers[] = { "Content-Type: application/json", NULL };
	const char *const in_headers[] = { "Content-Type: text/plain; charset=utf-8", NULL };
	const char *const *fixed = o->type == SINK_REMOTE_WRITE ? remote_write_headers :
				   o->type == SINK_PUSHGATEWAY	 ? pg_headers :
				   o->type == SINK_WEBHOOK	 ? wh_headers : in_headers;
	const char *all[40];
	size_t n = 0;

	for (const char *const *h = fixed; *h && n < 8; h++)
		all[n++] = *h;
	for (char **h = o->headers; h && *h && n < 39; h++)
		all[n++] = *h;
	all[n] = NULL;
	rq.headers = all;
	rq.body = malloc(b->len ? b->len : 1);
	if (!rq.body) {
		k->errors[R_ENCODE]++;
		return;
	}
	memcpy(rq.body, b->body, b->len);
	rq.body_len = b->len;
	b->busy = true;
	k->n_busy++;
	k->last_send_ns = now;
	if (push_submit(s->push, &rq) < 0) {
		b->busy = false;
		k->n_busy--;
		k->errors[R_IO]++;
		k->failures++;
		k->next_try_ns = now + backoff_ns(k, BACKOFF_MAX_MS);
	}
}

/* The oldest batch waiting for its retry, or NULL. */
static struct batch *oldest_waiting(struct sink *k)
{
	struct batch *o = NULL;

	for (unsigned i = 0; i < SINK_CONCURRENCY_MAX; i++)
		if (k->out[i].used && !k->out[i].busy && (!o || k->out[i].seq < o->seq))
			o = &k->out[i];
	return o;
}

static struct batch *free_slot(struct sink *k)
{
	for (unsigned i = 0; i < SINK_CONCURRENCY_MAX; i++)
		if (!k->out[i].used)
			return &k->out[i];
	return NULL;
}

/* One sink's turn; lowers *next to when it wants the next one. */
static void run_sink(struct sinks *s, struct sink *k, uint64_t now, uint64_t *next)
{
	bool queued_type = sink_type_queued(k->o->type);
	/* A failing receiver gets one request at a time: the retry. */
	unsigned limit = k->failures ? 1 : concurrency(k);
	struct batch *b;

	if (!queued_type && k->latest && k->n_out && !k->out[0].busy) {
		/* A failed push waits for its retry, a newer snapshot came. */
		batch_release(&k->out[0]);
		k->superseded++;
	}
	/* Retries first, oldest first; nothing new while one waits. */
	while ((b = oldest_waiting(k)) && k->n_busy < limit) {
		if (!(now >= k->next_try_ns || (s->flushing && !k->failures))) {
			if (k->next_try_ns < *next)
				*next = k->next_try_ns;
			return;
		}
		submit(s, k, b, now);
		if (!b->busy)
			return; /* not handed over: its retry is scheduled */
		limit = k->failures ? 1 : concurrency(k);
	}
	if (oldest_waiting(k))
		return;
	while (k->n_busy < limit && (b = free_slot(k))) {
		uint64_t due = k->last_send_ns ? k->last_send_ns + (uint64_t)k->o->interval_ms * 1000000u : 0;
		bool has = queued_type ? k->len > 0 : k->latest != NULL;
		bool full = queued_type && k->len >= batch_max(k);

		if (!has)
			return;
		if (!(now >= due || full || s->flushing)) {
			if (due < *next)
				*next = due;
			return;
		}
		build_batch(s, k, b);
		if (!b->used)
			return; /* order, encoding, or nothing with a form: the next turn */
		if (now < k->next_try_ns && !(s->flushing && !k->failures)) {
			if (k->next_try_ns < *next)
				*next = k->next_try_ns;
			return;
		}
		submit(s, k, b, now);
		if (!b->busy)
			return;
	}
}

/* The push thread's turn: take new snapshots, start the sends that are due. */
static uint64_t run(void *arg, uint64_t now)
{
	struct sinks *s = arg;
	uint64_t next = UINT64_MAX;

	pthread_mutex_lock(&s->lock);
	take_inbox(s);
	for (struct sink *k = s->list; k; k = k->next)
		run_sink(s, k, now, &next);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	return next;
}

/* ---- the set ------------------------------------------------------------------- */

static void sink_free(struct sink *k)
{
	if (!k)
		return;
	if (k->ring)
		ring_pop(k, k->len);
	if (k->disk) {
		disk_ack(k);
		diskbuf_free(k->disk);
	}
	for (unsigned i = 0; i < SINK_CONCURRENCY_MAX; i++)
		if (k->out[i].used)
			batch_release(&k->out[i]);
	free(k->ring);
	snapshot_unref(k->latest);
	free(k->token);
	free(k->push_url);
	free(k);
}

static int read_token(const char *path, char **ret)
{
	char buf[TOKEN_MAX_BYTES + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -errno;
	if (n > TOKEN_MAX_BYTES)
		return -EFBIG;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

struct replay {
	struct sinks *set;
	struct sink *k;
};

static int replay_sample(void *arg, const char *name, const struct snapshot_label *labels, size_t n,
			 double value, int64_t ts)
{
	struct replay *rp = arg;
	struct series *se = series_intern(rp->set->series, name, labels, n);

	if (!se)
		return -ENOMEM;
	ring_push(rp->k, se, value, ts);
	rp->k->buffer_replayed++;
	return 0;
}

/* Opens k's disk buffer and queues what it holds beyond its last ack. */
static int open_disk(struct sinks *s, struct sink *k, char *err, size_t errlen)
{
	char path[4096];
	struct replay rp = { s, k };
	struct diskbuf_info info = { 0 };
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/sink-%s.buf", s->state_dir, k->o->name) >= sizeof(path))
		return -ENAMETOOLONG;
	r = diskbuf_open(path, k->o->buffer_max_bytes, replay_sample, &rp, &k->disk, &info);
	if (r < 0) {
		snprintf(err, errlen, "sink %s: disk buffer %s: %s", k->o->name, path, strerror(-r));
		return r;
	}
	k->disk_appended = info.samples;
	k->buffer_torn_bytes += info.torn_bytes;
	series_sweep(s->series);
	return 0;
}

/* What a sink takes from its options, new or kept across a reload: the
 * token file's contents, the instance, the Pushgateway URL. */
struct derived {
	char *token, *push_url;
	char instance[sizeof(((struct sink *)0)->instance)];
};

static int derive(const struct sink_options *o, struct derived *d, char *err, size_t errlen)
{
	int r;

	*d = (struct derived){ 0 };
	if (o->bearer_token_file) {
		r = read_token(o->bearer_token_file, &d->token);
		if (r < 0) {
			snprintf(err, errlen, "sink %s: bearer_token_file %s: %s", o->name, o->bearer_token_file,
				 strerror(-r));
			return r;
		}
	}
	snprintf(d->instance, sizeof(d->instance), "%s", o->instance ? o->instance : "localhost");
	if (!o->instance)
		gethostname(d->instance, sizeof(d->instance) - 1);
	if (o->type == SINK_PUSHGATEWAY) {
		size_t ul = strlen(o->url);

		while (ul > 0 && o->url[ul - 1] == '/')
			ul--;
		if (asprintf(&d->push_url, "%.*s/metrics/job/%s/instance/%s", (int)ul, o->url,
			     o->job ? o->job : "memagent", d->instance) < 0) {
			free(d->token);
			snprintf(err, errlen, "sink %s: out of memory", o->name);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Moves d into k, freeing what k had. */
static void take_derived(struct sink *k, struct derived *d)
{
	free(k->token);
	free(k->push_url);
	k->token = d->token;
	k->push_url = d->push_url;
	memcpy(k->instance, d->instance, sizeof(k->instance));
	*d = (struct derived){ 0 };
}

static int sink_make(struct sinks *s, const struct sink_options *o, struct derived *d, struct sink **ret)
{
	struct sink *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->set = s;
	k->o = o;
	k->rng = (uint64_t)now_ns() ^ (uintptr_t)k ^ 0x9e3779b97f4a7c15ull;
	take_derived(k, d);
	*ret = k;
	return 0;
}

/* A reload's sinks, made and checked but not yet running. kept[i] is a
 * running sink o[i] takes over; it stays in the running list until the
 * commit, the only place that changes that list. */
struct sinks_change {
	const struct sink_options *o;
	size_t n;
	struct sink *made[SINK_MAX], *kept[SINK_MAX];
	struct derived d[SINK_MAX];
};

/* Under s->lock: a made sink's queue holds series of the shared table. */
static void change_drop(struct sinks_change *c)
{
	for (size_t i = 0; i < c->n; i++) {
		sink_free(c->made[i]);
		free(c->d[i].token);    /* what no sink took */
		free(c->d[i].push_url);
	}
	free(c);
}

void sinks_change_free(struct sinks *s, struct sinks_change *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&s->lock);
	change_drop(c);
	pthread_mutex_unlock(&s->lock);
}

int sinks_prepare(struct sinks *s, const struct sink_options *o, size_t n, struct sinks_change **ret, char *err,
		  size_t errlen)
{
	struct sinks_change *c;
	int r = 0;

	*ret = NULL;
	if (n > SINK_MAX)
		return -E2BIG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = o;
	c->n = n;
	snprintf(err, errlen, "%s", "");
	/* Token files and the host name, outside the lock the push thread
	 * takes: a kept sink (same name, type and buffer) rereads its token
	 * file too. */
	for (size_t i = 0; i < n && r == 0; i++)
		r = derive(&o[i], &c->d[i], err, errlen);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct sink *k;

		for (k = s->list; k; k = k->next)
			if (strcmp(k->o->name, o[i].name) == 0 && k->o->type == o[i].type)
				break;
		if (k && (!k->disk) == (o[i].buffer != SINK_BUFFER_DISK)) {
			c->kept[i] = k;
			continue;
		}
		r = sink_make(s, &o[i], &c->d[i], &c->made[i]);
		if (r == 0 && o[i].buffer == SINK_BUFFER_DISK && sink_type_queued(o[i].type))
			r = open_disk(s, c->made[i], err, errlen);
	}
	if (r < 0)
		change_drop(c);
	else
		*ret = c;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void sinks_commit(struct sinks *s, struct sinks_change *c)
{
	struct sink *old, *list = NULL, **tail = &list;

	pthread_mutex_lock(&s->lock);
	old = s->list;
	for (size_t i = 0; i < c->n; i++) {
		struct sink *k = c->made[i];

		if (!k) {
			struct sink **pp;

			k = c->kept[i];
			for (pp = &old; *pp != k; pp = &(*pp)->next)
				;
			*pp = k->next;
			k->o = &c->o[i];
			take_derived(k, &c->d[i]);
		}
		c->made[i] = NULL;
		k->next = NULL;
		*tail = k;
		tail = &k->next;
	}
	/* Sinks gone from the configuration: their queues go (counted as
	 * dropped, nothing else would ever send them); one still sending is
	 * freed when its request ends. */
	while (old) {
		struct sink *k = old;

		old = k->next;
		k->dropped += queued(k);
		if (k->n_busy) {
			k->retired = true;
			k->o = NULL;
			k->next = s->retired;
			s->retired = k;
		} else {
			sink_free(k);
		}
	}
	s->list = list;
	change_drop(c);         /* nothing left in it: every sink was taken */
	series_sweep(s->series);
	pthread_mutex_unlock(&s->lock);
	push_wake(s->push);
}

int sinks_configure(struct sinks *s, const struct sink_options *o, size_t n, char *err, size_t errlen)
{
	struct sinks_change *c;
	int r = sinks_prepare(s, o, n, &c, err, errlen);

	if (r == 0)
		sinks_commit(s, c);
	return r;
}

int sinks_new(struct push *p, const char *state_dir, struct sinks **ret)
{
	struct sinks *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->push = p;
	s->state_dir = strdup(state_dir ? state_dir : "/var/lib/memagent");
	s->series = series_table_new();
	if (!s->state_dir || !s->series) {
		series_table_free(s->series);
		free(s->state_dir);
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	if (push_client_add(p, run, s) < 0) {
		sinks_free(s);
		return -ENOSPC;
	}
	*ret = s;
	return 0;
}

static bool settled(const struct sinks *s)
{
	if (s->n_inbox)
		return false;
	for (const struct sink *k = s->list; k; k = k->next)
		if (k->n_busy || k->n_out || k->len || k->latest)
			return false;
	return true;
}

uint64_t sinks_flush(struct sinks *s, unsigned deadline_ms)
{
	struct timespec until;
	uint64_t left = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += deadline_ms / 1000;
	until.tv_nsec += (long)(deadline_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->lock);
	s->flushing = true;
	pthread_mutex_unlock(&s->lock);
	push_wake(s->push);
	pthread_mutex_lock(&s->lock);
	while (!settled(s) && pthread_cond_timedwait(&s->changed, &s->lock, &until) == 0)
		;
	for (const struct sink *k = s->list; k; k = k->next)
		if (!k->disk)
			left += queued(k);
	pthread_mutex_unlock(&s->lock);
	return left;
}

struct sinks *sinks_free(struct sinks *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_inbox; i++)
		snapshot_unref(s->inbox[i]);
	while (s->list) {
		struct sink *k = s->list;

		s->list = k->next;
		sink_free(k);
	}
	while (s->retired) {
		struct sink *k = s->retired;

		s->retired = k->next;
		sink_free(k);
	}
	series_table_free(s->series);
	free(s->scratch);
	free(s->state_dir);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->changed);
	free(s);
	return NULL;
}

int sinks_add_metrics(struct sinks *s, struct snapshot *snap)
{
	int r = 0;

	pthread_mutex_lock(&s->lock);
	for (const struct sink *k = s->list; k; k = k->next) {
		const char *const l[] = { "sink", k->o->name, NULL };
		double q = sink_type_queued(k->o->type) ? (double)queued(k) : (k->latest || k->n_out) ? 1 : 0;
		uint64_t counts[N_SEND_BOUNDS + 1];

		r |= snapshot_add(snap, &m_queue, q, l);
		r |= snapshot_add(snap, &m_sent, (double)k->sent, l);
		r |= snapshot_add(snap, &m_dropped, (double)k->dropped, l);
		r |= snapshot_add(snap, &m_rejected, (double)k->rejected, l);
		if (!sink_type_queued(k->o->type))
			r |= snapshot_add(snap, &m_superseded, (double)k->superseded, l);
		for (int i = 0; i < R_MAX; i++) {
			const char *const el[] = { "sink", k->o->name, "reason", reason_names[i], NULL };

			r |= snapshot_add(snap, &m_errors, (double)k->errors[i], el);
		}
		memcpy(counts, k->send_counts, sizeof(counts));
		r |= snapshot_histogram(snap, &m_send, l, send_bounds, counts, N_SEND_BOUNDS, k->send_sum);
		if (k->disk) {
			r |= snapshot_add(snap, &m_torn, (double)k->buffer_torn_bytes, l);
			r |= snapshot_add(snap, &m_replayed, (double)k->buffer_replayed, l);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? -ENOMEM : 0;
}
