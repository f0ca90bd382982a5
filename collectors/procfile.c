/* SPDX-License-Identifier: MIT */
/* Reading small kernel text files (procfs, cgroupfs) whole, in one go. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "procfile.h"

int procfile_pread(int fd, char *buf, size_t cap)
{
	ssize_t n;
	char c;

	/* One pread: a seq_file fills the whole buffer unless it reaches the end,
	 * so a short read is the end (the same holds for regular files). This
	 * keeps the hot path at one syscall per file. */
	do
		n = pread(fd, buf, cap - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n == cap - 1 && pread(fd, &c, 1, n) > 0)
		return -EFBIG;
	buf[n] = '\0';
	return (int)n;
}

int procfile_open(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : fd;
}

int procfile_read(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = procfile_open(dirfd, path);
	int r;

	if (fd < 0)
		return fd;
	r = procfile_pread(fd, buf, cap);
	close(fd);
	return r;
}
