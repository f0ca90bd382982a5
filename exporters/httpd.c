/* SPDX-License-Identifier: MIT */
/* The HTTP endpoint: /metrics, /healthz, served from the latest snapshot.
 *
 * A scrape never reads /proc and never waits for the sampler: it takes a
 * reference to the latest published snapshot, reuses that snapshot's rendered
 * text (rendered once per format), and appends a small tail with the values
 * that change per scrape. The response points into the snapshot (an iovec, no
 * copy) and drops its reference when libmicrohttpd is done sending.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
const struct metric_desc *const httpd_metrics[] = { &m_scrapes, &m_age, NULL };

struct httpd {
	struct MHD_Daemon *daemon;
	struct registry *reg;
	atomic_uint_fast64_t scrapes[2]; /* by enum promtext_format */
	char address[64];
};

struct scrape {
	struct snapshot *snap;
	char *tail;
};

static int render_text(const struct snapshot *s, char **ret_buf, size_t *ret_len)
{
	struct strbuf b = {0};

	promtext_render(s, PROMTEXT_TEXT, &b);
	*ret_buf = strbuf_take(&b, ret_len);
	return *ret_buf ? 0 : -ENOMEM;
}

static int render_openmetrics(const struct snapshot *s, char **ret_buf, size_t *ret_len)
{
	struct strbuf b = {0};

	promtext_render(s, PROMTEXT_OPENMETRICS, &b);
	*ret_buf = strbuf_take(&b, ret_len);
	return *ret_buf ? 0 : -ENOMEM;
}

static const snapshot_render_fn renderers[] = {
	[PROMTEXT_TEXT] = render_text,
	[PROMTEXT_OPENMETRICS] = render_openmetrics,
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
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
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
	if (snapshot_memo(s, f, renderers[f], &body, &body_len) < 0) {
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct httpd *h = cls;

	static int headers_seen;

	(void)version;
	(void)upload_data;
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
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(h, c);
	if (strcmp(url, "/healthz") == 0)
		return serve_healthz(h, c);
	if (strcmp(url, "/") == 0)
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", index_page);
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
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

	format_address(&ss, want, sizeof(want));
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
	h->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, handle, h,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_REQUEST_MAX,
		MHD_OPTION_END);
	if (!h->daemon) {
		/* MHD has closed fd already (libmicrohttpd 0.9.75, seen when
		 * its thread cannot start): closing it again could close a
		 * descriptor another thread just got. */
		free(h);
		snprintf(err, errlen, "%s: libmicrohttpd failed to start", want);
		return -EIO;
	}
	*ret = h;
	return 0;
}

struct httpd *httpd_free(struct httpd *h)
{
	if (!h)
		return NULL;
	/* MHD closes the listen socket it was given when it stops. */
	MHD_stop_daemon(h->daemon);
	free(h);
	return NULL;
}

const char *httpd_address(const struct httpd *h)
{
	return h->address;
}

void httpd_warm(struct httpd *h, struct snapshot *s)
{
	const char *buf;
	size_t len;

	(void)h;
	snapshot_memo(s, PROMTEXT_TEXT, render_text, &buf, &len);
}
