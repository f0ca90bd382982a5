/* SPDX-License-Identifier: MIT */
/* UTF-8 well-formedness: what label values taken from processes (a comm set
 * by prctl(), a name the kernel cut at 15 bytes) are checked against before
 * they go into text a receiver refuses whole over one bad byte. */
#ifndef MEMAGENT_UTF8_H
#define MEMAGENT_UTF8_H

#include <stddef.h>

#include "strbuf.h"

/* The length of the well-formed UTF-8 character at s, with n bytes
 * available (a NUL-terminated string may pass SIZE_MAX: its NUL ends any
 * sequence), or 0 when none starts there: a stray continuation byte, a cut
 * sequence, an overlong form, a surrogate, a code point past U+10FFFF. */
size_t utf8_char_len(const char *s, size_t n);

/* Appends s with every byte that starts no character replaced by U+FFFD. */
void utf8_append_valid(struct strbuf *b, const char *s);

#endif
