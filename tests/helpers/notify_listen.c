/* SPDX-License-Identifier: MIT */
/* notify_listen: a service manager's end of the notify protocol, for tests.
 *
 *   notify_listen PATH      binds a datagram socket at PATH (removed first),
 *                           prints "ready" and then one line per datagram:
 *                           "<CLOCK_MONOTONIC ms> <the lines joined by '|'>"
 *
 * The ms stamp lets a test tell periodic pings apart without a clock of its
 * own; stdout is flushed per line so a test polls the file. Stops on
 * SIGTERM.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notify_listen PATH\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("notify_listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct timespec ts;
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0)
			return 1;
		buf[n] = '\0';
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				buf[i] = '|';
		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%lld %s\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, buf);
		fflush(stdout);
	}
}
