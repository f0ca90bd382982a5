/* SPDX-License-Identifier: MIT */
/* The endpoint's web settings in force: TLS material and basic-auth users.
 *
 * Why a cache, and what it holds: a bcrypt check costs tens of
 * milliseconds on the server's one thread, and Prometheus sends the same
 * credentials with every scrape. A success is remembered as
 * HMAC-SHA256(key, user NUL password) under a key drawn at random for this
 * web, never as the password: a memory dump shows no password, and a tag
 * from one run (or one reload) is worthless in the next. Failures are not
 * remembered (an attacker varies the password anyway); instead every
 * bcrypt check spends a token of a bucket refilled at WEB_BCRYPT_PER_S, so
 * however many wrong passwords arrive, bcrypt takes a bounded share of the
 * thread and cached scrapes keep being answered.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "web.h"

/* Certificates of the served chain, at most. */
#define WEB_CHAIN_MAX 16
/* A PEM file larger than this is refused unread. */
#define WEB_FILE_MAX_BYTES (1024 * 1024)
#define TAG_BYTES 32

struct web {
	atomic_int refs;
	bool tls;
	enum web_client_auth client_auth;
	enum web_tls_version min_version;
	gnutls_pcert_st certs[WEB_CHAIN_MAX];
	unsigned n_certs;
	gnutls_privkey_t key;
	gnutls_x509_trust_list_t ca; /* NULL without client_ca_file */
	struct web_user *users;
	size_t n_users;
	/* Mutable, server thread only. */
	uint8_t hmac_key[TAG_BYTES];
	uint8_t tags[WEB_CACHE_SLOTS][TAG_BYTES];
	bool used[WEB_CACHE_SLOTS];
	unsigned next_slot;
	double tokens;
	uint64_t tokens_ns;
	struct crypt_data *cd; /* 32 KiB: once per web, not per check */
};

