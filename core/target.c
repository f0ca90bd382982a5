/* SPDX-License-Identifier: MIT */
/* Targets: whether a process belongs to a named selection, and the systemd unit of a cgroup path.
 *
 * Matching runs for every process on every tick, so it allocates nothing and
 * tests the cheap criteria (pid, comm, exe, cgroup) before the regex.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

/* systemd's UNIT_NAME_MAX: a unit name is shorter than this. */
#define UNIT_NAME_MAX 256

int target_compile(struct target *t, char *errbuf, size_t errlen)
{
	regex_t re;
	int r;

	if (!t->match.cmdline)
		return 0;
	r = regcomp(&re, t->match.cmdline, REG_EXTENDED | REG_NOSUB);
	if (r != 0) {
		if (errbuf && errlen)
			regerror(r, &re, errbuf, errlen);
		return r == REG_ESPACE ? -ENOMEM : -EINVAL;
	}
	t->match.cmdline_re = re;
	return 0;
}

void target_done(struct target *t)
{
	if (!t)
		return;
	if (t->match.cmdline)
		regfree(&t->match.cmdline_re);
	free(t->match.cmdline);
	free(t->match.comm);
	free(t->match.exe);
	free(t->match.cgroup);
	free(t->match.systemd_unit);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

void target_set_update_needs(struct target_set *set)
{
	unsigned needs = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct target_match *m = &set->v[i].match;

		if (m->exe)
			needs |= TARGET_NEED_EXE;
		if (m->cmdline)
			needs |= TARGET_NEED_CMDLINE;
		if (m->cgroup || m->systemd_unit)
			needs |= TARGET_NEED_CGROUP;
	}
	set->needs = needs;
}

bool target_set_exec_changes(const struct target_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct target_match *m = &set->v[i].match;

		if (m->comm || m->exe || m->cmdline)
			return true;
	}
	return false;
}

void target_set_done(struct target_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		target_done(&set->v[i]);
	free(set->v);
	*set = (struct target_set){ 0 };
}

/* The kernel appends " (deleted)" to /proc/PID/exe once the file is gone,
 * which is what a package upgrade does to every running daemon. */
static bool exe_matches(const char *exe, const char *want)
{
	static const char deleted[] = " (deleted)";
	size_t n = strlen(want);

	return strncmp(exe, want, n) == 0 && (exe[n] == '\0' || strcmp(exe + n, deleted) == 0);
}

static bool unit_matches(const char *cgroup, const char *want)
{
	char unit[UNIT_NAME_MAX];

	return target_unit_from_cgroup(cgroup, unit, sizeof(unit)) >= 0 && strcmp(unit, want) == 0;
}

bool target_matches(const struct target *t, const struct target_proc *p)
{
	const struct target_match *m = &t->match;

	if (m->has_pid && p->pid != m->pid)
		return false;
	if (m->comm && (!p->comm || strcmp(p->comm, m->comm) != 0))
		return false;
	if (m->exe && (!p->exe || !exe_matches(p->exe, m->exe)))
		return false;
	if (m->cgroup && (!p->cgroup || !target_cgroup_has_prefix(p->cgroup, m->cgroup)))
		return false;
	if (m->systemd_unit && (!p->cgroup || !unit_matches(p->cgroup, m->systemd_unit)))
		return false;
	if (m->cmdline && (!p->cmdline || regexec(&m->cmdline_re, p->cmdline, 0, NULL, 0) != 0))
		return false;
	return true;
}

uint64_t target_set_classify(const struct target_set *set, const struct target_proc *p)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < set->n && i < TARGET_MAX; i++)
		if (target_matches(&set->v[i], p))
			mask |= UINT64_C(1) << i;
	return mask;
}

/* ---- systemd unit names ---------------------------------------------------- */

static bool unit_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '-' || c == '_' || c == '.' || c == '\\';
}

/* systemd's unit_name_is_valid(name, UNIT_NAME_PLAIN | UNIT_NAME_INSTANCE)
 * on name[0..n). */
static bool unit_name_valid(const char *name, size_t n)
{
	static const char *const types[] = {
		"service", "socket", "target", "device", "mount", "automount",
		"swap", "timer", "path", "slice", "scope",
	};
	const char *dot = NULL, *at = NULL;
	bool known = false;

	if (n == 0 || n >= UNIT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '.')
			dot = name + i;
	if (!dot || dot == name)
		return false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t tn = strlen(types[i]);

		if ((size_t)(name + n - dot - 1) == tn && memcmp(dot + 1, types[i], tn) == 0)
			known = true;
	}
	if (!known)
		return false;
	for (const char *c = name; c < dot; c++) {
		if (*c == '@' && !at)
			at = c;
		if (*c != '@' && !unit_char(*c))
			return false;
	}
	/* No prefix before '@'; an instance must not be empty (a template). */
	return at != name && (!at || dot > at + 1);
}

static bool is_slice(const char *name, size_t n)
{
	return n >= 6 && memcmp(name + n - 6, ".slice", 6) == 0;
}

bool target_unit_name_is_valid(const char *name)
{
	return unit_name_valid(name, strlen(name));
}

/* systemd escapes a cgroup name that could clash with a kernel file
 * ("cgroup.procs", "tasks", a controller's "cpu.x") or starts with '_' or
 * '.' by prefixing '_'; undo it as cg_unescape() does. */
static const char *unescape(const char *name, size_t *n)
{
	if (*n > 0 && name[0] == '_') {
		(*n)--;
		return name + 1;
	}
	return name;
}

int target_unit_from_cgroup(const char *cgroup, char *buf, size_t len)
{
	const char *p = cgroup, *name;
	size_t n;

	/* Skip the leading slices; the component after them is the unit or
	 * there is none. */
	for (;;) {
		p += strspn(p, "/");
		n = strcspn(p, "/");
		name = unescape(p, &n);
		if (!is_slice(name, n) || !unit_name_valid(name, n))
			break;
		p += strcspn(p, "/");
	}
	n = strcspn(p, "/");
	if (n < 3)
		return -ENOENT;
	name = unescape(p, &n);
	if (!unit_name_valid(name, n) || is_slice(name, n))
		return -ENOENT;
	if (n >= len)
		return -ENOBUFS;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return (int)n;
}

bool target_cgroup_has_prefix(const char *cgroup, const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 0 && prefix[n - 1] == '/')
		n--;
	return strncmp(cgroup, prefix, n) == 0 && (cgroup[n] == '\0' || cgroup[n] == '/');
}
