/* SPDX-License-Identifier: MIT */
/* Listen addresses: "ADDR:PORT" text to a socket address, with a reason on error. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"
#include "listen.h"

/* Quoted text in a reason: at most this many characters of what was given. */
#define QUOTE_MAX 64
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)

/* s (n bytes) in quotes, escaped as JSON would, cut to QUOTE_MAX characters. */
static const char *quote(char buf[QUOTE_BUF], const char *s, size_t n)
{
	strcpy(buf, "\"");
	jsonpos_escape_append(buf, QUOTE_BUF - 1, s, n, true, QUOTE_MAX);
	strcat(buf, "\"");
	return buf;
}

static int say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
		 char *why, size_t whylen)
{
	struct sockaddr_storage ss = { 0 };
	char host[INET6_ADDRSTRLEN + 1], q[QUOTE_BUF];
	const char *h, *port;
	size_t hn, pn;
	socklen_t len;
	bool v6 = s[0] == '[';
	unsigned long p;

	if (v6) {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return say(why, whylen, "%s: expected [IPV6]:PORT, e.g. [::1]:9470",
				   quote(q, s, strlen(s)));
		h = s + 1;
		hn = (size_t)(rb - h);
		port = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return say(why, whylen,
				   "%s: expected ADDR:PORT, e.g. 127.0.0.1:9470 or [::1]:9470",
				   quote(q, s, strlen(s)));
		if (memchr(s, ':', (size_t)(colon - s)))
			return say(why, whylen, "%s: an IPv6 address goes in brackets, e.g. [::1]:9470",
				   quote(q, s, strlen(s)));
		h = s;
		hn = (size_t)(colon - s);
		port = colon + 1;
	}
	pn = strlen(port);
	if (pn == 0 || pn > 5 || strspn(port, "0123456789") != pn ||
	    (p = strtoul(port, NULL, 10)) > 65535)
		return say(why, whylen, "port %s is not a number in 0..65535",
			   quote(q, port, pn));
	/* Longer than any address in text form: let inet_pton() refuse "". */
	if (hn >= sizeof(host))
		host[0] = '\0';
	else
		memcpy(host, h, hn), host[hn] = '\0';
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return say(why, whylen, "%s is not an IPv6 address", quote(q, h, hn));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return say(why, whylen,
				   "%s is not an IPv4 address (host names are not resolved; IPv6 "
				   "goes in brackets)", quote(q, h, hn));
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		len = sizeof(*a);
	}
	if (ret)
		*ret = ss;
	if (ret_len)
		*ret_len = len;
	return 0;
}
