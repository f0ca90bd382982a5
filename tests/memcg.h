/* SPDX-License-Identifier: MIT */
/* Test helper: a process's memory cgroup, found the way an operator would (/proc/PID/cgroup), on v1 and v2.
 *
 * Independent of collectors/: the tests compare what the code under test
 * reports with this. The memory controller is on v1 when
 * /sys/fs/cgroup/memory is its mount (hybrid hosts), else on the v2
 * hierarchy at /sys/fs/cgroup (or /sys/fs/cgroup/unified) whose
 * cgroup.controllers lists it.
 */
#ifndef MEMAGENT_TEST_MEMCG_H
#define MEMAGENT_TEST_MEMCG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static inline bool memcg_v2_at(const char *dir)
{
	char path[256], buf[512];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
		if (strcmp(t, "memory") == 0)
			return true;
	return false;
}

/* The memory hierarchy's mount ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"),
 * and the version; NULL when there is no memory controller. */
static inline const char *memcg_root(int *ret_v)
{
	if (access("/sys/fs/cgroup/memory/memory.usage_in_bytes", F_OK) == 0) {
		*ret_v = 1;
		return "/sys/fs/cgroup/memory";
	}
	*ret_v = 2;
	if (memcg_v2_at("/sys/fs/cgroup"))
		return "/sys/fs/cgroup";
	if (memcg_v2_at("/sys/fs/cgroup/unified"))
		return "/sys/fs/cgroup/unified";
	return NULL;
}

/* pid's memory cgroup path below the hierarchy's root ("/a/b", "/" for the
 * root) into rel, and its directory into dir. Returns false when unknown. */
static inline bool memcg_of(pid_t pid, char *rel, size_t rlen, char *dir, size_t dlen)
{
	char path[64], line[1024];
	const char *root;
	bool found = false;
	FILE *f;
	int v;

	root = memcg_root(&v);
	if (!root)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if ((v == 1 && strncmp(c1 + 1, "memory:", 7) == 0) ||
		    (v == 2 && strncmp(line, "0::", 3) == 0)) {
			snprintf(rel, rlen, "%s", c2 + 1);
			snprintf(dir, dlen, "%s%s", root, strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Inode of pid's memory cgroup directory (the kernfs id BPF reports), 0 when unknown. */
static inline uint64_t memcg_ino(pid_t pid)
{
	char rel[512], dir[1024];
	struct stat st;

	if (!memcg_of(pid, rel, sizeof(rel), dir, sizeof(dir)) || stat(dir, &st) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

#endif
