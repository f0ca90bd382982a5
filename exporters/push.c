/* SPDX-License-Identifier: MIT */
/* The push thread: one libcurl multi handle, its clients, their requests.
 *
 * Invariant: an easy handle belongs to exactly one list at a time, the
 * submitted list (under the mutex) or the multi handle (push thread only),
 * and its request's done callback runs exactly once, on the push thread,
 * when it leaves the multi handle (or when the thread stops with it still
 * submitted).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "push.h"

struct req {
	struct req *next;
	CURL *easy;
	struct curl_slist *headers;
	void *body;
	push_done_fn done;
	void *arg;
	char answer[PUSH_BODY_KEEP + 1];
	size_t answer_len;
	char errbuf[CURL_ERROR_SIZE];
};

struct client {
	push_run_fn run;
	void *arg;
};

struct push {
	pthread_t thread;
	CURLM *multi;
	pthread_mutex_t lock;
	pthread_cond_t cond;        /* a client's run returned */
	struct req *submitted;      /* newest first; reversed when taken */
	struct req *active;         /* in the multi handle; push thread only */
	struct client clients[PUSH_CLIENTS_MAX];
	const struct client *in_run; /* the client being run, or NULL */
	bool stopping;
	uint64_t drain_until_ns;
	atomic_uint in_flight;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *push_result_reason(const struct push_result *r)
{
	switch (r->error) {
	case 0:
		break;
	case -ETIMEDOUT:
		return "timeout";
	case -ECONNREFUSED:
		return "refused";
	case -EHOSTUNREACH:
		return "connect";
	case -EPROTO:
		return "tls";
	case -ECANCELED:
		return "canceled";
	default:
		return "io";
	}
	if (r->status >= 200 && r->status < 300)
		return NULL;
	if (r->status == 429)
		return "http_429";
	if (r->status >= 400 && r->status < 500)
		return "http_4xx";
	if (r->status >= 500 && r->status < 600)
		return "http_5xx";
	return "http_other";
}

/* Keeps the first PUSH_BODY_KEEP bytes of an answer (error texts), drops the rest. */
static size_t on_answer(char *data, size_t size, size_t n, void *arg)
{
	struct req *q = arg;
	size_t len = size * n, room = PUSH_BODY_KEEP - q->answer_len;

	if (room > len)
		room = len;
	memcpy(q->answer + q->answer_len, data, room);
	q->answer_len += room;
	q->answer[q->answer_len] = '\0';
	return len;
}

static struct req *req_free(struct req *q)
{
	if (q) {
		curl_easy_cleanup(q->easy);
		curl_slist_free_all(q->headers);
		free(q->body);
		free(q);
	}
	return NULL;
}

static int map_error(CURLcode rc, CURL *e)
{
	long os = 0;

	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os);
		return os == ECONNREFUSED ? -ECONNREFUSED : -EHOSTUNREACH;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* Calls q's done with how it ended, then frees it. */
static void finish(struct push *p, struct req *q, int error)
{
	struct push_result r = { .error = error, .body = q->answer, .body_len = q->answer_len };
	curl_off_t retry = 0;
	double total = 0;

	if (error == 0) {
		curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &r.status);
		if (curl_easy_getinfo(q->easy, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK && retry > 0)
			r.retry_after_s = retry > 86400 ? 86400 : (unsigned)retry;
	}
	curl_easy_getinfo(q->easy, CURLINFO_TOTAL_TIME, &total);
	r.seconds = total;
	/* Before done: a client that sees its request end sees it counted out. */
	atomic_fetch_sub(&p->in_flight, 1);
	if (q->done)
		q->done(q->arg, &r);
	req_free(q);
}

#define SET(opt, val) (rc = rc ? rc : curl_easy_setopt(q->easy, opt, val))

