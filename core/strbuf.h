/* SPDX-License-Identifier: MIT */
/* A growable byte buffer for building text (exposition, payloads, messages). */
#ifndef MEMAGENT_STRBUF_H
#define MEMAGENT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zero-initialise to start empty. After an allocation failure the buffer is
 * marked failed, further appends are no-ops, and strbuf_failed() says so:
 * callers check once at the end instead of after every append. */
struct strbuf {
	char *buf; /* NUL-terminated when len > 0 */
	size_t len, cap;
	bool failed;
};

void strbuf_append(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_putc(struct strbuf *b, char c);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_u64(struct strbuf *b, uint64_t v);
/* Shortest text that reads back as the same double; integers without a
 * fraction; NaN, +Inf, -Inf as Prometheus writes them. */
void strbuf_double(struct strbuf *b, double v);
static inline bool strbuf_failed(const struct strbuf *b) { return b->failed; }
/* Hands the NUL-terminated buffer to the caller (free() it) and empties b.
 * Returns NULL only when an allocation failed. */
char *strbuf_take(struct strbuf *b, size_t *ret_len);
void strbuf_done(struct strbuf *b);

#endif
