/* SPDX-License-Identifier: MIT */
/* Source positions of JSON values: a second, tolerant scan of the text Jansson decoded.
 *
 * The scanner is a token loop driven by one state ("what may come next") and
 * the innermost open container; the containers above it are reached through
 * the parent links of the nodes, so no stack grows with nesting and no
 * recursion is needed however deep the input is.
 *
 * Invariant: nodes are stored in document order, and the subtree of node i
 * is exactly the nodes [i, v[i].end). So the children of a container are
 * found by hopping c = i + 1, c = v[c].end, ... without any child list.
 *
 * The scanner is tolerant in one precise way: it can be told to stop at a
 * byte offset (where Jansson reported an error) and to stop at the first
 * token that does not fit the grammar; what it consumed until then tells
 * which key or element the error belongs to.
 */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"
#include "utf8.h"

#define NONE UINT32_MAX
/* Shown characters of one key in a path. */
#define KEY_SHOW_MAX 40

enum kind { K_OBJECT, K_ARRAY, K_STRING, K_SCALAR };

struct node {
	uint32_t parent;  /* NONE for the top-level value */
	uint32_t end;     /* one past the last node of this subtree */
	uint32_t key_off; /* opening quote of the key, for object members; else NONE */
	uint32_t val_off; /* first byte of the value */
	uint32_t index;   /* rank among the parent's children */
	uint32_t count;   /* children so far (containers) */
	uint32_t kind;
};

struct jsonpos {
	const char *text;
	size_t len;
	struct node *v;
	size_t n, cap;
};

/* What the scanner accepts next. */
enum expect {
	X_VALUE,          /* top level, after ':', after ',' in an array */
	X_VALUE_OR_CLOSE, /* after '[' */
	X_KEY_OR_CLOSE,   /* after '{' */
	X_KEY,            /* after ',' in an object */
	X_COLON,          /* after a key */
	X_COMMA_OR_CLOSE, /* after a member or an element */
	X_DONE,           /* the top-level value is complete */
};

enum tok { TOK_NONE, TOK_KEY, TOK_VALUE, TOK_OPEN, TOK_CLOSE, TOK_PUNCT };

struct scan {
	struct jsonpos *p;
	size_t limit;    /* a token ending past it is not consumed */
	uint32_t cur;    /* innermost open container, NONE at top level */
	enum expect x;
	size_t key_off;  /* the key read last in the innermost object */
	enum tok last;   /* the last token consumed ... */
	size_t last_start, last_end;
	uint32_t last_node; /* ... and its node (TOK_VALUE, TOK_OPEN, TOK_CLOSE) */
	size_t stop;     /* start of the first token not consumed, or limit */
};

/* ---- characters and strings ------------------------------------------------ */

