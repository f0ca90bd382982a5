/* SPDX-License-Identifier: MIT */
/* sockdiag: socket queues without BPF: sock_diag netlink for the agent's network namespace, /proc/PID/net for others.
 *
 * The netlink backend of the queues collector. inet_diag dumps TCP and UDP
 * over IPv4 and IPv6, unix_diag dumps UNIX sockets with UDIAG_SHOW_RQLEN
 * (and UDIAG_SHOW_NAME for listeners' labels); both report every socket of
 * the namespace the netlink socket lives in, without owners (the queues
 * collector joins them to processes by inode). Namespaces other than the
 * agent's are not entered (setns() needs CAP_SYS_ADMIN): their TCP and UDP
 * sockets come from a member's /proc/PID/net/{tcp,tcp6,udp,udp6}, which
 * have the same queue figures but no listener maximum; their UNIX sockets
 * cannot be read this way at all.
 */
#ifndef MEMAGENT_SOCKDIAG_H
#define MEMAGENT_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

#include "sockq.h"

struct sockdiag;

/* Called per socket; s->pid is 0 (owners are not known here). A negative
 * return stops the walk and is returned. */
typedef int (*sockdiag_fn)(void *arg, const struct sockq *s);

/* Opens a NETLINK_SOCK_DIAG socket in the caller's network namespace,
 * whose inode is netns (the namespace's, from /proc/self/ns/net). Returns
 * 0 and *ret, or a negative errno. */
int sockdiag_new(uint32_t netns, struct sockdiag **ret);

/* NULL-safe; returns NULL. */
struct sockdiag *sockdiag_free(struct sockdiag *d);

/* Dumps every TCP, UDP (IPv4, IPv6) and UNIX socket of the namespace,
 * calling fn for each. Returns the number of sockets, or a negative errno
 * (-EPROTO for a reply that is not what the kernel sends), after which
 * some sockets may have been reported. Cost: one dump per family and
 * protocol (five), about a microsecond per socket. */
int sockdiag_dump(struct sockdiag *d, sockdiag_fn fn, void *arg);

/* Parses the text of /proc/PID/net/tcp (tcp6, udp, udp6: kind SOCKQ_TCP or
 * SOCKQ_UDP, family AF_INET or AF_INET6), calling fn per socket with netns
 * set; listeners have has_max false. Returns the number of sockets, or
 * -EBADMSG for a line that is not what the kernel writes (sockets before it
 * were reported), or fn's negative return. */
int sockdiag_parse_procnet(const char *buf, size_t len, enum sockq_kind kind, unsigned family,
			   uint32_t netns, sockdiag_fn fn, void *arg);

/* The TcpExt ListenOverflows counter of /proc/PID/net/netstat's text.
 * Returns 0 and *ret, -ENOENT when absent, -EBADMSG when malformed. */
int sockdiag_parse_listen_overflows(const char *buf, size_t len, uint64_t *ret);

#endif
