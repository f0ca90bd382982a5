/* SPDX-License-Identifier: MIT */
/* Listen addresses: the "ADDR:PORT" text of the config's "listen" and of
 * --listen, parsed to a socket address. */
#ifndef MEMAGENT_LISTEN_H
#define MEMAGENT_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

/* Checks "ADDR:PORT" for the "listen" key and the --listen option: ADDR an
 * IPv4 address in dotted form or an IPv6 address in brackets ("[::1]:9470"),
 * no host names; PORT 0..65535 (0: any free port). On success returns 0 and,
 * when ret/ret_len are not NULL, the address; on failure returns -EINVAL and
 * says why in why (if not NULL), *ret and *ret_len untouched. */
int listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, char *why,
		 size_t whylen);

#endif
