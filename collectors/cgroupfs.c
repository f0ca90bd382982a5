/* SPDX-License-Identifier: MIT */
/* cgroupfs: the memory hierarchy, a process's cgroup, a cgroup by name or id. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "procfile.h"

#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe
#endif

/* Does the controller list file at path name "memory"? */
static bool lists_memory(const char *path)
{
	char buf[512], *save;
	int r = procfile_read(AT_FDCWD, path, buf, sizeof(buf));

	if (r < 0)
		return false;
	for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, "memory") == 0)
			return true;
	return false;
}

int cgroupfs_detect(const char *cgroup_root, struct cgroupfs_hier *ret)
{
	char path[PATH_MAX];
	struct cgroupfs_hier h = { CGROUPFS_NONE, "" };

	snprintf(path, sizeof(path), "%s/cgroup.controllers", cgroup_root);
	if (lists_memory(path)) {
		h.version = CGROUPFS_V2;
		snprintf(h.mount, sizeof(h.mount), "%s", cgroup_root);
	} else {
		snprintf(path, sizeof(path), "%s/memory/memory.usage_in_bytes", cgroup_root);
		if (access(path, F_OK) == 0) {
			h.version = CGROUPFS_V1;
			snprintf(h.mount, sizeof(h.mount), "%s/memory", cgroup_root);
		} else {
			snprintf(path, sizeof(path), "%s/unified/cgroup.controllers", cgroup_root);
			if (lists_memory(path)) {
				h.version = CGROUPFS_V2;
				snprintf(h.mount, sizeof(h.mount), "%s/unified", cgroup_root);
			}
		}
	}
	*ret = h;
	return 0;
}

/* Does the comma-separated controller list [s, e) hold "memory"? */
static bool has_memory_controller(const char *s, const char *e)
{
	while (s < e) {
		const char *c = memchr(s, ',', (size_t)(e - s));

		if (!c)
			c = e;
		if (c - s == 6 && memcmp(s, "memory", 6) == 0)
			return true;
		s = c + 1;
	}
	return false;
}

int cgroupfs_parse_proc(const char *buf, size_t len, enum cgroupfs_version v, char *path,
			size_t pathlen)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *c1, *c2;

		if (!nl)
			nl = end;
		/* "hierarchy-ID:controller-list:cgroup-path" */
		c1 = memchr(p, ':', (size_t)(nl - p));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(nl - c1 - 1)) : NULL;
		if (!c1 || !c2)
			return -EBADMSG;
		bool match = v == CGROUPFS_V2 ? (c1 - p == 1 && *p == '0' && c2 == c1 + 1)
					      : has_memory_controller(c1 + 1, c2);
		if (match) {
			size_t n = (size_t)(nl - c2 - 1);

			if (n + 1 > pathlen)
				return -ENOBUFS;
			if (n == 0 || c2[1] != '/')
				return -EBADMSG;
			memcpy(path, c2 + 1, n);
			path[n] = '\0';
			return (int)n;
		}
		p = nl + 1;
	}
	return -ENOENT;
}

int cgroupfs_path_of_pid(int proc_dirfd, int pid, enum cgroupfs_version v, char *path,
			 size_t pathlen)
{
	char name[32], buf[4096];
	int r;

	snprintf(name, sizeof(name), "%d/cgroup", pid);
	r = procfile_read(proc_dirfd, name, buf, sizeof(buf));
	if (r < 0)
		return r;
	return cgroupfs_parse_proc(buf, (size_t)r, v, path, pathlen);
}

/* --- the bounded walk -------------------------------------------------------- */

/* What a walk looks for: a directory by name, or by inode number. */
struct wanted {
	const char *name;
	uint64_t ino;
};

static bool is_wanted(const struct dirent *de, const struct wanted *w)
{
	return w->name ? strcmp(de->d_name, w->name) == 0 : (uint64_t)de->d_ino == w->ino;
}

/* Looks for the wanted directory at most `levels` + 1 below path (len bytes
 * used, PATH_MAX bytes); on success path holds it. Every entry read costs
 * one of *budget. */
