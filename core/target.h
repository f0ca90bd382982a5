/* SPDX-License-Identifier: MIT */
/* Targets: named selections of processes, and the test whether a process belongs.
 *
 * A leaf module like snapshot.h: the config fills targets, the collectors ask
 * them questions, neither needs the other.
 */
#ifndef MEMAGENT_TARGET_H
#define MEMAGENT_TARGET_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Each process carries a bit per target, so targets are capped. */
#define TARGET_MAX 64
#define TARGET_NAME_MAX 64
/* Reserved name: OOM kills of processes that match no target count here. */
#define TARGET_OTHER "other"

/* What classification needs read from a process, beyond pid and comm. */
enum {
	TARGET_NEED_EXE = 1u << 0,
	TARGET_NEED_CMDLINE = 1u << 1,
	TARGET_NEED_CGROUP = 1u << 2,
};

enum target_group {
	TARGET_GROUP_NONE, /* one aggregate series per target */
	TARGET_GROUP_COMM, /* one series per executable name, label comm */
};

/* Every criterion that is set must hold (AND); an empty match selects every
 * process. Strings are owned by the target. */
struct target_match {
	bool has_pid;
	pid_t pid;
	char *comm;         /* exact, as in /proc/PID/comm (at most 15 bytes) */
	char *exe;          /* exact path of /proc/PID/exe */
	char *cmdline;      /* POSIX ERE source, matched against argv joined by spaces */
	regex_t cmdline_re; /* compiled when cmdline != NULL */
	char *cgroup;       /* path prefix in the memory controller's hierarchy */
	char *systemd_unit; /* unit name derived from the cgroup path */
};

struct target {
	char *name;
	struct target_match match;
	bool per_process;          /* a series per process, label pid */
	enum target_group group_by;
	bool smaps;                /* PSS/USS from smaps_rollup (takes the mmap lock) */
	bool no_queues;            /* "queues": false: no socket or message queue depths */
};

struct target_set {
	struct target *v;
	size_t n;
	unsigned needs; /* union of TARGET_NEED_* over all targets */
};

/* What is known of a process when it is classified. Strings may be NULL when
 * not needed (see needs) or unreadable; a criterion on an unknown field fails. */
struct target_proc {
	pid_t pid;
	const char *comm;
	const char *exe;
	const char *cmdline; /* argv joined by single spaces */
	const char *cgroup;  /* memory controller's cgroup path, "/..." */
};

/* Initialises t->match.cmdline_re from t->match.cmdline (REG_EXTENDED |
 * REG_NOSUB); call it once per target, with cmdline set (0 and nothing done
 * when it is NULL). On failure returns -EINVAL (-ENOMEM when regcomp() ran
 * out of memory) and writes regerror()'s text to errbuf; t is unaltered, so
 * cmdline is set but not compiled: free and clear it before target_done(). */
int target_compile(struct target *t, char *errbuf, size_t errlen);

/* Frees what t owns and zeroes it; t itself is not freed. */
void target_done(struct target *t);

/* Computes set->needs from the targets. */
void target_set_update_needs(struct target_set *set);

/* True when an exec can change which targets a process is in: some target
 * matches on comm, exe or cmdline. Otherwise a classification holds for the
 * whole life of a process identity (pid and start time); a cgroup move is
 * not an exec and is not caught by rereading stat either. */
bool target_set_exec_changes(const struct target_set *set);

/* Frees every target and the array; the set becomes empty (so twice is fine). */
void target_set_done(struct target_set *set);

/* Whether p belongs to t: every criterion set in t->match holds (AND), an
 * empty match holds for every process, and a criterion whose field in p is
 * NULL fails. exe also matches "PATH (deleted)", which is how the kernel shows
 * a binary that was replaced or removed since it was started (upgrades). */
bool target_matches(const struct target *t, const struct target_proc *p);

/* Returns the mask of the targets in set that p matches (bit i = set->v[i]).
 * Cost: one target_matches() per target; no allocation. */
uint64_t target_set_classify(const struct target_set *set, const struct target_proc *p);

/* Writes to buf the systemd unit a cgroup path belongs to, as systemd's
 * cg_path_get_unit() does: the first path component that is a unit name and
 * not a slice ("/system.slice/nginx.service/x" -> "nginx.service"). Like
 * systemd, only slices may come before it ("/docker/x.scope" has no unit),
 * and a component escaped by systemd with a leading '_' is unescaped.
 * Returns the length, -ENOENT when the path holds no unit, -ENOBUFS when buf
 * is too small. */
int target_unit_from_cgroup(const char *cgroup, char *buf, size_t len);

/* True when name is a unit name a process can run in, by systemd's rules
 * (unit_name_is_valid() for plain and instance names): "NAME.TYPE" or
 * "NAME@INSTANCE.TYPE", NAME of [A-Za-z0-9:_.\\-] (so "\\x2d" escapes stay
 * literal), TYPE one of service, socket, target, device, mount, automount,
 * swap, timer, path, slice, scope; shorter than 256 bytes. Templates
 * ("foo@.service") are not: they have no cgroup. Slices pass; callers that
 * want a unit a process runs in also check for ".slice". */
bool target_unit_name_is_valid(const char *name);

/* True when cgroup equals prefix or lies below it, component-wise: "/a/b" is
 * below "/a", "/ab" is not. Trailing '/' in prefix are ignored, so "/" is the
 * prefix of every path. */
bool target_cgroup_has_prefix(const char *cgroup, const char *prefix);

#endif
