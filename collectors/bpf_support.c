/* SPDX-License-Identifier: MIT */
/* BPF support: feature detection with reasons, and the checks and helpers the BPF modules share. */
#include "bpf_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf_rss.h"
#include "exits.h"
#include "oomkill.h"
#include "taskiter.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe
#endif

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"
/* Must match TASK_MEM_MAX_CPUS in bpf/task_mem.bpf.h. */
#define MAX_CPUS 1024
/* Bounds of the hierarchy walk in bpf_support_memcg_path(). */
#define WALK_MAX_DIRS 100000
#define WALK_MAX_DEPTH 64

static const char *const feature_names[BPF_FEATURE_MAX] = {
	[BPF_FEATURE_BTF] = "btf",
	[BPF_FEATURE_PRIVILEGE] = "privilege",
	[BPF_FEATURE_MEMLOCK] = "memlock",
	[BPF_FEATURE_RINGBUF] = "ringbuf",
	[BPF_FEATURE_TASK_STORAGE] = "task_storage",
	[BPF_FEATURE_RSS_STAT] = "rss_stat",
	[BPF_FEATURE_MARK_VICTIM] = "mark_victim",
	[BPF_FEATURE_PROCESS_EXIT] = "sched_process_exit",
	[BPF_FEATURE_TASK_ITER] = "task_iter",
};

const char *bpf_feature_name(enum bpf_feature f)
{
	return f < BPF_FEATURE_MAX ? feature_names[f] : "?";
}

/* ---------------------------------------------------------------------------
 * libbpf's messages
 *
 * The print callback is process-wide; what it captures is per thread, so
 * two modules loading at once on two threads keep their own last failure.
 * Only the tail of a long message is kept: a verifier log ends with the
 * error.
 */

#define LOG_KEEP 8192
static __thread char libbpf_log[LOG_KEEP];
static __thread size_t libbpf_log_len;
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static int capture_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *msg = NULL;
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	n = vasprintf(&msg, fmt, ap);
	if (n < 0)
		return 0;
	if ((size_t)n >= LOG_KEEP) {
		memcpy(libbpf_log, msg + n - (LOG_KEEP - 1), LOG_KEEP - 1);
		libbpf_log_len = LOG_KEEP - 1;
	} else {
		if (libbpf_log_len + (size_t)n >= LOG_KEEP) {
			/* Keep the newest bytes: shift the oldest out. */
			size_t drop = libbpf_log_len + (size_t)n - (LOG_KEEP - 1);

			memmove(libbpf_log, libbpf_log + drop, libbpf_log_len - drop);
			libbpf_log_len -= drop;
		}
		memcpy(libbpf_log + libbpf_log_len, msg, (size_t)n);
		libbpf_log_len += (size_t)n;
	}
	libbpf_log[libbpf_log_len] = '\0';
	free(msg);
	return 0;
}

static void install_capture(void)
{
	libbpf_set_print(capture_libbpf);
}

static void quiet_libbpf(void)
{
	pthread_once(&quiet_once, install_capture);
	libbpf_log_len = 0;
	libbpf_log[0] = '\0';
}

/* Copies into out the verifier's error: the last line of the last load log
 * that is not a statistic. Returns false when the log holds no load log. */
static bool verifier_line(char *out, size_t len)
{
	const char *begin = NULL, *end = NULL, *p, *line, *best = NULL;
	size_t best_len = 0;

	/* The log is bracketed by BEGIN/END markers; a long log may have lost
	 * its beginning to the capture's bound, so the END marker decides. */
	for (p = libbpf_log; (p = strstr(p, "-- END PROG LOAD LOG --")); p++)
		end = p;
	if (!end)
		return false;
	for (p = libbpf_log; (p = strstr(p, "-- BEGIN PROG LOAD LOG --")) && p < end; p++)
		begin = p;
	if (begin) {
		begin = strchr(begin, '\n');
		begin = begin ? begin + 1 : end;
	} else {
		begin = libbpf_log;
	}
	for (line = begin; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);

		if (n > 0 && strncmp(line, "processed ", 10) != 0 &&
		    strncmp(line, "verification time", 17) != 0 &&
		    strncmp(line, "stack depth", 11) != 0) {
			best = line;
			best_len = n;
		}
		line += n + 1;
	}
	if (!best)
		return false;
	snprintf(out, len, "%.*s", (int)best_len, best);
	return true;
}