static size_t utf8_put(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static long hex4(const char *t, size_t len, size_t i)
{
	long v = 0;

	if (i + 4 > len)
		return -1;
	for (size_t k = i; k < i + 4; k++) {
		char c = t[k];
		int d = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Decodes the character of a JSON string body at t[*i] into out as UTF-8 and
 * advances *i past it. Returns its byte count; 0 at the closing quote, at the
 * end of the text, or at a malformed escape (as Jansson decodes: \uD8xx must
 * pair with \uDCxx). */
static size_t decode_one(const char *t, size_t len, size_t *i, char out[4])
{
	static const char esc[] = "\"\\/bfnrt", val[] = "\"\\/\b\f\n\r\t";
	size_t j = *i;
	const char *q;
	long cp, lo;

	if (j >= len || t[j] == '"')
		return 0;
	if (t[j] != '\\') {
		out[0] = t[j];
		*i = j + 1;
		return 1;
	}
	if (j + 1 >= len)
		return 0;
	q = t[j + 1] ? strchr(esc, t[j + 1]) : NULL;
	if (q) {
		out[0] = val[q - esc];
		*i = j + 2;
		return 1;
	}
	if (t[j + 1] != 'u' || (cp = hex4(t, len, j + 2)) < 0)
		return 0;
	j += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (j + 1 >= len || t[j] != '\\' || t[j + 1] != 'u')
			return 0;
		lo = hex4(t, len, j + 2);
		if (lo < 0xdc00 || lo > 0xdfff)
			return 0;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		j += 6;
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		return 0;
	}
	*i = j;
	return utf8_put((uint32_t)cp, out);
}

/* Decodes the string token whose opening quote is t[off] into out (at most
 * cap bytes kept). Returns the decoded length, which may exceed cap. */
static size_t decode_string(const char *t, size_t len, size_t off, char *out, size_t cap)
{
	size_t i = off + 1, n = 0, m;
	char u[4];

	while ((m = decode_one(t, len, &i, u)) > 0) {
		for (size_t k = 0; k < m; k++, n++)
			if (n < cap)
				out[n] = u[k];
	}
	return n;
}

/* Whether the string token at t[off] decodes to s[0..n). */
static bool string_equals(const char *t, size_t len, size_t off, const char *s, size_t n)
{
	size_t i = off + 1, k = 0, m;
	char u[4];

	while ((m = decode_one(t, len, &i, u)) > 0) {
		if (k + m > n || memcmp(s + k, u, m) != 0)
			return false;
		k += m;
	}
	return k == n;
}

/* Whether the string tokens at t[a] and t[b] decode to the same bytes. */
static bool strings_equal(const char *t, size_t len, size_t a, size_t b)
{
	size_t i = a + 1, j = b + 1, m, n;
	char u[4], w[4];

	for (;;) {
		m = decode_one(t, len, &i, u);
		n = decode_one(t, len, &j, w);
		if (m != n || memcmp(u, w, m) != 0)
			return false;
		if (m == 0)
			return true;
	}
}

/* ---- appending to bounded buffers ------------------------------------------ */

/* Appends s[0..n) whole or not at all; returns whether it fit. */
static bool append_n(char *buf, size_t size, const char *s, size_t n)
{
	size_t o = strnlen(buf, size);

	if (o + n >= size)
		return false;
	memcpy(buf + o, s, n);
	buf[o + n] = '\0';
	return true;
}

static bool append(char *buf, size_t size, const char *s)
{
	return append_n(buf, size, s, strlen(s));
}

/* Ends a buffer that ran full with "..." without splitting a character. */
static void mark_cut(char *buf, size_t size)
{
	size_t o = strnlen(buf, size);

	if (size < 4)
		return;
	if (o > size - 4)
		o = size - 4;
	while (o > 0 && ((unsigned char)buf[o] & 0xc0) == 0x80)
		o--;
	memcpy(buf + o, "...", 4);
}

void jsonpos_escape_append(char *buf, size_t size, const char *s, size_t len, bool quote,
			   size_t max_chars)
{
	size_t chars = 0;

	for (size_t i = 0; i < len; chars++) {
		unsigned char c = (unsigned char)s[i];
		size_t n = utf8_char_len(s + i, len - i);
		char tmp[8];
		size_t tn;

		if (chars == max_chars) {
			append(buf, size, "...");
			return;
		}
		if (n == 0 || c < 0x20 || c == 0x7f) {
			tn = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			n = 1;
		} else if (quote && (c == '"' || c == '\\')) {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			tn = 2;
		} else {
			memcpy(tmp, s + i, n);
			tn = n;
		}
		if (!append_n(buf, size, tmp, tn))
			return;
		i += n;
	}
}

void jsonpos_path_append_key(char *buf, size_t size, const char *key, size_t keylen)
{
	bool bare = keylen > 0;

	for (size_t i = 0; i < keylen && bare; i++) {
		char c = key[i];
		bare = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		       (c >= '0' && c <= '9') || c == '_' || c == '-';
	}
	if (bare) {
		if (buf[0] && !append(buf, size, "."))
			return;
		jsonpos_escape_append(buf, size, key, keylen, false, KEY_SHOW_MAX);
		return;
	}
	if (!append(buf, size, "[\""))
		return;
	jsonpos_escape_append(buf, size, key, keylen, true, KEY_SHOW_MAX);
	append(buf, size, "\"]");
}

void jsonpos_path_append_index(char *buf, size_t size, size_t index)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "[%zu]", index);
	append(buf, size, tmp);
}

