/* SPDX-License-Identifier: MIT */
/* The queues collector: socket queues, listen backlogs and message queues per target, from BPF or sock_diag.
 *
 * A sample in four steps:
 *   1. holdings: every (process, socket) and (process, message queue
 *      descriptor) pair, from the BPF pass or from sock_diag joined to the
 *      inode map;
 *   2. membership: each holder's target mask (targets with queues on),
 *      from a cache keyed by pid and checked against the start time, so a
 *      reused pid is classified anew;
 *   3. aggregation: (target, inode) pairs sorted and deduplicated, so a
 *      socket shared by a forked server counts once per target; sums per
 *      target and direction, listeners by label, queues by name, both
 *      capped (limits.max_listeners, limits.max_message_queues: the first
 *      ones in (target, label) order get series, the rest are counted);
 *   4. growth: each sum, listener and queue feeds its own core/trend queue
 *      detector; a listener whose queue stayed at its maximum for the
 *      detector's whole window counts as growth too (a full backlog no
 *      longer rises: SYNs are dropped instead).
 *
 * Invariant: every number exported comes from one sample's holdings; a
 * holder that vanished mid-sample contributes nothing (counted vanished),
 * never a previous sample's figure.
 */
#include "queues.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "bpf_support.h"
#include "cgroupfs.h"
#include "cleanup.h"
#include "heaptrend.h"
#include "msgqueue.h"
#include "pidtab.h"
#include "procfile.h"
#include "procfs.h"
#include "sock_iter.h"
#include "sockdiag.h"
#include "sockq.h"
#include "trend.h"

#define STAT_BUF 4096
#define CMDLINE_MAX 4096
#define BIG_FILE_MAX (32u << 20)
#define MAX_NETNS 64
#define MAX_UNOWNED (1u << 20)
#define REBUILD_NS (30ull * 1000000000ull)
/* A rebuild lists at most this long per sample, then goes on in the next
 * (a host of 13,000 processes takes seconds); the old map serves meanwhile. */
#define REBUILD_BUDGET_NS (50ull * 1000000ull)
/* An unknown socket starts a rebuild at most this often. */
#define REBUILD_MIN_NS (2ull * 1000000000ull)
#define MQUEUE_MAGIC 0x19800202
#define ST_MEMBER_TTL 4 /* samples a membership entry outlives its last use */
/* A member's stat is read again every this many samples: an exec changes
 * its comm (a process found between fork and exec has its parent's). Only
 * when some target matches on what an exec changes (comm, exe, cmdline):
 * with none, the reread cost 1.4 of the 10.2 ms a netlink sample took at
 * 3,000 processes (bench-queues) and could change nothing. */
#define RECHECK_SAMPLES 8

static const struct metric_desc m_sock_bytes = {
	"memagent_socket_queue_bytes", METRIC_GAUGE, "bytes",
	"Bytes in the receive or send queues of a target's sockets (each socket once per target; listeners excluded).",
};
static const struct metric_desc m_unseen = {
	"memagent_socket_unseen", METRIC_GAUGE, NULL,
	"Sockets a target holds whose queues were not read (other families; UNIX sockets in other network namespaces without BPF).",
};
static const struct metric_desc m_backlog = {
	"memagent_listen_backlog", METRIC_GAUGE, NULL,
	"Connections waiting in a listener's accept queue.",
};
static const struct metric_desc m_backlog_max = {
	"memagent_listen_backlog_max", METRIC_GAUGE, NULL,
	"The accept queue's maximum (listen()'s backlog, capped by somaxconn); it holds up to this plus one.",
};
static const struct metric_desc m_overflows = {
	"memagent_listen_overflows_total", METRIC_COUNTER, NULL,
	"TCP connections dropped because a listener's accept queue was full (TcpExt ListenOverflows of the network namespace).",
};
static const struct metric_desc m_mq_messages = {
	"memagent_message_queue_messages", METRIC_GAUGE, NULL,
	"Messages in a System V or POSIX message queue a target uses.",
};
static const struct metric_desc m_mq_bytes = {
	"memagent_message_queue_bytes", METRIC_GAUGE, "bytes",
	"Bytes of the messages in a System V or POSIX message queue a target uses.",
};
static const struct metric_desc m_mq_max = {
	"memagent_message_queue_max_messages", METRIC_GAUGE, NULL,
	"The most messages a POSIX message queue holds (mq_maxmsg).",
};
/* memagent_queue_growth_suspected is one family with the heaps' (kind
 * "app"): heaptrend's descriptor, so a snapshot holds it once. */
#define m_growth heaptrend_m_queue_growth
static const struct metric_desc m_overflow = {
	"memagent_queue_overflow_entries", METRIC_GAUGE, NULL,
	"Listeners or message queues left without series this sample by limits.max_listeners / limits.max_message_queues.",
};
static const struct metric_desc m_rebuilds = {
	"memagent_queue_inode_map_rebuilds_total", METRIC_COUNTER, NULL,
	"Rebuilds of the socket inode map from the targets' fd tables (netlink backend only).",
};
static const struct metric_desc m_backend = {
	"memagent_queue_backend", METRIC_GAUGE, NULL,
	"1 for the backend the queues collector reads sockets with (bpf or netlink).",
};

static const struct metric_desc m_passes = {
	"memagent_queue_bpf_passes_total", METRIC_COUNTER, NULL,
	"BPF socket passes run, by kind: the fd-table walk (6.7+) or iter/task_file.",
};

static const struct metric_desc *const queues_metrics[] = {
	&m_sock_bytes, &m_unseen, &m_backlog, &m_backlog_max, &m_overflows, &m_mq_messages,
	&m_mq_bytes, &m_mq_max, &m_growth, &m_overflow, &m_rebuilds, &m_backend, &m_passes, NULL,
};

enum growth_kind { G_SOCKET, G_LISTENER, G_MSGQUEUE };

struct member {
	int32_t pid;           /* pidtab key */
	uint64_t start_ticks;
	uint64_t mask;         /* targets with queues on that select it */
	uint64_t used;         /* sample it was last used in */
	uint64_t checked;      /* sample its stat was last read in */
	char comm[PROCFS_COMM_MAX];
};

