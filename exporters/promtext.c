/* SPDX-License-Identifier: MIT */
/* Prometheus exposition: text format 0.0.4 and OpenMetrics 1.0.
 *
 * The two formats differ in three places that matter here: OpenMetrics names
 * a counter family without its _total suffix, announces units with # UNIT
 * when the name ends in one, escapes double quotes in HELP, and must end
 * with "# EOF". Everything else (samples, label escaping, histograms) is the
 * same, so one renderer serves both.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promtext.h"
#include "utf8.h"

static const char *type_name(enum metric_type t, enum promtext_format f)
{
	switch (t) {
	case METRIC_UNTYPED:
		return f == PROMTEXT_OPENMETRICS ? "unknown" : "untyped";
	case METRIC_COUNTER:
		return "counter";
	case METRIC_HISTOGRAM:
		return "histogram";
	case METRIC_GAUGE:
	default:
		return "gauge";
	}
}

/* The family name as announced in # TYPE: OpenMetrics drops _total. */
static size_t family_name_len(const struct metric_desc *d, enum promtext_format f)
{
	size_t n = strlen(d->name);

	if (f == PROMTEXT_OPENMETRICS && d->type == METRIC_COUNTER && n > 6 &&
	    strcmp(d->name + n - 6, "_total") == 0)
		n -= 6;
	return n;
}

/* Escapes \ and newline (and " when quote is set), and replaces each byte
 * that is not part of a UTF-8 character with U+FFFD: label values come from
 * processes (a comm set by prctl(), or a UTF-8 name the kernel cut at 15
 * bytes), and Prometheus rejects the whole scrape over one invalid value. */
static void put_escaped(struct strbuf *out, const char *s, bool quote)
{
	const char *run = s;

	while (*s) {
		const char *esc = NULL;
		size_t n = 1;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && quote)
			esc = "\\\"";
		/* ASCII needs no call into core/utf8 (every byte of every label). */
		else if ((unsigned char)*s >= 0x80 && (n = utf8_char_len(s, SIZE_MAX)) == 0)
			esc = "\xef\xbf\xbd", n = 1;
		if (!esc) {
			s += n;
			continue;
		}
		strbuf_append(out, run, (size_t)(s - run));
		strbuf_puts(out, esc);
		s += n;
		run = s;
	}
	strbuf_append(out, run, (size_t)(s - run));
}

static void put_header(struct strbuf *out, enum promtext_format f, const struct metric_desc *d)
{
	size_t n = family_name_len(d, f);

	strbuf_puts(out, "# HELP ");
	strbuf_append(out, d->name, n);
	strbuf_putc(out, ' ');
	/* 0.0.4 escapes only \ and newline in HELP; OpenMetrics also quotes. */
	put_escaped(out, d->help, f == PROMTEXT_OPENMETRICS);
	strbuf_puts(out, "\n# TYPE ");
	strbuf_append(out, d->name, n);
	strbuf_putc(out, ' ');
	strbuf_puts(out, type_name(d->type, f));
	strbuf_putc(out, '\n');
	if (f == PROMTEXT_OPENMETRICS && d->unit) {
		strbuf_puts(out, "# UNIT ");
		strbuf_append(out, d->name, n);
		strbuf_putc(out, ' ');
		strbuf_puts(out, d->unit);
		strbuf_putc(out, '\n');
	}
}

/* name{labels[,extra_key="extra_val"]} */
static void put_series(struct strbuf *out, const char *name, const char *suffix,
		       const struct snapshot_label *labels, size_t n_labels,
		       const char *extra_key, const char *extra_val)
{
	strbuf_puts(out, name);
	if (suffix)
		strbuf_puts(out, suffix);
	if (!n_labels && !extra_key)
		return;
	strbuf_putc(out, '{');
	for (size_t i = 0; i < n_labels; i++) {
		if (i)
			strbuf_putc(out, ',');
		strbuf_puts(out, labels[i].key);
		strbuf_puts(out, "=\"");
		put_escaped(out, labels[i].value, true);
		strbuf_putc(out, '"');
	}
	if (extra_key) {
		if (n_labels)
			strbuf_putc(out, ',');
		strbuf_puts(out, extra_key);
		strbuf_puts(out, "=\"");
		strbuf_puts(out, extra_val);
		strbuf_putc(out, '"');
	}
	strbuf_putc(out, '}');
}

static void put_histogram(struct strbuf *out, const char *name, const struct snapshot_sample *smp)
{
	uint64_t cum = 0;
	struct strbuf le = {0};

	for (size_t i = 0; i <= smp->n_bounds; i++) {
		cum += smp->counts[i];
		le.len = 0;
		if (i < smp->n_bounds)
			strbuf_double(&le, smp->bounds[i]);
		else
			strbuf_puts(&le, "+Inf");
		put_series(out, name, "_bucket", smp->labels, smp->n_labels, "le",
			   le.failed ? "+Inf" : le.buf);
		strbuf_putc(out, ' ');
		strbuf_u64(out, cum);
		strbuf_putc(out, '\n');
	}
	strbuf_done(&le);
	put_series(out, name, "_sum", smp->labels, smp->n_labels, NULL, NULL);
	strbuf_putc(out, ' ');
	strbuf_double(out, smp->value);
	strbuf_putc(out, '\n');
	put_series(out, name, "_count", smp->labels, smp->n_labels, NULL, NULL);
	strbuf_putc(out, ' ');
	strbuf_u64(out, cum);
	strbuf_putc(out, '\n');
}

