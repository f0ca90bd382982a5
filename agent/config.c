/* SPDX-License-Identifier: MIT */
/* The agent's configuration: JSON text to struct config, each error placed at file:line:column and key path.
 *
 * Jansson decodes the text, rejecting syntax errors, duplicate keys and
 * anything after the top-level value. The schema check is table-driven: each
 * object of the schema is a table of its known keys, each row naming the JSON
 * type the key takes and a handler that checks the value and stores it. A new
 * section ("sinks", "alerts", "heap") is one row in top_keys plus a table and
 * handlers of its own; nothing else changes.
 *
 * While checking, the key path being checked is kept as a small stack of
 * components. Only when something is wrong is the text scanned a second time
 * (jsonpos) to turn that path into a line and column: a valid config costs
 * one decode.
 */

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "alertmanager.h"
#include "config.h"
#include "jsonpos.h"
#include "listen.h"
#include "sampler.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The schema nests at most targets[i].match.KEY; room for later sections. */
#define DEPTH_MAX 8
/* Characters of a user's string shown in a message, and the buffer for it
 * quoted (a character takes at most 4 bytes, escaped or not). */
#define QUOTE_MAX 64
#define QUOTE_BUF (QUOTE_MAX * 4 + 8)
/* Keys longer than this get no "did you mean". */
#define SUGGEST_MAX 64
/* A regex longer than this is refused (compiling costs memory and time). */
#define REGEX_MAX 4096
/* The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger. */
#define PID_MAX (4 * 1024 * 1024)

static const char default_json[] =
	"{\n"
	"  \"interval_ms\": 5000,\n"
	"  \"listen\": \"127.0.0.1:9470\",\n"
	"  \"targets\": [\n"
	"    {\n"
	"      \"name\": \"all\",\n"
	"      \"match\": {},\n"
	"      \"group_by\": \"comm\"\n"
	"    }\n"
	"  ]\n"
	"}\n";

/* ---- the schema's machinery ------------------------------------------------ */

enum vtype { V_INT, V_BOOL, V_STRING, V_OBJECT, V_ARRAY, V_NUMBER /* integer or real */ };

struct ctx;
struct key_spec;
/* Checks value v (already of the row's type) and stores it into obj. */
typedef int key_apply_fn(struct ctx *x, const struct key_spec *k, json_t *v, void *obj);

struct key_spec {
	const char *key;
	enum vtype type;
	key_apply_fn *apply;
	size_t offset;               /* of the field in obj: apply_uint, apply_bool, apply_object */
	long long min, max;          /* apply_uint, apply_pid: the accepted range */
	const struct key_spec *keys; /* apply_object: the nested object's table */
	size_t n_keys;
	bool required;
};

struct path_part {
	const char *key; /* NULL for an array element */
	size_t index;
};

struct ctx {
	const char *name; /* of the text, for messages */
	const char *text;
	size_t len;
	char *err;
	struct jsonpos *pos; /* scanned at the first error */
	struct path_part path[DEPTH_MAX];
	unsigned depth;
	bool targets_seen;
};

enum at { AT_VALUE, AT_KEY };

static void push_key(struct ctx *x, const char *key)
{
	assert(x->depth < DEPTH_MAX);
	x->path[x->depth++] = (struct path_part){ .key = key };
}

static void push_index(struct ctx *x, size_t index)
{
	assert(x->depth < DEPTH_MAX);
	x->path[x->depth++] = (struct path_part){ .index = index };
}

static void pop(struct ctx *x)
{
	assert(x->depth > 0);
	x->depth--;
}

/* Writes s[0..n) quoted and escaped for a message into buf; returns buf. */
static const char *quote(char buf[QUOTE_BUF], const char *s, size_t n)
{
	strcpy(buf, "\"");
	jsonpos_escape_append(buf, QUOTE_BUF - 1, s, n, true, QUOTE_MAX);
	strcat(buf, "\"");
	return buf;
}

static int nomem(struct ctx *x)
{
	snprintf(x->err, CONFIG_ERROR_MAX, "%s: out of memory", x->name);
	return -ENOMEM;
}

/* Where the value (or key) at the current path starts. False when that
 * cannot be told (out of memory): the message then goes without it. */
static bool locate(struct ctx *x, enum at at, struct jsonpos_loc *ret)
{
	long node;

	if (!x->pos && jsonpos_scan(x->text, x->len, &x->pos) < 0)
		return false;
	node = jsonpos_root(x->pos);
	for (unsigned i = 0; i < x->depth && node >= 0; i++) {
		const struct path_part *pp = &x->path[i];

		node = pp->key ? jsonpos_member(x->pos, node, pp->key, strlen(pp->key)) :
				 jsonpos_element(x->pos, node, pp->index);
	}
	if (node < 0)
		return false;
	if (at == AT_KEY && jsonpos_key_loc(x->pos, node, ret) == 0)
		return true;
	return jsonpos_value_loc(x->pos, node, ret) == 0;
}

static void put_error(struct ctx *x, const struct jsonpos_loc *loc, const char *path,
		      const char *msg)
{
	const char *sep = *path ? ": " : "";
	int n;

	if (loc)
		n = snprintf(x->err, CONFIG_ERROR_MAX, "%s:%u:%u: %s%s%s", x->name, loc->line,
			     loc->column, path, sep, msg);
	else
		n = snprintf(x->err, CONFIG_ERROR_MAX, "%s: %s%s%s", x->name, path, sep, msg);
	if (n >= CONFIG_ERROR_MAX) {
		/* Cut: say so, without splitting a character. */
		size_t o = CONFIG_ERROR_MAX - 4;

		while (o > 0 && ((unsigned char)x->err[o] & 0xc0) == 0x80)
			o--;
		memcpy(x->err + o, "...", 4);
	}
}

/* Reports an error at the current path; returns -EINVAL. */
static int fail(struct ctx *x, enum at at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ctx *x, enum at at, const char *fmt, ...)
{
	char path[JSONPOS_PATH_MAX] = "", msg[CONFIG_ERROR_MAX];
	struct jsonpos_loc loc;
	va_list ap;

	for (unsigned i = 0; i < x->depth; i++) {
		if (x->path[i].key)
			jsonpos_path_append_key(path, sizeof(path), x->path[i].key,
						strlen(x->path[i].key));
		else
			jsonpos_path_append_index(path, sizeof(path), x->path[i].index);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	put_error(x, locate(x, at, &loc) ? &loc : NULL, path, msg);
	return -EINVAL;
}

static const char *vtype_name(enum vtype t)
{
	switch (t) {
	case V_INT:
		return "an integer";
	case V_BOOL:
		return "a boolean";
	case V_STRING:
		return "a string";
	case V_OBJECT:
		return "an object";
	case V_ARRAY:
		return "an array";
	case V_NUMBER:
		return "a number";
	}
	return "?";
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static bool type_ok(enum vtype t, const json_t *v)
{
	switch (t) {
	case V_INT:
		return json_is_integer(v);
	case V_BOOL:
		return json_is_boolean(v);
	case V_STRING:
		return json_is_string(v);
	case V_OBJECT:
		return json_is_object(v);
	case V_ARRAY:
		return json_is_array(v);
	case V_NUMBER:
		return json_is_number(v);
	}
	return false;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance, ignoring case: insertions, deletions,
 * substitutions and swaps of neighbours cost one each. n, m <= SUGGEST_MAX. */
static unsigned distance(const char *a, size_t n, const char *b, size_t m)
{
	unsigned d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];

	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			unsigned cost = lower(a[i - 1]) != lower(b[j - 1]);
			unsigned v = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[n][m];
}

/* The known key nearest to key, if it is near enough to be a typo: one edit
 * for keys of up to 4 characters, two up to 8, three beyond. */
static const char *suggest(const struct key_spec *keys, size_t n, const char *key)
{
	size_t kn = strlen(key);
	const char *best = NULL;
	unsigned best_d = UINT_MAX;

	if (kn > SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t m = strlen(keys[i].key);
		unsigned limit = m <= 4 ? 1 : m <= 8 ? 2 : 3;
		unsigned d;

		if (m > SUGGEST_MAX)
			continue;
		d = distance(key, kn, keys[i].key, m);
		if (d <= limit && d < best_d) {
			best = keys[i].key;
			best_d = d;
		}
	}
	return best;
}

static int fail_unknown(struct ctx *x, const struct key_spec *keys, size_t n, const char *key)
{
	char q[QUOTE_BUF], list[CONFIG_ERROR_MAX / 2] = "";
	const char *near = suggest(keys, n, key);

	quote(q, key, strlen(key));
	if (near)
		return fail(x, AT_KEY, "unknown key %s; did you mean \"%s\"?", q, near);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, keys[i].key, sizeof(list) - strlen(list) - 1);
	}
	return fail(x, AT_KEY, "unknown key %s; expected one of: %s", q, list);
}

