/* SPDX-License-Identifier: MIT */
/* httpd: the endpoint over real sockets: routes, methods, negotiation,
 * oversized requests, connection limits, 200 concurrent scrapes. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "listen.h"
#include "registry.h"
#include "test.h"

static const struct metric_desc g = { "t_value_bytes", METRIC_GAUGE, "bytes", "A value." };

static int port_of(const struct httpd *h)
{
	const char *colon = strrchr(httpd_address(h), ':');

	return colon ? atoi(colon + 1) : -1;
}

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads the whole response (the server closes: Connection: close). Returns
 * the status code, or -1; *ret_body gets the malloc'ed response text. */
static int read_response(int fd, char **ret_text)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int status = -1;

	if (!buf)
		return -1;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		/* Bounded wait: a hung server fails the test instead of hanging it. */
		if (poll(&p, 1, 10000) <= 0)
			break;
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				break;
			buf = nb;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	if (ret_text)
		*ret_text = buf;
	else
		free(buf);
	return status;
}

static int request(int port, const char *req, char **ret_text)
{
	int fd = dial(port), status;

	if (fd < 0)
		return -1;
	if (send_all(fd, req, strlen(req)) < 0) {
		close(fd);
		return -1;
	}
	status = read_response(fd, ret_text);
	close(fd);
	return status;
}

static int get(int port, const char *path, const char *accept, char **ret_text)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s\r\n", path,
		 accept ? "Accept: " : "", accept ? accept : "", accept ? "\r\n" : "");
	return request(port, req, ret_text);
}

static struct sockaddr_storage any_port;
static socklen_t any_port_len;

static struct httpd *start(struct registry *reg, unsigned connections)
{
	struct httpd_options o = { &any_port, any_port_len, connections, 5 };
	struct httpd *h = NULL;
	char err[128];

	if (httpd_start(&o, reg, &h, err, sizeof(err)) < 0) {
		printf("  httpd_start: %s\n", err);
		return NULL;
	}
	return h;
}

static void publish(struct registry *reg, double v, uint64_t n)
{
	struct snapshot *s = snapshot_new();

	snapshot_add(s, &g, v, (const char *[]){ "target", "t", NULL });
	snapshot_seal(s, n);
	registry_publish(reg, s);
}

static void test_before_first_sample(void)
{
	struct registry *reg = registry_new();
	struct httpd *h = start(reg, 16);

	REQUIRE(h);
	CHECK_EQ(get(port_of(h), "/metrics", NULL, NULL), 503);
	CHECK_EQ(get(port_of(h), "/healthz", NULL, NULL), 503);
	httpd_free(h);
	registry_free(reg);
}