static void put_sample(struct strbuf *out, const struct metric_desc *d,
		       const struct snapshot_sample *smp)
{
	if (d->type == METRIC_HISTOGRAM) {
		put_histogram(out, d->name, smp);
		return;
	}
	put_series(out, d->name, NULL, smp->labels, smp->n_labels, NULL, NULL);
	strbuf_putc(out, ' ');
	strbuf_double(out, smp->value);
	strbuf_putc(out, '\n');
}

static int render(const struct snapshot *s, enum promtext_format f, char **ret_buf, size_t *ret_len)
{
	struct strbuf b = {0};

	promtext_render(s, f, &b);
	*ret_buf = strbuf_take(&b, ret_len);
	return *ret_buf ? 0 : -ENOMEM;
}

static int render_text(const struct snapshot *s, char **ret_buf, size_t *ret_len)
{
	return render(s, PROMTEXT_TEXT, ret_buf, ret_len);
}

static int render_openmetrics(const struct snapshot *s, char **ret_buf, size_t *ret_len)
{
	return render(s, PROMTEXT_OPENMETRICS, ret_buf, ret_len);
}

int promtext_memo(struct snapshot *s, enum promtext_format f, const char **ret_buf, size_t *ret_len)
{
	static const snapshot_render_fn renderers[] = {
		[PROMTEXT_TEXT] = render_text,
		[PROMTEXT_OPENMETRICS] = render_openmetrics,
	};

	return snapshot_memo(s, f, renderers[f], ret_buf, ret_len);
}

void promtext_render(const struct snapshot *s, enum promtext_format f, struct strbuf *out)
{
	for (const struct snapshot_family *fam = snapshot_families(s); fam; fam = fam->next) {
		put_header(out, f, fam->desc);
		for (const struct snapshot_sample *smp = fam->samples; smp; smp = smp->next)
			put_sample(out, fam->desc, smp);
	}
}

void promtext_family(struct strbuf *out, enum promtext_format f, const struct metric_desc *d,
		     const struct snapshot_label *labels, size_t n_labels, double value)
{
	struct snapshot_sample smp = { .labels = labels, .n_labels = n_labels, .value = value };

	put_header(out, f, d);
	put_sample(out, d, &smp);
}

void promtext_sample(struct strbuf *out, enum promtext_format f, const struct metric_desc *d,
		     const struct snapshot_label *labels, size_t n_labels, double value)
{
	struct snapshot_sample smp = { .labels = labels, .n_labels = n_labels, .value = value };

	(void)f;
	put_sample(out, d, &smp);
}

void promtext_end(struct strbuf *out, enum promtext_format f)
{
	if (f == PROMTEXT_OPENMETRICS)
		strbuf_puts(out, "# EOF\n");
}

const char *promtext_content_type(enum promtext_format f)
{
	return f == PROMTEXT_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
					 : "text/plain; version=0.0.4; charset=utf-8";
}

/* Parses one media range "type/sub;p=v;q=0.5" (len bytes): its quality and
 * whether it names OpenMetrics 1.x or text/plain (or a wildcard for both). */
static void media_range(const char *s, size_t len, double *q_om, double *q_text)
{
	const char *semi = memchr(s, ';', len);
	size_t tlen = semi ? (size_t)(semi - s) : len;
	double q = 1.0;
	bool om_version_ok = true;

	while (tlen && isspace((unsigned char)s[tlen - 1]))
		tlen--;
	for (const char *p = semi; p && p < s + len;) {
		const char *end = memchr(p + 1, ';', (size_t)(s + len - p - 1));
		const char *v = p + 1;

		if (!end)
			end = s + len;
		while (v < end && isspace((unsigned char)*v))
			v++;
		if ((size_t)(end - v) > 2 && strncasecmp(v, "q=", 2) == 0)
			q = strtod(v + 2, NULL);
		else if ((size_t)(end - v) > 8 && strncasecmp(v, "version=", 8) == 0)
			om_version_ok = v[8] == '1' && (end - v == 9 || v[9] == '.' ||
							 isspace((unsigned char)v[9]));
		p = end < s + len ? end : NULL;
	}
	if (!(q >= 0 && q <= 1))
		q = 0;

	bool om = tlen == 28 && strncasecmp(s, "application/openmetrics-text", 28) == 0;
	bool text = tlen == 10 && strncasecmp(s, "text/plain", 10) == 0;
	bool any = (tlen == 3 && strncmp(s, "*/*", 3) == 0) ||
		   (tlen == 6 && strncasecmp(s, "text/*", 6) == 0);

	if (om && om_version_ok && q > *q_om)
		*q_om = q;
	if ((text || any) && q > *q_text)
		*q_text = q;
}

enum promtext_format promtext_negotiate(const char *accept)
{
	double q_om = 0, q_text = 0;

	if (!accept)
		return PROMTEXT_TEXT;
	for (const char *p = accept; *p;) {
		size_t n = strcspn(p, ",");

		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		media_range(p, n, &q_om, &q_text);
		p += n;
		if (*p == ',')
			p++;
	}
	return q_om > 0 && q_om >= q_text ? PROMTEXT_OPENMETRICS : PROMTEXT_TEXT;
}
