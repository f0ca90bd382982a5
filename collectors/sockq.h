/* SPDX-License-Identifier: MIT */
/* sockq: one socket's queue state as both socket backends report it (the BPF pass, sock_diag), and a listener's label.
 *
 * The quantities are sock_diag's (idiag_rqueue/idiag_wqueue, unix_diag's
 * UNIX_DIAG_RQLEN): bytes for connected and datagram sockets, the accept
 * queue's length and maximum for listeners. docs/queues.md names, per
 * socket type, what the kernel holds behind each.
 */
#ifndef MEMAGENT_SOCKQ_H
#define MEMAGENT_SOCKQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct sockaddr_un's sun_path, and room for the label's prefix. */
#define SOCKQ_NAME_MAX 108
#define SOCKQ_LABEL_MAX (SOCKQ_NAME_MAX + 8)

enum sockq_kind {
	SOCKQ_TCP,
	SOCKQ_UDP,
	SOCKQ_UNIX_STREAM,
	SOCKQ_UNIX_DGRAM,
	SOCKQ_UNIX_SEQPACKET,
	SOCKQ_OTHER, /* a family or protocol whose queues are not read */
	SOCKQ_KIND_MAX
};

struct sockq {
	int32_t pid;      /* a process holding it (one record per holder) */
	uint64_t start_ns; /* its start, CLOCK_BOOTTIME ns; 0 when the backend does not know */
	uint64_t ino;     /* socket:[ino] */
	uint32_t netns;   /* inode of its network namespace */
	uint8_t kind;     /* enum sockq_kind */
	uint8_t family;   /* AF_UNIX, AF_INET, AF_INET6 */
	bool listener;
	bool has_max;     /* listener: wqueue holds the maximum (not from /proc/PID/net/tcp) */
	uint32_t rqueue;  /* bytes; listener: connections waiting to be accepted */
	uint32_t wqueue;  /* bytes; listener: the backlog's maximum (when has_max) */
	uint16_t port;    /* local port (TCP/UDP) */
	uint16_t name_len; /* UNIX listener: bytes of name; name[0] == 0 is abstract */
	char name[SOCKQ_NAME_MAX];
};

/* The kind of a socket of family, type and protocol (as the kernel's). */
enum sockq_kind sockq_kind_of(unsigned family, unsigned type, unsigned protocol);

/* "tcp", "udp", "unix_stream", ...; "?" out of range. */
const char *sockq_kind_name(enum sockq_kind k);

/* Writes a listener's label to buf: "tcp:PORT", "unix:PATH", "unix:@NAME"
 * (abstract; NUL bytes in the name shown as '@', as ss does) or "unix:"
 * for an unbound one. Returns its length, or -ENOBUFS (buf holds a
 * truncated label) or -EINVAL (not a listener). */
int sockq_listener_label(const struct sockq *s, char *buf, size_t len);

#endif
