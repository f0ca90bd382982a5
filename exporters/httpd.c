/* SPDX-License-Identifier: MIT */
/* The HTTP endpoint: /metrics, /healthz, served from the latest snapshot.
 *
 * A scrape never reads /proc and never waits for the sampler: it takes a
 * reference to the latest published snapshot, reuses that snapshot's rendered
 * text (rendered once per format), and appends a small tail with the values
 * that change per scrape. The response points into the snapshot (an iovec, no
 * copy) and drops its reference when libmicrohttpd is done sending.
 *
 * Each connection carries a session (libmicrohttpd's socket context): its
 * entry in the connection table (conntab: per-address limit, header
 * deadline) and, with TLS, a reference to the web whose certificate its
 * handshake uses. Basic auth is checked against the web in force.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conntab.h"
#include "httpd.h"
#include "promtext.h"
#include "strbuf.h"

/* Requests larger than this (headers included) get 431 from libmicrohttpd. */
#define HTTPD_REQUEST_MAX (16 * 1024)

static const struct metric_desc m_scrapes = {
	"memagent_scrapes_total", METRIC_COUNTER, NULL,
	"Scrapes of /metrics served, this one included, by exposition format.",
};
static const struct metric_desc m_age = {
	"memagent_snapshot_age_seconds", METRIC_GAUGE, "seconds",
	"Time since the served snapshot was completed.",
};
static const struct metric_desc m_conns = {
	"memagent_http_connections", METRIC_GAUGE, NULL,
	"HTTP connections open now.",
};
static const struct metric_desc m_closed = {
	"memagent_http_connections_closed_total", METRIC_COUNTER, NULL,
	"HTTP connections refused at accept or closed before their request headers were complete, "
	"by reason.",
};
static const struct metric_desc m_bcrypt = {
	"memagent_http_auth_bcrypt_checks_total", METRIC_COUNTER, NULL,
	"bcrypt checks of basic-auth credentials not found in the cache, by result.",
};
static const struct metric_desc m_auth_fail = {
	"memagent_http_auth_failures_total", METRIC_COUNTER, NULL,
	"Requests refused by basic auth, by reason.",
};
const struct metric_desc *const httpd_metrics[] = { &m_scrapes, &m_age, &m_conns, &m_closed,
						     &m_bcrypt, &m_auth_fail, NULL };

struct httpd {
	struct MHD_Daemon *daemon;
	struct registry *reg;
	struct conntab *conns;
	pthread_mutex_t lock; /* guards web */
	struct web *web;
	atomic_uint_fast64_t scrapes[2]; /* by enum promtext_format */
	atomic_uint_fast64_t bcrypt[2];  /* matched, not */
	atomic_uint_fast64_t auth_failed[WEB_AUTH_MAX];
	char address[64];
};

/* A connection's state: libmicrohttpd's socket context. */
struct session {
	struct conntab_conn *entry;
	struct web *web; /* the one its TLS handshake uses */
};

