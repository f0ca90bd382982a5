/* SPDX-License-Identifier: MIT */
/* Where a test finds the helper programs built beside it. */
#ifndef MEMAGENT_TESTS_HELPERS_PATH_H
#define MEMAGENT_TESTS_HELPERS_PATH_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Writes to buf the path of helper program name, built beside the test in
 * <build>/tests/helpers/; returns 0, or -ENOENT when it was not built. */
static inline int test_helper_path(const char *name, char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/helpers/%s", self, name) >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -ENOENT;
}

#endif
