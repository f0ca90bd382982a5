/* SPDX-License-Identifier: MIT */
/* A growable byte buffer for building text. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* Makes room for n more bytes plus a NUL; false once failed. */
static bool reserve(struct strbuf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return false;
	need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->buf, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->buf = p;
	b->cap = cap;
	return true;
}

void strbuf_append(struct strbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_append(b, s, strlen(s));
}

void strbuf_putc(struct strbuf *b, char c)
{
	strbuf_append(b, &c, 1);
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void strbuf_u64(struct strbuf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	strbuf_append(b, tmp + i, sizeof(tmp) - i);
}

void strbuf_double(struct strbuf *b, double v)
{
	char tmp[32];

	if (isnan(v)) {
		strbuf_puts(b, "NaN");
	} else if (isinf(v)) {
		strbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
	} else if (v >= 0 && v < 9007199254740992.0 && v == (double)(uint64_t)v) {
		/* The common case (bytes, counts): integral, exact, fast. */
		strbuf_u64(b, (uint64_t)v);
	} else {
		/* %.15g is exact for most values; fall back to 17 digits when not. */
		snprintf(tmp, sizeof(tmp), "%.15g", v);
		if (strtod(tmp, NULL) != v)
			snprintf(tmp, sizeof(tmp), "%.17g", v);
		strbuf_puts(b, tmp);
	}
}

char *strbuf_take(struct strbuf *b, size_t *ret_len)
{
	char *p;

	if (!b->buf && reserve(b, 0))
		b->buf[0] = '\0';
	p = b->failed ? NULL : b->buf;
	if (!p)
		free(b->buf);
	else if (ret_len)
		*ret_len = b->len;
	*b = (struct strbuf){0};
	return p;
}

void strbuf_done(struct strbuf *b)
{
	free(b->buf);
	*b = (struct strbuf){0};
}
