/* SPDX-License-Identifier: MIT */
/* Tests of target selection (core/target.c): criteria, masks, cgroup prefixes, systemd units. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"
#include "test.h"

static char *dup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

/* A target with only a name; the caller sets criteria and target_done()s it. */
static struct target named(const char *name)
{
	return (struct target){ .name = dup(name) };
}

static void set_cmdline(struct target *t, const char *re)
{
	char why[128];

	t->match.cmdline = dup(re);
	if (target_compile(t, why, sizeof(why)) != 0) {
		test_fail_at(__FILE__, __LINE__, "regex %s: %s", re, why);
		free(t->match.cmdline);
		t->match.cmdline = NULL;
	}
}

/* A process as the collectors would describe nginx under systemd. */
static const struct target_proc nginx = {
	.pid = 812,
	.comm = "nginx",
	.exe = "/usr/sbin/nginx",
	.cmdline = "nginx: worker process",
	.cgroup = "/system.slice/nginx.service",
};

static void test_compile(void)
{
	struct target t = named("t");
	char why[128] = "";

	CHECK_EQ(target_compile(&t, why, sizeof(why)), 0); /* no cmdline: nothing to do */
	t.match.cmdline = dup("java (-jar");
	CHECK_EQ(target_compile(&t, why, sizeof(why)), -EINVAL);
	CHECK_STR(why, "Unmatched ( or \\(");
	/* On failure the regex is not compiled: clear cmdline before target_done(). */
	free(t.match.cmdline);
	t.match.cmdline = NULL;
	set_cmdline(&t, "^java .*-jar [^ ]+\\.jar$");
	CHECK(target_matches(&t, &(struct target_proc){ .cmdline = "java -Xmx2g -jar app.jar" }));
	target_done(&t);
	CHECK(t.name == NULL && t.match.cmdline == NULL);
	target_done(&t); /* twice is harmless */
}

static void test_each_criterion_alone(void)
{
	struct target t;
	struct target_proc p = nginx;

	t = named("pid");
	t.match.has_pid = true;
	t.match.pid = 812;
	CHECK(target_matches(&t, &p));
	p.pid = 813;
	CHECK(!target_matches(&t, &p));
	p = nginx;
	target_done(&t);

	t = named("comm");
	t.match.comm = dup("nginx");
	CHECK(target_matches(&t, &p));
	p.comm = "nginx2";
	CHECK(!target_matches(&t, &p));
	p.comm = "ngin";
	CHECK(!target_matches(&t, &p));
	p = nginx;
	target_done(&t);

	t = named("exe");
	t.match.exe = dup("/usr/sbin/nginx");
	CHECK(target_matches(&t, &p));
	p.exe = "/usr/sbin/nginx2";
	CHECK(!target_matches(&t, &p));
	p.exe = "/usr/sbin/ngin";
	CHECK(!target_matches(&t, &p));
	/* A binary replaced by an upgrade while running still belongs. */
	p.exe = "/usr/sbin/nginx (deleted)";
	CHECK(target_matches(&t, &p));
	p.exe = "/usr/sbin/nginx (deleted) ";
	CHECK(!target_matches(&t, &p));
	p = nginx;
	target_done(&t);

	t = named("cmdline");
	set_cmdline(&t, "worker");
	CHECK(target_matches(&t, &p));
	p.cmdline = "nginx: master process /usr/sbin/nginx";
	CHECK(!target_matches(&t, &p));
	p = nginx;
	target_done(&t);

	t = named("cgroup");
	t.match.cgroup = dup("/system.slice");
	CHECK(target_matches(&t, &p));
	p.cgroup = "/user.slice/user-1000.slice/session-2.scope";
	CHECK(!target_matches(&t, &p));
	p = nginx;
	target_done(&t);

	t = named("unit");
	t.match.systemd_unit = dup("nginx.service");
	CHECK(target_matches(&t, &p));
	p.cgroup = "/system.slice/nginx.service/worker";
	CHECK(target_matches(&t, &p));
	p.cgroup = "/system.slice/apache2.service";
	CHECK(!target_matches(&t, &p));
	p.cgroup = "/docker/nginx.service";
	CHECK(!target_matches(&t, &p));
	target_done(&t);
}

