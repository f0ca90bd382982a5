/* SPDX-License-Identifier: MIT */
/* A sink's disk buffer: checksummed append-only records (see diskbuf.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskbuf.h"
#include "strbuf.h"

#define MAGIC 0x4642414du /* "MABF" little-endian */
#define HEADER_BYTES 16
#define RECORD_MAX (64u << 20)
enum { T_DATA = 1, T_ACK = 2 };

struct diskbuf {
	int fd;
	uint64_t size, max;
	struct strbuf rec;
};

/* CRC-32C (Castagnoli), bytewise table. */
static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;

	if (!crc_table[1])
		crc_init();
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put(struct strbuf *b, const void *p, size_t n)
{
	strbuf_append(b, p, n);
}

static void put_str(struct strbuf *b, const char *s)
{
	size_t n = strlen(s);
	uint16_t l = n > 0xffff ? 0xffff : (uint16_t)n;

	put(b, &l, 2);
	put(b, s, l);
}

/* Writes the record whose payload is rec.buf[HEADER_BYTES..). */
static int write_record(struct diskbuf *b, uint32_t type)
{
	uint32_t h[4] = { MAGIC, type, (uint32_t)(b->rec.len - HEADER_BYTES), 0 };
	uint32_t crc;
	ssize_t w;

	if (strbuf_failed(&b->rec))
		return -ENOMEM;
	if (b->rec.len - HEADER_BYTES > RECORD_MAX)
		return -E2BIG;
	if (b->size + b->rec.len > b->max)
		return -ENOSPC;
	crc = crc32c(0, h, 12);
	crc = crc32c(crc, b->rec.buf + HEADER_BYTES, b->rec.len - HEADER_BYTES);
	h[3] = crc;
	memcpy(b->rec.buf, h, HEADER_BYTES);
	w = pwrite(b->fd, b->rec.buf, b->rec.len, (off_t)b->size);
	if (w != (ssize_t)b->rec.len) {
		int e = w < 0 ? -errno : -ENOSPC;

		if (ftruncate(b->fd, (off_t)b->size) < 0)
			return -errno;
		return e;
	}
	b->size += b->rec.len;
	return 0;
}

static void rec_start(struct diskbuf *b)
{
	static const char zero[HEADER_BYTES];

	b->rec.len = 0;
	b->rec.failed = false;
	put(&b->rec, zero, HEADER_BYTES);
}

int diskbuf_append(struct diskbuf *b, const struct series_sample *v, size_t n)
{
	int64_t ts = n ? v[0].timestamp_ms : 0;
	uint32_t count = (uint32_t)n;

	rec_start(b);
	put(&b->rec, &ts, 8);
	put(&b->rec, &count, 4);
	for (size_t i = 0; i < n; i++) {
		const struct series *s = v[i].s;
		uint8_t nl = (uint8_t)s->n_labels;

		put(&b->rec, &v[i].value, 8);
		put_str(&b->rec, s->name);
		put(&b->rec, &nl, 1);
		for (size_t l = 0; l < s->n_labels; l++) {
			put_str(&b->rec, s->labels[l].key);
			put_str(&b->rec, s->labels[l].value);
		}
	}
	return write_record(b, T_DATA);
}

int diskbuf_ack(struct diskbuf *b, uint64_t settled)
{
	rec_start(b);
	put(&b->rec, &settled, 8);
	return write_record(b, T_ACK);
}

int diskbuf_reset(struct diskbuf *b)
{
	if (ftruncate(b->fd, 0) < 0)
		return -errno;
	b->size = 0;
	return 0;
}

uint64_t diskbuf_size(const struct diskbuf *b)
{
	return b->size;
}

/* A cursor over one payload; every read is bounds-checked (the checksum
 * passed, but the writer's version could differ: never trust lengths). */
struct cur {
	const unsigned char *p, *end;
};

static int get(struct cur *c, void *dst, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return -EBADMSG;
	memcpy(dst, c->p, n);
	c->p += n;
	return 0;
}

/* Appends the next string and its NUL to strs; *ret_off is where it starts. */
static int get_str(struct cur *c, struct strbuf *strs, size_t *ret_off)
{
	uint16_t l;

	if (get(c, &l, 2) < 0 || (size_t)(c->end - c->p) < l)
		return -EBADMSG;
	*ret_off = strs->len;
	strbuf_append(strs, (const char *)c->p, l);
	strbuf_putc(strs, '\0');
	c->p += l;
	return 0;
}

/* Calls fn for the samples of a data payload from index skip on. It reads
 * back whatever diskbuf_append() writes: strings of any length it stores,
 * and as many labels as a series has (SERIES_LABELS_MAX). */