static const char *const priorities[WEB_TLS_MAX] = {
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0",
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+VERS-TLS1.1",
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	"NORMAL:-VERS-ALL:+VERS-TLS1.3",
};

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads a whole (small, regular) file into *ret (free with free()). */
static int read_file(const char *path, gnutls_datum_t *ret, char *err, size_t errlen)
{
	struct stat st;
	unsigned char *buf;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), r;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > WEB_FILE_MAX_BYTES) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
			 WEB_FILE_MAX_BYTES);
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (n <= (size_t)st.st_size) {
		ssize_t k = read(fd, buf + n, (size_t)st.st_size + 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return r;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	buf[n < (size_t)st.st_size + 1 ? n : (size_t)st.st_size] = '\0';
	ret->data = buf;
	ret->size = (unsigned)n;
	return 0;
}

/* Cert and key: checked as a pair by GnuTLS' own loader (a key that does
 * not match the certificate is refused here, not at the first handshake),
 * then kept in the form the certificate callback hands out. */
static int load_pair(struct web *w, const char *cert_file, const char *key_file, char *err,
		     size_t errlen)
{
	gnutls_datum_t cert = { 0 }, key = { 0 };
	gnutls_certificate_credentials_t cred = NULL;
	int r, g;

	r = read_file(cert_file, &cert, err, errlen);
	if (r == 0)
		r = read_file(key_file, &key, err, errlen);
	if (r < 0)
		goto out;
	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	g = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g < 0) {
		r = -EINVAL;
		snprintf(err, errlen, "%s, %s: %s", cert_file, key_file, gnutls_strerror(g));
		goto out;
	}
	w->n_certs = WEB_CHAIN_MAX;
	g = gnutls_pcert_list_import_x509_raw(w->certs, &w->n_certs, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0) {
		w->n_certs = 0;
		r = -EINVAL;
		snprintf(err, errlen, "%s: %s (at most %d certificates)", cert_file, gnutls_strerror(g),
			 WEB_CHAIN_MAX);
		goto out;
	}
	if (gnutls_privkey_init(&w->key) < 0 ||
	    (g = gnutls_privkey_import_x509_raw(w->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		r = -EINVAL;
		snprintf(err, errlen, "%s: %s", key_file, gnutls_strerror(g));
	}
out:
	gnutls_certificate_free_credentials(cred);
	if (key.data)
		gnutls_memset(key.data, 0, key.size);
	free(key.data);
	free(cert.data);
	return r;
}

static int load_ca(struct web *w, const char *path, char *err, size_t errlen)
{
	gnutls_datum_t ca = { 0 };
	int r = read_file(path, &ca, err, errlen), g;

	if (r < 0)
		return r;
	if (gnutls_x509_trust_list_init(&w->ca, 0) < 0) {
		free(ca.data);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	g = gnutls_x509_trust_list_add_trust_mem(w->ca, &ca, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
	free(ca.data);
	if (g <= 0) {
		snprintf(err, errlen, "%s: %s", path, g < 0 ? gnutls_strerror(g) : "no certificate found");
		return -EINVAL;
	}
	return 0;
}

int web_new(const struct web_options *o, struct web **ret, char *err, size_t errlen)
{
	struct web *w = calloc(1, sizeof(*w));
	int r = 0;

	if (!w || !(w->cd = calloc(1, sizeof(*w->cd)))) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&w->refs, 1);
	w->tls = o->cert_file != NULL;
	w->client_auth = o->client_auth;
	w->min_version = o->min_version < WEB_TLS_MAX ? o->min_version : WEB_TLS12;
	w->tokens = WEB_BCRYPT_BURST;
	w->tokens_ns = monotonic_ns();
	if (w->tls)
		r = load_pair(w, o->cert_file, o->key_file, err, errlen);
	if (r == 0 && w->tls && o->client_ca_file)
		r = load_ca(w, o->client_ca_file, err, errlen);
	if (r == 0 && o->n_users) {
		w->users = calloc(o->n_users, sizeof(*w->users));
		if (!w->users)
			r = -ENOMEM;
		for (size_t i = 0; r == 0 && i < o->n_users; i++) {
			w->users[i].name = strdup(o->users[i].name);
			w->users[i].hash = strdup(o->users[i].hash);
			w->n_users = i + 1;
			if (!w->users[i].name || !w->users[i].hash)
				r = -ENOMEM;
		}
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
	}
	if (r == 0 && gnutls_rnd(GNUTLS_RND_KEY, w->hmac_key, sizeof(w->hmac_key)) < 0) {
		r = -EIO;
		snprintf(err, errlen, "no random bytes for the credential cache");
	}
	if (r < 0) {
		web_unref(w);
		return r;
	}
	*ret = w;
	return 0;
}

struct web *web_ref(struct web *w)
{
	if (w)
		atomic_fetch_add(&w->refs, 1);
	return w;
}

struct web *web_unref(struct web *w)
{
	if (!w || atomic_fetch_sub(&w->refs, 1) != 1)
		return NULL;
	for (unsigned i = 0; i < w->n_certs; i++)
		gnutls_pcert_deinit(&w->certs[i]);
	if (w->key)
		gnutls_privkey_deinit(w->key);
	if (w->ca)
		gnutls_x509_trust_list_deinit(w->ca, 1);
	for (size_t i = 0; i < w->n_users; i++) {
		free(w->users[i].name);
		free(w->users[i].hash);
	}
	free(w->users);
	gnutls_memset(w->cd, 0, sizeof(*w->cd));
	free(w->cd);
	free(w);
	return NULL;
}

bool web_tls(const struct web *w)
{
	return w && w->tls;
}

const char *web_priorities(const struct web *w)
{
	return priorities[w ? w->min_version : WEB_TLS12];
}

bool web_auth_required(const struct web *w)
{
	return w && w->n_users > 0;
}

void web_certificate(const struct web *w, gnutls_pcert_st **ret_certs, unsigned *ret_n,
		     gnutls_privkey_t *ret_key)
{
	*ret_certs = (gnutls_pcert_st *)w->certs;
	*ret_n = w->n_certs;
	*ret_key = w->key;
}

void web_session_setup(const struct web *w, gnutls_session_t session)
{
	static const gnutls_certificate_request_t req[WEB_CLIENT_MAX] = {
		[WEB_CLIENT_NONE] = GNUTLS_CERT_IGNORE,
		[WEB_CLIENT_REQUEST] = GNUTLS_CERT_REQUEST,
		[WEB_CLIENT_REQUIRE_ANY] = GNUTLS_CERT_REQUIRE,
		[WEB_CLIENT_VERIFY_IF_GIVEN] = GNUTLS_CERT_REQUEST,
		[WEB_CLIENT_REQUIRE_VERIFY] = GNUTLS_CERT_REQUIRE,
	};

	gnutls_certificate_server_set_request(session, req[w->client_auth]);
}

int web_verify_peer(const struct web *w, gnutls_session_t session)
{
	unsigned n = 0, status = 0;
	const gnutls_datum_t *raw = gnutls_certificate_get_peers(session, &n);
	gnutls_x509_crt_t crts[WEB_CHAIN_MAX];
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	unsigned k = 0;
	int g = 0;

	if (!raw || n == 0)
		return w->client_auth == WEB_CLIENT_REQUIRE_ANY ||
		       w->client_auth == WEB_CLIENT_REQUIRE_VERIFY ? -EACCES : 0;
	if (w->client_auth != WEB_CLIENT_VERIFY_IF_GIVEN && w->client_auth != WEB_CLIENT_REQUIRE_VERIFY)
		return 0;
	if (!w->ca || n > WEB_CHAIN_MAX)
		return -EACCES;
	for (; k < n; k++) {
		if (gnutls_x509_crt_init(&crts[k]) < 0)
			break;
		if (gnutls_x509_crt_import(crts[k], &raw[k], GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crts[k]);
			break;
		}
	}
	if (k == n)
		g = gnutls_x509_trust_list_verify_crt2(w->ca, crts, n, &purpose, 1, 0, &status, NULL);
	for (unsigned i = 0; i < k; i++)
		gnutls_x509_crt_deinit(crts[i]);
	return k == n && g == 0 && status == 0 ? 0 : -EACCES;
}

/* ---- basic auth ------------------------------------------------------------ */

static int tag_of(const struct web *w, const char *user, const char *password,
		  uint8_t tag[TAG_BYTES])
{
	gnutls_hmac_hd_t h;

	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, w->hmac_key, sizeof(w->hmac_key)) < 0)
		return -ENOMEM;
	/* The NUL keeps ("ab", "c") and ("a", "bc") apart. */
	gnutls_hmac(h, user, strlen(user) + 1);
	gnutls_hmac(h, password, strlen(password));
	gnutls_hmac_deinit(h, tag);
	return 0;
}

static bool same(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static bool take_token(struct web *w)
{
	uint64_t now = monotonic_ns();

	w->tokens += (double)(now - w->tokens_ns) / 1e9 * WEB_BCRYPT_PER_S;
	if (w->tokens > WEB_BCRYPT_BURST)
		w->tokens = WEB_BCRYPT_BURST;
	w->tokens_ns = now;
	if (w->tokens < 1)
		return false;
	w->tokens -= 1;
	return true;
}

/* bcrypt of password against hash, compared in constant time. */
static bool bcrypt_matches(struct web *w, const char *password, const char *hash)
{
	const char *out;
	size_t n = strlen(hash);

	memset(w->cd, 0, sizeof(*w->cd));
	out = crypt_rn(password, hash, w->cd, (int)sizeof(*w->cd));
	return out && out[0] != '*' && strlen(out) == n && same(out, hash, n);
}

enum web_auth web_check_basic(struct web *w, const char *user, const char *password,
			      int *ret_bcrypt)
{
	const struct web_user *u = NULL;
	uint8_t tag[TAG_BYTES];
	bool ok;

	*ret_bcrypt = 0;
	if (w->n_users == 0)
		return WEB_AUTH_OK;
	if (!user || !password)
		return WEB_AUTH_MISSING;
	if (tag_of(w, user, password, tag) < 0)
		return WEB_AUTH_RATE_LIMITED;
	for (unsigned i = 0; i < WEB_CACHE_SLOTS; i++)
		if (w->used[i] && same(w->tags[i], tag, TAG_BYTES))
			return WEB_AUTH_OK;
	if (!take_token(w))
		return WEB_AUTH_RATE_LIMITED;
	for (size_t i = 0; i < w->n_users && !u; i++)
		if (strcmp(w->users[i].name, user) == 0)
			u = &w->users[i];
	/* An unknown user costs a check too (against the first user's hash),
	 * so the answer's timing does not tell which users exist. */
	ok = bcrypt_matches(w, password, u ? u->hash : w->users[0].hash) && u;
	*ret_bcrypt = ok ? 1 : -1;
	if (!ok)
		return WEB_AUTH_DENIED;
	memcpy(w->tags[w->next_slot], tag, TAG_BYTES);
	w->used[w->next_slot] = true;
	w->next_slot = (w->next_slot + 1) % WEB_CACHE_SLOTS;
	return WEB_AUTH_OK;
}
