/* SPDX-License-Identifier: MIT */
/* Reading a telemetry page (docs/telemetry.md): the consistent copy, the checks, the reasons.
 *
 * Every byte of a page is hostile: another user's process writes it and a
 * root agent reads it. Nothing here trusts a count, a string or a number
 * before it is checked; the parser is a pure function of the bytes (the fuzz
 * target calls it), and a page is either taken whole or refused with the
 * first reason found, never taken in part.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "telemetry.h"

const char *telemetry_reason_name(enum telemetry_reason r)
{
	static const char *const names[TELEMETRY_REASON_MAX] = {
		[TELEMETRY_OK] = "ok",
		[TELEMETRY_MAGIC] = "magic",
		[TELEMETRY_VERSION] = "version",
		[TELEMETRY_SIZE] = "size",
		[TELEMETRY_TORN] = "torn",
		[TELEMETRY_OWNER] = "owner",
		[TELEMETRY_NAME] = "name",
		[TELEMETRY_ABSURD] = "absurd",
		[TELEMETRY_REGRESSED] = "regressed",
		[TELEMETRY_UNREADABLE] = "unreadable",
		[TELEMETRY_OVERFLOW] = "overflow",
	};

	return (unsigned)r < TELEMETRY_REASON_MAX ? names[r] : "unknown";
}

bool telemetry_page_link(const char *l, size_t n, bool *ret_memfd)
{
	static const char memfd[] = "/memfd:" GENGC_TELEMETRY_MEMFD_NAME " (deleted)";
	static const char deleted[] = " (deleted)";
	const char *base;

	if (n == sizeof(memfd) - 1 && memcmp(l, memfd, n) == 0) {
		*ret_memfd = true;
		return true;
	}
	if (n <= sizeof(deleted) - 1 || l[0] != '/' ||
	    memcmp(l + n - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1) != 0)
		return false;
	base = memrchr(l, '/', n - (sizeof(deleted) - 1));
	base = base ? base + 1 : l;
	*ret_memfd = false;
	return strncmp(base, GENGC_TELEMETRY_FILE_PREFIX, sizeof(GENGC_TELEMETRY_FILE_PREFIX) - 1) == 0;
}

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

int telemetry_page_open(int fd_dir, const char *name, struct stat *ret_sb)
{
	char link[PATH_MAX];
	struct statfs sf;
	ssize_t n = readlinkat(fd_dir, name, link, sizeof(link));
	bool memfd;
	int fd;

	if (n <= 0 || (size_t)n >= sizeof(link) || !telemetry_page_link(link, (size_t)n, &memfd))
		return -ENOENT;
	fd = openat(fd_dir, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_sb) < 0 || !S_ISREG(ret_sb->st_mode) ||
	    (!memfd && (fstatfs(fd, &sf) < 0 || sf.f_type != TMPFS_MAGIC || ret_sb->st_nlink != 0))) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* A name field: non-empty, NUL inside the field, and NUL-padded after the
 * first NUL (so two copies of one name compare equal byte for byte). */
static bool name_ok(const char *f, size_t n)
{
	size_t len = strnlen(f, n);

	if (len == 0 || len == n)
		return false;
	for (size_t i = len; i < n; i++)
		if (f[i])
			return false;
	return true;
}

/* All n bytes zero: the first byte is, and every byte equals the next
 * (memcmp is vectorised; a byte loop over the ~3.5 KiB a page keeps zero
 * was most of a read's cost). */
static bool zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	return n == 0 || (b[0] == 0 && memcmp(b, b + 1, n - 1) == 0);
}

static enum telemetry_reason check_names(const struct gengc_telemetry_page *p)
{
	if (!name_ok(p->name, sizeof(p->name)))
		return TELEMETRY_NAME;
	for (uint32_t i = 0; i < p->n_spaces; i++) {
		if (!name_ok(p->spaces[i].name, sizeof(p->spaces[i].name)))
			return TELEMETRY_NAME;
		for (uint32_t j = 0; j < i; j++)
			if (memcmp(p->spaces[i].name, p->spaces[j].name, sizeof(p->spaces[i].name)) == 0)
				return TELEMETRY_NAME;
	}
	for (uint32_t i = 0; i < p->n_kinds; i++) {
		if (!name_ok(p->kinds[i].name, sizeof(p->kinds[i].name)))
			return TELEMETRY_NAME;
		for (uint32_t j = 0; j < i; j++)
			if (memcmp(p->kinds[i].name, p->kinds[j].name, sizeof(p->kinds[i].name)) == 0)
				return TELEMETRY_NAME;
	}
	for (uint32_t i = 0; i < p->n_queues; i++) {
		if (!name_ok(p->queues[i].name, sizeof(p->queues[i].name)))
			return TELEMETRY_NAME;
		for (uint32_t j = 0; j < i; j++)
			if (memcmp(p->queues[i].name, p->queues[j].name, sizeof(p->queues[i].name)) == 0)
				return TELEMETRY_NAME;
	}
	return TELEMETRY_OK;
}

