/* SPDX-License-Identifier: MIT */
/* sockdiag: sock_diag dumps and the /proc/PID/net text formats.
 *
 * TCP is dumped with the old TCPDIAG_GETSOCK request: the kernel answers it
 * with the address family unspecified (inet_diag_dump_compat()), so one
 * walk of the established hash table (262,144 buckets here, most of them
 * empty, each read) returns IPv4 and IPv6 sockets alike, where the
 * SOCK_DIAG_BY_FAMILY requests walk it once per family. The replies carry
 * the request's type and the same inet_diag_msg. A kernel that refuses the
 * old request gets the two new ones from then on.
 */
#include "sockdiag.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#define RECV_BUF (64 * 1024)
#define ST_LISTEN 10
#define LINE_MAX_PROCNET 512

struct sockdiag {
	int fd;
	uint32_t netns;
	uint32_t seq;
	char *buf;
	bool no_compat; /* TCPDIAG_GETSOCK refused: TCP per family */
};

int sockdiag_new(uint32_t netns, struct sockdiag **ret)
{
	struct sockdiag *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->netns = netns;
	d->buf = malloc(RECV_BUF);
	d->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (!d->buf || d->fd < 0) {
		err = d->buf ? -errno : -ENOMEM;
		sockdiag_free(d);
		return err;
	}
	*ret = d;
	return 0;
}

struct sockdiag *sockdiag_free(struct sockdiag *d)
{
	if (!d)
		return NULL;
	if (d->fd >= 0)
		close(d->fd);
	free(d->buf);
	free(d);
	return NULL;
}

static int parse_inet(struct sockdiag *d, const struct nlmsghdr *h, enum sockq_kind kind,
		      sockdiag_fn fn, void *arg)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	struct sockq s;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	memset(&s, 0, offsetof(struct sockq, name));
	s.ino = m->idiag_inode;
	s.netns = d->netns;
	s.kind = (uint8_t)kind;
	s.family = m->idiag_family;
	s.listener = kind == SOCKQ_TCP && m->idiag_state == ST_LISTEN;
	s.has_max = s.listener;
	s.rqueue = m->idiag_rqueue;
	s.wqueue = m->idiag_wqueue;
	s.port = ntohs(m->id.idiag_sport);
	return fn(arg, &s);
}

static int parse_unix(struct sockdiag *d, const struct nlmsghdr *h, sockdiag_fn fn, void *arg)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	const struct rtattr *a;
	struct sockq s;
	int len;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	memset(&s, 0, offsetof(struct sockq, name));
	s.ino = m->udiag_ino;
	s.netns = d->netns;
	s.kind = (uint8_t)sockq_kind_of(AF_UNIX, m->udiag_type, 0);
	s.family = AF_UNIX;
	s.listener = m->udiag_state == ST_LISTEN && s.kind != SOCKQ_UNIX_DGRAM;
	s.has_max = s.listener;
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (a = (const struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
			const struct unix_diag_rqlen *q = RTA_DATA(a);

			s.rqueue = q->udiag_rqueue;
			s.wqueue = q->udiag_wqueue;
		} else if (a->rta_type == UNIX_DIAG_NAME) {
			size_t n = RTA_PAYLOAD(a);

			if (n > SOCKQ_NAME_MAX)
				n = SOCKQ_NAME_MAX;
			memcpy(s.name, RTA_DATA(a), n);
			s.name_len = (uint16_t)n;
		}
	}
	if (s.kind == SOCKQ_OTHER)
		s.rqueue = s.wqueue = 0;
	return fn(arg, &s);
}

/* Sends one dump request and walks its replies. */
static int dump_one(struct sockdiag *d, const void *req, size_t req_len, unsigned family,
		    enum sockq_kind kind, sockdiag_fn fn, void *arg)
{
	uint16_t type = ((const struct nlmsghdr *)req)->nlmsg_type;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	uint32_t seq = ++d->seq;
	int count = 0;

