/* SPDX-License-Identifier: MIT */
/* array: growing a bounded array of fixed-size elements, the one way collectors do it.
 *
 * A leaf like strbuf.h: no knowledge of what is stored.
 */
#ifndef MEMAGENT_ARRAY_H
#define MEMAGENT_ARRAY_H

#include <stddef.h>

/* Makes *v (elements of size bytes, *cap of them allocated) hold at least
 * want elements, doubling from 64, never beyond max. Returns 0 (also when
 * it was large enough), -ENOSPC when want > max, -ENOMEM; on failure *v and
 * *cap are unaltered. */
int array_grow(void **v, size_t *cap, size_t want, size_t size, size_t max);

#endif