/* A string field that may be empty: terminated inside it and NUL-padded. */
static bool text_ok(const char *f, size_t n)
{
	size_t len = strnlen(f, n);

	return len < n && zero(f + len, n - len);
}

#define SNAPSHOT_BLOCK_BYTES (offsetof(struct gengc_telemetry_page, reserved2) - \
			      offsetof(struct gengc_telemetry_page, snapshot_socket))

/* The fields of version 2 (version 1 keeps them reserved: zero). A field
 * whose flag is clear must be zero, so "not reported" never reads as 0. */
static enum telemetry_reason check_v2(const struct gengc_telemetry_page *p)
{
	if (p->version == 1)
		return p->flags || p->array_buffers_bytes || p->loop_delay_p50_ns || p->loop_delay_p99_ns ||
				       !zero(p->snapshot_socket, SNAPSHOT_BLOCK_BYTES)
			       ? TELEMETRY_ABSURD
			       : TELEMETRY_OK;
	if (p->flags & ~(uint32_t)GENGC_TELEMETRY_FLAGS_ALL || p->reserved1 || p->reserved3 || p->reserved4)
		return TELEMETRY_ABSURD;
	if (p->flags & GENGC_TELEMETRY_HAS_LOOP_DELAY ? p->loop_delay_p50_ns > p->loop_delay_p99_ns
						       : p->loop_delay_p50_ns || p->loop_delay_p99_ns)
		return TELEMETRY_ABSURD;
	/* Node counts arrayBuffers inside external (one memoryUsage() call). */
	if (p->flags & GENGC_TELEMETRY_HAS_ARRAY_BUFFERS ? p->array_buffers_bytes > p->external_bytes
							  : p->array_buffers_bytes != 0)
		return TELEMETRY_ABSURD;
	if (!(p->flags & GENGC_TELEMETRY_SNAPSHOT_ALLOWED))
		return zero(p->snapshot_socket, SNAPSHOT_BLOCK_BYTES) ? TELEMETRY_OK : TELEMETRY_ABSURD;
	if (!name_ok(p->snapshot_socket, sizeof(p->snapshot_socket)) ||
	    !text_ok(p->snapshot_path, sizeof(p->snapshot_path)))
		return TELEMETRY_NAME;
	if (p->snapshot_status > GENGC_TELEMETRY_SNAPSHOT_STATUS_MAX ||
	    (p->snapshot_status == GENGC_TELEMETRY_SNAPSHOT_WRITTEN && !p->snapshot_path[0]))
		return TELEMETRY_ABSURD;
	return TELEMETRY_OK;
}

static enum telemetry_reason check_values(const struct gengc_telemetry_page *p)
{
	enum telemetry_reason why;

	if (p->reserved0 || !zero(p->reserved2, sizeof(p->reserved2)))
		return TELEMETRY_ABSURD;
	why = check_v2(p);
	if (why != TELEMETRY_OK)
		return why;
	if (p->heap_used_bytes > p->heap_total_bytes)
		return TELEMETRY_ABSURD;
	/* available may pass size: V8's new_large_object_space has size 0 and
	 * the new space's free room as available. */
	for (uint32_t i = 0; i < p->n_spaces; i++)
		if (p->spaces[i].used_bytes > p->spaces[i].size_bytes)
			return TELEMETRY_ABSURD;
	for (uint32_t i = 0; i < p->n_kinds; i++) {
		const struct gengc_telemetry_kind *k = &p->kinds[i];
		uint64_t sum = 0;

		if (k->reserved || k->pause_max_ns > k->pause_total_ns)
			return TELEMETRY_ABSURD;
		for (int b = 0; b < GENGC_TELEMETRY_BUCKETS; b++)
			if (__builtin_add_overflow(sum, k->pause_histogram[b], &sum))
				return TELEMETRY_ABSURD;
		if (sum != k->count)
			return TELEMETRY_ABSURD;
	}
	/* The ring: record s in slot s % 32, none newer than gc_seq or older
	 * than the 32 it keeps, and the newest present. */
	for (uint32_t i = 0; i < GENGC_TELEMETRY_RING; i++) {
		const struct gengc_telemetry_record *r = &p->ring[i];

		if (r->seq == 0) {
			if (!zero(r, sizeof(*r)))
				return TELEMETRY_ABSURD;
			continue;
		}
		if (r->seq % GENGC_TELEMETRY_RING != i || r->seq > p->gc_seq ||
		    p->gc_seq - r->seq >= GENGC_TELEMETRY_RING)
			return TELEMETRY_ABSURD;
	}
	if (p->gc_seq && p->ring[p->gc_seq % GENGC_TELEMETRY_RING].seq != p->gc_seq)
		return TELEMETRY_ABSURD;
	if (p->gc_seq > p->full_gcs)
		return TELEMETRY_ABSURD;
	for (uint32_t i = p->n_queues; i < GENGC_TELEMETRY_QUEUES; i++)
		if (!zero(&p->queues[i], sizeof(p->queues[i])))
			return TELEMETRY_ABSURD;
	return TELEMETRY_OK;
}