/* The name of the program libbpf last complained about, or NULL. */
static bool last_prog(char *out, size_t len)
{
	const char *p = libbpf_log, *last = NULL, *q;

	while ((p = strstr(p, "prog '"))) {
		last = p + 6;
		p += 6;
	}
	if (!last || !(q = strchr(last, '\'')))
		return false;
	snprintf(out, len, "%.*s", (int)(q - last), last);
	return true;
}

int bpf_support_libbpf_error(int err, const char *what, char *why, size_t whylen)
{
	char line[160], prog[64];

	if (err >= 0)
		err = -EINVAL;
	if (!why || whylen == 0)
		return err;
	if (err == -EPERM || err == -EACCES) {
		if (verifier_line(line, sizeof(line))) {
			if (!last_prog(prog, sizeof(prog)))
				snprintf(prog, sizeof(prog), "?");
			snprintf(why, whylen, "%s: verifier rejected prog '%s': %s", what, prog,
				 line);
			return err;
		}
		snprintf(why, whylen, "%s: no privilege (needs CAP_BPF and CAP_PERFMON, or "
			 "CAP_SYS_ADMIN)", what);
		return err;
	}
	if (verifier_line(line, sizeof(line))) {
		if (!last_prog(prog, sizeof(prog)))
			snprintf(prog, sizeof(prog), "?");
		snprintf(why, whylen, "%s: verifier rejected prog '%s': %s", what, prog, line);
		return err;
	}
	if (err == -ENOENT || err == -ESRCH || err == -EOPNOTSUPP || err == -ENOTSUP ||
	    err == -EINVAL) {
		snprintf(why, whylen, "%s: kernel too old or lacks a feature (%s)", what,
			 strerror(-err));
		return err;
	}
	snprintf(why, whylen, "%s: %s", what, strerror(-err));
	return err;
}

/* ---------------------------------------------------------------------------
 * Preconditions
 */

static int caps(bool *ret_bpf, bool *ret_perfmon, bool *ret_admin)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
#define HAS(c) ((data[(c) / 32].effective >> ((c) % 32)) & 1)
	*ret_bpf = HAS(CAP_BPF);
	*ret_perfmon = HAS(CAP_PERFMON);
	*ret_admin = HAS(CAP_SYS_ADMIN);
#undef HAS
	return 0;
}

static int check_privilege(char *why, size_t whylen)
{
	bool bpf, perfmon, admin;
	int r = caps(&bpf, &perfmon, &admin);

	if (r < 0) {
		snprintf(why, whylen, "capget: %s", strerror(-r));
		return r;
	}
	if (admin || (bpf && perfmon))
		return 0;
	snprintf(why, whylen, "no privilege: needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)%s%s",
		 bpf ? "; has CAP_BPF" : "", perfmon ? "; has CAP_PERFMON" : "");
	return -EPERM;
}

static int check_btf(char *why, size_t whylen)
{
	if (access(VMLINUX_BTF, R_OK) == 0)
		return 0;
	snprintf(why, whylen, "no BTF: %s: %s (kernel built without CONFIG_DEBUG_INFO_BTF?)",
		 VMLINUX_BTF, strerror(errno));
	return -EOPNOTSUPP;
}

/* Arguments of the BTF tracepoint tp (the hidden __data pointer excluded). */
static int tracepoint_nargs(const char *tp, char *why, size_t whylen)
{
	char name[128];
	const struct btf_type *t;
	struct btf *btf;
	int id, n = -EOPNOTSUPP;

	btf = btf__load_vmlinux_btf();
	if (!btf) {
		int err = -errno;

		snprintf(why, whylen, "no BTF: cannot load %s: %s", VMLINUX_BTF, strerror(-err));
		return -EOPNOTSUPP;
	}
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0) {
		snprintf(why, whylen, "kernel too old: no BTF tracepoint %s", tp);
		goto out;
	}
	t = btf__type_by_id(btf, id);
	t = t ? btf__type_by_id(btf, t->type) : NULL; /* pointer */
	t = t && btf_is_ptr(t) ? btf__type_by_id(btf, t->type) : NULL;
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1) {
		snprintf(why, whylen, "kernel too old: unexpected prototype of tracepoint %s", tp);
		goto out;
	}
	n = btf_vlen(t) - 1;
