/* SPDX-License-Identifier: MIT */
/* Push sinks: remote_write, influx (queued, nothing lost while the bound
 * holds), pushgateway, webhook (latest value), all on the push thread.
 *
 * The sampler's thread offers each published snapshot (sinks_offer: a
 * reference into a small inbox, then a wake-up); everything else happens on
 * the push thread, under the set's lock: queued sinks intern the snapshot's
 * series once (series.h) and append 24-byte samples to each queue;
 * latest-value sinks keep a reference to the newest snapshot. A queued sink
 * has up to `concurrency` requests in flight, batches cut from its queue in
 * order, the oldest first, a batch holding no series an earlier batch still
 * out holds (so each series arrives in order); a latest-value sink one. A
 * failure keeps the batch and retries it after an exponential backoff with
 * jitter (429: at least Retry-After), one request at a time until one
 * succeeds; a 4xx other than 429 is not retried: its samples are counted as
 * rejected. Only when a queue is full are its oldest samples dropped, each
 * one counted.
 */
#ifndef MEMAGENT_SINKS_H
#define MEMAGENT_SINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "push.h"
#include "snapshot.h"

enum sink_type {
	SINK_REMOTE_WRITE,
	SINK_INFLUX,
	SINK_PUSHGATEWAY,
	SINK_WEBHOOK,
};

enum sink_buffer {
	SINK_BUFFER_MEMORY,
	SINK_BUFFER_DISK,
};

#define SINK_INTERVAL_DEFAULT_MS 1000
#define SINK_TIMEOUT_DEFAULT_MS 10000
#define SINK_QUEUE_DEFAULT_SAMPLES 1000000
#define SINK_BATCH_DEFAULT_SAMPLES 20000
/* Two requests in flight: the receiver ingests one batch while the next is
 * encoded and sent (bench-push's drain into VictoriaMetrics, bench/RESULTS.md). */
#define SINK_CONCURRENCY_DEFAULT 2
#define SINK_CONCURRENCY_MAX 8
#define SINK_BUFFER_DEFAULT_BYTES (256ull << 20)
#define SINK_NAME_MAX 64
#define SINK_MAX 16

/* One sink's configuration, filled by the agent's config loader. Strings
 * are owned by whoever fills it (config_free). */
struct sink_options {
	char *name;
	enum sink_type type;
	char *url;
	unsigned interval_ms;       /* least time between two sends (1000) */
	unsigned timeout_ms;        /* one request, connect included (10000) */
	unsigned queue_max_samples; /* queued sinks: the bound (1000000) */
	unsigned batch_max_samples; /* queued sinks: samples per request (20000) */
	unsigned concurrency;       /* queued sinks: requests in flight at most (2) */
	char **headers;             /* "Name: value", NULL-terminated, or NULL */
	char *bearer_token_file;
	char *basic_auth;           /* "user:password" or NULL */
	char *tls_ca_file, *tls_cert_file, *tls_key_file;
	bool tls_insecure_skip_verify;
	enum sink_buffer buffer;
	uint64_t buffer_max_bytes;  /* disk buffer bound (256 MiB) */
	char *job;                  /* pushgateway job ("memagent") */
	char *instance;             /* pushgateway instance (the host name) */
};

/* Inline: the config loader (and its fuzz target) use them without linking the sinks. */
static inline const char *sink_type_name(enum sink_type t)
{
	static const char *const names[] = { "remote_write", "influx", "pushgateway", "webhook" };

	return names[t];
}

static inline bool sink_type_queued(enum sink_type t)
{
	return t == SINK_REMOTE_WRITE || t == SINK_INFLUX;
}

struct sinks;

/* An empty set on p (which must outlive it); state_dir holds disk buffers.
 * Returns 0 and *ret, or -ENOMEM. */
int sinks_new(struct push *p, const char *state_dir, struct sinks **ret);

/* Makes o[0..n) the set's sinks. A sink whose name and type stay keeps its
 * queue (and its counters); others start empty; removed sinks' queues are
 * dropped (counted). o must stay valid until the next call or sinks_free().
 * Bearer token files are read here: on failure nothing changes and err
 * says which sink and why. Returns 0 or a negative errno. */
int sinks_configure(struct sinks *s, const struct sink_options *o, size_t n, char *err, size_t errlen);

/* sinks_configure in two halves, for a reload that has other steps which
 * may fail: sinks_prepare does everything that can fail (token files, new
 * sinks, their disk buffers) and changes nothing running; sinks_commit
 * then cannot fail, sinks_change_free drops the change instead. No other
 * sinks_prepare or sinks_configure may come between, and o must stay valid
 * as for sinks_configure. */
struct sinks_change;
int sinks_prepare(struct sinks *s, const struct sink_options *o, size_t n, struct sinks_change **ret, char *err,
		  size_t errlen);
/* Frees c. */
void sinks_commit(struct sinks *s, struct sinks_change *c);
/* NULL is fine. */
void sinks_change_free(struct sinks *s, struct sinks_change *c);

/* Hands the push thread a sealed snapshot (a reference is taken). Never
 * blocks on the network. */
void sinks_offer(struct sinks *s, struct snapshot *snap);

/* Adds the sinks' own metrics (queues, sent, dropped, errors, send
 * durations) to snap. Returns 0 or -ENOMEM. */
int sinks_add_metrics(struct sinks *s, struct snapshot *snap);

/* Sends what the queues hold, without waiting for intervals, until they are
 * empty or deadline_ms passed; disk-buffered sinks then keep the rest on
 * disk. Returns the number of samples neither sent nor kept on disk. */
uint64_t sinks_flush(struct sinks *s, unsigned deadline_ms);

/* Frees the set. Call sinks_flush() first to send what is left, then
 * push_free() of its push thread (every request has ended then: their
 * callbacks use the set), then this. NULL-safe; returns NULL. */
struct sinks *sinks_free(struct sinks *s);

extern const struct metric_desc *const sinks_metrics[];

#endif
