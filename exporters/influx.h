/* SPDX-License-Identifier: MIT */
/* InfluxDB 1.x line protocol: "name,tag=v,... value=V TIMESTAMP_NS". */
#ifndef MEMAGENT_INFLUX_H
#define MEMAGENT_INFLUX_H

#include <stddef.h>

#include "remote_write.h"
#include "series.h"
#include "strbuf.h"

/* Appends one line per sample of spans (queue order) to out; the series'
 * line prefix is built once per series and kept in it. NaN and infinities
 * have no line-protocol form: they are skipped and counted in *ret_skipped.
 * Allocation failure shows in strbuf_failed(out). */
void influx_encode(const struct series_span *spans, size_t n_spans, struct strbuf *out, size_t *ret_skipped);

#endif
