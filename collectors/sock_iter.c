/* SPDX-License-Identifier: MIT */
/* sock_iter: the user side of bpf/sock_iter.bpf.c: runs a pass and parses its records.
 *
 * Two passes give the same records. On 6.7+ (in the initial pid namespace,
 * fast reads chosen, file operations learned) the fd-table walk: one
 * BPF_PROG_TEST_RUN of sock_walk, whose records are read from the mmapped
 * walk_recs slots. Elsewhere, and for any pass with more records than those
 * slots hold, iter/task_file, which stays loaded and attached beside it
 * (and runs the learning pass). MEMAGENT_SOCK_ITER_NO_WALK=1 keeps it alone.
 *
 * bpf_seq_read() never splits a record across read() calls; the parser
 * carries a partial record over anyway rather than trust that. A name
 * record belongs to the socket record just before it.
 */
#include "sock_iter.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "array.h"
#include "bpf_support.h"
#include "sock_iter_abi.h"
#include "sock_iter.skel.h"
#include "sock_iter.nokfunc.skel.h"

#define DEFAULT_MAX_RECORDS 262144
#define READ_CHUNK (64 * 1024)
#define ST_LISTEN 10
/* The walk's slots: room for twice the files open on the host now (a
 * descriptor is one record, a process one more) and some, at most
 * WALK_MAX_SLOTS (8 MiB). A pass that does not fit runs iter/task_file. */
#define WALK_MIN_SLOTS 8192
#define WALK_MAX_SLOTS 131072

_Static_assert(sizeof(struct sock_iter_rec) <= SOCK_ITER_WALK_SLOT, "one slot");
_Static_assert(sizeof(struct sock_iter_proc_rec) <= SOCK_ITER_WALK_SLOT, "one slot");
_Static_assert(sizeof(struct sock_iter_name_rec) <= 2 * SOCK_ITER_WALK_SLOT, "two slots");

struct sock_iter {
	struct sock_iter_bpf *skel;
	struct bpf_link *link;
	size_t max;
	struct sockq *socks;
	size_t n, cap;
	struct sock_iter_mq *mqs;
	size_t nmq, capmq;
	struct sock_iter_proc *procs;
	size_t nproc, capproc;
	bool last_kept; /* the last socket record was stored (its name goes to it) */
	unsigned char *buf; /* READ_CHUNK + room for one carried-over record */
	struct sock_iter_stats st;
	bool portable;
	/* The fd-table walk (sock_walk), when loaded: its slots, mmapped. */
	const unsigned char *walk;
	size_t walk_cap, walk_len;
};

static size_t walk_capacity(void)
{
	unsigned long long files = 0;
	size_t cap;
	FILE *f = fopen("/proc/sys/fs/file-nr", "re");

	if (f) {
		if (fscanf(f, "%llu", &files) != 1)
			files = 0;
		fclose(f);
	}
	cap = WALK_MIN_SLOTS + (size_t)files * 2;
	return cap < WALK_MAX_SLOTS ? cap : WALK_MAX_SLOTS;
}

/* Opens and loads the skeleton, with the fd-table walk or without it. */
static int load(struct sock_iter *it, unsigned ncpu, bool walk, bool mq_absent,
		struct bpf_failure *f)
{
	int err;

	it->skel = BPF_SUPPORT_OPEN(sock_iter);
	if (!it->skel)
		return bpf_support_libbpf_error(-errno, "sock_iter", "open", f);
	it->skel->rodata->mq_absent = mq_absent;
	it->skel->rodata->nr_cpus = (__u32)ncpu;
	it->skel->rodata->task_mem_test_reject = bpf_support_test_reject("sock_iter");
	it->walk_cap = walk ? walk_capacity() : 0;
	err = bpf_support_walk_size(it->skel->progs.sock_walk, it->skel->maps.walk_recs, walk, it->walk_cap,
				    "sock_iter", f);
	if (err)
		return err;
	return bpf_support_load(it->skel->skeleton, "sock_iter", ncpu, f);
}

