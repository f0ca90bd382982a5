/* SPDX-License-Identifier: MIT */
/* Reading small kernel text files (procfs, cgroupfs) whole, in one go. */
#ifndef MEMAGENT_PROCFILE_H
#define MEMAGENT_PROCFILE_H

#include <stddef.h>
#include <stdint.h>

/* Reads the file open on fd from offset 0 into buf (cap bytes, NUL-terminated:
 * at most cap - 1 bytes of data). Returns the length, -EFBIG when the file
 * does not fit, or the negative errno of pread (-ESRCH: the process is gone). */
int procfile_pread(int fd, char *buf, size_t cap);

/* openat(dirfd, path) + procfile_pread + close. Same returns, plus open's
 * errors (-ENOENT when the file or the process is gone). */
int procfile_read(int dirfd, const char *path, char *buf, size_t cap);

/* Opens path below dirfd read-only with O_CLOEXEC. Returns the fd or -errno. */
int procfile_open(int dirfd, const char *path);

/* Parses an unsigned decimal at *p, advancing *p past it. Returns false when
 * no digit is there. Saturates instead of overflowing. */
static inline int procfile_u64(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return 0;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + (uint64_t)(*s - '0');
	*p = s;
	*ret = v;
	return 1;
}

#endif