/* ---- the scanner ----------------------------------------------------------- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Numbers and literals are scanned as one run of these; whether the run is
 * a valid number is Jansson's business. */
static bool is_scalar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '-' || c == '.';
}

/* Returns the end of the token starting at t[i] and sets *ok when it is well
 * formed: a structural character, a string up to its closing quote (no raw
 * control character inside), or a scalar run. */
static size_t token_end(const char *t, size_t len, size_t i, bool *ok)
{
	char c = t[i];
	size_t j;

	*ok = true;
	if (c && strchr("{}[]:,", c))
		return i + 1;
	if (c == '"') {
		for (j = i + 1; j < len; j++) {
			if (t[j] == '"')
				return j + 1;
			if ((unsigned char)t[j] < 0x20)
				break;
			if (t[j] == '\\')
				j++;
		}
		*ok = false;
		return j < len ? j : len;
	}
	if (is_scalar(c)) {
		for (j = i; j < len && is_scalar(t[j]); j++)
			;
		return j;
	}
	*ok = false;
	return i + 1;
}

static int add_node(struct scan *s, enum kind kind, size_t off, uint32_t *ret)
{
	struct jsonpos *p = s->p;
	struct node *nd;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct node *v;

		if (cap >= NONE)
			return -EFBIG;
		v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	nd = &p->v[p->n];
	*nd = (struct node){ .parent = s->cur, .end = (uint32_t)p->n + 1, .key_off = NONE,
			     .val_off = (uint32_t)off, .kind = kind };
	if (s->cur != NONE) {
		struct node *par = &p->v[s->cur];

		nd->index = par->count++;
		if (par->kind == K_OBJECT)
			nd->key_off = (uint32_t)s->key_off;
	}
	*ret = (uint32_t)p->n++;
	return 0;
}

static void after_value(struct scan *s)
{
	s->x = s->cur == NONE ? X_DONE : X_COMMA_OR_CLOSE;
}

/* Consumes the token t[start..end) if the grammar allows it here. Returns 1
 * when consumed, 0 when it does not fit (the scan stops), or -errno. */
static int consume(struct scan *s, size_t start, size_t end)
{
	struct jsonpos *p = s->p;
	char c = p->text[start];
	enum tok tok = TOK_PUNCT;
	uint32_t node = NONE;
	enum kind kind;
	int r;

	switch (s->x) {
	case X_VALUE_OR_CLOSE:
		if (c == ']')
			goto close;
		/* fall through */
	case X_VALUE:
		if (strchr("}]:,", c))
			return 0;
		kind = c == '{' ? K_OBJECT : c == '[' ? K_ARRAY : c == '"' ? K_STRING : K_SCALAR;
		r = add_node(s, kind, start, &node);
		if (r < 0)
			return r;
		if (kind == K_OBJECT || kind == K_ARRAY) {
			s->cur = node;
			s->x = kind == K_OBJECT ? X_KEY_OR_CLOSE : X_VALUE_OR_CLOSE;
			tok = TOK_OPEN;
		} else {
			after_value(s);
			tok = TOK_VALUE;
		}
		break;
	case X_KEY_OR_CLOSE:
		if (c == '}')
			goto close;
		/* fall through */
	case X_KEY:
		if (c != '"')
			return 0;
		s->key_off = start;
		s->x = X_COLON;
		tok = TOK_KEY;
		break;
	case X_COLON:
		if (c != ':')
			return 0;
		s->x = X_VALUE;
		break;
	case X_COMMA_OR_CLOSE:
		if (c == ',') {
			s->x = p->v[s->cur].kind == K_OBJECT ? X_KEY : X_VALUE;
			break;
		}
		if ((c == '}' && p->v[s->cur].kind == K_OBJECT) ||
		    (c == ']' && p->v[s->cur].kind == K_ARRAY))
			goto close;
		return 0;
	case X_DONE:
		return 0;
	}
	goto done;
close:
	node = s->cur;
	p->v[node].end = (uint32_t)p->n;
	s->cur = p->v[node].parent;
	after_value(s);
	tok = TOK_CLOSE;
done:
	s->last = tok;
	s->last_start = start;
	s->last_end = end;
	s->last_node = node;
	return 1;
}

