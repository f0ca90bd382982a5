/* SPDX-License-Identifier: MIT */
/* The HTTP endpoint: /metrics, /healthz, served from the latest snapshot. */
#ifndef MEMAGENT_HTTPD_H
#define MEMAGENT_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "registry.h"
#include "web.h"

struct httpd_options {
	const struct sockaddr_storage *addr; /* where to listen; port 0 picks one */
	socklen_t addr_len;
	unsigned connections; /* concurrent connections; more wait in the backlog */
	unsigned timeout_s;   /* idle connection timeout */
	unsigned per_address; /* per client address, still without headers; 0: any */
	unsigned header_timeout_s; /* to complete a request's headers (conntab.h); 0: no deadline */
	struct web *web;      /* TLS and basic auth (NULL: neither); the server takes a reference */
};

struct httpd;

/* Binds and starts serving from reg (which must outlive the server) on its own
 * thread. Returns 0 and *ret, or a negative errno with a one-line reason in
 * err ("127.0.0.1:9470: Address already in use"). The address comes parsed
 * (listen_parse()): this module never reads configuration text. */
int httpd_start(const struct httpd_options *o, struct registry *reg, struct httpd **ret,
		char *err, size_t errlen);

/* Stops serving (waits for requests in flight); NULL-safe; returns NULL. */
struct httpd *httpd_free(struct httpd *h);

/* The bound address as "ADDR:PORT" (the real port when 0 was asked). */
const char *httpd_address(const struct httpd *h);
/* "http" or "https". */
const char *httpd_scheme(const struct httpd *h);

/* Puts w in force for the next handshakes and requests (a reload:
 * re-read certificates, new users); connections keep the certificate their
 * handshake used. Takes a reference. Returns -EINVAL, changing nothing,
 * when w turns TLS on or off or changes min_version: that takes a new
 * server. */
int httpd_set_web(struct httpd *h, struct web *w);
/* Whether httpd_set_web() takes w (else the reload needs a new server). */
bool httpd_takes_web(const struct httpd *h, const struct web *w);
/* The web in force (borrowed: valid until the next httpd_set_web()). */
struct web *httpd_web(const struct httpd *h);

/* Renders s's default exposition ahead of the first scrape, so scrapes stay
 * constant-time; called by the sampler right after publishing. */
void httpd_warm(struct httpd *h, struct snapshot *s);

/* Families this module emits, NULL-terminated (for docs and tests). */
extern const struct metric_desc *const httpd_metrics[];

#endif
