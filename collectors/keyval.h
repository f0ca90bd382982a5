/* SPDX-License-Identifier: MIT */
/* The one reader of "Key: value [kB]" lines: /proc/meminfo, /proc/PID/status,
 * smaps_rollup, and cgroup files such as memory.events ("key value").
 *
 * The kernel ends every line with a newline, so a line without one was cut
 * short and is an error, never a number. Values in kB come out in bytes, the
 * multiply saturating at UINT64_MAX like the digits themselves (procfile_u64):
 * every reader of these files saturates the same way. The iterator is inline:
 * status is read for every watched process on every tick.
 */
#ifndef MEMAGENT_KEYVAL_H
#define MEMAGENT_KEYVAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "procfile.h"

struct keyval_iter {
	const char *p, *end;
	char sep; /* ':' for /proc files, ' ' for cgroup keyed files */
};

/* One line: key [key, key + key_len), then the raw text after the separator
 * up to (not including) the newline, leading blanks kept (a status Name may
 * start with a space). */
struct keyval {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

static inline void keyval_init(struct keyval_iter *it, const char *buf, size_t len, char sep)
{
	it->p = buf;
	it->end = buf + len;
	it->sep = sep;
}

/* The next line. Returns 1 and *ret, 0 at the end of the text, or -EBADMSG
 * for a line without its newline, without the separator, or with an empty
 * key (the iterator then stays at that line). */
static inline int keyval_next(struct keyval_iter *it, struct keyval *ret)
{
	const char *nl, *sep;

	if (it->p >= it->end)
		return 0;
	nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	if (!nl)
		return -EBADMSG;
	sep = memchr(it->p, it->sep, (size_t)(nl - it->p));
	if (!sep || sep == it->p)
		return -EBADMSG;
	ret->key = it->p;
	ret->key_len = (size_t)(sep - it->p);
	ret->value = sep + 1;
	ret->value_len = (size_t)(nl - sep - 1);
	it->p = nl + 1;
	return 1;
}

/* Whether kv's key is exactly lit (a string literal). */
#define KEYVAL_IS(kv, lit) \
	((kv)->key_len == sizeof(lit) - 1 && memcmp((kv)->key, lit, sizeof(lit) - 1) == 0)

/* How a number was written. */
enum {
	KEYVAL_PLAIN = 1, /* "N" */
	KEYVAL_KB = 2,    /* "N kB": *ret is N * 1024 bytes, saturating */
};

/* Parses kv's value: blanks (spaces, tabs), a decimal, then either the end
 * of the line or exactly " kB". Returns KEYVAL_PLAIN or KEYVAL_KB with *ret,
 * or -EBADMSG (*ret untouched). */
static inline int keyval_u64(const struct keyval *kv, uint64_t *ret)
{
	const char *p = kv->value, *end = kv->value + kv->value_len;
	uint64_t v;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	/* The value ends at its line's newline: procfile_u64 stops there. */
	if (p == end || !procfile_u64(&p, &v))
		return -EBADMSG;
	if (p == end) {
		*ret = v;
		return KEYVAL_PLAIN;
	}
	if (end - p != 3 || memcmp(p, " kB", 3) != 0)
		return -EBADMSG;
	*ret = v > UINT64_MAX / 1024 ? UINT64_MAX : v * 1024;
	return KEYVAL_KB;
}

/* Finds the line keyed key in text (len bytes, separator sep) and parses its
 * number as keyval_u64() does. Returns KEYVAL_PLAIN or KEYVAL_KB with *ret,
 * -ENOENT when no line has that key, or -EBADMSG when the text up to it, or
 * its value, is malformed. Cost: a scan of the lines up to key. */
int keyval_find_u64(const char *text, size_t len, char sep, const char *key, uint64_t *ret);

#endif
