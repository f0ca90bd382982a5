/* SPDX-License-Identifier: MIT */
/* InfluxDB line protocol (1.x /write, nanosecond precision). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "influx.h"

/* Escapes what the line protocol gives meaning to: commas and spaces in
 * measurements, and also '=' in tag keys and values. Newlines cannot be
 * escaped at all: they become spaces (escaped). */
static void put_escaped(struct strbuf *b, const char *s, bool tag)
{
	for (; *s; s++) {
		char c = *s == '\n' || *s == '\r' ? ' ' : *s;

		if (c == ',' || c == ' ' || (tag && c == '=') || c == '\\')
			strbuf_putc(b, '\\');
		strbuf_putc(b, c);
	}
}

static int build_prefix(struct series *s)
{
	struct strbuf b = {0};

	put_escaped(&b, s->name, false);
	for (size_t i = 0; i < s->n_labels; i++) {
		if (!s->labels[i].value[0])
			continue; /* InfluxDB refuses empty tag values; absent is the same */
		strbuf_putc(&b, ',');
		put_escaped(&b, s->labels[i].key, true);
		strbuf_putc(&b, '=');
		put_escaped(&b, s->labels[i].value, true);
	}
	strbuf_puts(&b, " value=");
	if (strbuf_failed(&b)) {
		strbuf_done(&b);
		return -1;
	}
	s->line = strbuf_take(&b, &s->line_len);
	return 0;
}

void influx_encode(const struct series_span *spans, size_t n_spans, struct strbuf *out, size_t *ret_skipped)
{
	size_t skipped = 0;

	for (size_t k = 0; k < n_spans; k++) {
		for (size_t i = 0; i < spans[k].n; i++) {
			const struct series_sample *q = &spans[k].v[i];

			if (!isfinite(q->value)) {
				skipped++;
				continue;
			}
			if (!q->s->line && build_prefix(q->s) < 0) {
				out->failed = true;
				return;
			}
			strbuf_append(out, q->s->line, q->s->line_len);
			strbuf_double(out, q->value);
			strbuf_putc(out, ' ');
			strbuf_printf(out, "%lld000000\n", (long long)q->timestamp_ms);
		}
	}
	*ret_skipped = skipped;
}
