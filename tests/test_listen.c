/* SPDX-License-Identifier: MIT */
/* listen: "ADDR:PORT" text to socket addresses, and what is refused. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "listen.h"
#include "test.h"

static void test_listen_parse(void)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char why[128];
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;

	REQUIRE(listen_parse("127.0.0.1:9470", &ss, &len, why, sizeof(why)) == 0);
	CHECK_EQ(ss.ss_family, AF_INET);
	CHECK_EQ(len, sizeof(struct sockaddr_in));
	CHECK_EQ(ntohs(v4->sin_port), 9470);
	CHECK_EQ(ntohl(v4->sin_addr.s_addr), 0x7f000001);
	REQUIRE(listen_parse("[::1]:0", &ss, &len, why, sizeof(why)) == 0);
	CHECK_EQ(ss.ss_family, AF_INET6);
	CHECK_EQ(len, sizeof(struct sockaddr_in6));
	CHECK_EQ(ntohs(v6->sin6_port), 0);
	CHECK(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
	REQUIRE(listen_parse("0.0.0.0:65535", &ss, &len, why, sizeof(why)) == 0);
	CHECK_EQ(ntohs(v4->sin_port), 65535);
	REQUIRE(listen_parse("[::]:1", &ss, &len, NULL, 0) == 0);

	static const char *const bad[] = {
		"", ":", ":9470", "127.0.0.1:", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x",
		"127.1:80", "1.2.3.4.5:80", "[::1]", "[::1]:", "[]:80", "::1", "[1.2.3.4]:80",
		"127.0.0.1:009470", "[fe80::1%eth0]:80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = 7;
		why[0] = '\0';
		if (listen_parse(bad[i], &ss, &len, why, sizeof(why)) != -EINVAL)
			test_fail_at(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
		CHECK(why[0] != '\0');
		CHECK_EQ(len, 7); /* untouched on failure */
	}
}

int main(void)
{
	RUN(test_listen_parse);
	return test_done();
}
