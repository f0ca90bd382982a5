/* SPDX-License-Identifier: MIT */
/* A recording HTTP/1.1 receiver for the sink tests: stores every request's
 * body, in arrival order, and answers as told.
 *
 *   http_recorder DIR [PORT]    listens on 127.0.0.1:PORT (0: any), writes
 *                               the port to DIR/port once listening
 *
 * Each request other than a control one is appended to DIR/bodies (the body
 * and a newline) and to DIR/log ("METHOD PATH LENGTH STATUS", one line);
 * every stored request's header block is appended to DIR/headers;
 * the answer depends on the mode, set with a request to /_mode/MODE:
 *   ok       204 (the default)
 *   500      500, body not stored
 *   400      400, body not stored
 *   429      429 with "Retry-After: 1", body not stored
 *   hang     no answer ever (the connection stays open)
 *   hang_once  the next request hangs, then ok again
 * Refused connections are the test stopping this program.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 64

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
	int hung;
};

static char mode[256] = "ok";
static FILE *bodies, *reqlog, *headers;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void drop(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void answer(int fd, int status, const char *extra)
{
	char h[256];
	int n = snprintf(h, sizeof(h), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n%s\r\n", status, extra);

	if (write(fd, h, (size_t)n) < 0)
		perror("write");
}

/* Handles every complete request in c's buffer. */
static void serve(struct conn *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), method[16] = "", path[256] = "";
		size_t head, body_len = 0;
		int status = 204;

		if (!end || c->hung)
			return;
		head = (size_t)(end - c->buf) + 4;
		for (char *l = c->buf; l < end; l++) {
			if ((l == c->buf || l[-1] == '\n') && strncasecmp(l, "content-length:", 15) == 0)
				body_len = strtoul(l + 15, NULL, 10);
		}
		if (c->len < head + body_len)
			return;
		sscanf(c->buf, "%15s %255s", method, path);
		if (strncmp(path, "/_mode/", 7) == 0) {
			snprintf(mode, sizeof(mode), "%s", path + 7);
			answer(c->fd, 200, "");
		} else if (strcmp(mode, "hang") == 0 || strcmp(mode, "hang_once") == 0) {
			c->hung = 1;
			if (strcmp(mode, "hang_once") == 0)
				snprintf(mode, sizeof(mode), "%s", "ok");
			fprintf(reqlog, "%s %s %zu hang %lld\n", method, path, body_len, now_ms());
			fflush(reqlog);
			return;
		} else {
			if (strcmp(mode, "500") == 0)
				status = 500;
			else if (strcmp(mode, "400") == 0)
				status = 400;
			else if (strcmp(mode, "429") == 0)
				status = 429;
			if (status == 204) {
				fwrite(c->buf, 1, head, headers);
				fflush(headers);
				fwrite(c->buf + head, 1, body_len, bodies);
				fputc('\n', bodies);
				fflush(bodies);
			}
			fprintf(reqlog, "%s %s %zu %d %lld\n", method, path, body_len, status, now_ms());
			fflush(reqlog);
			answer(c->fd, status, status == 429 ? "Retry-After: 1\r\n" : "");
		}
		memmove(c->buf, c->buf + head + body_len, c->len - head - body_len);
		c->len -= head + body_len;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct conn conns[CONNS_MAX];
	socklen_t al = sizeof(a);
	char path[4096];
	int one = 1, lfd;
	FILE *pf;

	if (argc < 2) {
		fprintf(stderr, "usage: http_recorder DIR [PORT]\n");
		return 2;
	}
	a.sin_port = htons(argc > 2 ? (unsigned short)atoi(argv[2]) : 0);
	snprintf(path, sizeof(path), "%s/bodies", argv[1]);
	bodies = fopen(path, "a");
	snprintf(path, sizeof(path), "%s/log", argv[1]);
	reqlog = fopen(path, "a");
	snprintf(path, sizeof(path), "%s/headers", argv[1]);
	headers = fopen(path, "a");
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!bodies || !reqlog || !headers || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 64) < 0 || getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
		perror("http_recorder");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/port.tmp", argv[1]);
	pf = fopen(path, "w");
	if (!pf)
		return 1;
	fprintf(pf, "%u\n", ntohs(a.sin_port));
	fclose(pf);
	{
		char final[4096];

		snprintf(final, sizeof(final), "%s/port", argv[1]);
		rename(path, final);
	}
	for (int i = 0; i < CONNS_MAX; i++)
		conns[i] = (struct conn){ .fd = -1 };
	for (;;) {
		struct pollfd p[CONNS_MAX + 1];
		int n = 0, map[CONNS_MAX];

		p[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < CONNS_MAX; i++) {
			if (conns[i].fd >= 0) {
				map[n - 1] = i;
				p[n++] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
			}
		}
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			for (int i = 0; fd >= 0 && i < CONNS_MAX; i++) {
				if (conns[i].fd < 0) {
					conns[i].fd = fd;
					fd = -1;
				}
			}
			if (fd >= 0)
				close(fd);
		}
		for (int k = 1; k < n; k++) {
			struct conn *c = &conns[map[k - 1]];
			ssize_t r;

			if (!p[k].revents)
				continue;
			if (c->cap - c->len < 65536) {
				char *nb = realloc(c->buf, c->cap * 2 + 65536);

				if (!nb)
					return 1;
				c->buf = nb;
				c->cap = c->cap * 2 + 65536;
			}
			r = read(c->fd, c->buf + c->len, c->cap - c->len);
			if (r <= 0) {
				drop(c);
				continue;
			}
			c->len += (size_t)r;
			serve(c);
		}
	}
}