enum telemetry_reason telemetry_parse(const void *buf, size_t len, struct gengc_telemetry_page *ret)
{
	struct gengc_telemetry_page p;
	enum telemetry_reason r;

	if (len < 8)
		return TELEMETRY_SIZE;
	if (memcmp(buf, GENGC_TELEMETRY_MAGIC, 8) != 0)
		return TELEMETRY_MAGIC;
	if (len != sizeof(p))
		return TELEMETRY_SIZE;
	memcpy(&p, buf, sizeof(p));     /* aligned, and out of the writer's reach */
	if (p.version < GENGC_TELEMETRY_VERSION_MIN || p.version > GENGC_TELEMETRY_VERSION)
		return TELEMETRY_VERSION;
	if (p.size != GENGC_TELEMETRY_SIZE || p.n_spaces > GENGC_TELEMETRY_SPACES ||
	    p.n_kinds > GENGC_TELEMETRY_KINDS || p.n_queues > GENGC_TELEMETRY_QUEUES)
		return TELEMETRY_SIZE;
	if (p.seq % 2 || p.seq != p.seq_end)
		return TELEMETRY_TORN;
	if (p.protocol != GENGC_TELEMETRY_SHARED && p.protocol != GENGC_TELEMETRY_PWRITE)
		return TELEMETRY_VERSION;
	if (p.pid == 0)
		return TELEMETRY_OWNER;
	r = check_names(&p);
	if (r == TELEMETRY_OK)
		r = check_values(&p);
	if (r == TELEMETRY_OK)
		*ret = p;
	return r;
}

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	ssize_t got = pread(fd, buf, n, off);

	if (got < 0)
		return -errno;
	return (size_t)got == n ? 0 : -ENODATA;
}

enum telemetry_reason telemetry_read(int fd, struct gengc_telemetry_page *ret)
{
	struct gengc_telemetry_page copy;
	enum telemetry_reason r = TELEMETRY_TORN;

	/* No fstat per read: the collector took only regular files, and a
	 * short file is a short pread (size); a longer one is read up to the
	 * page's end, which is all the format has. */
	for (int attempt = 0; attempt < TELEMETRY_READ_ATTEMPTS; attempt++) {
		uint64_t before, after;
		int e;

		e = pread_all(fd, &before, sizeof(before), offsetof(struct gengc_telemetry_page, seq));
		if (!e)
			e = pread_all(fd, &copy, sizeof(copy), 0);
		if (!e)
			e = pread_all(fd, &after, sizeof(after), offsetof(struct gengc_telemetry_page, seq));
		if (e == -ENODATA)
			return TELEMETRY_SIZE;
		if (e)
			return TELEMETRY_UNREADABLE;
		/* What no retry changes is said first: a page of random bytes
		 * is "magic", not "torn". */
		if (memcmp(copy.magic, GENGC_TELEMETRY_MAGIC, 8) != 0) {
			bool whole = before % 2 == 0 && before == after && copy.seq == before &&
				     copy.seq_end == before;

			if (!zero(copy.magic, sizeof(copy.magic)))
				return TELEMETRY_MAGIC;
			if (whole)
				return TELEMETRY_CLOSED;
			r = TELEMETRY_TORN;     /* being made, or being closed: look again */
			continue;
		}
		if (copy.version < GENGC_TELEMETRY_VERSION_MIN || copy.version > GENGC_TELEMETRY_VERSION)
			return TELEMETRY_VERSION;
		if (copy.size != GENGC_TELEMETRY_SIZE)
			return TELEMETRY_SIZE;
		if (before % 2 || before != after || copy.seq != before || copy.seq_end != before) {
			r = TELEMETRY_TORN;
			continue;
		}
		return telemetry_parse(&copy, sizeof(copy), ret);
	}
	return r;
}

void telemetry_counters_of(const struct gengc_telemetry_page *p, struct telemetry_counters *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->n_kinds = p->n_kinds;
	for (uint32_t i = 0; i < p->n_kinds; i++) {
		memcpy(ret->kind_name[i], p->kinds[i].name, GENGC_TELEMETRY_KEY_BYTES);
		ret->kind_count[i] = p->kinds[i].count;
	}
	ret->full_gcs = p->full_gcs;
	ret->gc_seq = p->gc_seq;
	ret->promoted_bytes = p->promoted_bytes;
	ret->allocated_bytes = p->allocated_bytes;
}

bool telemetry_regressed(const struct telemetry_counters *prev, const struct gengc_telemetry_page *cur)
{
	if (cur->full_gcs < prev->full_gcs || cur->gc_seq < prev->gc_seq ||
	    cur->promoted_bytes < prev->promoted_bytes || cur->allocated_bytes < prev->allocated_bytes)
		return true;
	for (uint32_t i = 0; i < prev->n_kinds; i++) {
		uint32_t j = 0;

		while (j < cur->n_kinds && memcmp(cur->kinds[j].name, prev->kind_name[i], GENGC_TELEMETRY_KEY_BYTES))
			j++;
		if (j == cur->n_kinds || cur->kinds[j].count < prev->kind_count[i])
			return true;
	}
	return false;
}