/* Checks every member of obj against keys (in document order, so the first
 * error reported is the first in the file), then the required keys. */
static int check_object(struct ctx *x, json_t *obj, const struct key_spec *keys, size_t n,
			void *dst)
{
	uint64_t seen = 0;
	const char *key;
	json_t *v;

	assert(n <= 64);
	json_object_foreach(obj, key, v) {
		const struct key_spec *k = NULL;
		int r;

		for (size_t i = 0; i < n && !k; i++)
			if (strcmp(keys[i].key, key) == 0)
				k = &keys[i];
		push_key(x, key);
		if (!k)
			r = fail_unknown(x, keys, n, key);
		else if (!type_ok(k->type, v))
			r = fail(x, AT_VALUE, "expected %s, got %s", vtype_name(k->type), json_kind(v));
		else
			r = k->apply(x, k, v, dst);
		pop(x);
		if (r < 0)
			return r;
		seen |= UINT64_C(1) << (k - keys);
	}
	for (size_t i = 0; i < n; i++)
		if (keys[i].required && !(seen & (UINT64_C(1) << i)))
			return fail(x, AT_VALUE, "missing required key \"%s\"", keys[i].key);
	return 0;
}

/* ---- generic handlers ------------------------------------------------------ */

static void *field(void *obj, const struct key_spec *k)
{
	return (char *)obj + k->offset;
}

static int check_range(struct ctx *x, const struct key_spec *k, json_int_t i)
{
	if (i < k->min || i > k->max)
		return fail(x, AT_VALUE, "%lld is out of range %lld..%lld", (long long)i, k->min,
			    k->max);
	return 0;
}

/* An unsigned field. */
static int apply_uint(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	json_int_t i = json_integer_value(v);
	int r = check_range(x, k, i);

	if (r == 0)
		*(unsigned *)field(obj, k) = (unsigned)i;
	return r;
}

/* A bool field. */
static int apply_bool(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	(void)x;
	*(bool *)field(obj, k) = json_is_true(v);
	return 0;
}

/* A nested object, checked against k->keys into the struct at k->offset. */
static int apply_object(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	return check_object(x, v, k->keys, k->n_keys, field(obj, k));
}

/* Replaces *dst with a copy of the string v. */
static int set_string(struct ctx *x, json_t *v, char **dst)
{
	char *s = strdup(json_string_value(v));

	if (!s)
		return nomem(x);
	free(*dst);
	*dst = s;
	return 0;
}

static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* ---- top level ------------------------------------------------------------- */

static int apply_listen(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct config *c = obj;
	char why[CONFIG_ERROR_MAX / 2];

	(void)k;
	if (listen_parse(json_string_value(v), NULL, NULL, why, sizeof(why)) < 0)
		return fail(x, AT_VALUE, "%s", why);
	return set_string(x, v, &c->listen);
}

static const struct key_spec limits_keys[] = {
	{ .key = "max_processes", .type = V_INT, .apply = apply_uint, .min = 1, .max = 100000,
	  .offset = offsetof(struct config_limits, max_processes) },
	{ .key = "max_groups", .type = V_INT, .apply = apply_uint, .min = 1, .max = 100000,
	  .offset = offsetof(struct config_limits, max_groups) },
	{ .key = "max_instrumented", .type = V_INT, .apply = apply_uint, .min = 0, .max = 100000,
	  .offset = offsetof(struct config_limits, max_instrumented) },
	{ .key = "max_listeners", .type = V_INT, .apply = apply_uint, .min = 0, .max = 100000,
	  .offset = offsetof(struct config_limits, max_listeners) },
	{ .key = "max_message_queues", .type = V_INT, .apply = apply_uint, .min = 0, .max = 100000,
	  .offset = offsetof(struct config_limits, max_message_queues) },
	{ .key = "http_connections", .type = V_INT, .apply = apply_uint, .min = 1, .max = 10000,
	  .offset = offsetof(struct config_limits, http_connections) },
	{ .key = "http_timeout_s", .type = V_INT, .apply = apply_uint, .min = 1, .max = 3600,
	  .offset = offsetof(struct config_limits, http_timeout_s) },
	{ .key = "http_connections_per_address", .type = V_INT, .apply = apply_uint, .min = 1,
	  .max = 10000, .offset = offsetof(struct config_limits, http_connections_per_address) },
	{ .key = "http_header_timeout_s", .type = V_INT, .apply = apply_uint, .min = 1, .max = 600,
	  .offset = offsetof(struct config_limits, http_header_timeout_s) },
};

/* ---- web -------------------------------------------------------------------- */

/* A file the server reads at start and at each reload: it must open now,
 * so a typo is reported here with its position (its content is checked
 * when the server loads it). */
