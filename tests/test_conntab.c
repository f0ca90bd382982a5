/* SPDX-License-Identifier: MIT */
/* conntab: the per-address limit, the header deadline and pressure, on socket pairs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conntab.h"
#include "test.h"

static struct sockaddr_in ip(const char *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(1234) };

	inet_pton(AF_INET, s, &a.sin_addr);
	return a;
}

#define SA(a) ((const struct sockaddr *)&(a)), sizeof(a)

/* Whether the peer of a shut-down end sees end of file within limit_ms:
 * a bounded wait on the condition, not a delay. */
static bool peer_closed(int fd, int limit_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c;

	return poll(&p, 1, limit_ms) == 1 && read(fd, &c, 1) == 0;
}

static void test_per_address_limit(void)
{
	struct conntab_options o = { .connections = 16, .per_address = 2, .header_timeout_s = 60,
				     .idle_timeout_s = 10 };
	struct sockaddr_in a = ip("10.0.0.1"), a2 = ip("10.0.0.1"), b = ip("10.0.0.2");
	struct conntab *t = NULL;
	struct conntab_conn *c1, *c2;

	a2.sin_port = htons(999); /* another port, the same address */
	REQUIRE(conntab_new(&o, &t) == 0);
	CHECK(conntab_admit(t, SA(a)));
	c1 = conntab_open(t, -1, SA(a));
	CHECK(conntab_admit(t, SA(a2)));
	c2 = conntab_open(t, -1, SA(a2));
	CHECK_EQ(conntab_live(t), 2);
	CHECK(!conntab_admit(t, SA(a)));
	CHECK(!conntab_admit(t, SA(a2)));
	CHECK(conntab_admit(t, SA(b)));
	CHECK_U64(conntab_closed(t, CONNTAB_ADDRESS_LIMIT), 2);
	/* A connection that sent its headers no longer counts: a burst of
	 * real scrapes from one address is not refused. */
	conntab_headers_done(t, c1);
	CHECK(conntab_admit(t, SA(a)));
	conntab_request_done(t, c1);
	CHECK(conntab_admit(t, SA(a)));
	conntab_close(t, c1);
	CHECK(conntab_admit(t, SA(a)));
	conntab_close(t, c2);
	CHECK_EQ(conntab_live(t), 0);
	CHECK_U64(conntab_closed(t, CONNTAB_HEADER_TIMEOUT), 0);
	conntab_free(t);
}

static void test_header_deadline(void)
{
	struct conntab_options o = { .connections = 16, .per_address = 8, .header_timeout_s = 1,
				     .idle_timeout_s = 1 };
	struct sockaddr_in a = ip("127.0.0.1");
	struct conntab *t = NULL;
	struct conntab_conn *slow, *done;
	int s1[2], s2[2];

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2) == 0);
	REQUIRE(conntab_new(&o, &t) == 0);
	slow = conntab_open(t, s1[0], SA(a));
	done = conntab_open(t, s2[0], SA(a));
	REQUIRE(slow && done);
	conntab_headers_done(t, done);
	/* The slow one is shut down at its deadline ... */
	CHECK(peer_closed(s1[1], 10000));
	CHECK_U64(conntab_closed(t, CONNTAB_HEADER_TIMEOUT), 1);
	/* ... the one whose headers came is not (it started at the same time,
	 * so the same sweep would have taken it). */
	CHECK(!peer_closed(s2[1], 0));
	/* Answered, it waits idle + header timeout for its next request. */
	conntab_request_done(t, done);
	CHECK(peer_closed(s2[1], 10000));
	CHECK_U64(conntab_closed(t, CONNTAB_HEADER_TIMEOUT), 2);
	conntab_close(t, slow);
	conntab_close(t, done);
	conntab_free(t);
	for (int i = 0; i < 2; i++) {
		close(s1[i]);
		close(s2[i]);
	}
}

static void test_pressure(void)
{
	struct conntab_options o = { .connections = 4, .per_address = 0, .header_timeout_s = 600,
				     .idle_timeout_s = 10 };
	struct sockaddr_in a = ip("127.0.0.1");
	struct conntab *t = NULL;
	struct conntab_conn *c[3];
	int s[3][2];

	REQUIRE(conntab_new(&o, &t) == 0);
	/* per_address 0: no limit. */
	for (int i = 0; i < 3; i++) {
		REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s[i]) == 0);
		CHECK(conntab_admit(t, SA(a)));
		c[i] = conntab_open(t, s[i][0], SA(a));
	}
	conntab_headers_done(t, c[2]);
	/* 3 of 4 taken: the two without headers go after a second. */
	CHECK(peer_closed(s[0][1], 10000));
	CHECK(peer_closed(s[1][1], 10000));
	CHECK(!peer_closed(s[2][1], 0));
	CHECK_U64(conntab_closed(t, CONNTAB_PRESSURE), 2);
	CHECK_U64(conntab_closed(t, CONNTAB_HEADER_TIMEOUT), 0);
	for (int i = 0; i < 3; i++) {
		conntab_close(t, c[i]);
		close(s[i][0]);
		close(s[i][1]);
	}
	conntab_free(t);
}

static void test_names(void)
{
	CHECK_STR(conntab_reason_name(CONNTAB_HEADER_TIMEOUT), "header_timeout");
	CHECK_STR(conntab_reason_name(CONNTAB_PRESSURE), "pressure");
	CHECK_STR(conntab_reason_name(CONNTAB_ADDRESS_LIMIT), "address_limit");
}

int main(void)
{
	RUN(test_per_address_limit);
	RUN(test_header_deadline);
	RUN(test_pressure);
	RUN(test_names);
	return test_done();
}
