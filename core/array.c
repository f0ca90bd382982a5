/* SPDX-License-Identifier: MIT */
/* array: bounded doubling growth. */
#include "array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int array_grow(void **v, size_t *cap, size_t want, size_t size, size_t max)
{
	size_t ncap = *cap ? *cap : 64;
	void *nv;

	if (want <= *cap)
		return 0;
	if (want > max)
		return -ENOSPC;
	while (ncap < want)
		ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
	if (ncap > max)
		ncap = max;
	if (ncap > SIZE_MAX / size)
		return -ENOMEM;
	nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}
