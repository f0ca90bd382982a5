/* SPDX-License-Identifier: MIT */
/* Memory pressure (PSI) from /proc/pressure/memory and cgroup memory.pressure. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfile.h"
#include "psi.h"

static const struct metric_desc m_ratio = {
	"memagent_system_memory_pressure_ratio", METRIC_GAUGE, "ratio",
	"Share of wall time some (or all, kind=full) tasks stalled on memory, averaged over window (PSI).",
};
static const struct metric_desc m_stall = {
	"memagent_system_memory_pressure_stall_seconds_total", METRIC_COUNTER, "seconds",
	"Total time some (or all, kind=full) tasks stalled on memory (PSI).",
};
static const struct metric_desc *const psi_metrics[] = { &m_ratio, &m_stall, NULL };

/* Parses " name=<double>" at *p. */
static int field_double(const char **p, const char *name, double *ret)
{
	size_t n = strlen(name);
	char *end;

	if (**p != ' ' || strncmp(*p + 1, name, n) != 0 || (*p)[n + 1] != '=')
		return -EBADMSG;
	*p += n + 2;
	if (**p < '0' || **p > '9')
		return -EBADMSG;
	*ret = strtod(*p, &end);
	if (end == *p || *ret > 100.0)
		return -EBADMSG;
	*p = end;
	return 0;
}

static int parse_line(const char *p, const char *nl, struct psi_line *l)
{
	uint64_t total;

	if (field_double(&p, "avg10", &l->avg10) < 0 || field_double(&p, "avg60", &l->avg60) < 0 ||
	    field_double(&p, "avg300", &l->avg300) < 0)
		return -EBADMSG;
	if (strncmp(p, " total=", 7) != 0)
		return -EBADMSG;
	p += 7;
	if (!procfile_u64(&p, &total) || p != nl)
		return -EBADMSG;
	l->total_us = total;
	l->present = true;
	return 0;
}

int psi_parse(const char *buf, size_t len, struct psi *ret)
{
	struct psi psi = {0};
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct psi_line *l;

		if (!nl)
			return -EBADMSG;
		if (nl - p > 4 && memcmp(p, "some", 4) == 0)
			l = &psi.some;
		else if (nl - p > 4 && memcmp(p, "full", 4) == 0)
			l = &psi.full;
		else
			return -EBADMSG;
		if (l->present || parse_line(p + 4, nl, l) < 0)
			return -EBADMSG;
		p = nl + 1;
	}
	if (!psi.some.present)
		return -EBADMSG;
	*ret = psi;
	return 0;
}

int psi_add(struct snapshot *snap, const struct psi *p, const struct metric_desc *ratio,
	    const struct metric_desc *stall, const char *const *labels)
{
	static const char *const windows[] = { "10s", "60s", "300s" };
	const char *lv[16];
	size_t n = 0;
	int r;

	while (labels && labels[n])
		n++;
	assert(n + 5 <= sizeof(lv) / sizeof(*lv));
	if (n)
		memcpy(lv, labels, n * sizeof(*lv));
	for (int k = 0; k < 2; k++) {
		const struct psi_line *l = k ? &p->full : &p->some;
		const double avg[3] = { l->avg10, l->avg60, l->avg300 };

		if (!l->present)
			continue;
		lv[n] = "kind";
		lv[n + 1] = k ? "full" : "some";
		lv[n + 2] = "window";
		lv[n + 4] = NULL;
		for (int w = 0; w < 3; w++) {
			lv[n + 3] = windows[w];
			r = snapshot_add(snap, ratio, avg[w] / 100.0, lv);
			if (r < 0)
				return r;
		}
		lv[n + 2] = NULL;
		r = snapshot_add(snap, stall, (double)l->total_us / 1e6, lv);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- the collector --------------------------------------------------------- */

struct state {
	int fd;
};

static int collector_init(const struct collector_ctx *ctx, void **ret_state)
{
	char path[PATH_MAX], buf[512];
	struct state *st;
	int fd, r;

	snprintf(path, sizeof(path), "%s/pressure/memory", ctx->proc_root);
	fd = procfile_open(AT_FDCWD, path);
	if (fd < 0)
		return fd;
	/* Kernels built with PSI but booted with psi=0 have the file and fail
	 * the read with EOPNOTSUPP: that is "absent" too. */
	r = procfile_pread(fd, buf, sizeof(buf));
	if (r < 0) {
		close(fd);
		return r;
	}
	st = malloc(sizeof(*st));
	if (!st) {
		close(fd);
		return -ENOMEM;
	}
	st->fd = fd;
	*ret_state = st;
	return 0;
}

static int collector_read(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct state *st = state;
	char buf[512];
	struct psi p;
	int r;

	r = procfile_pread(st->fd, buf, sizeof(buf));
	if (r < 0) {
		err->n[COLLECTOR_UNREADABLE]++;
		return r;
	}
	r = psi_parse(buf, (size_t)r, &p);
	if (r < 0) {
		err->n[COLLECTOR_PARSE]++;
		return r;
	}
	return psi_add(snap, &p, &m_ratio, &m_stall, NULL);
}

static void collector_done(void *state)
{
	struct state *st = state;

	if (!st)
		return;
	close(st->fd);
	free(st);
}

const struct collector psi_collector = {
	.name = "psi",
	.metrics = psi_metrics,
	.init = collector_init,
	.read = collector_read,
	.done = collector_done,
};