static void test_combined_criteria(void)
{
	struct target t = named("all-of-them");
	struct target_proc p = nginx;

	t.match.has_pid = true;
	t.match.pid = 812;
	t.match.comm = dup("nginx");
	t.match.exe = dup("/usr/sbin/nginx");
	t.match.cgroup = dup("/system.slice/");
	t.match.systemd_unit = dup("nginx.service");
	set_cmdline(&t, "^nginx: (worker|master) process");
	CHECK(target_matches(&t, &p));

	/* Each criterion failing alone makes the whole fail: AND. */
	p.pid = 1;
	CHECK(!target_matches(&t, &p));
	p = nginx;
	p.comm = "apache2";
	CHECK(!target_matches(&t, &p));
	p = nginx;
	p.exe = "/usr/bin/nginx";
	CHECK(!target_matches(&t, &p));
	p = nginx;
	p.cmdline = "nginx: cache manager process";
	CHECK(!target_matches(&t, &p));
	p = nginx;
	p.cgroup = "/system.slice/nginx.service.d";
	CHECK(!target_matches(&t, &p));
	p = nginx;
	p.cgroup = "/nginx.service";
	CHECK(!target_matches(&t, &p)); /* unit right, cgroup prefix wrong */
	target_done(&t);
}

static void test_empty_match(void)
{
	struct target t = named("all");

	CHECK(target_matches(&t, &nginx));
	/* Nothing is asked, so nothing needs to be known. */
	CHECK(target_matches(&t, &(struct target_proc){ .pid = 1 }));
	target_done(&t);
}

static void test_unknown_fields_fail(void)
{
	struct target_proc unknown = { .pid = 812 };
	struct target t;

	t = named("comm");
	t.match.comm = dup("nginx");
	CHECK(!target_matches(&t, &unknown));
	target_done(&t);

	t = named("exe");
	t.match.exe = dup("/usr/sbin/nginx");
	CHECK(!target_matches(&t, &unknown));
	target_done(&t);

	/* Even a regex that matches the empty string needs a cmdline to test. */
	t = named("cmdline");
	set_cmdline(&t, ".*");
	CHECK(!target_matches(&t, &unknown));
	CHECK(target_matches(&t, &(struct target_proc){ .cmdline = "" }));
	target_done(&t);

	t = named("cgroup");
	t.match.cgroup = dup("/");
	CHECK(!target_matches(&t, &unknown));
	target_done(&t);

	t = named("unit");
	t.match.systemd_unit = dup("nginx.service");
	CHECK(!target_matches(&t, &unknown));
	target_done(&t);
}

/* cmdline is argv joined by single spaces; the regex is POSIX extended and
 * unanchored unless anchored. */
static void test_cmdline_regex(void)
{
	static const struct {
		const char *re, *cmdline;
		bool match;
	} cases[] = {
		{ "http\\.server", "python3 -m http.server 8000", true },
		{ "^python3? -m http\\.server", "python -m http.server", true },
		{ "^python3? -m http\\.server", "/usr/bin/python3 -m http.server", false },
		{ "-m http\\.server [0-9]+$", "python3 -m http.server 8000", true },
		{ "-m http\\.server [0-9]+$", "python3 -m http.server 8000 --bind ::", false },
		{ "(gunicorn|uwsgi): worker", "gunicorn: worker [app]", true },
		{ "(gunicorn|uwsgi): worker", "uwsgi: master", false },
		{ "-Xmx[[:digit:]]{1,3}[gG]", "java -Xmx512g -jar x.jar", true },
		{ "-Xmx[[:digit:]]{1,3}[gG]", "java -Xmx4096m -jar x.jar", false },
		{ "a b", "a b", true },  /* the space between two arguments */
		{ "ab", "a b", false },
		{ "HTTP", "http", false }, /* case matters */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct target t = named("re");

		set_cmdline(&t, cases[i].re);
		if (target_matches(&t, &(struct target_proc){ .cmdline = cases[i].cmdline }) !=
		    cases[i].match)
			test_fail_at(__FILE__, __LINE__, "\"%s\" on \"%s\": expected %s", cases[i].re,
				     cases[i].cmdline, cases[i].match ? "a match" : "none");
		target_done(&t);
	}
}