static int replay_data(struct cur *c, uint64_t *index, uint64_t skip, diskbuf_replay_fn fn, void *arg)
{
	struct snapshot_label labels[SERIES_LABELS_MAX];
	size_t off[1 + 2 * SERIES_LABELS_MAX];
	struct strbuf strs = {0};
	int64_t ts;
	uint32_t n;
	int r = 0;

	if (get(c, &ts, 8) < 0 || get(c, &n, 4) < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < n && r == 0; i++) {
		double v;
		uint8_t nl;

		strs.len = 0;
		if (get(c, &v, 8) < 0 || get_str(c, &strs, &off[0]) < 0 || get(c, &nl, 1) < 0 ||
		    nl > SERIES_LABELS_MAX) {
			r = -EBADMSG;
			break;
		}
		for (unsigned l = 0; l < nl && r == 0; l++)
			if (get_str(c, &strs, &off[1 + 2 * l]) < 0 || get_str(c, &strs, &off[2 + 2 * l]) < 0)
				r = -EBADMSG;
		if (r == 0 && strbuf_failed(&strs))
			r = -ENOMEM;
		if (r == 0 && *index >= skip && fn) {
			for (unsigned l = 0; l < nl; l++)
				labels[l] = (struct snapshot_label){ strs.buf + off[1 + 2 * l], strs.buf + off[2 + 2 * l] };
			r = fn(arg, strs.buf + off[0], labels, nl, v, ts);
		}
		(*index)++;
	}
	strbuf_done(&strs);
	return r;
}

/* Walks fd's records: pass 1 (fn NULL) finds the valid end, the sample
 * count and the last ack; pass 2 replays samples from info->settled on. */
static int walk(int fd, uint64_t size, diskbuf_replay_fn fn, void *arg, struct diskbuf_info *info)
{
	unsigned char *buf = NULL;
	uint64_t off = 0, index = 0, skip = info->settled;
	int r = 0;

	while (off + HEADER_BYTES <= size) {
		uint32_t h[4];
		struct cur c;
		unsigned char *nb;

		if (pread(fd, h, HEADER_BYTES, (off_t)off) != HEADER_BYTES)
			break;
		if (h[0] != MAGIC || (h[1] != T_DATA && h[1] != T_ACK) || h[2] > RECORD_MAX ||
		    off + HEADER_BYTES + h[2] > size)
			break;
		nb = realloc(buf, h[2] ? h[2] : 1);
		if (!nb) {
			r = -ENOMEM;
			break;
		}
		buf = nb;
		if (pread(fd, buf, h[2], (off_t)(off + HEADER_BYTES)) != (ssize_t)h[2])
			break;
		if (crc32c(crc32c(0, h, 12), buf, h[2]) != h[3])
			break;
		c = (struct cur){ buf, buf + h[2] };
		if (h[1] == T_ACK) {
			uint64_t a;

			if (get(&c, &a, 8) < 0)
				break;
			if (!fn)
				info->settled = a;
		} else {
			uint64_t before = index;
			int rr = replay_data(&c, &index, fn ? skip : UINT64_MAX, fn, arg);

			if (rr == -EBADMSG) {
				index = before;
				break;
			}
			if (rr < 0) {
				r = rr;
				break;
			}
		}
		off += HEADER_BYTES + h[2];
	}
	free(buf);
	if (!fn) {
		info->samples = index;
		info->valid_bytes = off;
		info->torn_bytes = size - off;
		if (info->settled > index)
			info->settled = index;
	}
	return r;
}

int diskbuf_scan(const char *path, diskbuf_replay_fn fn, void *arg, struct diskbuf_info *info)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*info = (struct diskbuf_info){ 0 };
	r = walk(fd, (uint64_t)st.st_size, NULL, NULL, info);
	if (r == 0 && fn)
		r = walk(fd, info->valid_bytes, fn, arg, info);
	close(fd);
	return r;
}

int diskbuf_open(const char *path, uint64_t max_bytes, diskbuf_replay_fn fn, void *arg,
		 struct diskbuf **ret, struct diskbuf_info *info)
{
	struct diskbuf *b = calloc(1, sizeof(*b));
	struct stat st;
	int r;

	if (!b)
		return -ENOMEM;
	b->max = max_bytes;
	b->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (b->fd < 0 || fstat(b->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	*info = (struct diskbuf_info){ 0 };
	r = walk(b->fd, (uint64_t)st.st_size, NULL, NULL, info);
	if (r == 0)
		r = walk(b->fd, info->valid_bytes, fn, arg, info);
	if (r < 0)
		goto fail;
	if (info->torn_bytes && ftruncate(b->fd, (off_t)info->valid_bytes) < 0) {
		r = -errno;
		goto fail;
	}
	b->size = info->valid_bytes;
	*ret = b;
	return 0;
fail:
	if (b->fd >= 0)
		close(b->fd);
	strbuf_done(&b->rec);
	free(b);
	return r;
}

struct diskbuf *diskbuf_free(struct diskbuf *b)
{
	if (b) {
		fdatasync(b->fd);
		close(b->fd);
		strbuf_done(&b->rec);
		free(b);
	}
	return NULL;
}
