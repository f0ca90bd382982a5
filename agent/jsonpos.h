/* SPDX-License-Identifier: MIT */
/* Source positions of JSON values: key paths ("targets[2].match.cmdline") to line and column.
 *
 * Jansson builds values but forgets where they were: it places syntax errors
 * only. This module scans the same text a second time and records, for every
 * value, its parent, its key or index, and the byte offsets of the value and
 * of its key, so that a checker walking the decoded tree can point at the
 * offending text. It also turns a Jansson syntax error into a position an
 * editor agrees with and the key path at which it happened.
 *
 * Positions are 1-based. Lines are counted by '\n'. Columns count characters
 * (UTF-8 code points; a tab is one), as editors show them, not bytes.
 *
 * Paths: keys made of [A-Za-z0-9_-] are written bare and joined by '.', other
 * keys as ["..."] with '"' and '\\' escaped by a backslash and control
 * characters as \xNN; keys longer than 40 characters are cut and end in
 * "..."; array elements are [N]; the top-level value is the empty path.
 *
 * The scanner keeps no recursion and no per-level stack: nesting depth costs
 * nothing but the nodes themselves (28 bytes per value).
 */
#ifndef MEMAGENT_JSONPOS_H
#define MEMAGENT_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Paths longer than this are cut and end in "...". */
#define JSONPOS_PATH_MAX 256

struct jsonpos_loc {
	size_t offset;   /* bytes from the start of the text */
	unsigned line;   /* 1-based */
	unsigned column; /* 1-based, in characters */
};

struct jsonpos;

/* Scans text[0..len), which should hold exactly one JSON value (surrounded by
 * whitespace at most), typically one Jansson has just accepted. The text is
 * not copied: it must outlive *ret. Returns 0 and *ret (free with
 * jsonpos_free()), -EINVAL when the text is not one well-formed value,
 * -EFBIG when len does not fit the 32-bit offsets, or -ENOMEM.
 * Cost: one pass, one node per value. */
int jsonpos_scan(const char *text, size_t len, struct jsonpos **ret);

/* NULL-safe; returns NULL. */
struct jsonpos *jsonpos_free(struct jsonpos *p);

/* Node handles are >= 0; these return -ENOENT when there is no such node.
 * jsonpos_member() compares key (keylen bytes, decoded as Jansson decodes it)
 * with each member's key after undoing JSON escapes; cost linear in the
 * number of members. */
long jsonpos_root(const struct jsonpos *p);
long jsonpos_member(const struct jsonpos *p, long node, const char *key, size_t keylen);
long jsonpos_element(const struct jsonpos *p, long node, size_t index);

/* Where the value of node starts (its first byte). Returns 0 or -ENOENT. */
int jsonpos_value_loc(const struct jsonpos *p, long node, struct jsonpos_loc *ret);
/* Where the key of node starts (its opening quote); -ENOENT when node is not
 * an object member (array element or top level). */
int jsonpos_key_loc(const struct jsonpos *p, long node, struct jsonpos_loc *ret);
/* Writes node's path to buf (always NUL-terminated). Returns 0 or -ENOENT. */
int jsonpos_path(const struct jsonpos *p, long node, char *buf, size_t size);

/* Line and column of a byte offset (clamped to len). Cost linear in offset. */
void jsonpos_locate(const char *text, size_t len, size_t offset, struct jsonpos_loc *ret);

/* Appends one path component to the NUL-terminated path in buf, as above. */
void jsonpos_path_append_key(char *buf, size_t size, const char *key, size_t keylen);
void jsonpos_path_append_index(char *buf, size_t size, size_t index);

/* Appends s[0..len) to the NUL-terminated buf for an error message: control
 * characters and bytes that are not UTF-8 become \xNN, and with quote set
 * '"' and '\\' are escaped too. At most max_chars characters of s are shown,
 * then "...". Truncates at size without splitting a character. */
void jsonpos_escape_append(char *buf, size_t size, const char *s, size_t len, bool quote,
			   size_t max_chars);

/* A Jansson syntax error, placed. */
struct jsonpos_syntax {
	struct jsonpos_loc loc;       /* the offending token, character or end of input */
	char path[JSONPOS_PATH_MAX];  /* the key path it belongs to, "" for top level */
	bool has_first;               /* duplicate key: where it was first defined */
	struct jsonpos_loc first;
};

/* Places error e that json_loadb() reported for text[0..len) (the same
 * bytes, the same start). Jansson's column counts characters up to the end
 * of the token it was reading and its position is the byte offset just past
 * that token, or of the offending byte for UTF-8 and control-character
 * errors; ret->loc points at the start of the offending token instead
 * (at the backslash of a bad escape, at end of input when the input ended).
 * Returns 0, or -ENOMEM. */
int jsonpos_syntax_error(const char *text, size_t len, const json_error_t *e,
			 struct jsonpos_syntax *ret);

#endif
