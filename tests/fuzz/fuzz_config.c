/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the config loader: Jansson, jsonpos and the schema.
 *
 * Any input either parses into a config (freed again) or fails with a
 * one-line message; nothing may crash, leak or read out of bounds, and a
 * failure must say why. Built with clang -fsanitize=fuzzer,address,undefined:
 * `make fuzz-config FUZZ_SECONDS=600`; the suite replays the corpus in
 * tests/fuzz/corpus/config (tests/it_fuzz_config.sh).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sampler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The loader checks alert rules' metrics against the agent's list; the
 * fuzzer links the loader alone, so it gets a list of a few families of
 * each type in place of the sampler's. */
static const struct metric_desc fuzz_gauge = { "memagent_process_resident_bytes", METRIC_GAUGE, NULL, "g" };
static const struct metric_desc fuzz_counter = { "memagent_oom_kills_total", METRIC_COUNTER, NULL, "c" };
static const struct metric_desc fuzz_histogram = { "memagent_gc_pause_seconds", METRIC_HISTOGRAM, NULL, "h" };
static const struct metric_desc fuzz_available = { "memagent_system_memory_available_bytes", METRIC_GAUGE,
						   NULL, "a" };

const struct metric_desc *const *sampler_all_metrics(void)
{
	static const struct metric_desc *const all[] = { &fuzz_gauge, &fuzz_counter, &fuzz_histogram,
							 &fuzz_available, NULL };

	return all;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERROR_MAX];
	struct config *c = NULL;
	int r = config_parse((const char *)data, size, "fuzz.json", &c, err);

	if (r == 0) {
		if (err[0] != '\0')
			abort();
		config_free(c);
	} else if (r != -EINVAL && r != -ENOMEM) {
		abort();
	} else if (err[0] == '\0' || !memchr(err, '\0', sizeof(err))) {
		abort(); /* a failure must say why */
	}
	return 0;
}