out:
	btf__free(btf);
	return n;
}

int bpf_support_check(const char *tracepoint, int *ret_nargs, char *why, size_t whylen)
{
	char scratch[8];
	int r;

	if (!why || whylen == 0) {
		why = scratch;
		whylen = sizeof(scratch);
	}
	why[0] = '\0';
	quiet_libbpf();
	r = check_btf(why, whylen);
	if (r < 0)
		return r;
	r = check_privilege(why, whylen);
	if (r < 0)
		return r;
	if (tracepoint) {
		r = tracepoint_nargs(tracepoint, why, whylen);
		if (r < 0)
			return r;
		if (ret_nargs)
			*ret_nargs = r;
	}
	return 0;
}

int bpf_support_percpu_init(int prog_fd, unsigned nr_cpus)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int r;

	r = bpf_prog_test_run_opts(prog_fd, &opts);
	if (r < 0)
		return r;
	if (opts.retval != nr_cpus)
		return -EIO;
	return 0;
}

int bpf_support_nr_cpus(void)
{
	int n = libbpf_num_possible_cpus();

	if (n < 0)
		return n;
	if (n == 0)
		return -EINVAL;
	if (n > MAX_CPUS)
		return -E2BIG;
	return n;
}

/* ---------------------------------------------------------------------------
 * Probing
 */

static void set(struct bpf_feature_status *st, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set(struct bpf_feature_status *st, int err, const char *fmt, ...)
{
	va_list ap;

	st->available = err == 0;
	st->err = err;
	va_start(ap, fmt);
	vsnprintf(st->why, sizeof(st->why), fmt, ap);
	va_end(ap);
}

static void probe_map(struct bpf_feature_status *st, enum bpf_map_type type, const char *kernel)
{
	bool bpf = false, perfmon, admin = false;
	int r;

	/* libbpf's probe reports a refused map creation as "unsupported": ask
	 * about privilege first so the reason is the right one. */
	if (caps(&bpf, &perfmon, &admin) == 0 && !bpf && !admin) {
		set(st, -EPERM, "no privilege: needs CAP_BPF (or CAP_SYS_ADMIN)");
		return;
	}
	r = libbpf_probe_bpf_map_type(type, NULL);
	if (r == 1)
		set(st, 0, "supported");
	else if (r == 0)
		set(st, -EOPNOTSUPP, "kernel too old (needs %s)", kernel);
	else if (r == -EPERM || r == -EACCES)
		set(st, r, "no privilege: needs CAP_BPF (or CAP_SYS_ADMIN)");
	else
		set(st, r, "probe failed: %s", strerror(-r));
}

int bpf_support_probe(struct bpf_feature_status ret[BPF_FEATURE_MAX])
{
	bool bpf = false, perfmon = false, admin = false;
	char why[sizeof(ret[0].why)];
	int r, n = 0;

	memset(ret, 0, sizeof(*ret) * BPF_FEATURE_MAX);
	quiet_libbpf();

	r = check_btf(why, sizeof(why));
	set(&ret[BPF_FEATURE_BTF], r, "%s", r == 0 ? VMLINUX_BTF : why);

	r = check_privilege(why, sizeof(why));
	caps(&bpf, &perfmon, &admin);
	if (r == 0)
		set(&ret[BPF_FEATURE_PRIVILEGE], 0, "%s%s%s", bpf ? "CAP_BPF " : "",
		    perfmon ? "CAP_PERFMON " : "", admin ? "CAP_SYS_ADMIN" : "");
	else
		set(&ret[BPF_FEATURE_PRIVILEGE], r, "%s", why);

	/* libbpf's own test for memcg accounting (5.11 brought both). */
	r = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_ktime_get_coarse_ns,
				    NULL);
	if (r == 1)
		set(&ret[BPF_FEATURE_MEMLOCK], 0,
		    "not needed: BPF memory is charged to the memory cgroup (kernel >= 5.11)");
	else if (r == 0)
		set(&ret[BPF_FEATURE_MEMLOCK], 0,
		    "kernel < 5.11 charges RLIMIT_MEMLOCK; libbpf raises it before loading");
	else
		set(&ret[BPF_FEATURE_MEMLOCK], r, "cannot tell: %s", strerror(-r));

	probe_map(&ret[BPF_FEATURE_RINGBUF], BPF_MAP_TYPE_RINGBUF, "5.8");
	probe_map(&ret[BPF_FEATURE_TASK_STORAGE], BPF_MAP_TYPE_TASK_STORAGE, "5.11");

	{
		struct bpf_rss *m = NULL;

		r = bpf_rss_new(1, &m, why, sizeof(why));
		set(&ret[BPF_FEATURE_RSS_STAT], r, "%s", r == 0 ? "tp_btf/rss_stat attached" : why);
		bpf_rss_free(m);
	}
	{
		struct oomkill *m = NULL;

		r = oomkill_new(0, &m, why, sizeof(why));
		set(&ret[BPF_FEATURE_MARK_VICTIM], r, "%s",
		    r == 0 ? "tp_btf/mark_victim attached" : why);
		oomkill_free(m);
	}
	{
		struct exits *m = NULL;

		r = exits_new(0, &m, why, sizeof(why));
		if (r == 0) {
			struct exits_stats s;

			exits_stats(m, &s);
			set(&ret[BPF_FEATURE_PROCESS_EXIT], 0, "tp_btf/sched_process_exit attached%s",
			    s.legacy ? " (legacy: no group_dead, mm already released)" : "");
		} else {
			set(&ret[BPF_FEATURE_PROCESS_EXIT], r, "%s", why);
		}
		exits_free(m);
	}
	{
		struct taskiter *m = NULL;

		r = taskiter_new(0, &m, why, sizeof(why));
		if (r == 0) {
			const struct taskiter_proc *procs;
			size_t np;

			r = taskiter_read(m, &procs, &np);
			if (r < 0)
				set(&ret[BPF_FEATURE_TASK_ITER], r, "iter/task read failed: %s",
				    strerror(-r));
			else
				set(&ret[BPF_FEATURE_TASK_ITER], 0, "iter/task read %zu processes", np);
		} else {
			set(&ret[BPF_FEATURE_TASK_ITER], r, "%s", why);
		}
		taskiter_free(m);
	}

	for (int f = 0; f < BPF_FEATURE_MAX; f++)
		n += ret[f].available;
	return n;
}