/* Scans until s->limit or the first token that does not fit. Containers
 * still open at the end get their subtree closed at the last node. */
static int scan_run(struct scan *s)
{
	const char *t = s->p->text;
	size_t i = 0;
	int r = 0;

	s->cur = NONE;
	s->x = X_VALUE;
	s->last = TOK_NONE;
	for (;;) {
		size_t end;
		bool ok;

		while (i < s->limit && is_ws(t[i]))
			i++;
		s->stop = i;
		if (i >= s->limit)
			break;
		end = token_end(t, s->p->len, i, &ok);
		if (!ok || end > s->limit)
			break;
		r = consume(s, i, end);
		if (r <= 0)
			break;
		i = end;
	}
	for (uint32_t u = s->cur; u != NONE; u = s->p->v[u].parent)
		s->p->v[u].end = (uint32_t)s->p->n;
	return r < 0 ? r : 0;
}

int jsonpos_scan(const char *text, size_t len, struct jsonpos **ret)
{
	struct jsonpos *p;
	struct scan s = { .limit = len };
	int r;

	if (len >= NONE)
		return -EFBIG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->text = text;
	p->len = len;
	s.p = p;
	r = scan_run(&s);
	if (r == 0 && (s.x != X_DONE || s.stop < len))
		r = -EINVAL;
	if (r < 0) {
		jsonpos_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

struct jsonpos *jsonpos_free(struct jsonpos *p)
{
	if (p) {
		free(p->v);
		free(p);
	}
	return NULL;
}

/* ---- lookups --------------------------------------------------------------- */

static bool valid(const struct jsonpos *p, long node)
{
	return node >= 0 && (size_t)node < p->n;
}

long jsonpos_root(const struct jsonpos *p)
{
	return p->n > 0 ? 0 : -ENOENT;
}

long jsonpos_member(const struct jsonpos *p, long node, const char *key, size_t keylen)
{
	if (!valid(p, node) || p->v[node].kind != K_OBJECT)
		return -ENOENT;
	for (uint32_t c = (uint32_t)node + 1; c < p->v[node].end; c = p->v[c].end)
		if (string_equals(p->text, p->len, p->v[c].key_off, key, keylen))
			return c;
	return -ENOENT;
}

long jsonpos_element(const struct jsonpos *p, long node, size_t index)
{
	if (!valid(p, node) || p->v[node].kind != K_ARRAY || index >= p->v[node].count)
		return -ENOENT;
	for (uint32_t c = (uint32_t)node + 1; c < p->v[node].end; c = p->v[c].end)
		if (p->v[c].index == index)
			return c;
	return -ENOENT;
}

void jsonpos_locate(const char *text, size_t len, size_t offset, struct jsonpos_loc *ret)
{
	size_t line_start = 0;
	unsigned line = 1, column = 1;

	if (offset > len)
		offset = len;
	for (size_t i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			line++;
			line_start = i + 1;
		}
	}
	for (size_t i = line_start; i < offset; column++) {
		size_t n = utf8_char_len(text + i, len - i);

		i += n ? n : 1;
	}
	*ret = (struct jsonpos_loc){ .offset = offset, .line = line, .column = column };
}

int jsonpos_value_loc(const struct jsonpos *p, long node, struct jsonpos_loc *ret)
{
	if (!valid(p, node))
		return -ENOENT;
	jsonpos_locate(p->text, p->len, p->v[node].val_off, ret);
	return 0;
}

int jsonpos_key_loc(const struct jsonpos *p, long node, struct jsonpos_loc *ret)
{
	if (!valid(p, node) || p->v[node].key_off == NONE)
		return -ENOENT;
	jsonpos_locate(p->text, p->len, p->v[node].key_off, ret);
	return 0;
}

static void append_key_token(const struct jsonpos *p, size_t off, char *buf, size_t size)
{
	char key[256];
	size_t n = decode_string(p->text, p->len, off, key, sizeof(key));

	jsonpos_path_append_key(buf, size, key, n < sizeof(key) ? n : sizeof(key));
}

/* Appends the path of node (NONE: nothing). Only the first levels can show
 * in JSONPOS_PATH_MAX bytes (each takes two at least), so only those are
 * kept while walking up; a deeper path is cut. */
static void append_path(const struct jsonpos *p, uint32_t node, char *buf, size_t size)
{
	enum { SHOWN = JSONPOS_PATH_MAX / 2 };
	uint32_t chain[SHOWN];
	size_t depth = 0, d;

	for (uint32_t u = node; u != NONE && p->v[u].parent != NONE; u = p->v[u].parent)
		depth++;
	d = depth;
	for (uint32_t u = node; u != NONE && p->v[u].parent != NONE; u = p->v[u].parent)
		if (--d < SHOWN)
			chain[d] = u;
	for (d = 0; d < depth && d < SHOWN; d++) {
		const struct node *nd = &p->v[chain[d]];

		if (p->v[nd->parent].kind == K_OBJECT)
			append_key_token(p, nd->key_off, buf, size);
		else
			jsonpos_path_append_index(buf, size, nd->index);
	}
	if (depth > SHOWN || strnlen(buf, size) + 1 >= size)
		mark_cut(buf, size);
}

int jsonpos_path(const struct jsonpos *p, long node, char *buf, size_t size)
{
	if (size == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (!valid(p, node))
		return -ENOENT;
	append_path(p, (uint32_t)node, buf, size);
	return 0;
}

/* ---- placing Jansson's syntax errors --------------------------------------- */

/* Where a string starting with the quote at q (before end) has its first
 * invalid escape, as Jansson validates them: \" \\ \/ \b \f \n \r \t, or
 * \u and four hex digits. Sets *ret_closed when the string closes before
 * end. Returns the offset of the backslash, or end when there is none. */
static size_t bad_escape(const char *t, size_t q, size_t end, bool *ret_closed)
{
	*ret_closed = false;
	for (size_t i = q + 1; i < end; i++) {
		if (t[i] == '"') {
			*ret_closed = true;
			return end;
		}
		if (t[i] != '\\')
			continue;
		if (i + 1 < end && strchr("\"\\/bfnrt", t[i + 1]) && t[i + 1]) {
			i++;
			continue;
		}
		if (i + 1 < end && t[i + 1] == 'u') {
			size_t k = 0;

			while (k < 4 && i + 2 + k < end && isxdigit((unsigned char)t[i + 2 + k]))
				k++;
			if (k == 4) {
				i += 5;
				continue;
			}
			if (i + 2 + k >= end)
				return end; /* cut by end: not (yet) invalid */
		} else if (i + 1 >= end) {
			return end;
		}
		return i;
	}
	return end;
}

/* The path the scan was at when it stopped: the key or element it was
 * reading, or else the container whose syntax broke. */
static void stop_path(const struct scan *s, bool at_eof, char *buf, size_t size)
{
	const struct jsonpos *p = s->p;

	append_path(p, s->cur, buf, size);
	switch (s->x) {
	case X_COLON:
		append_key_token(p, s->key_off, buf, size);
		break;
	case X_VALUE:
		if (s->cur == NONE)
			break;
		if (p->v[s->cur].kind == K_OBJECT)
			append_key_token(p, s->key_off, buf, size);
		else
			jsonpos_path_append_index(buf, size, p->v[s->cur].count);
		break;
	case X_VALUE_OR_CLOSE:
		if (!at_eof)
			jsonpos_path_append_index(buf, size, 0);
		break;
	case X_KEY_OR_CLOSE:
	case X_KEY:
	case X_COMMA_OR_CLOSE:
	case X_DONE:
		break;
	}
}

int jsonpos_syntax_error(const char *text, size_t len, const json_error_t *e,
			 struct jsonpos_syntax *ret)
{
	struct jsonpos p = { .text = text, .len = len };
	struct scan s = { .p = &p };
	enum json_error_code code = json_error_code(e);
	size_t at, bad_esc, end = e->position > 0 ? (size_t)e->position : 0;
	bool at_eof, in_token, own_token;
	int r;

	if (end > len)
		end = len;
	memset(ret, 0, sizeof(*ret));
	if (len >= NONE) {
		jsonpos_locate(text, len, end, &ret->loc);
		return 0;
	}
	s.limit = end;
	r = scan_run(&s);
	if (r < 0) {
		free(p.v);
		return r;
	}

	/* Where Jansson's position already is the culprit: the input ended
	 * with no token pending (a string left open ends the input too, but
	 * points at its start), or a byte inside a string is wrong. Control
	 * characters, newlines and bad escapes in a string all have the code
	 * json_error_invalid_syntax: they are told apart by the text itself.
	 * Jansson stopped inside a string when the token the scan could not
	 * take is a string that does not close before Jansson's position;
	 * there, the first invalid escape is the culprit (Jansson stops past
	 * it), else the byte Jansson stopped before (a control character). */
	at_eof = code == json_error_premature_end_of_input &&
		 (s.stop >= end || (s.stop + 1 == end && text[s.stop] == '\0'));
	bad_esc = end;
	in_token = code == json_error_invalid_utf8;
	if (!at_eof && !in_token && code == json_error_invalid_syntax && s.stop < end &&
	    text[s.stop] == '"') {
		bool closed;

		bad_esc = bad_escape(text, s.stop, end, &closed);
		in_token = !closed;
	}
	/* Otherwise Jansson stopped just past the token it objects to: either
	 * the scan consumed it (a duplicate key, a malformed literal) or it is
	 * the token the scan stopped at. */
	own_token = !at_eof && !in_token && s.last != TOK_NONE && s.last_end == end;

	if (at_eof && end > 0 && text[end - 1] == '\0') {
		/* Jansson takes a NUL byte for the end, after reading it. */
		at = end - 1;
	} else if (at_eof || in_token) {
		at = bad_esc;
	} else if (own_token) {
		at = s.last_start;
	} else {
		at = s.stop < end ? s.stop : end;
	}
	jsonpos_locate(text, len, at, &ret->loc);

	if (own_token && s.last == TOK_KEY) {
		append_path(&p, s.cur, ret->path, sizeof(ret->path));
		append_key_token(&p, s.last_start, ret->path, sizeof(ret->path));
		for (uint32_t c = s.cur + 1; c < p.v[s.cur].end; c = p.v[c].end) {
			if (code == json_error_duplicate_key &&
			    strings_equal(text, len, p.v[c].key_off, s.last_start)) {
				ret->has_first = true;
				jsonpos_locate(text, len, p.v[c].key_off, &ret->first);
				break;
			}
		}
	} else if (own_token && s.last != TOK_PUNCT) {
		append_path(&p, s.last_node, ret->path, sizeof(ret->path));
	} else {
		stop_path(&s, at_eof, ret->path, sizeof(ret->path));
	}
	free(p.v);
	return 0;
}