static int walk_map(struct sock_iter *it)
{
	it->walk = bpf_support_map_mmap(it->skel->maps.walk_recs, it->walk_cap * SOCK_ITER_WALK_SLOT,
					&it->walk_len);
	return it->walk ? 0 : -errno;
}

int sock_iter_new(size_t max_records, struct sock_iter **ret, struct bpf_failure *f)
{
	struct sock_iter *it;
	char mqname[64];
	mqd_t learn_mq = (mqd_t)-1;
	int ncpu, err, learn_sock = -1;
	bool walk, mq_absent;

	if (!ret)
		return -EINVAL;
	err = bpf_support_check("sock_iter", NULL, NULL, f);
	if (err < 0)
		return err;
	ncpu = bpf_support_nr_cpus();
	if (ncpu < 0)
		return bpf_support_libbpf_error(ncpu, "sock_iter", "possible CPUs", f);
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->max = max_records ? max_records : DEFAULT_MAX_RECORDS;
	it->buf = malloc(READ_CHUNK + sizeof(struct sock_iter_name_rec));
	if (!it->buf) {
		err = -ENOMEM;
		goto fail;
	}
	/* A queue of our own for the program to learn from (the top of
	 * bpf/sock_iter.bpf.c); none on a kernel without POSIX queues. */
	snprintf(mqname, sizeof(mqname), "/memagent-sock-iter-%d", (int)getpid());
	learn_mq = mq_open(mqname, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0600, NULL);
	if (learn_mq != (mqd_t)-1)
		mq_unlink(mqname);
	mq_absent = learn_mq == (mqd_t)-1 && errno == ENOSYS;
	walk = bpf_support_task_walk("MEMAGENT_SOCK_ITER_NO_WALK");
	err = load(it, (unsigned)ncpu, walk, mq_absent, f);
	if (err && walk) {
		/* A verifier that refuses the walk still runs iter/task_file. */
		sock_iter_bpf__destroy(it->skel);
		it->skel = NULL;
		walk = false;
		err = load(it, (unsigned)ncpu, false, mq_absent, f);
	}
	if (err)
		goto fail;
	it->link = bpf_support_link(it->skel->skeleton, "sock_iter");
	if (!it->link) {
		err = bpf_support_libbpf_error(-ENOENT, "sock_iter", "attach", f);
		goto fail;
	}
	/* The learning pass (iter/task_file: the walk is mapped after it):
	 * our socket and queue are open now. A pass that learned nothing
	 * leaves the program on its slower check, which is as right, and the
	 * walk unused. */
	learn_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	{
		const struct sockq *s;
		size_t n;

		sock_iter_read(it, &s, &n);
	}
	if (learn_sock >= 0)
		close(learn_sock);
	if (learn_mq != (mqd_t)-1)
		mq_close(learn_mq);
	learn_mq = (mqd_t)-1;
	if (walk && walk_map(it) < 0)
		it->walk = NULL; /* iter/task_file alone */
	it->st.reads = 0;
	it->st.programs = 1;
	it->portable = bpf_support_portable(it->skel->skeleton);
	*ret = it;
	return 0;
fail:
	if (learn_mq != (mqd_t)-1)
		mq_close(learn_mq);
	sock_iter_free(it);
	return err;
}

struct sock_iter *sock_iter_free(struct sock_iter *it)
{
	if (!it)
		return NULL;
	if (it->walk)
		munmap((void *)it->walk, it->walk_len);
	sock_iter_bpf__destroy(it->skel);
	free(it->socks);
	free(it->mqs);
	free(it->procs);
	free(it->buf);
	free(it);
	return NULL;
}