	((struct nlmsghdr *)req)->nlmsg_seq = seq;
	if (sendto(d->fd, req, req_len, 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		return -errno;
	for (;;) {
		ssize_t got = recv(d->fd, d->buf, RECV_BUF, 0);
		int len;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len = (int)got;
		for (struct nlmsghdr *h = (struct nlmsghdr *)d->buf; NLMSG_OK(h, (unsigned)len);
		     h = NLMSG_NEXT(h, len)) {
			int r;

			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return count;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EPROTO;
				/* A protocol whose diag module is not loaded. */
				if (e->error == -ENOENT)
					return count;
				return e->error < 0 ? e->error : -EPROTO;
			}
			if (h->nlmsg_type != type)
				return -EPROTO;
			r = family == AF_UNIX ? parse_unix(d, h, fn, arg) : parse_inet(d, h, kind, fn, arg);
			if (r < 0)
				return r;
			count++;
		}
	}
}

int sockdiag_dump(struct sockdiag *d, sockdiag_fn fn, void *arg)
{
	static const struct { unsigned family; int proto; enum sockq_kind kind; } inet[] = {
		{ AF_INET, IPPROTO_TCP, SOCKQ_TCP },
		{ AF_INET6, IPPROTO_TCP, SOCKQ_TCP },
		{ AF_INET, IPPROTO_UDP, SOCKQ_UDP },
		{ AF_INET6, IPPROTO_UDP, SOCKQ_UDP },
	};
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} ureq = {
		.nlh = { .nlmsg_len = sizeof(ureq), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u,
		       .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN },
	};
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req r;
	} treq = {
		.nlh = { .nlmsg_len = sizeof(treq), .nlmsg_type = TCPDIAG_GETSOCK,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .idiag_family = AF_INET, .idiag_states = ~0u },
	};
	int total = 0, r;
	size_t first = 0;

	if (!d->no_compat) {
		/* Refused before any reply: nothing reported twice. */
		r = dump_one(d, &treq, sizeof(treq), AF_INET, SOCKQ_TCP, fn, arg);
		if (r == -EINVAL || r == -EOPNOTSUPP) {
			d->no_compat = true;
		} else if (r < 0) {
			return r;
		} else {
			total += r;
			first = 2; /* both TCP rows done */
		}
	}
	for (size_t i = first; i < sizeof(inet) / sizeof(inet[0]); i++) {
		struct {
			struct nlmsghdr nlh;
			struct inet_diag_req_v2 r;
		} req = {
			.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
				 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
			.r = { .sdiag_family = (uint8_t)inet[i].family,
			       .sdiag_protocol = (uint8_t)inet[i].proto, .idiag_states = ~0u },
		};

		r = dump_one(d, &req, sizeof(req), inet[i].family, inet[i].kind, fn, arg);
		if (r < 0)
			return r;
		total += r;
	}
	r = dump_one(d, &ureq, sizeof(ureq), AF_UNIX, SOCKQ_OTHER, fn, arg);
	return r < 0 ? r : total + r;
}

int sockdiag_parse_procnet(const char *buf, size_t len, enum sockq_kind kind, unsigned family,
			   uint32_t netns, sockdiag_fn fn, void *arg)
{
	const char *p = buf, *end = buf + len;
	bool header = true;
	int count = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char line[LINE_MAX_PROCNET];
		unsigned port, st, tx, rx;
		unsigned long long ino;
		size_t n;
		struct sockq s;
		int r;

		if (!nl)
			return -EBADMSG; /* a truncated last line */
		n = (size_t)(nl - p);
		if (n >= sizeof(line))
			return -EBADMSG;
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (header) {
			if (!strstr(line, "local_address"))
				return -EBADMSG;
			header = false;
			continue;
		}
		if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %x:%x %*x:%*x %*x %*u %*d %llu",
			   &port, &st, &tx, &rx, &ino) != 5)
			return -EBADMSG;
		memset(&s, 0, offsetof(struct sockq, name));
		s.ino = ino;
		s.netns = netns;
		s.kind = (uint8_t)kind;
		s.family = (uint8_t)family;
		s.listener = kind == SOCKQ_TCP && st == ST_LISTEN;
		s.rqueue = rx;
		s.wqueue = s.listener ? 0 : tx;
		s.port = (uint16_t)port;
		r = fn(arg, &s);
		if (r < 0)
			return r;
		count++;
	}
	return header ? -EBADMSG : count;
}

int sockdiag_parse_listen_overflows(const char *buf, size_t len, uint64_t *ret)
{
	const char *p = buf, *end = buf + len;

	/* Pairs of lines: "TcpExt: Name1 Name2 ..." then "TcpExt: v1 v2 ...". */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *nl2, *q, *v;
		size_t idx = 0, want = SIZE_MAX;

		if (!nl)
			return -EBADMSG;
		if ((size_t)(nl - p) < 7 || memcmp(p, "TcpExt:", 7) != 0) {
			p = nl + 1;
			continue;
		}
		nl2 = memchr(nl + 1, '\n', (size_t)(end - nl - 1));
		if (!nl2 || (size_t)(nl2 - nl - 1) < 7 || memcmp(nl + 1, "TcpExt:", 7) != 0)
			return -EBADMSG;
		for (q = p + 7; q < nl;) {
			const char *w;

			while (q < nl && *q == ' ')
				q++;
			w = q;
			while (q < nl && *q != ' ')
				q++;
			if (q > w) {
				if ((size_t)(q - w) == 15 && memcmp(w, "ListenOverflows", 15) == 0)
					want = idx;
				idx++;
			}
		}
		if (want == SIZE_MAX)
			return -ENOENT;
		idx = 0;
		for (v = nl + 1 + 7; v < nl2;) {
			char *e;
			unsigned long long x;

			while (v < nl2 && *v == ' ')
				v++;
			if (v >= nl2)
				break;
			errno = 0;
			x = strtoull(v, &e, 10);
			if (e == v || errno || (e < nl2 && *e != ' '))
				return -EBADMSG;
			if (idx == want) {
				*ret = x;
				return 0;
			}
			idx++;
			v = e;
		}
		return -EBADMSG;
	}
	return -ENOENT;
}
