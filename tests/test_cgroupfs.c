/* SPDX-License-Identifier: MIT */
/* cgroupfs: hierarchy detection, /proc/PID/cgroup parsing, and cgroups found
 * by name and by id within the walk's bounds, on fixture trees. */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "test.h"

static char root[64];

static void mkroot(void)
{
	snprintf(root, sizeof(root), "/tmp/memagent-cgroupfs-XXXXXX");
	if (!mkdtemp(root))
		root[0] = '\0';
}

static void test_detect(void)
{
	struct cgroupfs_hier h;
	char sub[128];

	mkroot();
	REQUIRE(root[0]);
	CHECK_EQ(cgroupfs_detect(root, &h), 0);
	CHECK_EQ(h.version, CGROUPFS_NONE);

	/* Hybrid, as on this machine: v2 tree without memory, v1 memory. */
	REQUIRE(test_write_file(root, "unified/cgroup.controllers", "hugetlb\n") == 0);
	REQUIRE(test_write_file(root, "memory/memory.usage_in_bytes", "4096\n") == 0);
	CHECK_EQ(cgroupfs_detect(root, &h), 0);
	CHECK_EQ(h.version, CGROUPFS_V1);
	snprintf(sub, sizeof(sub), "%s/memory", root);
	CHECK_STR(h.mount, sub);

	/* Hybrid with memory on the unified side. */
	test_rm_rf(root);
	mkroot();
	REQUIRE(test_write_file(root, "unified/cgroup.controllers", "cpu io memory pids\n") == 0);
	CHECK_EQ(cgroupfs_detect(root, &h), 0);
	CHECK_EQ(h.version, CGROUPFS_V2);
	snprintf(sub, sizeof(sub), "%s/unified", root);
	CHECK_STR(h.mount, sub);

	/* Pure v2. */
	REQUIRE(test_write_file(root, "cgroup.controllers", "cpuset cpu io memory\n") == 0);
	CHECK_EQ(cgroupfs_detect(root, &h), 0);
	CHECK_EQ(h.version, CGROUPFS_V2);
	CHECK_STR(h.mount, root);
	test_rm_rf(root);
}

static void test_parse_proc(void)
{
	size_t len;
	char *buf = test_slurp("tests/fixtures/proc/cgroup-v1.txt", &len);
	char path[256];
	const char *v2 = "0::/user.slice/user-1000.slice/session-2.scope\n";
	const char *combined = "5:cpu,cpuacct:/a\n4:memory,hugetlb:/b/c\n0::/d\n";

	REQUIRE(buf);
	CHECK(cgroupfs_parse_proc(buf, len, CGROUPFS_V1, path, sizeof(path)) > 0);
	CHECK(path[0] == '/');
	free(buf);
	CHECK_EQ(cgroupfs_parse_proc(v2, strlen(v2), CGROUPFS_V2, path, sizeof(path)),
		 (int)strlen("/user.slice/user-1000.slice/session-2.scope"));
	CHECK_STR(path, "/user.slice/user-1000.slice/session-2.scope");
	CHECK_EQ(cgroupfs_parse_proc(v2, strlen(v2), CGROUPFS_V1, path, sizeof(path)), -ENOENT);
	CHECK_EQ(cgroupfs_parse_proc(combined, strlen(combined), CGROUPFS_V1, path, sizeof(path)), 4);
	CHECK_STR(path, "/b/c");
	CHECK_EQ(cgroupfs_parse_proc(combined, strlen(combined), CGROUPFS_V2, path, sizeof(path)), 2);
	CHECK_STR(path, "/d");
	CHECK_EQ(cgroupfs_parse_proc(combined, strlen(combined), CGROUPFS_V1, path, 3), -ENOBUFS);
	CHECK_EQ(cgroupfs_parse_proc("garbage\n", 8, CGROUPFS_V2, path, sizeof(path)), -EBADMSG);
	CHECK_EQ(cgroupfs_parse_proc("", 0, CGROUPFS_V2, path, sizeof(path)), -ENOENT);
	CHECK_EQ(cgroupfs_parse_proc("0::\n", 4, CGROUPFS_V2, path, sizeof(path)), -EBADMSG);
}

