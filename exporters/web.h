/* SPDX-License-Identifier: MIT */
/* The endpoint's web settings in force: TLS material and basic-auth users.
 *
 * The key names are those of Prometheus' exporter-toolkit web config
 * (docs/web.md). A web is built from files at start and at every reload and
 * is immutable afterwards, except for its bcrypt cache and rate limiter,
 * which only the server thread touches. It is shared by reference: the
 * server holds the current one, each TLS connection the one its handshake
 * used, so a reload never pulls a certificate from under a handshake.
 */
#ifndef MEMAGENT_WEB_H
#define MEMAGENT_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/* exporter-toolkit's client_auth_type values, in its order. */
enum web_client_auth {
	WEB_CLIENT_NONE,            /* NoClientCert (default) */
	WEB_CLIENT_REQUEST,         /* RequestClientCert */
	WEB_CLIENT_REQUIRE_ANY,     /* RequireAnyClientCert */
	WEB_CLIENT_VERIFY_IF_GIVEN, /* VerifyClientCertIfGiven */
	WEB_CLIENT_REQUIRE_VERIFY,  /* RequireAndVerifyClientCert */
	WEB_CLIENT_MAX,
};

enum web_tls_version { WEB_TLS10, WEB_TLS11, WEB_TLS12, WEB_TLS13, WEB_TLS_MAX };

/* Users at most; each costs a bcrypt hash in memory and nothing per scrape. */
#define WEB_USERS_MAX 64
/* Successful credentials remembered (a keyed hash each). */
#define WEB_CACHE_SLOTS 64
/* bcrypt checks allowed per second on average, and in a burst: a check
 * costs tens of milliseconds on the server's one thread. */
#define WEB_BCRYPT_PER_S 4
#define WEB_BCRYPT_BURST 8

struct web_user {
	char *name;
	char *hash; /* bcrypt: $2a$, $2b$ or $2y$ */
};

struct web_options {
	char *cert_file; /* NULL: no TLS */
	char *key_file;
	char *client_ca_file; /* needed by the verifying client_auth types */
	enum web_client_auth client_auth;
	enum web_tls_version min_version; /* TLS12 by default, as exporter-toolkit */
	struct web_user *users; /* NULL, n_users 0: no basic auth */
	size_t n_users;
};

enum web_auth {
	WEB_AUTH_OK,
	WEB_AUTH_MISSING,      /* no or malformed Authorization header */
	WEB_AUTH_DENIED,       /* unknown user or wrong password */
	WEB_AUTH_RATE_LIMITED, /* not checked: the bcrypt budget is spent */
	WEB_AUTH_MAX,
};

struct web;

/* Reads the files o names (certificate chain, key, client CAs) and copies
 * the users. Returns 0 and *ret (one reference), or a negative errno with a
 * one-line reason naming the file in err ("/etc/x.pem: no certificate
 * found"); nothing is kept on failure. Costs a file read and parse each. */
int web_new(const struct web_options *o, struct web **ret, char *err, size_t errlen);
struct web *web_ref(struct web *w);
/* Drops a reference; NULL-safe; returns NULL. */
struct web *web_unref(struct web *w);

/* These three take NULL for no web: plain HTTP, no users. */
/* TLS in force (a daemon flag: changing it needs a new server). */
bool web_tls(const struct web *w);
/* The GnuTLS priority string for min_version (a daemon option too). */
const char *web_priorities(const struct web *w);
bool web_auth_required(const struct web *w);

/* The certificate chain and key for a handshake; they live as long as w. */
void web_certificate(const struct web *w, gnutls_pcert_st **ret_certs, unsigned *ret_n,
		     gnutls_privkey_t *ret_key);
/* Asks session for a client certificate as client_auth_type says. */
void web_session_setup(const struct web *w, gnutls_session_t session);
/* Checks the client certificate session received (called from GnuTLS'
 * verify hook during the handshake): 0 to go on, -EACCES to refuse. */
int web_verify_peer(const struct web *w, gnutls_session_t session);

/* Checks basic-auth credentials (user NULL when the request had none).
 * A success is remembered under a keyed hash of the credentials, so a
 * scraper's repeated requests cost one bcrypt check; checks beyond
 * WEB_BCRYPT_PER_S per second are refused unchecked. *ret_bcrypt says
 * whether a bcrypt check ran (1: matched, -1: did not, 0: none). Only one
 * thread may call it for a given w (the cache is not locked). */
enum web_auth web_check_basic(struct web *w, const char *user, const char *password,
			      int *ret_bcrypt);

/* The names the config uses. Inline: the config loader (and its fuzz
 * target) needs them without linking GnuTLS. */
static inline const char *web_client_auth_name(enum web_client_auth a)
{
	static const char *const names[WEB_CLIENT_MAX] = {
		"NoClientCert", "RequestClientCert", "RequireAnyClientCert",
		"VerifyClientCertIfGiven", "RequireAndVerifyClientCert",
	};

	return a < WEB_CLIENT_MAX ? names[a] : "?";
}

static inline const char *web_tls_version_name(enum web_tls_version v)
{
	static const char *const names[WEB_TLS_MAX] = { "TLS10", "TLS11", "TLS12", "TLS13" };

	return v < WEB_TLS_MAX ? names[v] : "?";
}

#endif