static bool walk(char *path, size_t len, const struct wanted *w, int levels, unsigned *budget)
{
	DIR *d;
	struct dirent *de;
	bool found = false;

	if (!(d = opendir(path)))
		return false;
	while (!found && *budget > 0 && (de = readdir(d))) {
		size_t n;

		(*budget)--;
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		n = strlen(de->d_name);
		if (len + 1 + n + 1 > PATH_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		if (is_wanted(de, w))
			found = true;
		else if (levels > 0)
			found = walk(path, len + 1 + n, w, levels - 1, budget);
		if (!found)
			path[len] = '\0';
	}
	closedir(d);
	return found;
}

/* The shallowest wanted directory below h's root, into path (PATH_MAX bytes):
 * which comes first depth-first is readdir's order, so the search deepens
 * level by level (re-reading the upper levels); the budget bounds it all. */
static bool find_shallowest(const struct cgroupfs_hier *h, const struct wanted *w, char *path)
{
	unsigned budget = CGROUPFS_SEARCH_ENTRIES;
	size_t len;

	if ((size_t)snprintf(path, PATH_MAX, "%s", h->mount) >= PATH_MAX)
		return false;
	len = strlen(path);
	for (int levels = 0; levels <= CGROUPFS_SEARCH_DEPTH && budget > 0; levels++)
		if (walk(path, len, w, levels, &budget))
			return true;
	return false;
}

int cgroupfs_find_dir(const struct cgroupfs_hier *h, const char *name, char *buf, size_t len)
{
	struct wanted w = { .name = name };
	char path[PATH_MAX];

	if (h->version == CGROUPFS_NONE || !find_shallowest(h, &w, path))
		return -ENOENT;
	return (size_t)snprintf(buf, len, "%s", path) < len ? (int)strlen(buf) : -ENOBUFS;
}

/* Writes the part of abs below the hierarchy's root real ("/" for the root). */
static int below_root(const char *abs, const char *real, char *buf, size_t len)
{
	size_t hl = strlen(real);

	if (strncmp(abs, real, hl) != 0 || (abs[hl] != '/' && abs[hl] != '\0'))
		return -ENOENT; /* outside our view of the hierarchy */
	return (size_t)snprintf(buf, len, "%s", abs[hl] ? abs + hl : "/") < len ? (int)strlen(buf)
										   : -ENOBUFS;
}

/* The kernfs id as a file handle: one syscall instead of a walk. */
static int by_handle(const struct cgroupfs_hier *h, int mfd, uint64_t id, char *buf, size_t len)
{
	union {
		struct file_handle fh;
		char raw[sizeof(struct file_handle) + sizeof(uint64_t)];
	} fh;
	char link[64], target[PATH_MAX], real[PATH_MAX];
	ssize_t n;
	int fd;

	fh.fh.handle_bytes = sizeof(uint64_t);
	fh.fh.handle_type = FILEID_KERNFS;
	memcpy(fh.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mfd, &fh.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (!realpath(h->mount, real))
		return -errno;
	return below_root(target, real, buf, len);
}

int cgroupfs_path_of_id(const struct cgroupfs_hier *h, uint64_t id, char *buf, size_t len)
{
	struct wanted w = { .ino = id };
	char path[PATH_MAX];
	struct statfs sfs;
	struct stat st;
	int mfd, r;

	if (!buf || len == 0)
		return -EINVAL;
	if (h->version == CGROUPFS_NONE)
		return -ENOENT;
	mfd = open(h->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	if (fstat(mfd, &st) < 0)
		r = -errno;
	else if ((uint64_t)st.st_ino == id)
		r = (size_t)snprintf(buf, len, "/") < len ? 1 : -ENOBUFS;
	else if (fstatfs(mfd, &sfs) < 0)
		r = -errno;
	else if (sfs.f_type != CGROUP_SUPER_MAGIC && sfs.f_type != CGROUP2_SUPER_MAGIC)
		r = -EOPNOTSUPP; /* ids are kernfs handles only on cgroupfs (not on fixtures) */
	else
		r = by_handle(h, mfd, id, buf, len);
	close(mfd);
	if (r == -ESTALE) /* a well-formed handle of no live cgroup */
		return -ENOENT;
	if (r >= 0 || r == -ENOBUFS)
		return r;
	/* No privilege for handles, or not kernfs: walk. */
	if (!find_shallowest(h, &w, path))
		return -ENOENT;
	return below_root(path, h->mount, buf, len);
}