struct scrape {
	struct snapshot *snap;
	char *tail;
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void scrape_free(void *cls)
{
	struct scrape *sc = cls;

	snapshot_unref(sc->snap);
	free(sc->tail);
	free(sc);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	/* 401 goes with its WWW-Authenticate challenge. */
	ret = status == MHD_HTTP_UNAUTHORIZED ? MHD_queue_basic_auth_fail_response(c, "memagent", r)
					      : MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The connection and auth counters change between samples: they go into
 * the per-scrape tail, beside scrapes_total. */
static void render_http_metrics(struct httpd *h, enum promtext_format f, struct strbuf *b)
{
	static const char *const bcrypt_results[2] = { "match", "mismatch" };
	static const char *const failure_reasons[WEB_AUTH_MAX] = {
		[WEB_AUTH_MISSING] = "missing", [WEB_AUTH_DENIED] = "denied",
		[WEB_AUTH_RATE_LIMITED] = "rate_limited",
	};
	struct snapshot_label l;

	promtext_family(b, f, &m_conns, NULL, 0, (double)conntab_live(h->conns));
	for (int r = 0; r < CONNTAB_REASON_MAX; r++) {
		l = (struct snapshot_label){ "reason", conntab_reason_name(r) };
		(r == 0 ? promtext_family : promtext_sample)(b, f, &m_closed, &l, 1,
							     (double)conntab_closed(h->conns, r));
	}
	for (int r = 0; r < 2; r++) {
		l = (struct snapshot_label){ "result", bcrypt_results[r] };
		(r == 0 ? promtext_family : promtext_sample)(b, f, &m_bcrypt, &l, 1,
							     (double)atomic_load(&h->bcrypt[r]));
	}
	for (int r = WEB_AUTH_MISSING; r < WEB_AUTH_MAX; r++) {
		l = (struct snapshot_label){ "reason", failure_reasons[r] };
		(r == WEB_AUTH_MISSING ? promtext_family : promtext_sample)(
			b, f, &m_auth_fail, &l, 1, (double)atomic_load(&h->auth_failed[r]));
	}
}

static enum MHD_Result serve_metrics(struct httpd *h, struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	enum promtext_format f = promtext_negotiate(accept);
	struct snapshot *s = registry_acquire(h->reg);
	struct MHD_Response *r;
	struct scrape *sc;
	const char *body;
	size_t body_len, tail_len;
	struct strbuf tail = {0};
	enum MHD_Result ret;

	if (!s)
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "no sample yet\n");
	if (promtext_memo(s, f, &body, &body_len) < 0) {
		snapshot_unref(s);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
	}

	static const struct snapshot_label fmt_label[2] = {
		[PROMTEXT_TEXT] = { "format", "text" },
		[PROMTEXT_OPENMETRICS] = { "format", "openmetrics" },
	};
	uint64_t n[2];
	double age = (double)(monotonic_ns() - snapshot_sealed_ns(s)) / 1e9;

	atomic_fetch_add(&h->scrapes[f], 1);
	n[0] = atomic_load(&h->scrapes[0]);
	n[1] = atomic_load(&h->scrapes[1]);
	promtext_family(&tail, f, &m_scrapes, &fmt_label[0], 1, (double)n[0]);
	/* The second sample of the same family: its header must not repeat. */
	promtext_sample(&tail, f, &m_scrapes, &fmt_label[1], 1, (double)n[1]);
	promtext_family(&tail, f, &m_age, NULL, 0, age);
	render_http_metrics(h, f, &tail);
	promtext_end(&tail, f);
	sc = malloc(sizeof(*sc));
	if (!sc || strbuf_failed(&tail)) {
		free(sc);
		strbuf_done(&tail);
		snapshot_unref(s);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
	}
	sc->snap = s;
	sc->tail = strbuf_take(&tail, &tail_len);

	const struct MHD_IoVec iov[2] = {
		{ body, body_len },
		{ sc->tail, tail_len },
	};

	r = MHD_create_response_from_iovec(iov, 2, scrape_free, sc);
	if (!r) {
		scrape_free(sc);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, promtext_content_type(f));
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_healthz(struct httpd *h, struct MHD_Connection *c)
{
	struct snapshot *s = registry_acquire(h->reg);
	char body[64];
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!s)
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "starting: no sample yet\n");
	snprintf(body, sizeof(body), "ok samples_total=%llu\n",
		 (unsigned long long)snapshot_sample_no(s));
	snapshot_unref(s);
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static const char index_page[] =
	"<html><head><title>memagent</title></head><body><h1>memagent</h1>"
	"<p><a href=\"/metrics\">/metrics</a> &mdash; <a href=\"/healthz\">/healthz</a></p>"
	"</body></html>\n";

static struct session *session_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

/* Basic auth against the web in force; MHD_YES with *ret_answered false
 * when the request may go on. */
static enum MHD_Result check_auth(struct httpd *h, struct MHD_Connection *c, bool *ret_answered)
{
	struct web *w;
	char *user, *password = NULL;
	enum web_auth a;
	int bcrypt;

