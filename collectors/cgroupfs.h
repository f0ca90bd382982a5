/* SPDX-License-Identifier: MIT */
/* cgroupfs: where the memory controller's hierarchy is, which cgroup a process
 * is in, and the path of a cgroup known by name or by id.
 *
 * Paths below the hierarchy are written as the kernel writes them in
 * /proc/PID/cgroup: "/" for the root, "/a/b" below it. Every directory walk
 * here is bounded (depth and entries read), since a host may hold tens of
 * thousands of cgroups.
 */
#ifndef MEMAGENT_CGROUPFS_H
#define MEMAGENT_CGROUPFS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

enum cgroupfs_version {
	CGROUPFS_NONE, /* no memory controller mounted */
	CGROUPFS_V1,   /* memory controller on its own v1 hierarchy (hybrid hosts) */
	CGROUPFS_V2,   /* unified hierarchy with the memory controller enabled */
};

struct cgroupfs_hier {
	enum cgroupfs_version version;
	char mount[PATH_MAX]; /* the memory hierarchy's root directory */
};

/* Finds the memory controller under cgroup_root ("/sys/fs/cgroup"): v2 at the
 * root when its cgroup.controllers lists memory, v1 at root/memory, or v2 at
 * root/unified (hybrid layout), in that order. Returns 0 (version may be
 * CGROUPFS_NONE). */
int cgroupfs_detect(const char *cgroup_root, struct cgroupfs_hier *ret);

/* Picks the memory hierarchy's path out of /proc/PID/cgroup text: the v1 line
 * whose controller list holds "memory", or the v2 "0::" line. Writes it to
 * path (NUL-terminated). Returns its length, -ENOENT, -EBADMSG or -ENOBUFS. */
int cgroupfs_parse_proc(const char *buf, size_t len, enum cgroupfs_version v, char *path,
			size_t pathlen);

/* Reads pid's memory cgroup path (proc_dirfd/PID/cgroup). Same returns, plus
 * the read's -errno. */
int cgroupfs_path_of_pid(int proc_dirfd, int pid, enum cgroupfs_version v, char *path,
			 size_t pathlen);

/* Bounds of every search below (a host's cgroups are a user-grown tree). */
#define CGROUPFS_SEARCH_DEPTH 6       /* directories down to 7 levels below the root */
#define CGROUPFS_SEARCH_ENTRIES 20000 /* directory entries read in all */

/* Finds the shallowest directory named name below h's root (a systemd unit:
 * a user manager may run a unit of the same name deeper, below
 * user@UID.service). Writes its absolute path (h->mount + "/...") to buf.
 * Returns its length, -ENOENT (not found within the bounds), -ENOBUFS. Cost:
 * a walk of the upper levels, repeated per level (iterative deepening). */
int cgroupfs_find_dir(const struct cgroupfs_hier *h, const char *name, char *buf, size_t len);

/* Resolves a cgroup id (the kernfs id BPF programs report: the inode number
 * of the cgroup's directory) to its path below h's root ("/a/b", "/" for the
 * root). Tries open_by_handle_at() first (one syscall; needs
 * CAP_DAC_READ_SEARCH), then the bounded walk of cgroupfs_find_dir().
 * Returns the path length, -ENOENT (no such cgroup within the bounds: it may
 * have been removed since), -ENOBUFS, or -errno. */
int cgroupfs_path_of_id(const struct cgroupfs_hier *h, uint64_t id, char *buf, size_t len);

#endif