/* ---------------------------------------------------------------------------
 * Memory cgroup id -> path
 */

static bool controllers_have_memory(const char *dir)
{
	char path[PATH_MAX], buf[512], *tok, *save = NULL;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.controllers", dir) >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, "memory") == 0)
			return true;
	return false;
}

/* The directory of the memory controller's hierarchy below cgroup_root. */
static int memcg_hierarchy(const char *cgroup_root, char *buf, size_t len)
{
	char probe[PATH_MAX];

	if ((size_t)snprintf(probe, sizeof(probe), "%s/memory/memory.usage_in_bytes",
			     cgroup_root) < sizeof(probe) && access(probe, F_OK) == 0)
		return (size_t)snprintf(buf, len, "%s/memory", cgroup_root) < len ? 0 : -ENOBUFS;
	if ((size_t)snprintf(probe, sizeof(probe), "%s/unified", cgroup_root) < sizeof(probe) &&
	    controllers_have_memory(probe))
		return (size_t)snprintf(buf, len, "%s", probe) < len ? 0 : -ENOBUFS;
	if (controllers_have_memory(cgroup_root))
		return (size_t)snprintf(buf, len, "%s", cgroup_root) < len ? 0 : -ENOBUFS;
	return -ENOENT;
}

static int by_handle(int mfd, const char *hier, uint64_t id, char *buf, size_t len)
{
	union {
		struct file_handle fh;
		char raw[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	char link[64], target[PATH_MAX], real[PATH_MAX];
	size_t hl;
	ssize_t n;
	int fd;

	h.fh.handle_bytes = sizeof(uint64_t);
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (!realpath(hier, real))
		return -errno;
	hl = strlen(real);
	if (strncmp(target, real, hl) != 0 || (target[hl] != '/' && target[hl] != '\0'))
		return -ENOENT; /* outside our view of the hierarchy */
	return (size_t)snprintf(buf, len, "%s", target[hl] ? target + hl : "/") < len
		       ? (int)strlen(buf) : -ENOBUFS;
}

struct walk {
	uint64_t id;
	unsigned dirs;
	char path[PATH_MAX];
	size_t len;
};

/* Depth-first search below dfd (whose path relative to the hierarchy is
 * w->path) for a directory whose inode is w->id. */
static int walk_dir(int dfd, struct walk *w, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = -ENOENT;

	if (depth > WALK_MAX_DEPTH)
		return -ENOENT;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t save = w->len, nl;
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (++w->dirs > WALK_MAX_DIRS) {
			r = -E2BIG;
			break;
		}
		nl = strlen(de->d_name);
		if (w->len + 1 + nl >= sizeof(w->path)) {
			r = -ENAMETOOLONG;
			continue;
		}
		w->path[w->len++] = '/';
		memcpy(w->path + w->len, de->d_name, nl + 1);
		w->len += nl;
		if ((uint64_t)de->d_ino == w->id) {
			r = 0;
			break;
		}
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			r = walk_dir(sub, w, depth + 1);
			if (r == 0 || r == -E2BIG)
				break;
		}
		w->len = save;
		w->path[w->len] = '\0';
		r = -ENOENT;
	}
	closedir(d);
	return r;
}