	*ret_answered = false;
	pthread_mutex_lock(&h->lock);
	w = web_ref(h->web);
	pthread_mutex_unlock(&h->lock);
	if (!web_auth_required(w)) {
		web_unref(w);
		return MHD_YES;
	}
	user = MHD_basic_auth_get_username_password(c, &password);
	a = web_check_basic(w, user, password, &bcrypt);
	web_unref(w);
	if (password)
		memset(password, 0, strlen(password));
	MHD_free(user);
	MHD_free(password);
	if (bcrypt)
		atomic_fetch_add(&h->bcrypt[bcrypt > 0 ? 0 : 1], 1);
	if (a == WEB_AUTH_OK)
		return MHD_YES;
	atomic_fetch_add(&h->auth_failed[a], 1);
	*ret_answered = true;
	if (a == WEB_AUTH_RATE_LIMITED)
		return reply(c, MHD_HTTP_TOO_MANY_REQUESTS, "text/plain",
			     "too many authentication attempts\n");
	return reply(c, MHD_HTTP_UNAUTHORIZED, "text/plain", "unauthorized\n");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct httpd *h = cls;
	struct session *se;
	bool answered;

	static int headers_seen;

	(void)version;
	(void)upload_data;
	/* The first call comes with the headers complete: the deadline is met. */
	if (!*req_cls && (se = session_of(c)))
		conntab_headers_done(h->conns, se->entry);
	/* Other methods are refused at once, whatever body they send: a
	 * response queued before the body makes libmicrohttpd close the
	 * connection after it, which is what a refusal wants. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		*upload_data_size = 0;
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n");
	}
	/* GET and HEAD are answered on the call after the headers, once any
	 * body has been read and dropped: answering on the first call would
	 * count as an early response, and libmicrohttpd would close the
	 * connection Prometheus keeps open between scrapes. */
	if (!*req_cls) {
		*req_cls = &headers_seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (check_auth(h, c, &answered) == MHD_NO || answered)
		return answered ? MHD_YES : MHD_NO;
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(h, c);
	if (strcmp(url, "/healthz") == 0)
		return serve_healthz(h, c);
	if (strcmp(url, "/") == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", index_page);
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

/* ---- connections and TLS ---------------------------------------------------- */

/* libmicrohttpd's accept policy: the per-address limit. */
static enum MHD_Result admit(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct httpd *h = cls;

	return conntab_admit(h->conns, addr, len) ? MHD_YES : MHD_NO;
}

/* GnuTLS' verify hook for the session: the client certificate, checked
 * by the web its connection started with. Non-zero fails the handshake. */
static int verify_client(gnutls_session_t tls)
{
	struct MHD_Connection *c = gnutls_session_get_ptr(tls);
	struct session *se = c ? session_of(c) : NULL;

	return se && se->web && web_verify_peer(se->web, tls) == 0 ? 0 : -1;
}

/* libmicrohttpd's certificate callback: the chain of the connection's web,
 * so a reload serves the new certificate from the next handshake on. */
static int certificate(gnutls_session_t tls, const gnutls_datum_t *req_ca_dn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		       gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct MHD_Connection *c = gnutls_session_get_ptr(tls);
	struct session *se = c ? session_of(c) : NULL;

	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (!se || !se->web)
		return -1;
	web_certificate(se->web, pcert, pcert_length, pkey);
	return 0;
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	struct session *se = *socket_context;
	const union MHD_ConnectionInfo *fd_info, *addr_info, *tls_info;
	const struct sockaddr *sa;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (se) {
			conntab_close(h->conns, se->entry);
			web_unref(se->web);
			free(se);
		}
		*socket_context = NULL;
		return;
	}
	fd_info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	addr_info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	tls_info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	sa = addr_info ? addr_info->client_addr : NULL;
	se = calloc(1, sizeof(*se));
	if (se && fd_info)
		se->entry = conntab_open(h->conns, fd_info->connect_fd, sa,
					 sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
									 : sizeof(struct sockaddr_in));
	if (!se || !se->entry) {
		/* Untracked, it would escape the deadline: refuse it. */
		if (fd_info)
			shutdown(fd_info->connect_fd, SHUT_RDWR);
		free(se);
		return;
	}
	pthread_mutex_lock(&h->lock);
	se->web = web_ref(h->web);
	pthread_mutex_unlock(&h->lock);
	*socket_context = se;
	if (tls_info && web_tls(se->web)) {
		web_session_setup(se->web, tls_info->tls_session);
		gnutls_session_set_verify_function(tls_info->tls_session, verify_client);
	}
}

static void request_done(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = cls;
	struct session *se = session_of(c);

	(void)req_cls;
	(void)toe;
	if (se)
		conntab_request_done(h->conns, se->entry);
}

static void format_address(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in4->sin_port));
	}
}

