/* SPDX-License-Identifier: MIT */
/* The push thread: one thread and one libcurl multi handle for every HTTP
 * request the agent sends out (sinks, alert delivery).
 *
 * Users are "clients": a client registers a run callback, which the push
 * thread calls on every turn of its loop (after any wake-up, a finished
 * request, or the deadline the client asked for); from there, or from any
 * other thread, it hands requests to push_submit(). When a request ends
 * (answer, error, timeout, or stop), its done callback runs on the push
 * thread. A client's state touched only from its run and done callbacks
 * therefore needs no lock: they all run on the one push thread.
 *
 * Nothing here blocks the caller: push_submit() queues under a mutex and
 * wakes the thread (curl_multi_wakeup).
 */
#ifndef MEMAGENT_PUSH_H
#define MEMAGENT_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct push;

/* How a request ended. error is 0 when an HTTP answer came (status is its
 * code, whatever it is), else a negative errno: -ETIMEDOUT (timeout_ms
 * passed), -ECONNREFUSED, -EHOSTUNREACH (resolve or connect failed
 * otherwise), -EPROTO (TLS: handshake or peer verification), -ECANCELED
 * (the push thread stopped first), -EIO (anything else). */
struct push_result {
	int error;
	long status;
	unsigned retry_after_s; /* Retry-After in seconds (delta form), 0 when absent */
	double seconds;         /* from the start of the transfer to its end */
	const char *body;       /* the first PUSH_BODY_KEEP bytes of the answer, NUL-terminated */
	size_t body_len;
};
#define PUSH_BODY_KEEP 512

/* Short reason for metrics labels: "timeout", "refused", "connect", "tls",
 * "canceled", "io", or for answers "http_4xx", "http_429", "http_5xx", and
 * NULL for a 2xx answer. */
const char *push_result_reason(const struct push_result *r);

typedef void (*push_done_fn)(void *arg, const struct push_result *r);

struct push_tls {
	const char *ca_file;   /* NULL: the system's CAs */
	const char *cert_file; /* client certificate, NULL: none */
	const char *key_file;
	bool insecure_skip_verify; /* verification is on unless this is set */
};

/* One request. Every string is copied by push_submit(); body is taken over
 * (free()d by the push thread, also on failure). */
struct push_request {
	const char *method;         /* "POST", "PUT", ... */
	const char *url;
	const char *const *headers; /* "Name: value" strings, NULL-terminated, or NULL */
	const char *bearer_token;   /* sent as "Authorization: Bearer ..." when set */
	const char *basic_auth;     /* "user:password" when set */
	struct push_tls tls;
	unsigned timeout_ms;        /* whole transfer, connect included; 0: 10 s */
	void *body;
	size_t body_len;
	push_done_fn done;          /* may be NULL */
	void *arg;
};

/* Returns the next CLOCK_MONOTONIC deadline (ns) at which the client wants
 * to run again, or UINT64_MAX when only a wake-up or a finished request
 * should run it. Called on the push thread. */
typedef uint64_t (*push_run_fn)(void *arg, uint64_t now_ns);

/* Starts the thread. Returns 0 and *ret, -ENOMEM, or the negative errno of
 * pthread_create / curl initialisation. Call curl_global_init() (or let this
 * do it, the first time) before other threads start: libcurl's global init
 * is not thread-safe. */
int push_new(struct push **ret);

/* Queues rq. Thread-safe; never blocks on the network. Returns 0 (done will
 * be called exactly once), -ENOMEM or -ESHUTDOWN (the thread is stopping);
 * on failure done is not called and the body is freed. */
int push_submit(struct push *p, const struct push_request *rq);

/* Registers a client: run(arg, now) is called on the push thread from the
 * next turn on. At most PUSH_CLIENTS_MAX clients. Returns 0, -ENOSPC. */
#define PUSH_CLIENTS_MAX 8
int push_client_add(struct push *p, push_run_fn run, void *arg);
/* Unregisters it; when this returns, run is not running and will not be
 * called again (requests already submitted still end with done). */
void push_client_remove(struct push *p, push_run_fn run, void *arg);

/* Makes the push thread turn its loop (and run every client) soon.
 * Thread-safe, async-signal-unsafe. */
void push_wake(struct push *p);

/* Requests queued or in flight. Thread-safe. */
unsigned push_in_flight(struct push *p);

/* Stops the thread: requests still in flight get until drain_ms to finish,
 * then are cancelled (done with -ECANCELED). NULL-safe; returns NULL. */
struct push *push_free(struct push *p, unsigned drain_ms);

#endif