static void test_cgroup_prefix(void)
{
	CHECK(target_cgroup_has_prefix("/system.slice", "/system.slice"));
	CHECK(target_cgroup_has_prefix("/system.slice/nginx.service", "/system.slice"));
	CHECK(target_cgroup_has_prefix("/system.slice/nginx.service", "/system.slice/"));
	CHECK(target_cgroup_has_prefix("/system.slice/nginx.service", "/system.slice//"));
	CHECK(!target_cgroup_has_prefix("/system.slice2/x.service", "/system.slice"));
	CHECK(!target_cgroup_has_prefix("/system.slice", "/system.slice/nginx.service"));
	CHECK(!target_cgroup_has_prefix("/ab", "/a"));
	CHECK(target_cgroup_has_prefix("/a/b", "/a"));
	CHECK(!target_cgroup_has_prefix("/a", "/a/b"));
	CHECK(target_cgroup_has_prefix("/", "/"));
	CHECK(target_cgroup_has_prefix("/anything/below", "/"));
	CHECK(!target_cgroup_has_prefix("/user.slice/user-1000.slice", "/user.slice/user-1"));
	CHECK(target_cgroup_has_prefix("/user.slice/user-1000.slice/session-2.scope",
				       "/user.slice/user-1000.slice"));
}

static void check_unit(int line, const char *cgroup, const char *want)
{
	char buf[256];
	int r = target_unit_from_cgroup(cgroup, buf, sizeof(buf));

	if (want && (r != (int)strlen(want) || strcmp(buf, want) != 0))
		test_fail_at(__FILE__, line, "\"%s\": got %d \"%s\", want \"%s\"", cgroup, r,
			     r >= 0 ? buf : "", want);
	if (!want && r != -ENOENT)
		test_fail_at(__FILE__, line, "\"%s\": got %d \"%s\", want -ENOENT", cgroup, r,
			     r >= 0 ? buf : "");
}
#define CHECK_UNIT(cgroup, want) check_unit(__LINE__, cgroup, want)

/* Paths as /proc/PID/cgroup shows them: "0::PATH" on cgroup v2, and the
 * memory controller's "N:memory:PATH" on v1 / hybrid hosts (this one). */
static void test_unit_from_cgroup_v2(void)
{
	CHECK_UNIT("/system.slice/nginx.service", "nginx.service");
	CHECK_UNIT("/system.slice/nginx.service/worker", "nginx.service");
	CHECK_UNIT("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service");
	CHECK_UNIT("/system.slice/system-postgresql.slice/postgresql@15-main.service",
		   "postgresql@15-main.service");
	CHECK_UNIT("/init.scope", "init.scope");
	CHECK_UNIT("/user.slice/user-1000.slice/session-2.scope", "session-2.scope");
	/* The user manager and everything it runs belong to user@1000.service
	 * (the unit of the system manager, as cg_path_get_unit() says). */
	CHECK_UNIT("/user.slice/user-1000.slice/user@1000.service", "user@1000.service");
	CHECK_UNIT("/user.slice/user-1000.slice/user@1000.service/init.scope", "user@1000.service");
	CHECK_UNIT("/user.slice/user-1000.slice/user@1000.service/app.slice/"
		   "app-gnome-firefox-4242.scope", "user@1000.service");
	CHECK_UNIT("/user.slice/user-1000.slice/user@1000.service/session.slice/"
		   "pipewire.service", "user@1000.service");
	CHECK_UNIT("/system.slice/docker-4f3ac2d9e8b7.scope", "docker-4f3ac2d9e8b7.scope");
	CHECK_UNIT("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1d2e_3f4a.slice/"
		   "cri-containerd-9a8b7c.scope", "cri-containerd-9a8b7c.scope");
	CHECK_UNIT("/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/emulator",
		   "machine-qemu\\x2d1\\x2dvm1.scope");
	CHECK_UNIT("/system.slice/systemd-fsck@dev-disk-by\\x2duuid-0b1c.service",
		   "systemd-fsck@dev-disk-by\\x2duuid-0b1c.service");
	CHECK_UNIT("/system.slice/var-lib-docker.mount", "var-lib-docker.mount");
	CHECK_UNIT("/system.slice/ssh.socket", "ssh.socket");
	/* systemd escapes a name that would clash with a kernel file with '_'. */
	CHECK_UNIT("/system.slice/_cpu.service", "cpu.service");
	CHECK_UNIT("/system.slice/__x.service", "_x.service");
	CHECK_UNIT("/_foo.slice/bar.service", "bar.service");
	/* Repeated and missing slashes, as systemd tolerates them. */
	CHECK_UNIT("//system.slice//nginx.service//", "nginx.service");
	CHECK_UNIT("system.slice/nginx.service", "nginx.service");
}