static int add_sock(struct sock_iter *it, const struct sock_iter_rec *r)
{
	struct sockq *s;
	int err;

	it->last_kept = false;
	err = array_grow((void **)&it->socks, &it->cap, it->n + 1, sizeof(*it->socks), it->max);
	if (err == -ENOSPC) {
		it->st.overflow++;
		return 0;
	}
	if (err < 0)
		return err;
	s = &it->socks[it->n++];
	memset(s, 0, offsetof(struct sockq, name));
	s->pid = (int32_t)r->pid;
	s->start_ns = r->start_ns;
	s->ino = r->ino;
	s->netns = r->netns;
	s->kind = (uint8_t)sockq_kind_of(r->family, r->type, r->protocol);
	s->family = (uint8_t)r->family;
	s->listener = r->state == ST_LISTEN &&
		      (s->kind == SOCKQ_TCP || s->kind == SOCKQ_UNIX_STREAM ||
		       s->kind == SOCKQ_UNIX_SEQPACKET);
	s->has_max = s->listener;
	if (s->kind != SOCKQ_OTHER) {
		s->rqueue = r->rqueue;
		s->wqueue = r->wqueue;
	}
	s->port = r->port;
	if (r->flags & SOCK_ITER_F_TRUNCATED)
		it->st.truncated++;
	it->last_kept = true;
	return 0;
}

static void add_name(struct sock_iter *it, const struct sock_iter_name_rec *r)
{
	struct sockq *s;

	if (!it->last_kept || it->n == 0)
		return;
	s = &it->socks[it->n - 1];
	s->name_len = (uint16_t)(r->len < SOCKQ_NAME_MAX ? r->len : SOCKQ_NAME_MAX);
	memcpy(s->name, r->path, s->name_len);
}

static int add_mq(struct sock_iter *it, const struct sock_iter_rec *r)
{
	struct sock_iter_mq *m;
	int err;

	err = array_grow((void **)&it->mqs, &it->capmq, it->nmq + 1, sizeof(*it->mqs), it->max);
	if (err == -ENOSPC) {
		it->st.overflow++;
		return 0;
	}
	if (err < 0)
		return err;
	m = &it->mqs[it->nmq++];
	m->pid = (int32_t)r->pid;
	m->fd = (int32_t)r->fd;
	m->start_ns = r->start_ns;
	m->ino = r->ino;
	return 0;
}

static int add_proc(struct sock_iter *it, const struct sock_iter_proc_rec *r)
{
	struct sock_iter_proc *p;
	int err = array_grow((void **)&it->procs, &it->capproc, it->nproc + 1, sizeof(*it->procs),
			     it->max);

	if (err == -ENOSPC)
		return 0; /* a hint only */
	if (err < 0)
		return err;
	p = &it->procs[it->nproc++];
	p->pid = (int32_t)r->pid;
	p->start_ns = r->start_ns;
	memcpy(p->comm, r->comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
	return 0;
}

/* Parses whole records from buf[0..len); returns the bytes consumed. */
static ssize_t parse(struct sock_iter *it, const unsigned char *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= sizeof(__u32)) {
		__u32 kind;
		int err = 0;

		memcpy(&kind, buf + off, sizeof(kind));
		if (kind == SOCK_ITER_SOCK || kind == SOCK_ITER_MQ) {
			struct sock_iter_rec r;

			if (len - off < sizeof(r))
				break;
			memcpy(&r, buf + off, sizeof(r));
			err = kind == SOCK_ITER_SOCK ? add_sock(it, &r) : add_mq(it, &r);
			off += sizeof(r);
		} else if (kind == SOCK_ITER_PROC) {
			struct sock_iter_proc_rec r;

			if (len - off < sizeof(r))
				break;
			memcpy(&r, buf + off, sizeof(r));
			err = add_proc(it, &r);
			off += sizeof(r);
		} else if (kind == SOCK_ITER_NAME) {
			struct sock_iter_name_rec r;

			if (len - off < sizeof(r))
				break;
			memcpy(&r, buf + off, sizeof(r));
			add_name(it, &r);
			off += sizeof(r);
		} else {
			/* Out of step: nothing after this can be trusted. */
			it->st.malformed++;
			return -EPROTO;
		}
		if (err < 0)
			return err;
	}
	return (ssize_t)off;
}

