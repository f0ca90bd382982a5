/* SPDX-License-Identifier: MIT */
/* The endpoint's live connections: a limit per client address, and a
 * deadline for each request's headers, so slow clients cannot starve scrapes.
 *
 * libmicrohttpd (0.9.75) times a connection out only when it is idle: a
 * client that sends one header byte a second is never idle, and a few
 * hundred clients that send half a header fill the connection limit and
 * then the listen backlog. The table notes when each connection started
 * waiting for headers; a sweeper thread shuts down (shutdown(2), so the
 * server itself closes it) any that still has none at its deadline, and
 * earlier under pressure; an address may hold only so many connections that
 * never sent headers. Every refusal and close is counted by reason.
 */
#ifndef MEMAGENT_CONNTAB_H
#define MEMAGENT_CONNTAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum conntab_reason {
	CONNTAB_HEADER_TIMEOUT, /* headers incomplete at the deadline */
	CONNTAB_PRESSURE,       /* headers incomplete after 1 s with the table 3/4 full */
	CONNTAB_ADDRESS_LIMIT,  /* refused at accept: its address has per_address
				 * connections still without headers */
	CONNTAB_REASON_MAX,
};

struct conntab_options {
	unsigned connections;      /* the server's limit (pressure is 3/4 of it) */
	unsigned per_address;      /* connections per client address that have not
				    * yet sent a request's headers; 0: no limit */
	unsigned header_timeout_s; /* from accept (or the last answer) to complete
				    * headers; 0: no deadline (nor pressure) */
	unsigned idle_timeout_s;   /* the server's idle timeout: a kept-alive connection
				    * may wait that long for its next request */
};

struct conntab;
struct conntab_conn;

/* Starts the sweeper thread. Returns 0 and *ret, or a negative errno. */
int conntab_new(const struct conntab_options *o, struct conntab **ret);
/* Stops the sweeper; every connection must have been closed (the server
 * stopped first). NULL-safe; returns NULL. */
struct conntab *conntab_free(struct conntab *t);

/* Whether a connection from addr may open (the server's accept policy);
 * a refusal is counted. Costs a walk of the open connections. */
bool conntab_admit(struct conntab *t, const struct sockaddr *addr, socklen_t len);
/* Notes an accepted connection on fd, which the caller keeps open until
 * conntab_close(). NULL when out of memory (the caller then closes it). */
struct conntab_conn *conntab_open(struct conntab *t, int fd, const struct sockaddr *addr,
				  socklen_t len);
/* Before fd is closed; NULL-safe. */
void conntab_close(struct conntab *t, struct conntab_conn *c);
/* A request's headers are complete: no deadline until it is answered. */
void conntab_headers_done(struct conntab *t, struct conntab_conn *c);
/* A request was answered: the next one's headers have idle_timeout_s +
 * header_timeout_s from now. */
void conntab_request_done(struct conntab *t, struct conntab_conn *c);

uint64_t conntab_closed(const struct conntab *t, enum conntab_reason r);
unsigned conntab_live(const struct conntab *t);
const char *conntab_reason_name(enum conntab_reason r);

#endif