static void test_unit_from_cgroup_v1(void)
{
	CHECK_UNIT("/system.slice/cron.service", "cron.service");
	CHECK_UNIT("/system.slice/containerd.service", "containerd.service");
	CHECK_UNIT("/user.slice/user-1000.slice/session-3.scope", "session-3.scope");
	CHECK_UNIT("/user.slice/user-1000.slice/user@1000.service", "user@1000.service");
	/* Docker and LXC with the cgroupfs driver: not systemd's. */
	CHECK_UNIT("/docker/4f3ac2d9e8b7a1f0", NULL);
	CHECK_UNIT("/lxc/c1", NULL);
	CHECK_UNIT("/docker/x.scope", NULL); /* only slices may come before the unit */
}

static void test_unit_from_cgroup_none(void)
{
	char buf[8];

	CHECK_UNIT("/", NULL);
	CHECK_UNIT("", NULL);
	CHECK_UNIT("/system.slice", NULL);
	CHECK_UNIT("/user.slice/user-1000.slice", NULL);
	CHECK_UNIT("/user.slice/user-1000.slice/", NULL);
	CHECK_UNIT("/system.slice/getty@.service", NULL);    /* a template */
	CHECK_UNIT("/system.slice/@tty1.service", NULL);
	CHECK_UNIT("/system.slice/nginx.daemon", NULL);      /* no such type */
	CHECK_UNIT("/system.slice/.service", NULL);
	CHECK_UNIT("/system.slice/ngi nx.service", NULL);    /* invalid character */
	CHECK_UNIT("/system.slice/getty####@tty6.service/x", NULL);
	CHECK_UNIT("/foo/bar.service", NULL);
	CHECK_UNIT("/_", NULL);
	CHECK_UNIT("/a.", NULL);

	char longname[300];
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "/", 1);
	memcpy(longname + 290, ".service", 9);
	CHECK_UNIT(longname, NULL); /* longer than any unit name (255) */

	CHECK_EQ(target_unit_from_cgroup("/system.slice/nginx.service", buf, sizeof(buf)), -ENOBUFS);
	CHECK_EQ(target_unit_from_cgroup("/system.slice/a.mount", buf, 7), -ENOBUFS);
	CHECK_EQ(target_unit_from_cgroup("/system.slice/a.mount", buf, 8), 7);
	CHECK_STR(buf, "a.mount");
}