/* Builds the easy handle for rq (curl copies every string option). */
static int req_build(struct req *q, const struct push_request *rq)
{
	CURLcode rc = CURLE_OK;

	q->easy = curl_easy_init();
	if (!q->easy)
		return -ENOMEM;
	for (const char *const *h = rq->headers; h && *h; h++) {
		struct curl_slist *l = curl_slist_append(q->headers, *h);

		if (!l)
			return -ENOMEM;
		q->headers = l;
	}
	if (rq->bearer_token) {
		/* As long as the token is (sinks' TOKEN_MAX_BYTES: service
		 * account tokens run past 1 KiB). */
		struct curl_slist *l;
		char *auth;

		if (asprintf(&auth, "Authorization: Bearer %s", rq->bearer_token) < 0)
			return -ENOMEM;
		l = curl_slist_append(q->headers, auth);
		free(auth);
		if (!l)
			return -ENOMEM;
		q->headers = l;
	}
	/* Large bodies would otherwise wait for "100 Continue" first. */
	struct curl_slist *l = curl_slist_append(q->headers, "Expect:");

	if (!l)
		return -ENOMEM;
	q->headers = l;
	SET(CURLOPT_URL, rq->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_HTTPHEADER, q->headers);
	SET(CURLOPT_POSTFIELDS, q->body ? q->body : "");
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	if (rq->method && strcmp(rq->method, "POST") != 0)
		SET(CURLOPT_CUSTOMREQUEST, rq->method);
	SET(CURLOPT_TIMEOUT_MS, (long)(rq->timeout_ms ? rq->timeout_ms : 10000));
	SET(CURLOPT_WRITEFUNCTION, on_answer);
	SET(CURLOPT_WRITEDATA, q);
	SET(CURLOPT_ERRORBUFFER, q->errbuf);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_USERAGENT, "memagent/" MEMAGENT_VERSION);
	if (rq->basic_auth) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERPWD, rq->basic_auth);
	}
	if (rq->tls.ca_file)
		SET(CURLOPT_CAINFO, rq->tls.ca_file);
	if (rq->tls.cert_file)
		SET(CURLOPT_SSLCERT, rq->tls.cert_file);
	if (rq->tls.key_file)
		SET(CURLOPT_SSLKEY, rq->tls.key_file);
	if (rq->tls.insecure_skip_verify) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	SET(CURLOPT_PRIVATE, q);
	return rc == CURLE_OK ? 0 : rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

int push_submit(struct push *p, const struct push_request *rq)
{
	struct req *q = calloc(1, sizeof(*q));
	int r;

	if (!q) {
		free(rq->body);
		return -ENOMEM;
	}
	q->body = rq->body;
	q->done = rq->done;
	q->arg = rq->arg;
	r = req_build(q, rq);
	if (r < 0) {
		req_free(q);
		return r;
	}
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		req_free(q);
		return -ESHUTDOWN;
	}
	q->next = p->submitted;
	p->submitted = q;
	atomic_fetch_add(&p->in_flight, 1);
	pthread_mutex_unlock(&p->lock);
	curl_multi_wakeup(p->multi);
	return 0;
}

unsigned push_in_flight(struct push *p)
{
	return atomic_load(&p->in_flight);
}

void push_wake(struct push *p)
{
	curl_multi_wakeup(p->multi);
}

int push_client_add(struct push *p, push_run_fn run, void *arg)
{
	int r = -ENOSPC;

	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < PUSH_CLIENTS_MAX; i++) {
		if (!p->clients[i].run) {
			p->clients[i] = (struct client){ run, arg };
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	push_wake(p);
	return r;
}

void push_client_remove(struct push *p, push_run_fn run, void *arg)
{
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < PUSH_CLIENTS_MAX; i++) {
		struct client *c = &p->clients[i];

		if (c->run == run && c->arg == arg) {
			while (p->in_run == c)
				pthread_cond_wait(&p->cond, &p->lock);
			*c = (struct client){ 0 };
		}
	}
	pthread_mutex_unlock(&p->lock);
}