static int apply_file(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	const char *s = json_string_value(v);
	int fd;

	if (json_string_length(v) == 0 || json_string_length(v) >= PATH_MAX ||
	    strlen(s) != json_string_length(v))
		return fail(x, AT_VALUE, "must be a file name of 1 to %d bytes", PATH_MAX - 1);
	fd = open(s, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(x, AT_VALUE, "cannot open %s: %s", s, strerror(errno));
	close(fd);
	return set_string(x, v, (char **)field(obj, k));
}

/* A string out of a fixed list of names, stored as its index. */
static int apply_name_of(struct ctx *x, const char *s, const char *(*name)(int), int n, int *dst)
{
	char list[CONFIG_ERROR_MAX / 2] = "", q[QUOTE_BUF];

	for (int i = 0; i < n; i++) {
		if (strcmp(s, name(i)) == 0) {
			*dst = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"",
			 i ? ", " : "", name(i));
	}
	return fail(x, AT_VALUE, "unknown value %s; expected one of %s", quote(q, s, strlen(s)), list);
}

static const char *client_auth_name(int i)
{
	return web_client_auth_name((enum web_client_auth)i);
}

static const char *tls_version_name(int i)
{
	return web_tls_version_name((enum web_tls_version)i);
}

static int apply_client_auth(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct web_options *w = obj;
	int i, r;

	(void)k;
	r = apply_name_of(x, json_string_value(v), client_auth_name, WEB_CLIENT_MAX, &i);
	if (r == 0)
		w->client_auth = (enum web_client_auth)i;
	return r;
}

static int apply_min_version(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct web_options *w = obj;
	int i, r;

	(void)k;
	r = apply_name_of(x, json_string_value(v), tls_version_name, WEB_TLS_MAX, &i);
	if (r == 0)
		w->min_version = (enum web_tls_version)i;
	return r;
}

static const struct key_spec web_tls_keys[] = {
	{ .key = "cert_file", .type = V_STRING, .apply = apply_file, .required = true,
	  .offset = offsetof(struct web_options, cert_file) },
	{ .key = "key_file", .type = V_STRING, .apply = apply_file, .required = true,
	  .offset = offsetof(struct web_options, key_file) },
	{ .key = "client_auth_type", .type = V_STRING, .apply = apply_client_auth },
	{ .key = "client_ca_file", .type = V_STRING, .apply = apply_file,
	  .offset = offsetof(struct web_options, client_ca_file) },
	{ .key = "min_version", .type = V_STRING, .apply = apply_min_version },
};

static int apply_tls(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct web_options *w = obj;
	int r = check_object(x, v, k->keys, k->n_keys, obj);

	if (r == 0 && !w->client_ca_file &&
	    (w->client_auth == WEB_CLIENT_VERIFY_IF_GIVEN ||
	     w->client_auth == WEB_CLIENT_REQUIRE_VERIFY)) {
		push_key(x, "client_auth_type");
		r = fail(x, AT_VALUE, "\"%s\" verifies client certificates: it needs \"client_ca_file\"",
			 web_client_auth_name(w->client_auth));
		pop(x);
	}
	return r;
}

/* basic_auth_users: user name to bcrypt hash, as exporter-toolkit has it. */
static int apply_users(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct web_options *w = obj;
	size_t n = json_object_size(v);
	const char *user;
	json_t *hash;

	(void)k;
	if (n > WEB_USERS_MAX)
		return fail(x, AT_VALUE, "too many users: %zu, at most %d", n, WEB_USERS_MAX);
	if (n == 0)
		return 0;
	w->users = calloc(n, sizeof(*w->users));
	if (!w->users)
		return nomem(x);
	json_object_foreach(v, user, hash) {
		struct web_user *u = &w->users[w->n_users];
		const char *h = NULL;
		int r = 0;

		push_key(x, user);
		if (*user == '\0' || strchr(user, ':') || has_control(user, strlen(user)))
			r = fail(x, AT_KEY, "a user name must be non-empty, without ':' or control "
				 "characters (basic auth splits user and password at the first ':')");
		else if (!json_is_string(hash))
			r = fail(x, AT_VALUE, "expected a bcrypt hash (a string), got %s", json_kind(hash));
		else if (h = json_string_value(hash), strlen(h) != 60 || h[0] != '$' || h[1] != '2' ||
			 !strchr("aby", h[2]) || h[3] != '$')
			r = fail(x, AT_VALUE, "not a bcrypt hash: expected 60 characters starting with "
				 "$2a$, $2b$ or $2y$ (htpasswd -nB USER makes one)");
		if (r == 0 && (!(u->name = strdup(user)) || !(u->hash = strdup(h)))) {
			free(u->name);
			u->name = NULL;
			r = nomem(x);
		}
		pop(x);
		if (r < 0)
			return r;
		w->n_users++;
	}
	return 0;
}

static const struct key_spec web_keys[] = {
	{ .key = "tls_server_config", .type = V_OBJECT, .apply = apply_tls,
	  .keys = web_tls_keys, .n_keys = ARRAY_SIZE(web_tls_keys) },
	{ .key = "basic_auth_users", .type = V_OBJECT, .apply = apply_users },
};

/* ---- heap ------------------------------------------------------------------- */

/* heap.names: checked here (the collector compiles its own copy). */
static int apply_heap_names(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct config_heap *h = obj;
	char why[128];
	regex_t re;
	int r;

	(void)k;
	if (json_string_length(v) > REGEX_MAX)
		return fail(x, AT_VALUE, "regex too long: %zu bytes, at most %d",
			    json_string_length(v), REGEX_MAX);
	r = regcomp(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
	if (r != 0) {
		regerror(r, &re, why, sizeof(why));
		return r == REG_ESPACE ? nomem(x) : fail(x, AT_VALUE, "invalid regex: %s", why);
	}
	regfree(&re);
	return set_string(x, v, &h->names);
}

static const struct key_spec heap_keys[] = {
	{ .key = "enabled", .type = V_BOOL, .apply = apply_bool,
	  .offset = offsetof(struct config_heap, enabled) },
	{ .key = "names", .type = V_STRING, .apply = apply_heap_names },
	{ .key = "snapshot_on_leak", .type = V_BOOL, .apply = apply_bool,
	  .offset = offsetof(struct config_heap, snapshot_on_leak) },
};

/* ---- alerts ----------------------------------------------------------------- */

static int apply_u64(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	json_int_t i = json_integer_value(v);
	int r = check_range(x, k, i);

	if (r == 0)
		*(uint64_t *)field(obj, k) = (uint64_t)i;
	return r;
}

/* What is wrong with s (len bytes) as an http:// or https:// URL, or NULL:
 * the one rule of sinks[].url and alerts.alertmanagers[]. */
static const char *url_problem(const char *s, size_t len)
{
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return "not an http:// or https:// URL";
	if (strlen(s) != len || has_control(s, len) || strchr(s, ' ') || len == 7 + (s[4] == 's'))
		return "not a URL: no host, or a space or control character in it";
	return NULL;
}

/* A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*, "__" names reserved. */
static bool is_label_name(const char *s)
{
	if (!*s || (s[0] == '_' && s[1] == '_'))
		return false;
	for (size_t i = 0; s[i]; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (i > 0 && s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* An alert name as Prometheus takes it: a valid metric name. */
static bool is_alert_name(const char *s)
{
	if (!*s)
		return false;
	for (size_t i = 0; s[i]; i++)
		if (!(s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (i > 0 && s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static int apply_alert_name(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct alert_rule *r = obj;
	const char *s = json_string_value(v);
	char q[QUOTE_BUF];

	(void)k;
	if (json_string_length(v) > ALERT_NAME_MAX)
		return fail(x, AT_VALUE, "too long: %zu bytes, at most %d", json_string_length(v), ALERT_NAME_MAX);
	if (strlen(s) != json_string_length(v) || !is_alert_name(s))
		return fail(x, AT_VALUE,
			    "%s is not an alert name: letters, digits, \"_\" and \":\", not starting with a digit",
			    quote(q, s, json_string_length(v)));
	return set_string(x, v, &r->name);
}

static int apply_alert_kind(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct alert_rule *r = obj;
	const char *s = json_string_value(v);
	char q[QUOTE_BUF], list[CONFIG_ERROR_MAX / 2] = "";
	int kind = alert_kind_from_name(s);

	(void)k;
	if (kind >= 0) {
		r->kind = (enum alert_kind)kind;
		return 0;
	}
	for (int i = 0; i < ALERT_KIND_MAX; i++) {
		if (i > 0)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, alert_kind_info((enum alert_kind)i)->name, sizeof(list) - strlen(list) - 1);
	}
	return fail(x, AT_VALUE, "unknown kind %s; expected one of: %s", quote(q, s, json_string_length(v)), list);
}

static int apply_alert_metric(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	(void)k;
	return set_string(x, v, &((struct alert_rule *)obj)->metric);
}

/* A number field (double). */
static int apply_number(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	double d = json_number_value(v);

	if (d < (double)k->min || d > (double)k->max)
		return fail(x, AT_VALUE, "%g is out of range %lld..%lld", d, k->min, k->max);
	*(double *)field(obj, k) = d;
	return 0;
}

/* An object of string values: "match" (label equality), "labels", or
 * "annotations" (templates), each key checked as its use requires. */
static int apply_pairs(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct alert_rule *r = obj;
	bool annotations = strcmp(k->key, "annotations") == 0, labels = strcmp(k->key, "labels") == 0;
	struct alert_pair **dst = annotations ? &r->annotations : labels ? &r->labels : &r->match;
	size_t *n = annotations ? &r->n_annotations : labels ? &r->n_labels : &r->n_match;
	size_t size = json_object_size(v);
	const char *key;
	json_t *val;
	int rc = 0;

	if (size > ALERT_PAIRS_MAX)
		return fail(x, AT_VALUE, "too many keys: %zu, at most %d", size, ALERT_PAIRS_MAX);
	*dst = calloc(size + 1, sizeof(**dst));
	if (!*dst)
		return nomem(x);
	json_object_foreach(v, key, val) {
		char q[QUOTE_BUF], why[128];
		const char *s = NULL;

		push_key(x, key);
		quote(q, key, strlen(key));
		if (!json_is_string(val))
			rc = fail(x, AT_VALUE, "expected a string, got %s", json_kind(val));
		else if (!annotations && !is_label_name(key))
			rc = fail(x, AT_KEY, "%s is not a label name: letters, digits and \"_\", not starting with a "
				  "digit or \"__\"", q);
		else if (labels && strcmp(key, "alertname") == 0)
			rc = fail(x, AT_KEY, "\"alertname\" is the rule's \"alert\"");
		else if (strlen(s = json_string_value(val)) != json_string_length(val))
			rc = fail(x, AT_VALUE, "must not contain NUL");
		else if (annotations && alert_template_check(s, why, sizeof(why)) < 0)
			rc = fail(x, AT_VALUE, "%s", why);
		if (rc == 0) {
			(*dst)[*n].key = strdup(key);
			(*dst)[*n].value = strdup(s);
			(*n)++;
			if (!(*dst)[*n - 1].key || !(*dst)[*n - 1].value)
				rc = nomem(x);
		}
		pop(x);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct key_spec rule_keys[] = {
	{ .key = "alert", .type = V_STRING, .apply = apply_alert_name, .required = true },
	{ .key = "kind", .type = V_STRING, .apply = apply_alert_kind, .required = true },
	{ .key = "metric", .type = V_STRING, .apply = apply_alert_metric },
	{ .key = "threshold", .type = V_NUMBER, .apply = apply_number, .min = -(1LL << 53), .max = 1LL << 53,
	  .offset = offsetof(struct alert_rule, threshold) },
	{ .key = "quantile", .type = V_NUMBER, .apply = apply_number, .min = 0, .max = 1,
	  .offset = offsetof(struct alert_rule, quantile) },
	{ .key = "for_ms", .type = V_INT, .apply = apply_u64, .min = 0, .max = 30LL * 24 * 3600 * 1000,
	  .offset = offsetof(struct alert_rule, for_ms) },
	{ .key = "window_ms", .type = V_INT, .apply = apply_u64, .min = 1000, .max = 30LL * 24 * 3600 * 1000,
	  .offset = offsetof(struct alert_rule, window_ms) },
	{ .key = "match", .type = V_OBJECT, .apply = apply_pairs },
	{ .key = "labels", .type = V_OBJECT, .apply = apply_pairs },
	{ .key = "annotations", .type = V_OBJECT, .apply = apply_pairs },
};

static const struct metric_desc *exported(const char *name)
{
	for (const struct metric_desc *const *d = sampler_all_metrics(); *d; d++)
		if (strcmp((*d)->name, name) == 0)
			return *d;
	return NULL;
}

static const char *type_word(enum metric_type t)
{
	return t == METRIC_COUNTER ? "a counter" : t == METRIC_HISTOGRAM ? "a histogram" : "a gauge";
}

/* Reports msg at key of the rule, or at the rule when key is NULL. */
static int rule_fail(struct ctx *x, const char *key, const char *msg)
{
	int r;

	if (key)
		push_key(x, key);
	r = fail(x, AT_VALUE, "%s", msg);
	if (key)
		pop(x);
	return r;
}

/* The checks of a rule that involve several keys: the metric its kind
 * reads (exported, of the right type), the threshold, the keys only some
 * kinds take. */
static int check_rule(struct ctx *x, json_t *v, struct alert_rule *r)
{
	const struct alert_kind_info *ki = alert_kind_info(r->kind);
	bool named = json_object_get(v, "metric") != NULL;
	const struct metric_desc *d;
	char q[QUOTE_BUF], msg[CONFIG_ERROR_MAX / 2];

	if (r->metric && !ki->metric_settable) {
		snprintf(msg, sizeof(msg), "kind \"%s\" reads %s; it takes no \"metric\"", ki->name, ki->metric);
		return rule_fail(x, "metric", msg);
	}
	if (!r->metric) {
		r->metric = strdup(ki->metric);
		if (!r->metric)
			return nomem(x);
	}
	d = exported(r->metric);
	if (!d) {
		snprintf(msg, sizeof(msg), "%s is not a metric the agent exports%s (docs/metrics.md lists them)",
			 quote(q, r->metric, strlen(r->metric)), named ? "" : " in this build");
		return rule_fail(x, named ? "metric" : "kind", msg);
	}
	if (d->type != ki->type && !(ki->type == METRIC_GAUGE && d->type == METRIC_UNTYPED)) {
		snprintf(msg, sizeof(msg), "kind \"%s\" reads %s; %s is %s", ki->name, type_word(ki->type),
			 quote(q, r->metric, strlen(r->metric)), type_word(d->type));
		return rule_fail(x, "metric", msg);
	}
	if (isnan(r->threshold)) {
		if (ki->needs_threshold) {
			snprintf(msg, sizeof(msg), "missing required key \"threshold\" (kind \"%s\")", ki->name);
			return rule_fail(x, NULL, msg);
		}
		r->threshold = ki->threshold_default;
	}
	if (json_object_get(v, "quantile") && r->kind != ALERT_GC_PAUSE)
		return rule_fail(x, "quantile", "only kind \"gc_pause\" takes a quantile");
	if (json_object_get(v, "quantile") && (r->quantile <= 0 || r->quantile >= 1))
		return rule_fail(x, "quantile", "must be above 0 and below 1");
	if (json_object_get(v, "window_ms") && !ki->windowed)
		return rule_fail(x, "window_ms", "only kinds \"oom_kill\" and \"gc_pause\" take a window");
	return 0;
}

static int apply_rules(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct config_alerts *a = obj;
	size_t n = json_array_size(v);
	int r = 0;

	(void)k;
	if (n > CONFIG_ALERT_RULES_MAX) {
		push_index(x, CONFIG_ALERT_RULES_MAX);
		r = fail(x, AT_VALUE, "too many rules: %zu, at most %d", n, CONFIG_ALERT_RULES_MAX);
		pop(x);
		return r;
	}
	a->rules = calloc(n + 1, sizeof(*a->rules));
	if (!a->rules)
		return nomem(x);
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *e = json_array_get(v, i);
		struct alert_rule *rule = &a->rules[i];

		push_index(x, i);
		a->n_rules = i + 1; /* from here on config_free() frees it */
		*rule = (struct alert_rule){ .threshold = NAN, .quantile = 0.99, .window_ms = 300000 };
		if (!json_is_object(e))
			r = fail(x, AT_VALUE, "expected an object, got %s", json_kind(e));
		else
			r = check_object(x, e, rule_keys, ARRAY_SIZE(rule_keys), rule);
		if (r == 0)
			r = check_rule(x, e, rule);
		pop(x);
	}
	return r;
}

static int apply_alertmanagers(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct config_alerts *a = obj;
	size_t n = json_array_size(v);
	int r = 0;

	(void)k;
	if (n > ALERTMANAGER_MAX) {
		push_index(x, ALERTMANAGER_MAX);
		r = fail(x, AT_VALUE, "too many alertmanagers: %zu, at most %d", n, ALERTMANAGER_MAX);
		pop(x);
		return r;
	}
	a->alertmanagers = calloc(n + 1, sizeof(*a->alertmanagers));
	if (!a->alertmanagers)
		return nomem(x);
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *e = json_array_get(v, i);
		const char *s = json_string_value(e), *why;
		char q[QUOTE_BUF];

		push_index(x, i);
		if (!json_is_string(e))
			r = fail(x, AT_VALUE, "expected a string, got %s", json_kind(e));
		else if ((why = url_problem(s, json_string_length(e))))
			r = fail(x, AT_VALUE, "%s: %s", quote(q, s, json_string_length(e)), why);
		else if (json_string_length(e) > 1024)
			r = fail(x, AT_VALUE, "too long: at most 1024 bytes");
		for (size_t j = 0; r == 0 && j < i; j++)
			if (strcmp(a->alertmanagers[j], s) == 0)
				r = fail(x, AT_VALUE, "duplicate: already alertmanagers[%zu]", j);
		if (r == 0) {
			a->alertmanagers[i] = strdup(s);
			a->n_alertmanagers = i + 1;
			if (!a->alertmanagers[i])
				r = nomem(x);
		}
		pop(x);
	}
	return r;
}

static const struct key_spec alerts_keys[] = {
	{ .key = "rules", .type = V_ARRAY, .apply = apply_rules },
	{ .key = "alertmanagers", .type = V_ARRAY, .apply = apply_alertmanagers },
	{ .key = "resend_interval_ms", .type = V_INT, .apply = apply_uint, .min = 1000, .max = 86400000,
	  .offset = offsetof(struct config_alerts, resend_interval_ms) },
	{ .key = "timeout_ms", .type = V_INT, .apply = apply_uint, .min = 100, .max = 600000,
	  .offset = offsetof(struct config_alerts, timeout_ms) },
};

/* ---- targets --------------------------------------------------------------- */

/* The match handlers store into the struct target itself (the "match" row
 * has offset 0): the regex is compiled by target_compile(), which takes it. */

static int apply_pid(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct target *t = obj;
	json_int_t i = json_integer_value(v);
	int r = check_range(x, k, i);

	if (r == 0) {
		t->match.has_pid = true;
		t->match.pid = (pid_t)i;
	}
	return r;
}

static int apply_comm(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct target *t = obj;
	size_t n = json_string_length(v);

	(void)k;
	if (n == 0 || n > 15)
		return fail(x, AT_VALUE,
			    "must be 1 to 15 bytes, got %zu: the kernel keeps 15 bytes of a "
			    "process name; match longer names with \"exe\" or \"cmdline\"", n);
	return set_string(x, v, &t->match.comm);
}

static int apply_exe(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct target *t = obj;
	const char *s = json_string_value(v);

	(void)k;
	if (s[0] != '/')
		return fail(x, AT_VALUE, "must be an absolute path (starting with \"/\")");
	if (json_string_length(v) >= PATH_MAX)
		return fail(x, AT_VALUE, "too long: at most %d bytes", PATH_MAX - 1);
	return set_string(x, v, &t->match.exe);
}

static int apply_cmdline(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct target *t = obj;
	char why[CONFIG_ERROR_MAX / 2];
	int r;

	(void)k;
	if (json_string_length(v) > REGEX_MAX)
		return fail(x, AT_VALUE, "regex too long: %zu bytes, at most %d",
			    json_string_length(v), REGEX_MAX);
	r = set_string(x, v, &t->match.cmdline);
	if (r < 0)
		return r;
	r = target_compile(t, why, sizeof(why));
	if (r < 0) {
		/* Keep the invariant: cmdline set means cmdline_re compiled. */
		free(t->match.cmdline);
		t->match.cmdline = NULL;
		if (r == -ENOMEM)
			return nomem(x);
		return fail(x, AT_VALUE, "invalid regex: %s", why);
	}
	return 0;
}

static int apply_cgroup(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct target *t = obj;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	int r;

	(void)k;
	if (s[0] != '/')
		return fail(x, AT_VALUE,
			    "must be a path in the memory controller's hierarchy, starting with "
			    "\"/\" (e.g. \"/system.slice\")");
	if (n >= PATH_MAX)
		return fail(x, AT_VALUE, "too long: at most %d bytes", PATH_MAX - 1);
	r = set_string(x, v, &t->match.cgroup);
	/* Stored without trailing '/', as cgroup paths are read from /proc. */
	while (r == 0 && n > 1 && t->match.cgroup[n - 1] == '/')
		t->match.cgroup[--n] = '\0';
	return r;
}

static int apply_systemd_unit(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct target *t = obj;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	char q[QUOTE_BUF];

	(void)k;
	quote(q, s, n);
	if (!target_unit_name_is_valid(s))
		return fail(x, AT_VALUE,
			    "%s is not a unit name: expected NAME.TYPE such as \"nginx.service\" or "
			    "\"getty@tty1.service\" (a template such as \"getty@.service\" has no "
			    "processes)", q);
	if (n > 6 && strcmp(s + n - 6, ".slice") == 0)
		return fail(x, AT_VALUE,
			    "%s is a slice, and no process runs in a slice itself; to match "
			    "everything below it use \"cgroup\" with the slice's path", q);
	return set_string(x, v, &t->match.systemd_unit);
}

static int apply_name(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct target *t = obj;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	(void)k;
	if (n == 0)
		return fail(x, AT_VALUE, "must not be empty");
	if (n > TARGET_NAME_MAX)
		return fail(x, AT_VALUE, "too long: %zu bytes, at most %d", n, TARGET_NAME_MAX);
	if (has_control(s, n))
		return fail(x, AT_VALUE, "must not contain control characters");
	if (strcmp(s, TARGET_OTHER) == 0)
		return fail(x, AT_VALUE,
			    "\"%s\" is reserved: it counts the OOM kills of processes no target "
			    "matches", TARGET_OTHER);
	return set_string(x, v, &t->name);
}

static int apply_group_by(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct target *t = obj;
	const char *s = json_string_value(v);
	char q[QUOTE_BUF];

	(void)k;
	if (strcmp(s, "none") == 0)
		t->group_by = TARGET_GROUP_NONE;
	else if (strcmp(s, "comm") == 0)
		t->group_by = TARGET_GROUP_COMM;
	else
		return fail(x, AT_VALUE, "unknown value %s; expected \"none\" or \"comm\"",
			    quote(q, s, json_string_length(v)));
	return 0;
}

/* "queues": on unless turned off, so the field is the opt-out. */
static int apply_queues(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	(void)x;
	(void)k;
	((struct target *)obj)->no_queues = !json_is_true(v);
	return 0;
}

static const struct key_spec match_keys[] = {
	{ .key = "pid", .type = V_INT, .apply = apply_pid, .min = 1, .max = PID_MAX },
	{ .key = "comm", .type = V_STRING, .apply = apply_comm },
	{ .key = "exe", .type = V_STRING, .apply = apply_exe },
	{ .key = "cmdline", .type = V_STRING, .apply = apply_cmdline },
	{ .key = "cgroup", .type = V_STRING, .apply = apply_cgroup },
	{ .key = "systemd_unit", .type = V_STRING, .apply = apply_systemd_unit },
};

static const struct key_spec target_keys[] = {
	{ .key = "name", .type = V_STRING, .apply = apply_name, .required = true },
	{ .key = "match", .type = V_OBJECT, .apply = apply_object, .offset = 0,
	  .keys = match_keys, .n_keys = ARRAY_SIZE(match_keys), .required = true },
	{ .key = "per_process", .type = V_BOOL, .apply = apply_bool,
	  .offset = offsetof(struct target, per_process) },
	{ .key = "group_by", .type = V_STRING, .apply = apply_group_by },
	{ .key = "smaps", .type = V_BOOL, .apply = apply_bool,
	  .offset = offsetof(struct target, smaps) },
	{ .key = "queues", .type = V_BOOL, .apply = apply_queues },
};

/* Checks element i of "targets" into set->v[i]; the checks that involve
 * more than one key or target come after the keys. */
static int parse_target(struct ctx *x, json_t *v, struct target_set *set, size_t i)
{
	struct target *t = &set->v[i];
	char q[QUOTE_BUF];
	int r;

	if (!json_is_object(v))
		return fail(x, AT_VALUE, "expected an object, got %s", json_kind(v));
	set->n = i + 1; /* from here on config_free() frees it */
	r = check_object(x, v, target_keys, ARRAY_SIZE(target_keys), t);
	if (r < 0)
		return r;
	if (t->per_process && t->group_by == TARGET_GROUP_COMM) {
		push_key(x, "group_by");
		r = fail(x, AT_VALUE,
			 "\"comm\" cannot be combined with \"per_process\": true: per_process "
			 "gives each process its own series (label pid), group_by sums processes "
			 "per comm; choose one");
		pop(x);
		return r;
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(set->v[j].name, t->name) == 0) {
			push_key(x, "name");
			r = fail(x, AT_VALUE, "duplicate target name %s, already used by targets[%zu]",
				 quote(q, t->name, strlen(t->name)), j);
			pop(x);
			return r;
		}
	}
	return 0;
}

static int apply_targets(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct config *c = obj;
	size_t n = json_array_size(v);
	int r = 0;

	(void)k;
	x->targets_seen = true;
	if (n > TARGET_MAX) {
		push_index(x, TARGET_MAX);
		r = fail(x, AT_VALUE,
			 "too many targets: %zu, at most %d (each process carries one bit per "
			 "target)", n, TARGET_MAX);
		pop(x);
		return r;
	}
	if (n > 0) {
		c->targets.v = calloc(n, sizeof(*c->targets.v));
		if (!c->targets.v)
			return nomem(x);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		push_index(x, i);
		r = parse_target(x, json_array_get(v, i), &c->targets, i);
		pop(x);
	}
	target_set_update_needs(&c->targets);
	return r;
}

/* ---- sinks ------------------------------------------------------------------ */

/* A string field at the row's offset. */
static int apply_str(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (n == 0)
		return fail(x, AT_VALUE, "must not be empty");
	if (n > 4096)
		return fail(x, AT_VALUE, "too long: %zu bytes, at most 4096", n);
	if (has_control(s, n) || strlen(s) != n)
		return fail(x, AT_VALUE, "must not contain control characters");
	return set_string(x, v, (char **)field(obj, k));
}

/* A name that goes into a file name and a URL path: [A-Za-z0-9_.-]. */
static int apply_ident(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (n == 0 || n > SINK_NAME_MAX)
		return fail(x, AT_VALUE, "must be 1..%d characters", SINK_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.') ||
		    (i == 0 && s[i] == '.'))
			return fail(x, AT_VALUE, "may only contain letters, digits, '_', '-' and '.' (not first)");
	return set_string(x, v, (char **)field(obj, k));
}

static int apply_sink_type(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct sink_options *o = obj;
	const char *s = json_string_value(v);
	char q[QUOTE_BUF];

	(void)k;
	for (int t = SINK_REMOTE_WRITE; t <= SINK_WEBHOOK; t++) {
		if (strcmp(s, sink_type_name(t)) == 0) {
			o->type = t;
			return 0;
		}
	}
	return fail(x, AT_VALUE,
		    "unknown sink type %s; expected \"remote_write\", \"influx\", \"pushgateway\" or \"webhook\"",
		    quote(q, s, json_string_length(v)));
}

static int apply_url(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	const char *why = url_problem(json_string_value(v), json_string_length(v));

	if (why)
		return fail(x, AT_VALUE, "%s", why);
	return apply_str(x, k, v, obj);
}

static int apply_buffer(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct sink_options *o = obj;
	const char *s = json_string_value(v);
	char q[QUOTE_BUF];

	(void)k;
	if (strcmp(s, "memory") == 0)
		o->buffer = SINK_BUFFER_MEMORY;
	else if (strcmp(s, "disk") == 0)
		o->buffer = SINK_BUFFER_DISK;
	else
		return fail(x, AT_VALUE, "unknown value %s; expected \"memory\" or \"disk\"",
			    quote(q, s, json_string_length(v)));
	return 0;
}

/* "headers": {"Name": "value"} into "Name: value" strings. */
static int apply_headers(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct sink_options *o = obj;
	size_t n = json_object_size(v), i = 0;
	const char *key;
	json_t *val;

	(void)k;
	if (n > 32)
		return fail(x, AT_VALUE, "too many headers: %zu, at most 32", n);
	o->headers = calloc(n + 1, sizeof(*o->headers));
	if (!o->headers)
		return nomem(x);
	json_object_foreach(v, key, val) {
		int r = 0;

		push_key(x, key);
		if (!json_is_string(val))
			r = fail(x, AT_VALUE, "expected a string, got %s", json_kind(val));
		else if (!*key || strpbrk(key, " :\t\r\n") || has_control(key, strlen(key)))
			r = fail(x, AT_KEY, "not a header name");
		else if (has_control(json_string_value(val), json_string_length(val)))
			r = fail(x, AT_VALUE, "must not contain control characters");
		else if (asprintf(&o->headers[i], "%s: %s", key, json_string_value(val)) < 0)
			r = nomem(x);
		pop(x);
		if (r < 0)
			return r;
		i++;
	}
	return 0;
}

struct basic_auth {
	char *username, *password;
};

static const struct key_spec basic_auth_keys[] = {
	{ .key = "username", .type = V_STRING, .apply = apply_str, .required = true,
	  .offset = offsetof(struct basic_auth, username) },
	{ .key = "password", .type = V_STRING, .apply = apply_str, .required = true,
	  .offset = offsetof(struct basic_auth, password) },
};

static int apply_basic_auth(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct sink_options *o = obj;
	struct basic_auth a = { 0 };
	int r;

	(void)k;
	r = check_object(x, v, basic_auth_keys, ARRAY_SIZE(basic_auth_keys), &a);
	if (r == 0 && strchr(a.username, ':'))
		r = fail(x, AT_VALUE, "basic_auth.username must not contain ':'");
	if (r == 0 && asprintf(&o->basic_auth, "%s:%s", a.username, a.password) < 0) {
		o->basic_auth = NULL;
		r = nomem(x);
	}
	free(a.username);
	free(a.password);
	return r;
}

static const struct key_spec sink_tls_keys[] = {
	{ .key = "ca_file", .type = V_STRING, .apply = apply_str,
	  .offset = offsetof(struct sink_options, tls_ca_file) },
	{ .key = "cert_file", .type = V_STRING, .apply = apply_str,
	  .offset = offsetof(struct sink_options, tls_cert_file) },
	{ .key = "key_file", .type = V_STRING, .apply = apply_str,
	  .offset = offsetof(struct sink_options, tls_key_file) },
	{ .key = "insecure_skip_verify", .type = V_BOOL, .apply = apply_bool,
	  .offset = offsetof(struct sink_options, tls_insecure_skip_verify) },
};

static const struct key_spec sink_keys[] = {
	{ .key = "name", .type = V_STRING, .apply = apply_ident, .required = true,
	  .offset = offsetof(struct sink_options, name) },
	{ .key = "type", .type = V_STRING, .apply = apply_sink_type, .required = true },
	{ .key = "url", .type = V_STRING, .apply = apply_url, .required = true,
	  .offset = offsetof(struct sink_options, url) },
	{ .key = "interval_ms", .type = V_INT, .apply = apply_uint, .min = 0, .max = CONFIG_INTERVAL_MAX_MS,
	  .offset = offsetof(struct sink_options, interval_ms) },
	{ .key = "timeout_ms", .type = V_INT, .apply = apply_uint, .min = 10, .max = 600000,
	  .offset = offsetof(struct sink_options, timeout_ms) },
	{ .key = "queue_max_samples", .type = V_INT, .apply = apply_uint, .min = 1, .max = 100000000,
	  .offset = offsetof(struct sink_options, queue_max_samples) },
	{ .key = "batch_max_samples", .type = V_INT, .apply = apply_uint, .min = 1, .max = 1000000,
	  .offset = offsetof(struct sink_options, batch_max_samples) },
	{ .key = "concurrency", .type = V_INT, .apply = apply_uint, .min = 1, .max = SINK_CONCURRENCY_MAX,
	  .offset = offsetof(struct sink_options, concurrency) },
	{ .key = "headers", .type = V_OBJECT, .apply = apply_headers },
	{ .key = "bearer_token_file", .type = V_STRING, .apply = apply_str,
	  .offset = offsetof(struct sink_options, bearer_token_file) },
	{ .key = "basic_auth", .type = V_OBJECT, .apply = apply_basic_auth },
	{ .key = "tls", .type = V_OBJECT, .apply = apply_object, .offset = 0,
	  .keys = sink_tls_keys, .n_keys = ARRAY_SIZE(sink_tls_keys) },
	{ .key = "buffer", .type = V_STRING, .apply = apply_buffer },
	{ .key = "buffer_max_bytes", .type = V_INT, .apply = apply_u64, .min = 4096,
	  .max = (1ll << 40), .offset = offsetof(struct sink_options, buffer_max_bytes) },
	{ .key = "job", .type = V_STRING, .apply = apply_ident,
	  .offset = offsetof(struct sink_options, job) },
	{ .key = "instance", .type = V_STRING, .apply = apply_ident,
	  .offset = offsetof(struct sink_options, instance) },
};

static void sink_options_done(struct sink_options *o)
{
	free(o->name);
	free(o->url);
	for (char **h = o->headers; h && *h; h++)
		free(*h);
	free(o->headers);
	free(o->bearer_token_file);
	free(o->basic_auth);
	free(o->tls_ca_file);
	free(o->tls_cert_file);
	free(o->tls_key_file);
	free(o->job);
	free(o->instance);
}

/* Checks sinks[i]; then what involves more than one key or sink. */
static int parse_sink(struct ctx *x, json_t *v, struct config *c, size_t i)
{
	struct sink_options *o = &c->sinks[i];
	char q[QUOTE_BUF];
	int r;

	if (!json_is_object(v))
		return fail(x, AT_VALUE, "expected an object, got %s", json_kind(v));
	*o = (struct sink_options){ .interval_ms = SINK_INTERVAL_DEFAULT_MS, .timeout_ms = SINK_TIMEOUT_DEFAULT_MS,
				    .queue_max_samples = SINK_QUEUE_DEFAULT_SAMPLES,
				    .batch_max_samples = SINK_BATCH_DEFAULT_SAMPLES,
				    .concurrency = SINK_CONCURRENCY_DEFAULT,
				    .buffer_max_bytes = SINK_BUFFER_DEFAULT_BYTES };
	c->n_sinks = i + 1; /* from here on config_free() frees it */
	r = check_object(x, v, sink_keys, ARRAY_SIZE(sink_keys), o);
	if (r < 0)
		return r;
	if (o->buffer == SINK_BUFFER_DISK && !sink_type_queued(o->type)) {
		push_key(x, "buffer");
		r = fail(x, AT_VALUE, "\"disk\" is for queued sinks (remote_write, influx); a %s sink keeps "
			 "only the latest snapshot", sink_type_name(o->type));
		pop(x);
		return r;
	}
	if ((o->job || o->instance) && o->type != SINK_PUSHGATEWAY) {
		push_key(x, o->job ? "job" : "instance");
		r = fail(x, AT_KEY, "only pushgateway sinks take \"job\" and \"instance\"");
		pop(x);
		return r;
	}
	if ((o->tls_cert_file != NULL) != (o->tls_key_file != NULL)) {
		push_key(x, "tls");
		r = fail(x, AT_VALUE, "cert_file and key_file go together");
		pop(x);
		return r;
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(c->sinks[j].name, o->name) == 0) {
			push_key(x, "name");
			r = fail(x, AT_VALUE, "duplicate sink name %s, already used by sinks[%zu]",
				 quote(q, o->name, strlen(o->name)), j);
			pop(x);
			return r;
		}
	}
	return 0;
}

static int apply_sinks(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct config *c = obj;
	size_t n = json_array_size(v);
	int r = 0;

	(void)k;
	if (n > SINK_MAX) {
		push_index(x, SINK_MAX);
		r = fail(x, AT_VALUE, "too many sinks: %zu, at most %d", n, SINK_MAX);
		pop(x);
		return r;
	}
	if (n > 0) {
		c->sinks = calloc(n, sizeof(*c->sinks));
		if (!c->sinks)
			return nomem(x);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		push_index(x, i);
		r = parse_sink(x, json_array_get(v, i), c, i);
		pop(x);
	}
	return r;
}

static int apply_state_dir(struct ctx *x, const struct key_spec *k, json_t *v, void *obj)
{
	struct config *c = obj;

	(void)k;
	if (json_string_value(v)[0] != '/')
		return fail(x, AT_VALUE, "must be an absolute path");
	return apply_str(x, &(struct key_spec){ .offset = offsetof(struct config, state_dir) }, v, c);
}

/* The top level. A later section is one more row here. */
static const struct key_spec top_keys[] = {
	{ .key = "interval_ms", .type = V_INT, .apply = apply_uint,
	  .min = CONFIG_INTERVAL_MIN_MS, .max = CONFIG_INTERVAL_MAX_MS,
	  .offset = offsetof(struct config, interval_ms) },
	{ .key = "listen", .type = V_STRING, .apply = apply_listen },
	{ .key = "limits", .type = V_OBJECT, .apply = apply_object,
	  .offset = offsetof(struct config, limits),
	  .keys = limits_keys, .n_keys = ARRAY_SIZE(limits_keys) },
	{ .key = "targets", .type = V_ARRAY, .apply = apply_targets },
	{ .key = "heap", .type = V_OBJECT, .apply = apply_object,
	  .offset = offsetof(struct config, heap),
	  .keys = heap_keys, .n_keys = ARRAY_SIZE(heap_keys) },
	{ .key = "web", .type = V_OBJECT, .apply = apply_object,
	  .offset = offsetof(struct config, web),
	  .keys = web_keys, .n_keys = ARRAY_SIZE(web_keys) },
	{ .key = "state_dir", .type = V_STRING, .apply = apply_state_dir },
	{ .key = "sinks", .type = V_ARRAY, .apply = apply_sinks },
	{ .key = "alerts", .type = V_OBJECT, .apply = apply_object,
	  .offset = offsetof(struct config, alerts),
	  .keys = alerts_keys, .n_keys = ARRAY_SIZE(alerts_keys) },
};

/* A config without "targets" gets the embedded default's, checked by the
 * same code from the same text, so the two cannot drift apart. */
static int default_targets(struct ctx *x, struct config *c)
{
	struct ctx d = { .name = CONFIG_DEFAULT_NAME, .text = default_json,
			 .len = sizeof(default_json) - 1, .err = x->err };
	json_t *root = json_loadb(d.text, d.len, JSON_REJECT_DUPLICATES, NULL);
	json_t *targets = json_object_get(root, "targets");
	int r;

	if (!targets) {
		json_decref(root);
		return nomem(x);
	}
	push_key(&d, "targets");
	r = apply_targets(&d, NULL, targets, c);
	jsonpos_free(d.pos);
	json_decref(root);
	return r;
}

/* ---- entry points ---------------------------------------------------------- */

static struct config *config_new(const char *name)
{
	struct config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->source = strdup(name);
	c->listen = strdup(CONFIG_LISTEN_DEFAULT);
	c->state_dir = strdup(CONFIG_STATE_DIR_DEFAULT);
	if (!c->source || !c->listen || !c->state_dir)
		return config_free(c);
	c->interval_ms = CONFIG_INTERVAL_DEFAULT_MS;
	c->limits = (struct config_limits){ .max_processes = 100, .max_groups = 500, .max_instrumented = 256,
					    .max_listeners = 256, .max_message_queues = 64,
					    .http_connections = 256, .http_timeout_s = 10,
					    .http_connections_per_address = 32,
					    .http_header_timeout_s = 5 };
	c->heap.enabled = true;
	c->web.min_version = WEB_TLS12;

	c->alerts.resend_interval_ms = 60000;
	c->alerts.timeout_ms = 10000;
	return c;
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

static int syntax_error(struct ctx *x, const json_error_t *je)
{
	struct jsonpos_syntax s;
	char msg[CONFIG_ERROR_MAX] = "";
	enum json_error_code code = json_error_code(je);

	if (code == json_error_out_of_memory || jsonpos_syntax_error(x->text, x->len, je, &s) < 0)
		return nomem(x);
	if (code == json_error_duplicate_key && s.has_first) {
		snprintf(msg, sizeof(msg), "duplicate key; first defined at line %u, column %u",
			 s.first.line, s.first.column);
	} else if (s.loc.offset < x->len && x->text[s.loc.offset] == '\0') {
		snprintf(msg, sizeof(msg), "unexpected NUL byte: not a text file?");
	} else if (code == json_error_invalid_utf8 && s.loc.offset < x->len) {
		/* Jansson's "near" shows the text before the byte, not the byte. */
		snprintf(msg, sizeof(msg), "invalid UTF-8 byte 0x%02x: the file must be UTF-8",
			 (unsigned char)x->text[s.loc.offset]);
	} else {
		jsonpos_escape_append(msg, sizeof(msg), je->text, strnlen(je->text, sizeof(je->text)),
				      false, SIZE_MAX);
	}
	put_error(x, &s.loc, s.path, msg);
	return -EINVAL;
}

int config_parse(const char *text, size_t len, const char *name, struct config **ret,
		 char err[CONFIG_ERROR_MAX])
{
	struct ctx x = { .name = name ? name : "(config)", .err = err };
	json_error_t je;
	json_t *root = NULL;
	struct config *c;
	int r;

	assert(ret && err && (text || len == 0));
	err[0] = '\0';
	/* Editors on some systems write a byte order mark; it is no character. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	x.text = text;
	x.len = len;
	if (len > CONFIG_FILE_MAX_BYTES) {
		snprintf(err, CONFIG_ERROR_MAX, "%s: too large: %zu bytes, at most %d", x.name, len,
			 CONFIG_FILE_MAX_BYTES);
		return -EINVAL;
	}
	if (is_blank(text, len)) {
		snprintf(err, CONFIG_ERROR_MAX, "%s:1:1: empty file: expected a JSON object", x.name);
		return -EINVAL;
	}
	c = config_new(x.name);
	if (!c)
		return nomem(&x);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root)
		r = syntax_error(&x, &je);
	else if (!json_is_object(root))
		r = fail(&x, AT_VALUE, "the top level must be a JSON object, got %s", json_kind(root));
	else
		r = check_object(&x, root, top_keys, ARRAY_SIZE(top_keys), c);
	if (r == 0 && !x.targets_seen)
		r = default_targets(&x, c);
	json_decref(root);
	jsonpos_free(x.pos);
	if (r < 0) {
		config_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int config_load(const char *path, struct config **ret, char err[CONFIG_ERROR_MAX])
{
	struct stat st = { 0 };
	char *buf;
	size_t n = 0;
	int fd, r;

	assert(path && ret && err);
	/* O_NONBLOCK: a FIFO at path must not hang start-up or a reload. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, CONFIG_ERROR_MAX, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(err, CONFIG_ERROR_MAX, "%s: cannot read: %s", path,
			 r == -EISDIR ? strerror(EISDIR) : "not a regular file");
		close(fd);
		return r;
	}
	/* Read one byte more than allowed to tell "at the limit" from "over". */
	buf = malloc(CONFIG_FILE_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		snprintf(err, CONFIG_ERROR_MAX, "%s: out of memory", path);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, CONFIG_FILE_MAX_BYTES + 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			snprintf(err, CONFIG_ERROR_MAX, "%s: cannot read: %s", path, strerror(-r));
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > CONFIG_FILE_MAX_BYTES) {
			r = -EFBIG;
			snprintf(err, CONFIG_ERROR_MAX, "%s: too large: more than %d bytes", path,
				 CONFIG_FILE_MAX_BYTES);
			goto out;
		}
	}
	r = config_parse(buf, n, path, ret, err);
out:
	free(buf);
	close(fd);
	return r;
}

int config_default(struct config **ret, char err[CONFIG_ERROR_MAX])
{
	return config_parse(default_json, sizeof(default_json) - 1, CONFIG_DEFAULT_NAME, ret, err);
}

const char *config_default_json(void)
{
	return default_json;
}

struct config *config_free(struct config *c)
{
	if (c) {
		target_set_done(&c->targets);
		for (size_t i = 0; i < c->n_sinks; i++)
			sink_options_done(&c->sinks[i]);
		free(c->sinks);
		free(c->state_dir);
		free(c->heap.names);
		for (size_t i = 0; i < c->web.n_users; i++) {
			free(c->web.users[i].name);
			free(c->web.users[i].hash);
		}
		free(c->web.users);
		free(c->web.cert_file);
		free(c->web.key_file);
		free(c->web.client_ca_file);

		for (size_t i = 0; i < c->alerts.n_rules; i++)
			alert_rule_done(&c->alerts.rules[i]);
		free(c->alerts.rules);
		for (size_t i = 0; i < c->alerts.n_alertmanagers; i++)
			free(c->alerts.alertmanagers[i]);
		free(c->alerts.alertmanagers);
		free(c->listen);
		free(c->source);
		free(c);
	}
	return NULL;
}