static void test_unit_name_is_valid(void)
{
	CHECK(target_unit_name_is_valid("nginx.service"));
	CHECK(target_unit_name_is_valid("getty@tty1.service"));
	CHECK(target_unit_name_is_valid("user@1000.service"));
	CHECK(target_unit_name_is_valid("session-2.scope"));
	CHECK(target_unit_name_is_valid("dev-sda1.device"));
	CHECK(target_unit_name_is_valid("proc-sys-fs-binfmt_misc.automount"));
	CHECK(target_unit_name_is_valid("systemd-fsck@dev-disk-by\\x2duuid-0b1c.service"));
	CHECK(target_unit_name_is_valid("a@b@c.service")); /* '@' may recur in the instance */
	CHECK(target_unit_name_is_valid("system.slice"));
	CHECK(!target_unit_name_is_valid("getty@.service"));
	CHECK(!target_unit_name_is_valid("@x.service"));
	CHECK(!target_unit_name_is_valid("nginx"));
	CHECK(!target_unit_name_is_valid("nginx.servic"));
	CHECK(!target_unit_name_is_valid(".service"));
	CHECK(!target_unit_name_is_valid("nginx service.service"));
	CHECK(!target_unit_name_is_valid("nginx/x.service"));
	CHECK(!target_unit_name_is_valid(""));
}

static void test_classify(void)
{
	struct target_set set = { 0 };
	struct target_proc p = nginx;

	set.v = calloc(TARGET_MAX, sizeof(*set.v));
	REQUIRE(set.v);
	set.n = TARGET_MAX;
	for (size_t i = 0; i < TARGET_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "t%zu", i);
		set.v[i] = named(name);
		set.v[i].match.has_pid = true;
		set.v[i].match.pid = (pid_t)(i + 1);
	}
	/* Target 0 selects every process; target 63 is pid 812 alone. */
	set.v[0].match.has_pid = false;
	set.v[63].match.pid = 812;
	set.v[5].match.comm = dup("nginx");
	set.v[5].match.pid = 812;
	CHECK_U64(target_set_classify(&set, &p), (UINT64_C(1) << 63) | (UINT64_C(1) << 5) | 1);
	p.pid = 2;
	CHECK_U64(target_set_classify(&set, &p), (UINT64_C(1) << 1) | 1);
	p.pid = 9999;
	CHECK_U64(target_set_classify(&set, &p), 1);
	target_set_done(&set);
	CHECK(set.v == NULL && set.n == 0 && set.needs == 0);
	CHECK_U64(target_set_classify(&set, &p), 0);
}

static void test_needs(void)
{
	struct target_set set = { 0 };

	set.v = calloc(3, sizeof(*set.v));
	REQUIRE(set.v);
	set.n = 3;
	set.v[0] = named("a");
	set.v[1] = named("b");
	set.v[2] = named("c");
	set.v[0].match.has_pid = true;
	set.v[1].match.cgroup = dup("/x");
	/* pid and cgroup stay what they were across an exec. */
	CHECK(!target_set_exec_changes(&set));
	free(set.v[1].match.cgroup);
	set.v[1].match.cgroup = NULL;
	set.v[0].match.comm = dup("x");
	CHECK(target_set_exec_changes(&set));
	target_set_update_needs(&set);
	CHECK_EQ(set.needs, 0); /* pid and comm are always known */
	set.v[1].match.systemd_unit = dup("x.service");
	target_set_update_needs(&set);
	CHECK_EQ(set.needs, TARGET_NEED_CGROUP);
	set_cmdline(&set.v[2], "x");
	set.v[2].match.exe = dup("/x");
	target_set_update_needs(&set);
	CHECK_EQ(set.needs, TARGET_NEED_CGROUP | TARGET_NEED_CMDLINE | TARGET_NEED_EXE);
	target_set_done(&set);
	target_set_done(&set);
}

int main(void)
{
	RUN(test_compile);
	RUN(test_each_criterion_alone);
	RUN(test_combined_criteria);
	RUN(test_empty_match);
	RUN(test_unknown_fields_fail);
	RUN(test_cmdline_regex);
	RUN(test_cgroup_prefix);
	RUN(test_unit_from_cgroup_v2);
	RUN(test_unit_from_cgroup_v1);
	RUN(test_unit_from_cgroup_none);
	RUN(test_unit_name_is_valid);
	RUN(test_classify);
	RUN(test_needs);
	return test_done();
}