int bpf_support_memcg_path(const char *cgroup_root, uint64_t id, char *buf, size_t len)
{
	char hier[PATH_MAX];
	struct walk *w;
	struct stat st;
	int mfd, r;

	if (!buf || len == 0)
		return -EINVAL;
	r = memcg_hierarchy(cgroup_root, hier, sizeof(hier));
	if (r < 0)
		return r;
	mfd = open(hier, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	if (fstat(mfd, &st) < 0) {
		r = -errno;
		close(mfd);
		return r;
	}
	if ((uint64_t)st.st_ino == id) {
		close(mfd);
		return (size_t)snprintf(buf, len, "/") < len ? 1 : -ENOBUFS;
	}
	r = by_handle(mfd, hier, id, buf, len);
	if (r >= 0 || r == -ENOBUFS || r == -ESTALE) {
		close(mfd);
		return r == -ESTALE ? -ENOENT : r;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(mfd);
		return -ENOMEM;
	}
	w->id = id;
	r = walk_dir(mfd, w, 0); /* takes mfd */
	if (r == 0)
		r = (size_t)snprintf(buf, len, "%s", w->path) < len ? (int)w->len : -ENOBUFS;
	else if (r == -E2BIG)
		r = -ENOENT;
	free(w);
	return r;
}

/* ---------------------------------------------------------------------------
 * Self metrics
 */

static const struct metric_desc m_enabled = {
	"memagent_bpf_enabled", METRIC_GAUGE, NULL,
	"1 when the BPF program is loaded and attached, 0 when the agent runs without it.",
};
static const struct metric_desc m_lost = {
	"memagent_bpf_events_lost_total", METRIC_COUNTER, NULL,
	"Events the program could not deliver because its ring buffer was full.",
};
static const struct metric_desc m_map_full = {
	"memagent_bpf_map_full_total", METRIC_COUNTER, NULL,
	"Entries refused because the program's bounded map or pass was full.",
};
const struct metric_desc *const bpf_support_metrics[] = { &m_enabled, &m_lost, &m_map_full, NULL };

int bpf_support_report(struct snapshot *s, const char *program, bool enabled, unsigned which,
		       uint64_t lost, uint64_t map_full)
{
	const char *const lv[] = { "program", program, NULL };
	int r = snapshot_add(s, &m_enabled, enabled, lv);

	if (r == 0 && (which & BPF_REPORT_LOST))
		r = snapshot_add(s, &m_lost, (double)lost, lv);
	if (r == 0 && (which & BPF_REPORT_MAP_FULL))
		r = snapshot_add(s, &m_map_full, (double)map_full, lv);
	return r;
}