static ssize_t parse_cb(void *arg, const unsigned char *buf, size_t len)
{
	return parse(arg, buf, len);
}

/* Size of the record of kind at p, or 0. */
static size_t rec_size(const unsigned char *p)
{
	__u32 kind;

	memcpy(&kind, p, sizeof(kind));
	switch (kind) {
	case SOCK_ITER_SOCK:
	case SOCK_ITER_MQ:
		return sizeof(struct sock_iter_rec);
	case SOCK_ITER_PROC:
		return sizeof(struct sock_iter_proc_rec);
	case SOCK_ITER_NAME:
		return sizeof(struct sock_iter_name_rec);
	}
	return 0;
}

/* One pass of the fd-table walk. Returns 0, 1 when the records did not fit
 * the slots (the caller runs iter/task_file instead), or a negative errno. */
static int read_walk(struct sock_iter *it)
{
	ssize_t got = bpf_support_walk_run(it->skel->progs.sock_walk, &it->skel->bss->walk_n,
					   &it->skel->bss->walk_overflow, it->walk_cap);
	size_t n, i = 0;

	if (got == -ENOSPC)
		return 1;
	if (got < 0)
		return (int)got;
	n = (size_t)got;
	while (i < n) {
		const unsigned char *p = it->walk + i * SOCK_ITER_WALK_SLOT;
		size_t size = rec_size(p);
		size_t slots = (size + SOCK_ITER_WALK_SLOT - 1) / SOCK_ITER_WALK_SLOT;
		ssize_t used;

		if (size == 0 || i + slots > n) {
			it->st.malformed++;
			return -EPROTO;
		}
		used = parse(it, p, size);
		if (used < 0)
			return (int)used;
		i += slots;
	}
	return 0;
}

int sock_iter_read(struct sock_iter *it, const struct sockq **ret_socks, size_t *ret_n)
{
	int fd, err = 0;

	if (it->walk && sock_iter_learned(it)) {
		it->n = it->nmq = it->nproc = 0;
		it->last_kept = false;
		err = read_walk(it);
		if (err < 0) {
			it->n = it->nmq = it->nproc = 0;
			return err;
		}
		if (err == 0) {
			it->st.walks++;
			goto done;
		}
		it->st.walk_fallbacks++;
		err = 0;
	}
	it->skel->bss->last_tgid = 0;
	fd = bpf_iter_create(bpf_link__fd(it->link));
	if (fd < 0)
		return fd;
	it->n = it->nmq = it->nproc = 0;
	it->last_kept = false;
	err = bpf_support_iter_drain(fd, it->buf, READ_CHUNK, parse_cb, it, &it->st.malformed);
	if (err < 0) {
		it->n = it->nmq = it->nproc = 0;
		return err;
	}
done:
	it->st.reads++;
	it->st.sockets = it->n;
	*ret_socks = it->socks;
	*ret_n = it->n;
	return (int)it->n;
}

const struct sock_iter_proc *sock_iter_procs(const struct sock_iter *it, size_t *ret_n)
{
	*ret_n = it->nproc;
	return it->procs;
}

const struct sock_iter_mq *sock_iter_mqs(const struct sock_iter *it, size_t *ret_n)
{
	*ret_n = it->nmq;
	return it->mqs;
}

void sock_iter_stats(const struct sock_iter *it, struct sock_iter_stats *ret)
{
	*ret = it->st;
}

bool sock_iter_portable(const struct sock_iter *it)
{
	return it->portable;
}

bool sock_iter_learned(const struct sock_iter *it)
{
	return it->skel->bss->sock_fops && (it->skel->bss->mq_fops || it->skel->rodata->mq_absent);
}