/* One (target, socket) or (target, queue descriptor) pair of this sample. */
struct hold {
	uint32_t target;
	uint32_t idx;          /* into socks (or mqs); UINT32_MAX: unseen socket */
	uint64_t ino;
	int32_t pid;
};

struct listener {
	uint32_t target;
	char label[SOCKQ_LABEL_MAX];
	uint64_t backlog, max;
	bool has_max;
	int32_t pid;           /* the lowest holder */
};

struct mqentry {
	uint32_t target;
	char name[MSGQUEUE_NAME_MAX + 8];
	uint64_t messages, bytes, max;
	bool has_max;
	int32_t pid;
};

struct growth {
	uint32_t target;
	uint8_t kind;
	char key[MSGQUEUE_NAME_MAX + 8];
	uint64_t seen;         /* sample it was last fed in */
	uint32_t full_run;     /* listener: consecutive samples at its maximum */
	struct trend_queue tq;
};

struct owner {
	uint64_t ino;
	int32_t pid;
	uint32_t mark;         /* sample it was matched in */
};

struct mqfd {
	int32_t pid;
	int32_t fd;
	uint64_t ino;
};

struct foreign {
	uint32_t netns;
	int32_t pid;
};

struct state {
	const struct collector_ctx *ctx;
	int proc_fd;
	uint64_t on_mask;      /* targets with queues on */
	struct cgroupfs_hier hier;
	uint64_t ns_per_tick;
	uint32_t own_netns;
	uint64_t gen;
	bool exec_changes;     /* target_set_exec_changes(), this sample */
	char *buf;             /* STAT_BUF, then CMDLINE_MAX */
	char *big;             /* growing: /proc/sysvipc/msg, /proc/PID/net files */
	size_t bigcap;
	struct pidtab members;

	struct sock_iter *iter;
	enum bpf_reason iter_why;
	struct sockdiag *diag;

	/* this sample */
	struct sockq *socks;   /* netlink: the dump's copies; bpf: NULL (the pass's) */
	size_t nsocks, capsocks;
	const struct sockq *sv;
	size_t nsv;
	struct hold *holds;
	size_t nholds, capholds;
	struct hold *mholds;
	size_t nmholds, capmholds;
	struct sock_iter_mq *mqv; /* netlink: from the map; bpf: the pass's */
	size_t nmqv;
	struct foreign netns[MAX_NETNS];
	size_t nnetns;

	/* netlink: the inode map */
	struct owner *owners;
	size_t nowners, capowners;
	uint64_t *unowned;
	size_t nunowned, capunowned;
	uint64_t *unknown;     /* inodes of this dump found in neither */
	size_t nunknown, capunknown;
	struct sock_iter_mq *mapmq;
	size_t nmapmq, capmapmq;
	struct foreign foreign[MAX_NETNS];
	size_t nforeign;
	/* the map being rebuilt, a slice of /proc per sample (REBUILD_BUDGET_NS) */
	DIR *scan;
	struct owner *b_owners;
	size_t b_nowners, b_capowners;
	struct sock_iter_mq *b_mapmq;
	size_t b_nmapmq, b_capmapmq;
	struct foreign b_foreign[MAX_NETNS];
	size_t b_nforeign;
	uint64_t rebuilt_ns;   /* when the last rebuild finished (started, for the pacing) */
	uint64_t rescans_seen;
	uint64_t rebuilds;     /* finished */
	bool rebuilt_now;      /* one finished in this sample */

	struct growth **growth;
	size_t ngrowth, capgrowth;
	size_t gnext;           /* growth_get: where the last found one's successor is */
};

/* ---- small helpers ---------------------------------------------------------- */

/* qsort() that takes an empty (NULL) array. */
static void sort(void *v, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, sz, cmp);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads path below proc_fd whole into st->big, growing it. */
static int read_big(struct state *st, const char *path)
{
	for (;;) {
		int r = procfile_read(st->proc_fd, path, st->big, st->bigcap);
		char *nb;

		if (r != -EFBIG)
			return r;
		if (st->bigcap >= BIG_FILE_MAX)
			return -EFBIG;
		nb = realloc(st->big, st->bigcap * 2);
		if (!nb)
			return -ENOMEM;
		st->big = nb;
		st->bigcap *= 2;
	}
}

static int count_err(struct collector_errors *err, int r)
{
	if (r == -ENOENT || r == -ESRCH)
		err->n[COLLECTOR_VANISHED]++;
	else if (r == -EBADMSG)
		err->n[COLLECTOR_PARSE]++;
	else if (r == -EFBIG || r == -ENOSPC)
		err->n[COLLECTOR_OVERFLOW]++;
	else if (r < 0)
		err->n[COLLECTOR_UNREADABLE]++;
	return r;
}

/* ---- membership --------------------------------------------------------------- */

/* The mask of queue-enabled targets selecting pid, cached per process
 * identity. start_ticks 0 trusts a cached entry; else an entry of another
 * start time is classified anew (the pid was reused). fresh (a rebuild),
 * or an entry not checked for RECHECK_SAMPLES, reads stat again: the same
 * start time and comm keep the classification (exe, cmdline and cgroup
 * are read once per identity: cmdline takes the process's mmap lock),
 * another is classified anew. 0 for kernel threads, zombies and the gone. */
static uint64_t member_mask(struct state *st, int32_t pid, uint64_t start_ticks, bool fresh,
			    struct collector_errors *err)
{
	const struct target_set *ts = st->ctx->targets;
	struct member *m = pidtab_find(&st->members, pid);
	struct target_proc tp = { .pid = pid };
	struct procfs_stat ps;
	char path[48], exe[PATH_MAX], cg[PATH_MAX];
	int r;

