/* SPDX-License-Identifier: MIT */
/* UTF-8 well-formedness (see utf8.h). */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

size_t utf8_char_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t cp, min;
	size_t k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		k = 3, cp = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n < k)
		return 0;
	/* A NUL ends the loop too: it is no continuation byte. */
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

void utf8_append_valid(struct strbuf *b, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n;) {
		size_t k = utf8_char_len(s + i, n - i);

		if (k) {
			strbuf_append(b, s + i, k);
			i += k;
		} else {
			strbuf_puts(b, "\xef\xbf\xbd");
			i++;
		}
	}
}