static void test_routes_and_formats(void)
{
	struct registry *reg = registry_new();
	struct httpd *h = start(reg, 16);
	char *text = NULL;
	int port;

	REQUIRE(h);
	port = port_of(h);
	publish(reg, 42, 1);

	CHECK_EQ(get(port, "/metrics", NULL, &text), 200);
	CHECK_CONTAINS(text, "Content-Type: text/plain; version=0.0.4");
	CHECK_CONTAINS(text, "\r\n\r\n# HELP t_value_bytes A value.\n# TYPE t_value_bytes gauge\n"
			     "t_value_bytes{target=\"t\"} 42\n");
	CHECK_CONTAINS(text, "memagent_scrapes_total{format=\"text\"} 1\nmemagent_scrapes_total{format=\"openmetrics\"} 0\n");
	CHECK_CONTAINS(text, "memagent_snapshot_age_seconds ");
	CHECK(!strstr(text, "# EOF"));
	free(text);

	CHECK_EQ(get(port, "/metrics", "application/openmetrics-text; version=1.0.0", &text), 200);
	CHECK_CONTAINS(text, "Content-Type: application/openmetrics-text; version=1.0.0");
	CHECK_CONTAINS(text, "# TYPE memagent_scrapes counter\nmemagent_scrapes_total{format=\"text\"} 1\nmemagent_scrapes_total{format=\"openmetrics\"} 1\n");
	CHECK(strlen(text) > 6 && strcmp(text + strlen(text) - 6, "# EOF\n") == 0);
	free(text);

	/* A new snapshot is served as soon as it is published. */
	publish(reg, 43, 2);
	CHECK_EQ(get(port, "/metrics", NULL, &text), 200);
	CHECK_CONTAINS(text, "t_value_bytes{target=\"t\"} 43\n");
	free(text);

	CHECK_EQ(get(port, "/healthz", NULL, &text), 200);
	CHECK_CONTAINS(text, "ok samples_total=2");
	free(text);
	CHECK_EQ(get(port, "/", NULL, NULL), 200);
	CHECK_EQ(get(port, "/metricsx", NULL, NULL), 404);
	CHECK_EQ(get(port, "/nope", NULL, NULL), 404);

	CHECK_EQ(request(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", &text), 405);
	CHECK_CONTAINS(text, "Allow: GET, HEAD");
	free(text);
	CHECK_EQ(request(port, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", NULL), 405);
	CHECK_EQ(request(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &text), 200);
	CHECK(!strstr(text, "t_value_bytes"));
	free(text);
	httpd_free(h);
	registry_free(reg);
}

/* Reads one response of a kept-alive connection: headers, then as many body
 * bytes as Content-Length says. Returns the status code, or -1. */
static int read_one_response(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	long body = -1;
	char *end = NULL;
	int status = -1;

	while (len < cap - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "Content-Length: ");

			if (!cl || cl > end)
				return -1;
			body = strtol(cl + 16, NULL, 10);
		}
		if (end && (size_t)(end + 4 - buf) + (size_t)body <= len)
			break;
		/* Bounded wait: a hung server fails the test instead of hanging it. */
		if (poll(&p, 1, 10000) <= 0)
			return -1;
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	return status;
}

/* Prometheus keeps its connection to a target open between scrapes: a
 * second request on the same connection is answered too. */
static void test_keep_alive(void)
{
	struct registry *reg = registry_new();
	struct httpd *h = start(reg, 16);
	const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[8192];
	int fd;

	REQUIRE(h);
	publish(reg, 5, 1);
	fd = dial(port_of(h));
	REQUIRE(fd >= 0);
	for (int i = 0; i < 3; i++) {
		memset(buf, 0, sizeof(buf));
		REQUIRE(send_all(fd, req, strlen(req)) == 0);
		CHECK_EQ(read_one_response(fd, buf, sizeof(buf)), 200);
		CHECK_CONTAINS(buf, "t_value_bytes{target=\"t\"} 5\n");
		CHECK(!strcasestr(buf, "Connection: close"));
	}
	close(fd);
	httpd_free(h);
	registry_free(reg);
}

static void test_oversized_request(void)
{
	struct registry *reg = registry_new();
	struct httpd *h = start(reg, 16);
	size_t n = 64 * 1024;
	char *req = malloc(n + 128);
	int status;

	REQUIRE(h && req);
	publish(reg, 1, 1);
	strcpy(req, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + strlen(req), 'a', n);
	strcpy(req + strlen("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ") + n, "\r\nConnection: close\r\n\r\n");
	status = request(port_of(h), req, NULL);
	/* Refused with 431 (or the connection cut short), never served. */
	CHECK(status == 431 || status == 413 || status == -1);
	CHECK(status != 200);
	/* And the server keeps serving. */
	CHECK_EQ(get(port_of(h), "/metrics", NULL, NULL), 200);
	free(req);
	httpd_free(h);
	registry_free(reg);
}

static void test_concurrent_scrapes(void)
{
	enum { N = 200 };
	struct registry *reg = registry_new();
	struct httpd *h = start(reg, 256);
	static int fds[N];
	const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	int ok = 0, port;
	char *text = NULL;

	REQUIRE(h);
	port = port_of(h);
	publish(reg, 7, 1);
	/* All 200 connected and asking before any answer is read. */
	for (int i = 0; i < N; i++) {
		fds[i] = dial(port);
		CHECK(fds[i] >= 0);
		if (fds[i] >= 0)
			CHECK_EQ(send_all(fds[i], req, strlen(req)), 0);
	}
	for (int i = 0; i < N; i++) {
		if (fds[i] < 0)
			continue;
		if (read_response(fds[i], NULL) == 200)
			ok++;
		close(fds[i]);
	}
	CHECK_EQ(ok, N);
	CHECK_EQ(get(port, "/metrics", NULL, &text), 200);
	CHECK_CONTAINS(text, "memagent_scrapes_total{format=\"text\"} 201\n");
	free(text);
	httpd_free(h);
	registry_free(reg);
}

static void test_connection_limit(void)
{
	struct registry *reg = registry_new();
	struct httpd *h = start(reg, 4);
	const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	int idle[4], fd, port;
	struct pollfd p;

	REQUIRE(h);
	port = port_of(h);
	publish(reg, 1, 1);
	/* Four idle connections take every slot ... */
	for (int i = 0; i < 4; i++) {
		idle[i] = dial(port);
		CHECK(idle[i] >= 0);
	}
	/* ... so a fifth request waits in the kernel's backlog: no answer
	 * (a negative check; a slow machine can only make it pass) ... */
	fd = dial(port);
	REQUIRE(fd >= 0);
	REQUIRE(send_all(fd, req, strlen(req)) == 0);
	p = (struct pollfd){ fd, POLLIN, 0 };
	CHECK_EQ(poll(&p, 1, 300), 0);
	/* ... and is served as soon as a slot frees. */
	for (int i = 0; i < 4; i++)
		if (idle[i] >= 0)
			close(idle[i]);
	CHECK_EQ(read_response(fd, NULL), 200);
	close(fd);
	httpd_free(h);
	registry_free(reg);
}

static void test_busy_port(void)
{
	struct registry *reg = registry_new();
	struct httpd_options o = { &any_port, any_port_len, 4, 5 };
	struct sockaddr_storage ss;
	socklen_t sl;
	struct httpd *h = NULL, *h2 = NULL;
	char err[128], addr[64];

	/* The same port twice: the second gets EADDRINUSE naming the address. */
	REQUIRE(httpd_start(&o, reg, &h, err, sizeof(err)) == 0);
	snprintf(addr, sizeof(addr), "%s", httpd_address(h));
	REQUIRE(listen_parse(addr, &ss, &sl, err, sizeof(err)) == 0);
	o.addr = &ss;
	o.addr_len = sl;
	CHECK_EQ(httpd_start(&o, reg, &h2, err, sizeof(err)), -EADDRINUSE);
	CHECK_CONTAINS(err, addr);
	httpd_free(h);
	registry_free(reg);
}

int main(void)
{
	char err[128];

	if (listen_parse("127.0.0.1:0", &any_port, &any_port_len, err, sizeof(err)) < 0)
		return 1;
	RUN(test_before_first_sample);
	RUN(test_routes_and_formats);
	RUN(test_keep_alive);
	RUN(test_oversized_request);
	RUN(test_concurrent_scrapes);
	RUN(test_connection_limit);
	RUN(test_busy_port);
	return test_done();
}
