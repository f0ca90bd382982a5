/* SPDX-License-Identifier: MIT */
/* A memory-bound neighbour for make bench-gc-busy: copies 256 MiB back and forth until killed. */
#include <stdlib.h>
#include <string.h>

int main(void)
{
	size_t n = (size_t)256 << 20;   /* far past any cache: every copy goes to DRAM */
	char *a = malloc(n), *b = malloc(n);

	if (!a || !b)
		return 1;
	memset(a, 1, n);
	memset(b, 2, n);
	for (;;) {
		memcpy(b, a, n);
		memcpy(a, b, n);
	}
}
