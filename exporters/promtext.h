/* SPDX-License-Identifier: MIT */
/* Prometheus exposition: text format 0.0.4 and OpenMetrics 1.0. */
#ifndef MEMAGENT_PROMTEXT_H
#define MEMAGENT_PROMTEXT_H

#include <stddef.h>

#include "snapshot.h"
#include "strbuf.h"

enum promtext_format {
	PROMTEXT_TEXT,        /* text/plain; version=0.0.4 */
	PROMTEXT_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

/* Picks the format an Accept header asks for (q-values honoured; OpenMetrics
 * only when preferred at least as much as text/plain). NULL means text. */
enum promtext_format promtext_negotiate(const char *accept);
const char *promtext_content_type(enum promtext_format f);

/* Appends every family of s. OpenMetrics output still needs promtext_end().
 * Allocation failure shows in strbuf_failed(out). */
void promtext_render(const struct snapshot *s, enum promtext_format f, struct strbuf *out);

/* promtext_render() of s in format f, rendered once per snapshot and kept in
 * its memo slot f (snapshot_memo()): every reader of the same sample (the
 * scrapes, the Pushgateway sinks) shares one text. 0 or -ENOMEM. */
int promtext_memo(struct snapshot *s, enum promtext_format f, const char **ret_buf, size_t *ret_len);

/* Appends a family with one sample (for values that change per scrape). */
void promtext_family(struct strbuf *out, enum promtext_format f, const struct metric_desc *d,
		     const struct snapshot_label *labels, size_t n_labels, double value);

/* Appends one more sample to the family promtext_family() just started. */
void promtext_sample(struct strbuf *out, enum promtext_format f, const struct metric_desc *d,
		     const struct snapshot_label *labels, size_t n_labels, double value);

/* Ends the exposition ("# EOF" for OpenMetrics, nothing for text). */
void promtext_end(struct strbuf *out, enum promtext_format f);

#endif