/* A v2 tree with a unit at two depths, as under a user manager. */
static int mktree(struct cgroupfs_hier *h)
{
	mkroot();
	if (!root[0] ||
	    test_write_file(root, "cgroup.controllers", "memory\n") < 0 ||
	    test_write_file(root, "user.slice/user-1000.slice/user@1000.service/app.slice/x.service/memory.current", "1\n") < 0 ||
	    test_write_file(root, "system.slice/x.service/memory.current", "1\n") < 0 ||
	    test_write_file(root, "a/b/c/d/e/f/g/h/memory.current", "1\n") < 0)
		return -1;
	return cgroupfs_detect(root, h);
}

static void test_find_dir(void)
{
	struct cgroupfs_hier h;
	char buf[PATH_MAX], want[PATH_MAX];

	REQUIRE(mktree(&h) == 0);
	REQUIRE(h.version == CGROUPFS_V2);
	CHECK(cgroupfs_find_dir(&h, "x.service", buf, sizeof(buf)) > 0);
	snprintf(want, sizeof(want), "%s/system.slice/x.service", root);
	CHECK_STR(buf, want); /* the shallowest, whatever readdir's order */
	CHECK(cgroupfs_find_dir(&h, "g", buf, sizeof(buf)) > 0); /* 7 levels down */
	CHECK_EQ(cgroupfs_find_dir(&h, "h", buf, sizeof(buf)), -ENOENT); /* past the bound */
	CHECK_EQ(cgroupfs_find_dir(&h, "nope.service", buf, sizeof(buf)), -ENOENT);
	CHECK_EQ(cgroupfs_find_dir(&h, "x.service", buf, 4), -ENOBUFS);
	h.version = CGROUPFS_NONE;
	CHECK_EQ(cgroupfs_find_dir(&h, "x.service", buf, sizeof(buf)), -ENOENT);
	test_rm_rf(root);
}

static uint64_t ino_of(const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static void test_path_of_id(void)
{
	struct cgroupfs_hier h;
	char buf[PATH_MAX];
	uint64_t id;

	REQUIRE(mktree(&h) == 0);
	CHECK_EQ(cgroupfs_path_of_id(&h, ino_of(""), buf, sizeof(buf)), 1);
	CHECK_STR(buf, "/");
	id = ino_of("/system.slice/x.service");
	REQUIRE(id);
	CHECK_EQ(cgroupfs_path_of_id(&h, id, buf, sizeof(buf)), (int)strlen("/system.slice/x.service"));
	CHECK_STR(buf, "/system.slice/x.service");
	CHECK_EQ(cgroupfs_path_of_id(&h, id, buf, 8), -ENOBUFS);
	/* A file's inode is no cgroup; nor is one past the walk's bounds. */
	CHECK_EQ(cgroupfs_path_of_id(&h, ino_of("/system.slice/x.service/memory.current"), buf,
				     sizeof(buf)), -ENOENT);
	CHECK_EQ(cgroupfs_path_of_id(&h, ino_of("/a/b/c/d/e/f/g/h"), buf, sizeof(buf)), -ENOENT);
	CHECK_EQ(cgroupfs_path_of_id(&h, id, buf, 0), -EINVAL);
	test_rm_rf(root);
}

/* On this host's hierarchy (kernfs: the handle path), our own cgroup's id
 * names the path /proc/self/cgroup gives. */
static void test_host_id(void)
{
	struct cgroupfs_hier h;
	char path[PATH_MAX], dir[2 * PATH_MAX], buf[PATH_MAX];
	struct stat st;
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	REQUIRE(proc_fd >= 0);
	cgroupfs_detect("/sys/fs/cgroup", &h);
	if (h.version == CGROUPFS_NONE) {
		close(proc_fd);
		TEST_SKIP("no memory cgroup controller mounted");
	}
	REQUIRE(cgroupfs_path_of_pid(proc_fd, getpid(), h.version, path, sizeof(path)) > 0);
	close(proc_fd);
	snprintf(dir, sizeof(dir), "%s%s", h.mount, strcmp(path, "/") ? path : "");
	REQUIRE(stat(dir, &st) == 0);
	CHECK(cgroupfs_path_of_id(&h, (uint64_t)st.st_ino, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, path);
}

int main(void)
{
	RUN(test_detect);
	RUN(test_parse_proc);
	RUN(test_find_dir);
	RUN(test_path_of_id);
	RUN(test_host_id);
	return test_done();
}
