/* SPDX-License-Identifier: MIT */
/* "Key: value [kB]" lines: the lookup of one key (the iterator is inline). */
#include "keyval.h"

int keyval_find_u64(const char *text, size_t len, char sep, const char *key, uint64_t *ret)
{
	size_t n = strlen(key);
	struct keyval_iter it;
	struct keyval kv;
	int r;

	keyval_init(&it, text, len, sep);
	while ((r = keyval_next(&it, &kv)) > 0)
		if (kv.key_len == n && memcmp(kv.key, key, n) == 0)
			return keyval_u64(&kv, ret);
	return r < 0 ? r : -ENOENT;
}
