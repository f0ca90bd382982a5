/* SPDX-License-Identifier: MIT */
/* The BPF tests' side of tests/helpers/memchild: start it, command it over pipes, stop it.
 *
 * Header-only (static functions) so each test program stays one file.
 * The helper binary lives next to the test binaries:
 * <build>/tests/helpers/memchild.
 */
#ifndef MEMAGENT_TESTS_MEMCHILD_H
#define MEMAGENT_TESTS_MEMCHILD_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "path.h"

struct memchild {
	pid_t pid;
	int to;   /* its stdin */
	int from; /* its stdout */
};

/* Writes the helper's path into buf; returns 0, or -ENOENT when it was not
 * built (make <build>/tests/helpers/memchild). */
static inline int memchild_path(char *buf, size_t len)
{
	return test_helper_path("memchild", buf, len);
}

/* Starts the helper with argv[1..] = args (NULL-terminated, may be NULL).
 * In command mode it waits on its stdin; with one-shot arguments it runs and
 * exits. Returns 0 or -errno. */
static inline int memchild_start(struct memchild *c, const char *const *args)
{
	char path[PATH_MAX];
	const char *argv[8] = { "memchild" };
	int in[2], out[2], r;

	r = memchild_path(path, sizeof(path));
	if (r < 0)
		return r;
	for (int i = 0; args && args[i] && i < 6; i++)
		argv[i + 1] = args[i];
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		r = -errno;
		close(in[0]);
		close(in[1]);
		return r;
	}
	c->pid = fork();
	if (c->pid < 0) {
		r = -errno;
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		return r;
	}
	if (c->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to = in[1];
	c->from = out[0];
	return 0;
}

/* Sends one command ("t 200") and waits for the answer. Returns 0 on "ok",
 * -EIO on "err" or when the child died. */
static inline int memchild_cmd(struct memchild *c, const char *cmd)
{
	char line[64], ans[8];
	size_t n = 0;
	int len = snprintf(line, sizeof(line), "%s\n", cmd);

	if (write(c->to, line, (size_t)len) != len)
		return -EIO;
	while (n < sizeof(ans) - 1) {
		ssize_t r = read(c->from, ans + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		if (ans[n] == '\n')
			break;
		n++;
	}
	ans[n] = '\0';
	return strcmp(ans, "ok") == 0 ? 0 : -EIO;
}

/* Kills (SIGKILL) and reaps the child, closes the pipes; returns its wait status. */
static inline int memchild_stop(struct memchild *c)
{
	int status = 0;

	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (c->to >= 0)
		close(c->to);
	if (c->from >= 0)
		close(c->from);
	c->pid = -1;
	c->to = c->from = -1;
	return status;
}

/* Reads "Key:" of /proc/PID/status in kB; -1 when absent. */
static inline long proc_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = atol(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

/* /proc/PID/stat fields 2 (comm), 4 (ppid), 10 (minflt), 12 (majflt),
 * 22 (starttime) and 23 (vsize). */
struct proc_stat {
	char comm[32];
	long ppid;
	unsigned long long minflt, majflt, start, vsize;
};

static inline int proc_stat_read(pid_t pid, struct proc_stat *s)
{
	char path[64], buf[1024], *open_p, *close_p, *save = NULL;
	unsigned long long v[52] = { 0 };
	size_t len;
	FILE *f;
	int i = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	open_p = strchr(buf, '(');
	close_p = strrchr(buf, ')');
	if (!open_p || !close_p || close_p[1] == '\0' || close_p[2] == '\0')
		return -EINVAL;
	snprintf(s->comm, sizeof(s->comm), "%.*s", (int)(close_p - open_p - 1), open_p + 1);
	/* Field 3 (state) is a letter; numbers from field 4 on. */
	for (char *tok = strtok_r(close_p + 4, " ", &save); tok && i < 51;
	     tok = strtok_r(NULL, " ", &save))
		v[++i] = strtoull(tok, NULL, 10);
	s->ppid = (long)v[4];
	s->minflt = v[10];
	s->majflt = v[12];
	s->start = v[22];
	s->vsize = v[23];
	return 0;
}

#endif
