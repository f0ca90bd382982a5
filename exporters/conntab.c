/* SPDX-License-Identifier: MIT */
/* The endpoint's live connections: per-address limit and header deadlines.
 *
 * Invariant: a connection is in the list from conntab_open() to
 * conntab_close(), and the server closes its fd only after conntab_close()
 * returned (libmicrohttpd notifies CLOSED before closing the socket). The
 * sweeper calls shutdown() under the same mutex, so it only ever touches a
 * descriptor that is still the connection's, never one reused since.
 *
 * The per-address limit counts only connections that never completed a
 * request's headers: those are what a slow client holds, while a burst of
 * real scrapes from one address (a load balancer, a test) completes its
 * headers at once and is not refused for being many.
 *
 * The list is walked on each accept (the per-address count) and on each
 * sweep: both bounded by the server's connection limit.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "conntab.h"

#define NS_PER_S 1000000000ull
/* How often the sweeper looks: deadlines are kept to within this. */
#define SWEEP_NS (250 * 1000000ull)
/* Under pressure, headers get this long. */
#define PRESSURE_NS NS_PER_S

struct conntab_conn {
	struct conntab_conn *prev, *next;
	struct sockaddr_storage addr;
	int fd;
	bool waiting; /* for headers, since `since` */
	bool served;  /* a request's headers came once: not counted per address */
	bool shut;
	uint64_t since_ns;
	uint64_t deadline_ns;
};

struct conntab {
	struct conntab_options o;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t sweeper;
	bool stop;
	struct conntab_conn *head;
	atomic_uint live; /* changed under lock; read by scrapes without it */
	atomic_uint_fast64_t closed[CONNTAB_REASON_MAX];
};

static const char *const reason_names[CONNTAB_REASON_MAX] = {
	[CONNTAB_HEADER_TIMEOUT] = "header_timeout",
	[CONNTAB_PRESSURE] = "pressure",
	[CONNTAB_ADDRESS_LIMIT] = "address_limit",
};

const char *conntab_reason_name(enum conntab_reason r)
{
	return r < CONNTAB_REASON_MAX ? reason_names[r] : "?";
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* The client address alone (no port), for the per-address count. */
static bool same_host(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
	return true;
}

/* One pass: shut down each connection past its deadline. */
static void sweep(struct conntab *t, uint64_t now)
{
	bool pressure = t->o.header_timeout_s && atomic_load(&t->live) * 4 >= t->o.connections * 3;

	for (struct conntab_conn *c = t->head; c; c = c->next) {
		enum conntab_reason why;

		if (!c->waiting || c->shut)
			continue;
		if (now >= c->deadline_ns)
			why = CONNTAB_HEADER_TIMEOUT;
		else if (pressure && now >= c->since_ns + PRESSURE_NS)
			why = CONNTAB_PRESSURE;
		else
			continue;
		/* Counted first: whoever sees the close (the client, a test)
		 * then sees it counted. The server sees end of file and closes
		 * it itself. */
		atomic_fetch_add(&t->closed[why], 1);
		shutdown(c->fd, SHUT_RDWR);
		c->shut = true;
	}
}

static void *sweeper_main(void *arg)
{
	struct conntab *t = arg;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		uint64_t next = monotonic_ns() + SWEEP_NS;
		struct timespec ts = { (time_t)(next / NS_PER_S), (long)(next % NS_PER_S) };

		pthread_cond_timedwait(&t->wake, &t->lock, &ts);
		if (!t->stop)
			sweep(t, monotonic_ns());
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int conntab_new(const struct conntab_options *o, struct conntab **ret)
{
	struct conntab *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int r;

	if (!t)
		return -ENOMEM;
	t->o = *o;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&t->sweeper, NULL, sweeper_main, t);
	if (r != 0) {
		pthread_cond_destroy(&t->wake);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -r;
	}
	*ret = t;
	return 0;
}

struct conntab *conntab_free(struct conntab *t)
{
	if (!t)
		return NULL;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->sweeper, NULL);
	/* Left by a server that never told us of a close: not ours to shut. */
	while (t->head) {
		struct conntab_conn *c = t->head;

		t->head = c->next;
		free(c);
	}
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
	return NULL;
}

bool conntab_admit(struct conntab *t, const struct sockaddr *addr, socklen_t len)
{
	unsigned n = 0;

	(void)len;
	if (t->o.per_address == 0)
		return true;
	pthread_mutex_lock(&t->lock);
	for (struct conntab_conn *c = t->head; c && n < t->o.per_address; c = c->next)
		n += !c->served && same_host(&c->addr, addr);
	pthread_mutex_unlock(&t->lock);
	if (n < t->o.per_address)
		return true;
	atomic_fetch_add(&t->closed[CONNTAB_ADDRESS_LIMIT], 1);
	return false;
}

struct conntab_conn *conntab_open(struct conntab *t, int fd, const struct sockaddr *addr,
				  socklen_t len)
{
	struct conntab_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (addr && len <= sizeof(c->addr))
		memcpy(&c->addr, addr, len);
	c->fd = fd;
	c->waiting = true;
	c->since_ns = monotonic_ns();
	c->deadline_ns = t->o.header_timeout_s ? c->since_ns + t->o.header_timeout_s * NS_PER_S
						 : UINT64_MAX;
	pthread_mutex_lock(&t->lock);
	c->next = t->head;
	if (t->head)
		t->head->prev = c;
	t->head = c;
	atomic_fetch_add(&t->live, 1);
	pthread_mutex_unlock(&t->lock);
	return c;
}

void conntab_close(struct conntab *t, struct conntab_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&t->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&t->live, 1);
	pthread_mutex_unlock(&t->lock);
	free(c);
}

void conntab_headers_done(struct conntab *t, struct conntab_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&t->lock);
	c->waiting = false;
	c->served = true;
	pthread_mutex_unlock(&t->lock);
}

void conntab_request_done(struct conntab *t, struct conntab_conn *c)
{
	uint64_t now = monotonic_ns();

	if (!c)
		return;
	pthread_mutex_lock(&t->lock);
	c->waiting = true;
	/* Pressure counts from here too: an idle kept-alive connection is
	 * the first to go when the table fills. */
	c->since_ns = now;
	c->deadline_ns = t->o.header_timeout_s ?
		now + (uint64_t)(t->o.idle_timeout_s + t->o.header_timeout_s) * NS_PER_S : UINT64_MAX;
	pthread_mutex_unlock(&t->lock);
}

uint64_t conntab_closed(const struct conntab *t, enum conntab_reason r)
{
	return atomic_load(&t->closed[r]);
}

unsigned conntab_live(const struct conntab *t)
{
	return atomic_load(&t->live);
}