/* Moves the submitted requests into the multi handle, oldest first. */
static void take_submitted(struct push *p)
{
	struct req *list, *rev = NULL;

	pthread_mutex_lock(&p->lock);
	list = p->submitted;
	p->submitted = NULL;
	pthread_mutex_unlock(&p->lock);
	while (list) {
		struct req *n = list->next;

		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct req *q = rev;

		rev = q->next;
		if (curl_multi_add_handle(p->multi, q->easy) != CURLM_OK) {
			finish(p, q, -ENOMEM);
			continue;
		}
		q->next = p->active;
		p->active = q;
	}
}

static void unlink_active(struct push *p, struct req *q)
{
	for (struct req **pp = &p->active; *pp; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			return;
		}
	}
}

static int reap(struct push *p)
{
	CURLMsg *m;
	int left, n = 0;

	while ((m = curl_multi_info_read(p->multi, &left))) {
		struct req *q = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		CURLcode rc = m->data.result;

		curl_multi_remove_handle(p->multi, q->easy);
		unlink_active(p, q);
		finish(p, q, map_error(rc, q->easy));
		n++;
	}
	return n;
}

/* Runs every client once; returns the earliest deadline they asked for. */
static uint64_t run_clients(struct push *p)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < PUSH_CLIENTS_MAX; i++) {
		struct client *c = &p->clients[i], copy;
		uint64_t d;

		pthread_mutex_lock(&p->lock);
		copy = *c;
		if (copy.run)
			p->in_run = c;
		pthread_mutex_unlock(&p->lock);
		if (!copy.run)
			continue;
		d = copy.run(copy.arg, now_ns());
		if (d < next)
			next = d;
		pthread_mutex_lock(&p->lock);
		p->in_run = NULL;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	return next;
}

static void cancel_all(struct push *p)
{
	while (p->active) {
		struct req *q = p->active;

		p->active = q->next;
		curl_multi_remove_handle(p->multi, q->easy);
		finish(p, q, -ECANCELED);
	}
}

static void *loop(void *arg)
{
	struct push *p = arg;

	for (;;) {
		bool stopping;
		uint64_t until, next, now;
		long curl_ms = -1;
		int running, timeout_ms;

		take_submitted(p);
		pthread_mutex_lock(&p->lock);
		stopping = p->stopping;
		until = p->drain_until_ns;
		pthread_mutex_unlock(&p->lock);
		if (stopping && (!p->active || now_ns() >= until)) {
			cancel_all(p);
			take_submitted(p); /* none can come any more: submit refuses */
			cancel_all(p);
			return NULL;
		}
		next = stopping ? until : run_clients(p);
		take_submitted(p);
		curl_multi_perform(p->multi, &running);
		/* A request ended: its client may have the next one ready. */
		if (reap(p) > 0)
			next = 0;
		curl_multi_timeout(p->multi, &curl_ms);
		now = now_ns();
		timeout_ms = 1000;
		if (next != UINT64_MAX)
			timeout_ms = next <= now ? 0 : (next - now) / 1000000 + 1 < 1000 ? (int)((next - now) / 1000000 + 1) : 1000;
		if (curl_ms >= 0 && curl_ms < timeout_ms)
			timeout_ms = (int)curl_ms;
		curl_multi_poll(p->multi, NULL, 0, timeout_ms, NULL);
	}
}

int push_new(struct push **ret)
{
	struct push *p;
	int r;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->multi = curl_multi_init();
	if (!p->multi) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	r = pthread_create(&p->thread, NULL, loop, p);
	if (r != 0) {
		curl_multi_cleanup(p->multi);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		free(p);
		return -r;
	}
	pthread_setname_np(p->thread, "memagent-push");
	*ret = p;
	return 0;
}

struct push *push_free(struct push *p, unsigned drain_ms)
{
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	p->drain_until_ns = now_ns() + (uint64_t)drain_ms * 1000000u;
	pthread_mutex_unlock(&p->lock);
	curl_multi_wakeup(p->multi);
	pthread_join(p->thread, NULL);
	curl_multi_cleanup(p->multi);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	return NULL;
}