	if (pid <= 0)
		return 0;
	if (m && !fresh && (start_ticks == 0 || m->start_ticks == start_ticks) &&
	    (!st->exec_changes || m->checked + RECHECK_SAMPLES > st->gen)) {
		m->used = st->gen;
		return m->mask;
	}
	snprintf(path, sizeof(path), "%d/stat", pid);
	r = procfile_read(st->proc_fd, path, st->buf, STAT_BUF);
	if (r < 0) {
		count_err(err, r);
		return 0;
	}
	if (procfs_parse_stat(st->buf, (size_t)r, &ps) < 0) {
		err->n[COLLECTOR_PARSE]++;
		return 0;
	}
	if (start_ticks && ps.start_ticks != start_ticks) {
		/* The process the pass saw has gone and its pid is reused. */
		err->n[COLLECTOR_VANISHED]++;
		return 0;
	}
	if (m && m->start_ticks == ps.start_ticks && strcmp(m->comm, ps.comm) == 0) {
		m->used = m->checked = st->gen;
		return m->mask;
	}
	if (!m) {
		m = pidtab_insert(&st->members, pid);
		if (!m)
			return 0;
	}
	m->start_ticks = ps.start_ticks;
	m->used = m->checked = st->gen;
	memcpy(m->comm, ps.comm, sizeof(m->comm));
	m->mask = 0;
	if ((ps.flags & PROCFS_PF_KTHREAD) || ps.state == 'Z' || ps.state == 'X' || !st->on_mask)
		return 0;
	tp.comm = ps.comm;
	if ((ts->needs & TARGET_NEED_EXE) && procfs_read_exe(st->proc_fd, pid, exe, sizeof(exe)) >= 0)
		tp.exe = exe;
	if ((ts->needs & TARGET_NEED_CGROUP) && st->hier.version != CGROUPFS_NONE &&
	    cgroupfs_path_of_pid(st->proc_fd, pid, st->hier.version, cg, sizeof(cg)) >= 0)
		tp.cgroup = cg;
	if ((ts->needs & TARGET_NEED_CMDLINE) &&
	    procfs_read_cmdline(st->proc_fd, pid, st->buf, CMDLINE_MAX + 1) >= 0)
		tp.cmdline = st->buf;
	m->mask = target_set_classify(ts, &tp) & st->on_mask;
	return m->mask;
}

/* What the BPF pass says of a process: the same start time and comm as
 * cached stand for a stat read (the recheck of member_mask()). */
static void member_seen(struct state *st, const struct sock_iter_proc *p)
{
	struct member *m = pidtab_find(&st->members, p->pid);

	if (m && m->start_ticks == p->start_ns / st->ns_per_tick && strcmp(m->comm, p->comm) == 0)
		m->checked = st->gen;
}

/* Drops entries unused for a few samples (their processes left). */
static void members_sweep(struct state *st)
{
	int32_t gone[256];
	size_t n;

	do {
		n = 0;
		for (size_t i = 0; i < st->members.cap && n < 256; i++) {
			struct member *m = pidtab_slot(&st->members, i);

			if (m && m->used + ST_MEMBER_TTL < st->gen)
				gone[n++] = m->pid;
		}
		for (size_t i = 0; i < n; i++)
			pidtab_remove(&st->members, pidtab_find(&st->members, gone[i]));
	} while (n == 256);
}

/* ---- holdings ------------------------------------------------------------------ */

static int add_holds(struct state *st, struct hold **v, size_t *n, size_t *cap, uint64_t mask,
		     uint32_t idx, uint64_t ino, int32_t pid)
{
	for (uint32_t t = 0; mask; t++, mask >>= 1) {
		int r;

		if (!(mask & 1))
			continue;
		r = array_grow((void **)v, cap, *n + 1, sizeof(**v), SIZE_MAX / sizeof(**v));
		if (r < 0)
			return r;
		(*v)[(*n)++] = (struct hold){ .target = t, .idx = idx, .ino = ino, .pid = pid };
	}
	(void)st;
	return 0;
}

static int note_netns(struct state *st, const struct sockq *s, int32_t pid)
{
	if (!s->listener || s->kind != SOCKQ_TCP)
		return 0;
	for (size_t i = 0; i < st->nnetns; i++)
		if (st->netns[i].netns == s->netns)
			return 0;
	if (st->nnetns == MAX_NETNS)
		return -ENOSPC;
	st->netns[st->nnetns++] = (struct foreign){ .netns = s->netns, .pid = pid };
	return 0;
}

/* BPF: the pass gives holders and queues together. */
static int hold_bpf(struct state *st, struct collector_errors *err)
{
	const struct sockq *s;
	size_t n, nmq;
	int r = sock_iter_read(st->iter, &s, &n);

	if (r < 0) {
		err->n[COLLECTOR_BPF]++;
		return r;
	}
	st->sv = s;
	st->nsv = n;
	{
		size_t np;
		const struct sock_iter_proc *pv = sock_iter_procs(st->iter, &np);

		for (size_t i = 0; i < np; i++)
			member_seen(st, &pv[i]);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t mask = member_mask(st, s[i].pid, s[i].start_ns / st->ns_per_tick, false, err);

		if (!mask)
			continue;
		r = add_holds(st, &st->holds, &st->nholds, &st->capholds, mask,
			      s[i].kind == SOCKQ_OTHER ? UINT32_MAX : (uint32_t)i, s[i].ino, s[i].pid);
		if (r < 0)
			return r;
		if (note_netns(st, &s[i], s[i].pid) < 0)
			err->n[COLLECTOR_OVERFLOW]++;
	}
	st->mqv = (struct sock_iter_mq *)sock_iter_mqs(st->iter, &nmq);
	st->nmqv = nmq;
	for (size_t i = 0; i < nmq; i++) {
		uint64_t mask = member_mask(st, st->mqv[i].pid, st->mqv[i].start_ns / st->ns_per_tick,
					    false, err);

		if (mask && (r = add_holds(st, &st->mholds, &st->nmholds, &st->capmholds, mask,
					   (uint32_t)i, st->mqv[i].ino, st->mqv[i].pid)) < 0)
			return r;
	}
	return 0;
}

/* ---- netlink: the inode map ----------------------------------------------------- */

