/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the telemetry page parser (collectors/telemetry.c).
 *
 * Any bytes either parse into a page or are refused with a reason; nothing
 * may crash or read out of bounds, and a page taken must keep every promise
 * the exporter relies on (terminated names, counts within their arrays,
 * used <= size). An input whose first byte is odd gets a valid header laid
 * over it (magic, version, size, counters), so the fuzzer spends its time
 * on the checks past the header rather than on the magic. Built with clang
 * -fsanitize=fuzzer,address,undefined: `make fuzz-page FUZZ_SECONDS=600`; the
 * suite replays tests/fuzz/corpus/page (tests/it_fuzz_page.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_taken(const struct gengc_telemetry_page *p)
{
	if (p->n_spaces > GENGC_TELEMETRY_SPACES || p->n_kinds > GENGC_TELEMETRY_KINDS ||
	    p->n_queues > GENGC_TELEMETRY_QUEUES || !memchr(p->name, 0, sizeof(p->name)) || !p->name[0])
		abort();
	for (uint32_t i = 0; i < p->n_spaces; i++)
		if (!memchr(p->spaces[i].name, 0, sizeof(p->spaces[i].name)) ||
		    p->spaces[i].used_bytes > p->spaces[i].size_bytes)
			abort();
	for (uint32_t i = 0; i < p->n_kinds; i++)
		if (!memchr(p->kinds[i].name, 0, sizeof(p->kinds[i].name)))
			abort();
	for (uint32_t i = 0; i < p->n_queues; i++)
		if (!memchr(p->queues[i].name, 0, sizeof(p->queues[i].name)))
			abort();
	if (p->seq % 2 || p->seq != p->seq_end)
		abort();
	if ((p->flags & GENGC_TELEMETRY_HAS_LOOP_DELAY) && p->loop_delay_p50_ns > p->loop_delay_p99_ns)
		abort();
	if ((p->flags & GENGC_TELEMETRY_SNAPSHOT_ALLOWED) &&
	    (!memchr(p->snapshot_socket, 0, sizeof(p->snapshot_socket)) || !p->snapshot_socket[0] ||
	     !memchr(p->snapshot_path, 0, sizeof(p->snapshot_path))))
		abort();
	if (p->gc_seq && p->ring[p->gc_seq % GENGC_TELEMETRY_RING].seq != p->gc_seq)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gengc_telemetry_page buf;
	struct gengc_telemetry_page out;
	enum telemetry_reason r;
	const void *in = data;

	if (size == sizeof(buf) && (data[0] & 1)) {
		memcpy(&buf, data, sizeof(buf));
		memcpy(buf.magic, GENGC_TELEMETRY_MAGIC, 8);
		buf.version = GENGC_TELEMETRY_VERSION;
		buf.size = GENGC_TELEMETRY_SIZE;
		buf.seq &= ~1ull;
		buf.seq_end = buf.seq;
		in = &buf;
	}
	r = telemetry_parse(in, size, &out);
	if ((unsigned)r >= TELEMETRY_REASON_MAX)
		abort();
	if (r == TELEMETRY_OK)
		check_taken(&out);
	return 0;
}
