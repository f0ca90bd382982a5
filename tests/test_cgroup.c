/* SPDX-License-Identifier: MIT */
/* cgroup: memory state from v1 and v2 fixture trees, and the collector over
 * targets (the hierarchy and paths: test_cgroupfs.c). */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "test.h"

static char root[64];

static void mkroot(void)
{
	snprintf(root, sizeof(root), "/tmp/memagent-cgroup-XXXXXX");
	if (!mkdtemp(root))
		root[0] = '\0';
}

static void test_mem_v2(void)
{
	struct cgroup_mem m;
	char dir[128];

	mkroot();
	REQUIRE(root[0]);
	snprintf(dir, sizeof(dir), "%s/app.slice/api.service", root);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V2, &m), -ENOENT);
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.current", "73400320\n") == 0);
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.max", "max\n") == 0);
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.events",
				"low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n") == 0);
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.pressure",
				"some avg10=2.00 avg60=1.00 avg300=0.50 total=123456\n"
				"full avg10=1.00 avg60=0.50 avg300=0.25 total=654\n") == 0);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V2, &m), 0);
	CHECK_U64(m.usage, 73400320);
	CHECK_U64(m.limit, UINT64_MAX);
	CHECK(m.has_oom);
	CHECK_U64(m.oom, 3);
	CHECK_U64(m.oom_kill, 2);
	CHECK(!m.has_peak);
	CHECK(m.has_pressure && m.pressure.some.total_us == 123456);

	REQUIRE(test_write_file(root, "app.slice/api.service/memory.max", "67108864\n") == 0);
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.peak", "80000000\n") == 0);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V2, &m), 0);
	CHECK_U64(m.limit, 67108864);
	CHECK(m.has_peak && m.peak == 80000000);

	/* Truncated and garbage files: parse errors, not wrong numbers. */
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.current", "7340") == 0);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V2, &m), -EBADMSG);
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.current", "") == 0);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V2, &m), -EBADMSG);
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.current", "12\n") == 0);
	REQUIRE(test_write_file(root, "app.slice/api.service/memory.events", "low 0\nhigh x\n") == 0);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V2, &m), -EBADMSG);
	test_rm_rf(root);
}

static void test_mem_v1(void)
{
	struct cgroup_mem m;
	char dir[128];

	mkroot();
	REQUIRE(root[0]);
	snprintf(dir, sizeof(dir), "%s/job", root);
	REQUIRE(test_write_file(root, "job/memory.usage_in_bytes", "1048576\n") == 0);
	REQUIRE(test_write_file(root, "job/memory.limit_in_bytes", "9223372036854771712\n") == 0);
	REQUIRE(test_write_file(root, "job/memory.max_usage_in_bytes", "2097152\n") == 0);
	REQUIRE(test_write_file(root, "job/memory.oom_control",
				"oom_kill_disable 0\nunder_oom 1\noom_kill 4\n") == 0);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V1, &m), 0);
	CHECK_U64(m.usage, 1048576);
	CHECK_U64(m.limit, UINT64_MAX); /* page-rounded LONG_MAX means unlimited */
	CHECK(m.has_peak && m.peak == 2097152);
	CHECK(!m.has_oom);
	CHECK_U64(m.oom_kill, 4);
	CHECK(m.has_under_oom && m.under_oom);
	CHECK(!m.has_pressure);
	/* Kernels before 4.13 have no oom_kill line. */
	REQUIRE(test_write_file(root, "job/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n") == 0);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V1, &m), 0);
	CHECK_U64(m.oom_kill, 0);
	REQUIRE(test_write_file(root, "job/memory.oom_control", "nonsense\n") == 0);
	CHECK_EQ(cgroup_mem_read(dir, CGROUPFS_V1, &m), -EBADMSG);
	test_rm_rf(root);
}

/* The real hierarchy of this host: our own memory cgroup reads. */
static void test_host(void)
{
	struct cgroupfs_hier h;
	struct cgroup_mem m;
	char path[1024], dir[PATH_MAX + 1024];
	int proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	REQUIRE(proc_fd >= 0);
	cgroupfs_detect("/sys/fs/cgroup", &h);
	if (h.version == CGROUPFS_NONE) {
		close(proc_fd);
		TEST_SKIP("no memory cgroup controller mounted");
	}
	CHECK(cgroupfs_path_of_pid(proc_fd, getpid(), h.version, path, sizeof(path)) > 0);
	snprintf(dir, sizeof(dir), "%s%s", h.mount, strcmp(path, "/") ? path : "");
	CHECK_EQ(cgroup_mem_read(dir, h.version, &m), 0);
	CHECK(m.usage > 0);
	close(proc_fd);
}