static int cmp_owner(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino ? 1 : x->pid - y->pid;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first owner entry of ino, or NULL. */
static struct owner *owner_find(struct state *st, uint64_t ino)
{
	size_t lo = 0, hi = st->nowners;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->owners[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < st->nowners && st->owners[lo].ino == ino ? &st->owners[lo] : NULL;
}

static bool unowned_has(const struct state *st, uint64_t ino)
{
	return st->nunowned && bsearch(&ino, st->unowned, st->nunowned, sizeof(ino), cmp_u64) != NULL;
}

/* Whether the link text names a POSIX message queue: "/NAME" on mqueue. */
static bool is_mqueue(struct state *st, int fddir, const char *name, const char *link)
{
	struct statfs sfs;
	int fd;
	bool yes;

	if (link[0] != '/' || strchr(link + 1, '/'))
		return false;
	(void)st;
	fd = openat(fddir, name, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return false;
	yes = fstatfs(fd, &sfs) == 0 && sfs.f_type == MQUEUE_MAGIC;
	close(fd);
	return yes;
}

/* One process's fd table into the map. */
static int scan_fds(struct state *st, int32_t pid, struct collector_errors *err)
{
	char path[48], link[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fddir, r = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%d/ns/net", pid);
	n = readlinkat(st->proc_fd, path, link, sizeof(link) - 1);
	if (n > 0) {
		unsigned long ns;

		link[n] = '\0';
		if (sscanf(link, "net:[%lu]", &ns) == 1 && (uint32_t)ns != st->own_netns) {
			size_t i;

			for (i = 0; i < st->b_nforeign && st->b_foreign[i].netns != (uint32_t)ns; i++)
				;
			if (i == st->b_nforeign && st->b_nforeign < MAX_NETNS)
				st->b_foreign[st->b_nforeign++] = (struct foreign){ .netns = (uint32_t)ns,
										 .pid = pid };
			else if (i == st->b_nforeign)
				err->n[COLLECTOR_OVERFLOW]++;
		}
	}
	snprintf(path, sizeof(path), "%d/fd", pid);
	fddir = openat(st->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fddir < 0)
		return count_err(err, -errno) == -ENOENT ? 0 : 0;
	d = fdopendir(fddir);
	if (!d) {
		close(fddir);
		return -ENOMEM;
	}
	while ((de = readdir(d)) && r == 0) {
		unsigned long long ino;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(fddir, de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%llu]", &ino) == 1) {
			r = array_grow((void **)&st->b_owners, &st->b_capowners, st->b_nowners + 1,
				       sizeof(*st->b_owners), SIZE_MAX / sizeof(*st->b_owners));
			if (r == 0)
				st->b_owners[st->b_nowners++] = (struct owner){ .ino = ino, .pid = pid };
		} else if (is_mqueue(st, fddir, de->d_name, link)) {
			struct stat sb;

			r = array_grow((void **)&st->b_mapmq, &st->b_capmapmq, st->b_nmapmq + 1,
				       sizeof(*st->b_mapmq), SIZE_MAX / sizeof(*st->b_mapmq));
			if (r == 0 && fstatat(fddir, de->d_name, &sb, 0) == 0)
				st->b_mapmq[st->b_nmapmq++] = (struct sock_iter_mq){
					.pid = pid, .fd = atoi(de->d_name), .ino = sb.st_ino };
		}
	}
	closedir(d);
	return r;
}

#define SWAP(a, b) do { __typeof__(a) t_ = (a); (a) = (b); (b) = t_; } while (0)

/* Goes on with the rebuild: lists /proc from where it stopped and reads
 * every queue-enabled member's fd table, until the listing ends (then the
 * new map replaces the old: returns 1) or the sample's budget is spent
 * (returns 0; the old map stays). A negative errno stops it. */
static int rebuild_step(struct state *st, struct collector_errors *err)
{
	uint64_t deadline = now_ns() + REBUILD_BUDGET_NS;
	struct dirent *de;
	unsigned n = 0;
	int r = 0;

	if (!st->scan) {
		int dfd = openat(st->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0)
			return -errno;
		st->scan = fdopendir(dfd);
		if (!st->scan) {
			close(dfd);
			return -ENOMEM;
		}
		st->b_nowners = st->b_nmapmq = st->b_nforeign = 0;
	}
	while (r == 0) {
		char *e;
		long pid;

		/* The clock is read every 16 processes. */
		if ((++n & 15) == 0 && now_ns() >= deadline)
			return 0;
		de = readdir(st->scan);
		if (!de)
			break;
		pid = strtol(de->d_name, &e, 10);
		if (*e || pid <= 0)
			continue;
		if (member_mask(st, (int32_t)pid, 0, true, err))
			r = scan_fds(st, (int32_t)pid, err);
	}
	closedir(st->scan);
	st->scan = NULL;
	if (r < 0)
		return r;
	sort(st->b_owners, st->b_nowners, sizeof(*st->b_owners), cmp_owner);
	SWAP(st->owners, st->b_owners);
	SWAP(st->nowners, st->b_nowners);
	SWAP(st->capowners, st->b_capowners);
	SWAP(st->mapmq, st->b_mapmq);
	SWAP(st->nmapmq, st->b_nmapmq);
	SWAP(st->capmapmq, st->b_capmapmq);
	memcpy(st->foreign, st->b_foreign, sizeof(st->foreign));
	st->nforeign = st->b_nforeign;
	st->nunowned = 0;
	st->rebuilt_ns = now_ns();
	st->rebuilt_now = true;
	st->rebuilds++;
	return 1;
}

static int on_diag(void *arg, const struct sockq *s)
{
	struct state *st = arg;
	struct owner *o = owner_find(st, s->ino);
	int r;

	if (!o) {
		if (s->ino == 0 || unowned_has(st, s->ino))
			return 0;
		r = array_grow((void **)&st->unknown, &st->capunknown, st->nunknown + 1, sizeof(uint64_t),
			 MAX_UNOWNED);
		if (r == 0)
			st->unknown[st->nunknown++] = s->ino;
		return r == -ENOSPC ? 0 : r;
	}
	r = array_grow((void **)&st->socks, &st->capsocks, st->nsocks + 1, sizeof(*st->socks),
		 SIZE_MAX / sizeof(*st->socks));
	if (r < 0)
		return r;
	st->socks[st->nsocks] = *s;
	for (; o < st->owners + st->nowners && o->ino == s->ino; o++) {
		o->mark = (uint32_t)st->gen;
		st->socks[st->nsocks].pid = o->pid;
	}
	st->nsocks++;
	return 0;
}

/* Joins the dump to the map: a hold per (target, socket) per owner. */
static int join(struct state *st, struct collector_errors *err)
{
	for (size_t i = 0; i < st->nsocks; i++) {
		struct owner *o = owner_find(st, st->socks[i].ino);
		int r;

		for (; o && o < st->owners + st->nowners && o->ino == st->socks[i].ino; o++) {
			uint64_t mask = member_mask(st, o->pid, 0, false, err);

			if (!mask)
				continue;
			r = add_holds(st, &st->holds, &st->nholds, &st->capholds, mask, (uint32_t)i,
				      o->ino, o->pid);
			if (r < 0)
				return r;
			if (note_netns(st, &st->socks[i], o->pid) < 0)
				err->n[COLLECTOR_OVERFLOW]++;
		}
	}
	/* Owned sockets no dump reported: not read, counted. */
	for (size_t i = 0; i < st->nowners; i++) {
		uint64_t mask;
		int r;

		if (st->owners[i].mark == (uint32_t)st->gen)
			continue;
		mask = member_mask(st, st->owners[i].pid, 0, false, err);
		if (mask && (r = add_holds(st, &st->holds, &st->nholds, &st->capholds, mask, UINT32_MAX,
					   st->owners[i].ino, st->owners[i].pid)) < 0)
			return r;
	}
	st->mqv = st->mapmq;
	st->nmqv = st->nmapmq;
	for (size_t i = 0; i < st->nmapmq; i++) {
		uint64_t mask = member_mask(st, st->mapmq[i].pid, 0, false, err);
		int r;

		if (mask && (r = add_holds(st, &st->mholds, &st->nmholds, &st->capmholds, mask,
					   (uint32_t)i, st->mapmq[i].ino, st->mapmq[i].pid)) < 0)
			return r;
	}
	st->sv = st->socks;
	st->nsv = st->nsocks;
	return 0;
}

static int dump_all(struct state *st, struct collector_errors *err)
{
	static const struct { const char *file; enum sockq_kind kind; unsigned family; } pn[] = {
		{ "tcp", SOCKQ_TCP, AF_INET }, { "tcp6", SOCKQ_TCP, AF_INET6 },
		{ "udp", SOCKQ_UDP, AF_INET }, { "udp6", SOCKQ_UDP, AF_INET6 },
	};
	int r;

	st->nsocks = st->nunknown = 0;
	r = sockdiag_dump(st->diag, on_diag, st);
	if (r < 0)
		return count_err(err, r);
	/* Other namespaces, not entered: their TCP and UDP through a member. */
	for (size_t i = 0; i < st->nforeign; i++) {
		for (size_t k = 0; k < sizeof(pn) / sizeof(pn[0]); k++) {
			char path[64];

			snprintf(path, sizeof(path), "%d/net/%s", st->foreign[i].pid, pn[k].file);
			r = read_big(st, path);
			if (r < 0) {
				if (r != -ENOENT)
					count_err(err, r);
				continue;
			}
			r = sockdiag_parse_procnet(st->big, (size_t)r, pn[k].kind, pn[k].family,
						   st->foreign[i].netns, on_diag, st);
			if (r < 0)
				count_err(err, r);
		}
	}
	return 0;
}

/* After a dump against a map just rebuilt: what is still unknown belongs
 * to no member. Remembered, it asks for no rebuild until the next one. */
static void take_unowned(struct state *st)
{
	SWAP(st->unowned, st->unknown);
	SWAP(st->capunowned, st->capunknown);
	st->nunowned = st->nunknown;
	st->nunknown = 0;
	sort(st->unowned, st->nunowned, sizeof(uint64_t), cmp_u64);
}

static int hold_netlink(struct state *st, struct collector_errors *err)
{
	uint64_t now = now_ns();
	int r;

	st->rebuilt_now = false;
	if (!st->scan && (st->ctx->rescan_requests != st->rescans_seen ||
			  now - st->rebuilt_ns >= REBUILD_NS || st->rebuilds == 0)) {
		st->rescans_seen = st->ctx->rescan_requests;
		if ((r = rebuild_step(st, err)) < 0)
			return r;
	} else if (st->scan && (r = rebuild_step(st, err)) < 0) {
		return r;
	}
	if ((r = dump_all(st, err)) < 0)
		return r;
	if (st->rebuilt_now) {
		take_unowned(st);
	} else if (st->nunknown && !st->scan && now - st->rebuilt_ns >= REBUILD_MIN_NS) {
		/* A socket no entry knows: some member opened it since. The map
		 * is rebuilt from the next sample on (bounded by the budget). */
		if ((r = rebuild_step(st, err)) < 0)
			return r;
		if (st->rebuilt_now && (r = dump_all(st, err)) < 0)
			return r;
		if (st->rebuilt_now) {
			take_unowned(st);
		}
	}
	return join(st, err);
}

/* ---- aggregation ------------------------------------------------------------------ */

static int cmp_hold(const void *a, const void *b)
{
	const struct hold *x = a, *y = b;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->pid - y->pid;
}

static int cmp_listener(const void *a, const void *b)
{
	const struct listener *x = a, *y = b;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return strcmp(x->label, y->label);
}

static int cmp_mq(const void *a, const void *b)
{
	const struct mqentry *x = a, *y = b;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct growth *growth_get(struct state *st, uint32_t target, enum growth_kind kind,
				 const char *key)
{
	struct growth *g;

	/* The feeds come in the same order every sample and the sweep keeps
	 * that order: the one after the last found is nearly always next. */
	for (size_t k = 0; k < st->ngrowth; k++) {
		size_t i = (st->gnext + k) % st->ngrowth;

		g = st->growth[i];
		if (g->target == target && g->kind == kind && strcmp(g->key, key) == 0) {
			st->gnext = i + 1;
			return g;
		}
	}
	if (array_grow((void **)&st->growth, &st->capgrowth, st->ngrowth + 1, sizeof(*st->growth),
		 SIZE_MAX / sizeof(*st->growth)) < 0)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->target = target;
	g->kind = (uint8_t)kind;
	snprintf(g->key, sizeof(g->key), "%s", key);
	trend_queue_init(&g->tq, NULL);
	st->growth[st->ngrowth++] = g;
	return g;
}

/* Feeds one depth to its detector and exports the verdict. */
static int growth_feed(struct state *st, struct snapshot *snap, uint64_t t_ns, uint32_t target,
		       enum growth_kind kind, const char *key, int32_t pid, uint64_t depth, bool full)
{
	static const char *const kinds[] = { "socket", "listener", "msgqueue" };
	struct growth *g = growth_get(st, target, kind, key);
	char pid_s[16] = "";
	bool suspected;

	if (!g)
		return -ENOMEM;
	g->seen = st->gen;
	trend_queue_add(&g->tq, t_ns, depth);
	g->full_run = full ? g->full_run + 1 : 0;
	suspected = trend_queue_suspected(&g->tq) || g->full_run >= g->tq.p.window;
	if (pid > 0)
		snprintf(pid_s, sizeof(pid_s), "%d", pid);
	return snapshot_add(snap, &m_growth, suspected ? 1 : 0,
			    (const char *const[]){ "target", st->ctx->targets->v[target].name, "pid",
						   pid_s, "queue", key, "kind", kinds[kind], NULL });
}

static void growth_sweep(struct state *st)
{
	size_t j = 0;

	for (size_t i = 0; i < st->ngrowth; i++) {
		if (st->growth[i]->seen == st->gen)
			st->growth[j++] = st->growth[i];
		else
			free(st->growth[i]);
	}
	st->ngrowth = j;
}

static int emit_sockets(struct state *st, struct snapshot *snap, uint64_t t_ns,
			struct collector_errors *err)
{
	const struct target_set *ts = st->ctx->targets;
	struct listener *ls = NULL;
	size_t nls = 0, capls = 0, i = 0, over = 0;
	int r = 0;

	sort(st->holds, st->nholds, sizeof(*st->holds), cmp_hold);
	for (uint32_t t = 0; t < ts->n; t++) {
		uint64_t rq = 0, wq = 0, unseen = 0;
		const char *name = ts->v[t].name;

		if (!(st->on_mask & (1ull << t)))
			continue;
		for (; i < st->nholds && st->holds[i].target < t; i++)
			;
		for (; i < st->nholds && st->holds[i].target == t; i++) {
			const struct hold *h = &st->holds[i];
			const struct sockq *s;

			if (i > 0 && st->holds[i - 1].target == t && st->holds[i - 1].ino == h->ino)
				continue; /* the same socket through another holder */
			if (h->idx == UINT32_MAX) {
				unseen++;
				continue;
			}
			s = &st->sv[h->idx];
			if (!s->listener) {
				rq += s->rqueue;
				wq += s->wqueue;
				continue;
			}
			if ((r = array_grow((void **)&ls, &capls, nls + 1, sizeof(*ls), SIZE_MAX / sizeof(*ls))) < 0)
				goto out;
			ls[nls] = (struct listener){ .target = t, .backlog = s->rqueue, .max = s->wqueue,
						     .has_max = s->has_max, .pid = h->pid };
			if (sockq_listener_label(s, ls[nls].label, sizeof(ls[nls].label)) == -ENOBUFS)
				err->n[COLLECTOR_OVERFLOW]++;
			nls++;
		}
		r = snapshot_add(snap, &m_sock_bytes, (double)rq,
				 (const char *const[]){ "target", name, "direction", "receive", NULL });
		r = r < 0 ? r : snapshot_add(snap, &m_sock_bytes, (double)wq,
					     (const char *const[]){ "target", name, "direction", "send", NULL });
		r = r < 0 ? r : snapshot_add(snap, &m_unseen, (double)unseen,
					     (const char *const[]){ "target", name, NULL });
		r = r < 0 ? r : growth_feed(st, snap, t_ns, t, G_SOCKET, "receive", 0, rq, false);
		r = r < 0 ? r : growth_feed(st, snap, t_ns, t, G_SOCKET, "send", 0, wq, false);
		if (r < 0)
			goto out;
	}
	/* Listeners by label: a port held as IPv4 and IPv6 (or reuseport
	 * sockets) is one listener, its queues summed. */
	sort(ls, nls, sizeof(*ls), cmp_listener);
	{
		size_t kept = 0;

		for (size_t k = 0; k < nls; k++) {
			struct listener *l;

			if (kept && cmp_listener(&ls[kept - 1], &ls[k]) == 0) {
				l = &ls[kept - 1];
				l->backlog += ls[k].backlog;
				l->max += ls[k].max;
				l->has_max = l->has_max && ls[k].has_max;
				if (ls[k].pid < l->pid)
					l->pid = ls[k].pid;
				continue;
			}
			ls[kept++] = ls[k];
		}
		nls = kept;
	}
	for (size_t k = 0; k < nls; k++) {
		const struct listener *l = &ls[k];
		const char *const lv[] = { "target", ts->v[l->target].name, "listener", l->label, NULL };

		if (k >= st->ctx->limits.max_listeners) {
			over++;
			continue;
		}
		r = snapshot_add(snap, &m_backlog, (double)l->backlog, lv);
		if (r == 0 && l->has_max)
			r = snapshot_add(snap, &m_backlog_max, (double)l->max, lv);
		if (r == 0)
			r = growth_feed(st, snap, t_ns, l->target, G_LISTENER, l->label, l->pid, l->backlog,
					l->has_max && l->max > 0 && l->backlog > l->max);
		if (r < 0)
			goto out;
	}
	if (over)
		err->n[COLLECTOR_OVERFLOW]++;
	r = snapshot_add(snap, &m_overflow, (double)over,
			 (const char *const[]){ "kind", "listener", NULL });
out:
	free(ls);
	return r;
}

/* The TCP listen overflow counter of each namespace a listener lives in. */
static int emit_overflows(struct state *st, struct snapshot *snap, struct collector_errors *err)
{
	for (size_t i = 0; i < st->nnetns; i++) {
		char path[48], ns[16];
		uint64_t v;
		int r;

		snprintf(path, sizeof(path), "%d/net/netstat", st->netns[i].pid);
		r = read_big(st, path);
		if (r < 0) {
			count_err(err, r);
			continue;
		}
		r = sockdiag_parse_listen_overflows(st->big, (size_t)r, &v);
		if (r < 0) {
			if (r != -ENOENT)
				count_err(err, r);
			continue;
		}
		snprintf(ns, sizeof(ns), "%u", st->netns[i].netns);
		r = snapshot_add(snap, &m_overflows, (double)v, (const char *const[]){ "netns", ns, NULL });
		if (r < 0)
			return r;
	}
	return 0;
}

struct sysv_ctx {
	struct state *st;
	struct collector_errors *err;
	struct mqentry **v;
	size_t *n, *cap;
	int r;
};

static int on_sysv(void *arg, const struct msgqueue_sysv *q)
{
	struct sysv_ctx *c = arg;
	uint64_t mask = member_mask(c->st, q->lspid, 0, false, c->err) |
			member_mask(c->st, q->lrpid, 0, false, c->err);
	int32_t pid = q->lspid > 0 ? q->lspid : q->lrpid;

	for (uint32_t t = 0; mask; t++, mask >>= 1) {
		struct mqentry *e;
		int r;

		if (!(mask & 1))
			continue;
		r = array_grow((void **)c->v, c->cap, *c->n + 1, sizeof(**c->v), SIZE_MAX / sizeof(**c->v));
		if (r < 0)
			return r;
		e = &(*c->v)[(*c->n)++];
		memset(e, 0, sizeof(*e));
		e->target = t;
		if (q->key)
			snprintf(e->name, sizeof(e->name), "sysv:0x%08x", (unsigned)q->key);
		else
			snprintf(e->name, sizeof(e->name), "sysv:id%d", q->msqid);
		e->messages = q->messages;
		e->bytes = q->bytes;
		e->pid = pid;
	}
	return 0;
}

static int emit_msgqueues(struct state *st, struct snapshot *snap, uint64_t t_ns,
			  struct collector_errors *err)
{
	const struct target_set *ts = st->ctx->targets;
	struct mqentry *v = NULL;
	size_t n = 0, cap = 0, over = 0;
	struct msgqueue_posix last = { 0 };
	uint64_t last_ino = 0;
	bool last_ok = false;
	int r;

	/* POSIX: each queue once per target, read once per sample. */
	sort(st->mholds, st->nmholds, sizeof(*st->mholds), cmp_hold);
	for (size_t i = 0; i < st->nmholds; i++) {
		const struct hold *h = &st->mholds[i];
		const struct sock_iter_mq *m = &st->mqv[h->idx];
		struct mqentry *e;

		if (i > 0 && st->mholds[i - 1].target == h->target && st->mholds[i - 1].ino == h->ino)
			continue;
		if (h->ino != last_ino || !last_ok) {
			r = msgqueue_read_posix(st->proc_fd, m->pid, m->fd, &last);
			last_ino = h->ino;
			last_ok = r == 0;
			if (r < 0 && r != -ENOTTY)
				count_err(err, r);
		}
		if (!last_ok)
			continue;
		if ((r = array_grow((void **)&v, &cap, n + 1, sizeof(*v), SIZE_MAX / sizeof(*v))) < 0)
			goto out;
		e = &v[n++];
		memset(e, 0, sizeof(*e));
		e->target = h->target;
		snprintf(e->name, sizeof(e->name), "posix:%s", last.name);
		e->messages = last.messages;
		e->bytes = last.bytes;
		e->max = last.max_messages;
		e->has_max = true;
		e->pid = h->pid;
	}
	/* System V: by the last sender and receiver. */
	r = read_big(st, "sysvipc/msg");
	if (r >= 0) {
		struct sysv_ctx c = { .st = st, .err = err, .v = &v, .n = &n, .cap = &cap };

		r = msgqueue_parse_sysv(st->big, (size_t)r, on_sysv, &c);
		if (r < 0 && r != -ENOMEM)
			count_err(err, r);
		else if (r == -ENOMEM)
			goto out;
	} else if (r != -ENOENT) {
		count_err(err, r);
	}
	sort(v, n, sizeof(*v), cmp_mq);
	{
		size_t kept = 0;

		for (size_t k = 0; k < n; k++) {
			if (kept && cmp_mq(&v[kept - 1], &v[k]) == 0) {
				if (v[k].pid < v[kept - 1].pid)
					v[kept - 1].pid = v[k].pid;
				continue;
			}
			v[kept++] = v[k];
		}
		n = kept;
	}
	r = 0;
	for (size_t k = 0; k < n && r == 0; k++) {
		const struct mqentry *e = &v[k];
		const char *const lv[] = { "target", ts->v[e->target].name, "queue", e->name, NULL };

		if (k >= st->ctx->limits.max_message_queues) {
			over++;
			continue;
		}
		r = snapshot_add(snap, &m_mq_messages, (double)e->messages, lv);
		if (r == 0)
			r = snapshot_add(snap, &m_mq_bytes, (double)e->bytes, lv);
		if (r == 0 && e->has_max)
			r = snapshot_add(snap, &m_mq_max, (double)e->max, lv);
		if (r == 0)
			r = growth_feed(st, snap, t_ns, e->target, G_MSGQUEUE, e->name, e->pid, e->messages,
					false);
	}
	if (over)
		err->n[COLLECTOR_OVERFLOW]++;
	if (r == 0)
		r = snapshot_add(snap, &m_overflow, (double)over,
				 (const char *const[]){ "kind", "msgqueue", NULL });
out:
	free(v);
	return r;
}

/* ---- the collector ---------------------------------------------------------------- */

static int queues_read(void *state, struct snapshot *snap, struct collector_errors *err)
{
	struct state *st = state;
	uint64_t t_ns = now_ns();
	int r;

	st->gen++;
	st->exec_changes = target_set_exec_changes(st->ctx->targets);
	st->nholds = st->nmholds = st->nnetns = 0;
	st->sv = NULL;
	st->nsv = st->nmqv = 0;
	if (!st->on_mask)
		return 0;
	r = st->iter ? hold_bpf(st, err) : hold_netlink(st, err);
	if (r < 0)
		return r;
	r = emit_sockets(st, snap, t_ns, err);
	r = r < 0 ? r : emit_overflows(st, snap, err);
	r = r < 0 ? r : emit_msgqueues(st, snap, t_ns, err);
	r = r < 0 ? r : snapshot_add(snap, &m_backend, 1,
				     (const char *const[]){ "backend", st->iter ? "bpf" : "netlink", NULL });
	if (r == 0 && !st->iter)
		r = snapshot_add(snap, &m_rebuilds, (double)st->rebuilds, NULL);
	struct sock_iter_stats is = {0};

	if (st->iter)
		sock_iter_stats(st->iter, &is);
	if (r == 0 && st->iter) {
		r = snapshot_add(snap, &m_passes, (double)is.walks,
				 (const char *const[]){ "pass", "walk", NULL });
		r = r < 0 ? r : snapshot_add(snap, &m_passes, (double)(is.reads - is.walks),
					     (const char *const[]){ "pass", "task_file", NULL });
	}
	/* Records past max_records are dropped by the reader: counted in
	 * memagent_bpf_map_full_total, as task_iter's are. */
	if (r == 0 && st->ctx->use_bpf)
		r = bpf_support_report(snap, "sock_iter", st->iter != NULL, st->iter_why, BPF_REPORT_MAP_FULL, 0,
				       is.overflow);
	growth_sweep(st);
	members_sweep(st);
	return r;
}

static void queues_done(void *state)
{
	struct state *st = state;

	if (!st)
		return;
	sock_iter_free(st->iter);
	sockdiag_free(st->diag);
	if (st->proc_fd >= 0)
		close(st->proc_fd);
	pidtab_done(&st->members);
	for (size_t i = 0; i < st->ngrowth; i++)
		free(st->growth[i]);
	free(st->growth);
	free(st->buf);
	free(st->big);
	free(st->socks);
	free(st->holds);
	free(st->mholds);
	free(st->owners);
	free(st->unowned);
	free(st->unknown);
	free(st->mapmq);
	if (st->scan)
		closedir(st->scan);
	free(st->b_owners);
	free(st->b_mapmq);
	free(st);
}

/* A state for ctx; sock_iter is taken over from old when it has one (a
 * reload), else loaded. */
static int state_new(const struct collector_ctx *ctx, struct state *old, void **ret_state)
{
	struct state *st = calloc(1, sizeof(*st));
	const char *forced = getenv("MEMAGENT_QUEUES_BACKEND");
	struct stat sb;
	long tck = sysconf(_SC_CLK_TCK);
	int r;

	if (!st)
		return -ENOMEM;
	st->ctx = ctx;
	st->proc_fd = open(ctx->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	st->ns_per_tick = 1000000000ull / (uint64_t)(tck > 0 ? tck : 100);
	st->buf = malloc(CMDLINE_MAX + 1 > STAT_BUF ? CMDLINE_MAX + 1 : STAT_BUF);
	st->bigcap = 64 * 1024;
	st->big = malloc(st->bigcap);
	if (st->proc_fd < 0 || !st->buf || !st->big || pidtab_init(&st->members, sizeof(struct member), 256) < 0) {
		r = st->proc_fd < 0 ? -errno : -ENOMEM;
		queues_done(st);
		return r;
	}
	for (size_t i = 0; i < ctx->targets->n && i < TARGET_MAX; i++)
		if (!ctx->targets->v[i].no_queues)
			st->on_mask |= 1ull << i;
	if (ctx->targets->needs & TARGET_NEED_CGROUP)
		cgroupfs_detect(ctx->cgroup_root, &st->hier);
	if (fstatat(st->proc_fd, "self/ns/net", &sb, 0) == 0)
		st->own_netns = (uint32_t)sb.st_ino;
	st->iter_why = ctx->use_bpf ? BPF_REASON_NONE : BPF_REASON_DISABLED;
	if (old && old->iter) {
		st->iter = TAKE_PTR(old->iter);
		st->iter_why = old->iter_why;
	} else if (ctx->use_bpf && !(forced && strcmp(forced, "netlink") == 0)) {
		struct bpf_failure f;

		if (sock_iter_new(0, &st->iter, &f) < 0) {
			st->iter = NULL;
			st->iter_why = f.reason;
			collector_bpf_unavailable(ctx, "sock_iter", f.why);
		}
	}
	if (!st->iter) {
		r = sockdiag_new(st->own_netns, &st->diag);
		if (r < 0) {
			queues_done(st);
			return r;
		}
	}
	*ret_state = st;
	return 0;
}

static int queues_init(const struct collector_ctx *ctx, void **ret_state)
{
	return state_new(ctx, NULL, ret_state);
}

/* Members, holdings and growth detectors follow the targets and start
 * afresh; sock_iter, which reads every process's files whatever the
 * targets, stays loaded. Without it (netlink) the state is simply made
 * again, as init() would. On failure *state is untouched. */
static int queues_reconfigure(void **state)
{
	struct state *old = *state;
	void *st;
	int r = state_new(old->ctx, old, &st);

	if (r < 0)
		return r;
	queues_done(old);
	*state = st;
	return 0;
}

const struct collector queues_collector = {
	.name = "queues",
	.metrics = queues_metrics,
	.init = queues_init,
	.read = queues_read,
	.done = queues_done,
	.reconfigure = queues_reconfigure,
};
