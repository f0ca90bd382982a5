/* SPDX-License-Identifier: MIT */
/* sockq: socket kinds and listener labels. */
#include "sockq.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>

enum sockq_kind sockq_kind_of(unsigned family, unsigned type, unsigned protocol)
{
	if (family == AF_UNIX) {
		switch (type) {
		case SOCK_STREAM: return SOCKQ_UNIX_STREAM;
		case SOCK_DGRAM: return SOCKQ_UNIX_DGRAM;
		case SOCK_SEQPACKET: return SOCKQ_UNIX_SEQPACKET;
		default: return SOCKQ_OTHER;
		}
	}
	if (family == AF_INET || family == AF_INET6) {
		if (type == SOCK_STREAM && protocol == IPPROTO_TCP)
			return SOCKQ_TCP;
		if (type == SOCK_DGRAM && protocol == IPPROTO_UDP)
			return SOCKQ_UDP;
	}
	return SOCKQ_OTHER;
}

const char *sockq_kind_name(enum sockq_kind k)
{
	static const char *const names[SOCKQ_KIND_MAX] = {
		[SOCKQ_TCP] = "tcp",
		[SOCKQ_UDP] = "udp",
		[SOCKQ_UNIX_STREAM] = "unix_stream",
		[SOCKQ_UNIX_DGRAM] = "unix_dgram",
		[SOCKQ_UNIX_SEQPACKET] = "unix_seqpacket",
		[SOCKQ_OTHER] = "other",
	};

	return (unsigned)k < SOCKQ_KIND_MAX ? names[k] : "?";
}

int sockq_listener_label(const struct sockq *s, char *buf, size_t len)
{
	size_t n;
	int r;

	if (!s->listener || len == 0)
		return -EINVAL;
	if (s->kind == SOCKQ_TCP) {
		r = snprintf(buf, len, "tcp:%u", s->port);
		return r < 0 || (size_t)r >= len ? -ENOBUFS : r;
	}
	r = snprintf(buf, len, "unix:");
	if (r < 0 || (size_t)r >= len)
		return -ENOBUFS;
	n = (size_t)r;
	for (size_t i = 0; i < s->name_len && i < sizeof(s->name); i++) {
		char c = s->name[i];

		/* A path ends at its first NUL; an abstract name is all its bytes. */
		if (c == '\0' && s->name[0] != '\0')
			break;
		if (n + 1 >= len) {
			buf[n] = '\0';
			return -ENOBUFS;
		}
		buf[n++] = c == '\0' ? '@' : c;
	}
	buf[n] = '\0';
	return (int)n;
}