int httpd_start(const struct httpd_options *o, struct registry *reg, struct httpd **ret,
		char *err, size_t errlen)
{
	struct sockaddr_storage ss = *o->addr;
	socklen_t sl = o->addr_len;
	char want[64];
	struct httpd *h;
	int fd, one = 1, r;
	bool tls;

	format_address(&ss, want, sizeof(want));
	if (web_tls(o->web) && (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
				MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES)) {
		snprintf(err, errlen, "%s: this libmicrohttpd has no TLS (or no certificate callback)",
			 want);
		return -EOPNOTSUPP;
	}
	/* Our own socket: bind errors get a clear message, port 0 a real port. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: socket: %s", want, strerror(errno));
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 512) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", want, strerror(errno));
		close(fd);
		return r;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);

	h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->reg = reg;
	format_address(&ss, h->address, sizeof(h->address));
	pthread_mutex_init(&h->lock, NULL);
	h->web = web_ref(o->web);
	tls = web_tls(h->web);
	r = conntab_new(&(struct conntab_options){ .connections = o->connections,
						   .per_address = o->per_address,
						   .header_timeout_s = o->header_timeout_s,
						   .idle_timeout_s = o->timeout_s },
			&h->conns);
	if (r < 0) {
		close(fd);
		web_unref(h->web);
		pthread_mutex_destroy(&h->lock);
		free(h);
		snprintf(err, errlen, "%s: %s", want, strerror(-r));
		return r;
	}
	/* Without TLS the options end before the TLS ones (libmicrohttpd
	 * refuses TLS options on a plain daemon). */
	h->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | (tls ? MHD_USE_TLS : 0), 0, admit,
		h, handle, h,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_REQUEST_MAX,
		MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h,
		MHD_OPTION_NOTIFY_COMPLETED, request_done, h,
		tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, certificate,
		MHD_OPTION_HTTPS_PRIORITIES, web_priorities(h->web),
		MHD_OPTION_END);
	if (!h->daemon) {
		/* MHD has closed fd already (libmicrohttpd 0.9.75, seen when
		 * its thread cannot start): closing it again could close a
		 * descriptor another thread just got. */
		conntab_free(h->conns);
		web_unref(h->web);
		pthread_mutex_destroy(&h->lock);
		free(h);
		snprintf(err, errlen, "%s: libmicrohttpd failed to start%s", want,
			 tls ? " (TLS)" : "");
		return -EIO;
	}
	*ret = h;
	return 0;
}

struct httpd *httpd_free(struct httpd *h)
{
	if (!h)
		return NULL;
	/* MHD closes the listen socket it was given when it stops, and
	 * every connection (each one's CLOSED leaves the table). */
	MHD_stop_daemon(h->daemon);
	conntab_free(h->conns);
	web_unref(h->web);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return NULL;
}

const char *httpd_address(const struct httpd *h)
{
	return h->address;
}

const char *httpd_scheme(const struct httpd *h)
{
	return web_tls(h->web) ? "https" : "http";
}

bool httpd_takes_web(const struct httpd *h, const struct web *w)
{
	return web_tls(w) == web_tls(h->web) && web_priorities(w) == web_priorities(h->web);
}

int httpd_set_web(struct httpd *h, struct web *w)
{
	struct web *old;

	if (!httpd_takes_web(h, w))
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	old = h->web;
	h->web = web_ref(w);
	pthread_mutex_unlock(&h->lock);
	web_unref(old);
	return 0;
}

struct web *httpd_web(const struct httpd *h)
{
	return h->web;
}

void httpd_warm(struct httpd *h, struct snapshot *s)
{
	const char *buf;
	size_t len;

	(void)h;
	promtext_memo(s, PROMTEXT_TEXT, &buf, &len);
}
