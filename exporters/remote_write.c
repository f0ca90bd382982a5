/* SPDX-License-Identifier: MIT */
/* Prometheus remote-write payloads through protobuf-c and libsnappy. */
#include <errno.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

#include "prompb.pb-c.h"
#include "remote_write.h"

const char *const remote_write_headers[] = {
	"Content-Type: application/x-protobuf",
	"Content-Encoding: snappy",
	"X-Prometheus-Remote-Write-Version: 0.1.0",
	NULL,
};

/* Everything one request's message points to, in one allocation: the
 * message structs hold pointers into the series (names and values are not
 * copied), so packing reads each label once. */
int remote_write_encode(const struct series_span *spans, size_t n_spans, uint64_t batch, void **ret,
			size_t *ret_len)
{
	Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
	size_t n = 0, nts = 0, nlabels = 0, packed_len, out_len;
	Prometheus__TimeSeries *ts, **tsp;
	Prometheus__Sample *smp, **smpp;
	Prometheus__Label *lab, **labp;
	size_t *fill;
	char *mem, *packed, *out;

	for (size_t k = 0; k < n_spans; k++) {
		for (size_t i = 0; i < spans[k].n; i++) {
			struct series *s = spans[k].v[i].s;

			if (s->batch != batch) {
				s->batch = batch;
				s->batch_index = nts++;
				nlabels += s->n_labels + 1;
			}
		}
		n += spans[k].n;
	}
	mem = malloc(nts * (sizeof(*ts) + sizeof(*tsp) + sizeof(*fill)) + n * (sizeof(*smp) + sizeof(*smpp)) +
		     nlabels * (sizeof(*lab) + sizeof(*labp)));
	if (!mem)
		return -ENOMEM;
	ts = (Prometheus__TimeSeries *)mem;
	smp = (Prometheus__Sample *)(ts + nts);
	lab = (Prometheus__Label *)(smp + n);
	tsp = (Prometheus__TimeSeries **)(lab + nlabels);
	smpp = (Prometheus__Sample **)(tsp + nts);
	labp = (Prometheus__Label **)(smpp + n);
	fill = (size_t *)(labp + nlabels);

	/* Pass 1 set the indices; now count samples per series... */
	for (size_t j = 0; j < nts; j++) {
		prometheus__time_series__init(&ts[j]);
		tsp[j] = &ts[j];
		fill[j] = 0;
	}
	for (size_t k = 0; k < n_spans; k++)
		for (size_t i = 0; i < spans[k].n; i++)
			ts[spans[k].v[i].s->batch_index].n_samples++;
	/* ...give each its slice of the sample and label arrays... */
	size_t so = 0, lo = 0;

	for (size_t k = 0; k < n_spans; k++) {
		for (size_t i = 0; i < spans[k].n; i++) {
			struct series *s = spans[k].v[i].s;
			Prometheus__TimeSeries *t = &ts[s->batch_index];
			size_t at = 0;

			if (t->samples)
				continue;
			t->samples = &smpp[so];
			so += t->n_samples;
			t->labels = &labp[lo];
			t->n_labels = s->n_labels + 1;
			/* __name__ at its sorted place among the (sorted) labels. */
			while (at < s->n_labels && strcmp(s->labels[at].key, "__name__") < 0)
				at++;
			for (size_t l = 0, src = 0; l < t->n_labels; l++) {
				Prometheus__Label *x = &lab[lo + l];

				prometheus__label__init(x);
				if (l == at) {
					x->name = (char *)"__name__";
					x->value = (char *)s->name;
				} else {
					x->name = (char *)s->labels[src].key;
					x->value = (char *)s->labels[src].value;
					src++;
				}
				labp[lo + l] = x;
			}
			lo += t->n_labels;
		}
	}
	/* ...and fill the samples in queue order. */
	size_t si = 0;

	for (size_t k = 0; k < n_spans; k++) {
		for (size_t i = 0; i < spans[k].n; i++, si++) {
			const struct series_sample *q = &spans[k].v[i];
			Prometheus__TimeSeries *t = &ts[q->s->batch_index];

			prometheus__sample__init(&smp[si]);
			smp[si].value = q->value;
			smp[si].timestamp = q->timestamp_ms;
			t->samples[fill[q->s->batch_index]++] = &smp[si];
		}
	}
	wr.n_timeseries = nts;
	wr.timeseries = tsp;
	packed_len = prometheus__write_request__get_packed_size(&wr);
	packed = malloc(packed_len ? packed_len : 1);
	out_len = snappy_max_compressed_length(packed_len);
	out = malloc(out_len);
	if (!packed || !out) {
		free(packed);
		free(out);
		free(mem);
		return -ENOMEM;
	}
	prometheus__write_request__pack(&wr, (uint8_t *)packed);
	free(mem);
	if (snappy_compress(packed, packed_len, out, &out_len) != SNAPPY_OK) {
		free(packed);
		free(out);
		return -ENOMEM;
	}
	free(packed);
	*ret = out;
	*ret_len = out_len;
	return 0;
}

int remote_write_decode(const void *body, size_t len, remote_write_sample_fn fn, void *arg)
{
	Prometheus__WriteRequest *wr;
	size_t raw_len;
	char *raw;
	int r = 0;

	if (snappy_uncompressed_length(body, len, &raw_len) != SNAPPY_OK)
		return -EBADMSG;
	raw = malloc(raw_len ? raw_len : 1);
	if (!raw)
		return -ENOMEM;
	if (snappy_uncompress(body, len, raw, &raw_len) != SNAPPY_OK) {
		free(raw);
		return -EBADMSG;
	}
	wr = prometheus__write_request__unpack(NULL, raw_len, (const uint8_t *)raw);
	free(raw);
	if (!wr)
		return -EBADMSG;
	for (size_t i = 0; i < wr->n_timeseries && r == 0; i++) {
		const Prometheus__TimeSeries *t = wr->timeseries[i];
		const char *pairs[64];
		size_t nl = t->n_labels < 32 ? t->n_labels : 32;

		for (size_t l = 0; l < nl; l++) {
			pairs[2 * l] = t->labels[l]->name;
			pairs[2 * l + 1] = t->labels[l]->value;
		}
		for (size_t s = 0; s < t->n_samples && r == 0; s++)
			r = fn(arg, pairs, nl, t->samples[s]->value, t->samples[s]->timestamp);
	}
	prometheus__write_request__free_unpacked(wr, NULL);
	return r;
}