static void test_collector(void)
{
	const char *json = "{\"targets\": ["
			   "{\"name\": \"api\", \"match\": {\"systemd_unit\": \"api.service\"}},"
			   "{\"name\": \"batch\", \"match\": {\"cgroup\": \"/batch\"}},"
			   "{\"name\": \"gone\", \"match\": {\"cgroup\": \"/nope\"}},"
			   "{\"name\": \"plain\", \"match\": {\"comm\": \"x\"}}]}";
	char err[CONFIG_ERROR_MAX];
	struct config *cfg = NULL;
	struct collector_errors e = {0};
	struct snapshot *s;
	void *st = NULL;
	int usage = 0, limit = 0;

	mkroot();
	REQUIRE(root[0]);
	REQUIRE(config_parse(json, strlen(json), "test", &cfg, err) == 0);
	REQUIRE(test_write_file(root, "memory/memory.usage_in_bytes", "1\n") == 0);
	REQUIRE(test_write_file(root, "memory/system.slice/api.service/memory.usage_in_bytes", "5000\n") == 0);
	REQUIRE(test_write_file(root, "memory/system.slice/api.service/memory.limit_in_bytes", "8192\n") == 0);
	REQUIRE(test_write_file(root, "memory/system.slice/api.service/memory.oom_control",
				"oom_kill_disable 0\nunder_oom 0\noom_kill 1\n") == 0);
	REQUIRE(test_write_file(root, "memory/batch/memory.usage_in_bytes", "7000\n") == 0);
	REQUIRE(test_write_file(root, "memory/batch/memory.limit_in_bytes", "9223372036854771712\n") == 0);
	REQUIRE(test_write_file(root, "memory/batch/memory.oom_control", "under_oom 0\noom_kill 0\n") == 0);

	struct collector_ctx ctx = { .proc_root = "/proc", .cgroup_root = root,
				     .targets = &cfg->targets };

	REQUIRE(cgroup_collector.init(&ctx, &st) == 0);
	s = snapshot_new();
	CHECK_EQ(cgroup_collector.read(st, s, &e), 0);
	for (const struct snapshot_family *f = snapshot_families(s); f; f = f->next) {
		for (const struct snapshot_sample *x = f->samples; x; x = x->next) {
			const char *t = x->labels[0].value;

			if (strcmp(f->desc->name, "memagent_cgroup_memory_usage_bytes") == 0) {
				usage++;
				CHECK(strcmp(t, "api") == 0 ? x->value == 5000 : x->value == 7000);
			}
			if (strcmp(f->desc->name, "memagent_cgroup_memory_limit_bytes") == 0) {
				limit++;
				CHECK_STR(t, "api"); /* batch is unlimited: no limit series */
				CHECK(x->value == 8192);
			}
		}
	}
	CHECK_EQ(usage, 2);
	CHECK_EQ(limit, 1);
	CHECK_EQ(e.n[COLLECTOR_ABSENT], 1); /* "gone" */
	snapshot_unref(s);
	cgroup_collector.done(st);
	config_free(cfg);
	test_rm_rf(root);
}

/* A user manager may run a unit of the same name deeper in the tree
 * (user.slice/.../user@1000.service/app.slice/api.service): the shallowest
 * one, the system's, is the target's, whatever order readdir lists them in.
 * The deeper branch sits under eight different names, so some of them come
 * before system.slice in the directory's order. */
static void test_unit_shallowest(void)
{
	static const char *const tops[] = { "user.slice", "a.slice", "b.slice", "c.slice",
					    "d.slice", "e.slice", "f.slice", "g.slice" };
	const char *json = "{\"targets\": [{\"name\": \"api\", \"match\": {\"systemd_unit\": \"api.service\"}}]}";
	char err[CONFIG_ERROR_MAX], deep[256];
	struct config *cfg = NULL;

	REQUIRE(config_parse(json, strlen(json), "test", &cfg, err) == 0);
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		struct collector_errors e = {0};
		struct snapshot *s;
		void *st = NULL;
		double usage = -1;

		mkroot();
		REQUIRE(root[0]);
		REQUIRE(test_write_file(root, "memory/memory.usage_in_bytes", "1\n") == 0);
		REQUIRE(test_write_file(root, "memory/system.slice/api.service/memory.usage_in_bytes",
					"5000\n") == 0);
		REQUIRE(test_write_file(root, "memory/system.slice/api.service/memory.limit_in_bytes",
					"8192\n") == 0);
		REQUIRE(test_write_file(root, "memory/system.slice/api.service/memory.oom_control",
					"under_oom 0\noom_kill 0\n") == 0);
		for (const char *const *f = (const char *const[]){ "usage_in_bytes", "limit_in_bytes",
								   "oom_control", NULL }; *f; f++) {
			snprintf(deep, sizeof(deep), "memory/%s/user-1000.slice/user@1000.service/"
				 "app.slice/api.service/memory.%s", tops[i], *f);
			REQUIRE(test_write_file(root, deep, strcmp(*f, "oom_control") == 0
							 ? "under_oom 0\noom_kill 0\n" : "1234\n") == 0);
		}

		struct collector_ctx ctx = { .proc_root = "/proc", .cgroup_root = root,
					     .targets = &cfg->targets };

		REQUIRE(cgroup_collector.init(&ctx, &st) == 0);
		s = snapshot_new();
		CHECK_EQ(cgroup_collector.read(st, s, &e), 0);
		for (const struct snapshot_family *f = snapshot_families(s); f; f = f->next)
			if (strcmp(f->desc->name, "memagent_cgroup_memory_usage_bytes") == 0 && f->samples)
				usage = f->samples->value;
		if (usage != 5000)
			test_fail_at(__FILE__, __LINE__, "deeper branch under %s: usage %.0f, want 5000",
				     tops[i], usage);
		snapshot_unref(s);
		cgroup_collector.done(st);
		test_rm_rf(root);
	}
	config_free(cfg);
}

int main(void)
{
	RUN(test_mem_v2);
	RUN(test_mem_v1);
	RUN(test_host);
	RUN(test_collector);
	RUN(test_unit_shallowest);
	return test_done();
}
