/* SPDX-License-Identifier: MIT */
/* Prometheus remote-write 1.0 payloads: a protobuf WriteRequest (protobuf-c,
 * code generated from exporters/prompb.proto), snappy block compressed. */
#ifndef MEMAGENT_REMOTE_WRITE_H
#define MEMAGENT_REMOTE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "series.h"

/* A run of queued samples (a ring buffer hands over at most two). */
struct series_span {
	const struct series_sample *v;
	size_t n;
};

/* The headers a remote-write request carries, NULL-terminated. */
extern const char *const remote_write_headers[];

/* Encodes the samples of spans (queue order) into one compressed
 * WriteRequest: one TimeSeries per series, its samples in queue order,
 * labels sorted with __name__ among them. batch must differ from the last
 * call's (it tags series while grouping). Returns 0 and a malloc'ed body in
 * *ret (free() it), or -ENOMEM. */
int remote_write_encode(const struct series_span *spans, size_t n_spans, uint64_t batch, void **ret,
			size_t *ret_len);

/* Decodes a body (for tests and the benchmark's receiver): calls fn for every
 * sample, series by series. Returns 0, -EBADMSG for a body that is not a
 * snappy-compressed WriteRequest, or fn's negative return. */
typedef int (*remote_write_sample_fn)(void *arg, const char *const *label_pairs, size_t n_labels,
				      double value, int64_t timestamp_ms);
int remote_write_decode(const void *body, size_t len, remote_write_sample_fn fn, void *arg);

#endif
