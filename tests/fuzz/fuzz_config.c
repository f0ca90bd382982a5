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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
