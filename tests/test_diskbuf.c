/* SPDX-License-Identifier: MIT */
/* The disk buffer: replay after the last ack, and a file cut at seeded,
 * enumerated offsets or with a flipped byte loses exactly its torn tail. */
#include <fcntl.h>
#include <unistd.h>

#include "diskbuf.h"
#include "series.h"
#include "test.h"

#define RECORDS 24

static char dir[] = "/tmp/test_diskbuf.XXXXXX";

/* What was written: each record's end offset, its samples so far, the ack in force. */
struct written {
	uint64_t end[RECORDS * 2];
	uint64_t samples[RECORDS * 2];
	uint64_t settled[RECORDS * 2];
	size_t n;
};

struct replayed {
	uint64_t n;
	double first, last;
	bool ordered, labels_ok;
};

static int on_sample(void *arg, const char *name, const struct snapshot_label *labels, size_t n,
		     double value, int64_t ts)
{
	struct replayed *r = arg;

	if (r->n == 0)
		r->first = value;
	else if (value != r->last + 1)
		r->ordered = false;
	r->last = value;
	/* A record keeps one timestamp, its first sample's: never later than the value's own. */
	if (strcmp(name, "m_total") != 0 || n != 2 || strcmp(labels[0].value, "a,b c") != 0 ||
	    strcmp(labels[1].key, "pid") != 0 || ts > (int64_t)value / 10 * 1000)
		r->labels_ok = false;
	r->n++;
	return 0;
}

/* Writes RECORDS data records (1..20 samples, seeded) with an ack after every
 * third; sample i has value i. */
static void write_file(const char *path, struct written *w)
{
	struct series_table *t = series_table_new();
	struct snapshot_label l[2] = { { "comm", "a,b c" }, { "pid", "7" } };
	struct series *s = series_intern(t, "m_total", l, 2);
	struct diskbuf *b;
	struct diskbuf_info info;
	uint64_t rng = 42, total = 0, settled = 0;

	REQUIRE(s);
	REQUIRE(diskbuf_open(path, 1 << 20, NULL, NULL, &b, &info) == 0);
	CHECK_U64(info.samples, 0);
	w->n = 0;
	for (int i = 0; i < RECORDS; i++) {
		struct series_sample v[20];
		size_t n = 1 + test_rand(&rng) % 20;

		for (size_t k = 0; k < n; k++)
			v[k] = (struct series_sample){ s, (double)(total + k), (int64_t)((total + k) / 10 * 1000) };
		/* One record holds one timestamp: the first sample's. */
		for (size_t k = 1; k < n; k++)
			v[k].timestamp_ms = v[0].timestamp_ms;
		REQUIRE(diskbuf_append(b, v, n) == 0);
		total += n;
		w->end[w->n] = diskbuf_size(b);
		w->samples[w->n] = total;
		w->settled[w->n] = settled;
		w->n++;
		if (i % 3 == 2) {
			settled = total - n; /* the last record still unsent */
			REQUIRE(diskbuf_ack(b, settled) == 0);
			w->end[w->n] = diskbuf_size(b);
			w->samples[w->n] = total;
			w->settled[w->n] = settled;
			w->n++;
		}
	}
	diskbuf_free(b);
	series_table_free(t);
}

static void copy_prefix(const char *from, const char *to, uint64_t len)
{
	size_t n;
	char *buf = test_slurp(from, &n);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	REQUIRE(buf && fd >= 0 && len <= n);
	CHECK_EQ(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
}

/* The expectation for a file of its first len bytes: the last whole record. */
static void expect(const struct written *w, uint64_t len, uint64_t *end, uint64_t *samples, uint64_t *settled)
{
	*end = *samples = *settled = 0;
	for (size_t i = 0; i < w->n && w->end[i] <= len; i++) {
		*end = w->end[i];
		*samples = w->samples[i];
		*settled = w->settled[i];
	}
}

static void check_open(const char *path, uint64_t want_end, uint64_t want_samples, uint64_t want_settled,
		       uint64_t len)
{
	struct replayed r = { .ordered = true, .labels_ok = true };
	struct diskbuf_info info;
	struct diskbuf *b;

	REQUIRE(diskbuf_open(path, 1 << 20, on_sample, &r, &b, &info) == 0);
	CHECK_U64(info.valid_bytes, want_end);
	CHECK_U64(info.torn_bytes, len - want_end);
	CHECK_U64(info.samples, want_samples);
	CHECK_U64(info.settled, want_settled);
	CHECK_U64(r.n, want_samples - want_settled);
	if (r.n) {
		CHECK(r.first == (double)want_settled);
		CHECK(r.last == (double)(want_samples - 1));
	}
	CHECK(r.ordered);
	CHECK(r.labels_ok);
	CHECK_U64(diskbuf_size(b), want_end);
	diskbuf_free(b);
	/* Cut to the valid part: a second open finds nothing torn. */
	REQUIRE(diskbuf_open(path, 1 << 20, NULL, NULL, &b, &info) == 0);
	CHECK_U64(info.torn_bytes, 0);
	diskbuf_free(b);
}

static void test_whole_file(void)
{
	char path[256];
	struct written w;

	snprintf(path, sizeof(path), "%s/whole.buf", dir);
	write_file(path, &w);
	check_open(path, w.end[w.n - 1], w.samples[w.n - 1], w.settled[w.n - 1], w.end[w.n - 1]);
}

/* Every record boundary and the bytes beside it, and 200 seeded offsets. */
static void test_cut_offsets(void)
{
	char path[256], cut[256];
	struct written w;
	uint64_t rng = 7, size, offsets[RECORDS * 6 + 200];
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/full.buf", dir);
	snprintf(cut, sizeof(cut), "%s/cut.buf", dir);
	write_file(path, &w);
	size = w.end[w.n - 1];
	offsets[n++] = 0;
	for (size_t i = 0; i < w.n; i++) {
		offsets[n++] = w.end[i] - 1;
		offsets[n++] = w.end[i];
		if (w.end[i] + 1 <= size)
			offsets[n++] = w.end[i] + 1;
	}
	for (int i = 0; i < 200; i++)
		offsets[n++] = test_rand(&rng) % (size + 1);
	for (size_t i = 0; i < n && !test_case_failed; i++) {
		uint64_t end, samples, settled;

		copy_prefix(path, cut, offsets[i]);
		expect(&w, offsets[i], &end, &samples, &settled);
		check_open(cut, end, samples, settled, offsets[i]);
		if (test_case_failed)
			printf("  at offset %llu of %llu\n", (unsigned long long)offsets[i], (unsigned long long)size);
	}
}

/* A flipped byte inside record j: records from j on are dropped, counted. */
static void test_flipped_byte(void)
{
	char path[256];
	struct written w;
	size_t len;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/flip.buf", dir);
	write_file(path, &w);
	buf = test_slurp(path, &len);
	REQUIRE(buf && w.n > 10);
	buf[w.end[9] + 20] ^= 0x10; /* inside record 10's payload or header */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	REQUIRE(fd >= 0);
	CHECK_EQ(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
	check_open(path, w.end[9], w.samples[9], w.settled[9], len);
}

static void test_bound(void)
{
	char path[256];
	struct series_table *t = series_table_new();
	struct series *s = series_intern(t, "x", NULL, 0);
	struct series_sample v = { s, 1, 1 };
	struct diskbuf_info info;
	struct diskbuf *b;
	int r = 0, n = 0;

	snprintf(path, sizeof(path), "%s/bound.buf", dir);
	REQUIRE(diskbuf_open(path, 4096, NULL, NULL, &b, &info) == 0);
	while ((r = diskbuf_append(b, &v, 1)) == 0)
		n++;
	CHECK_EQ(r, -ENOSPC);
	CHECK(n > 10);
	CHECK(diskbuf_size(b) <= 4096);
	CHECK_EQ(diskbuf_reset(b), 0);
	CHECK_U64(diskbuf_size(b), 0);
	CHECK_EQ(diskbuf_append(b, &v, 1), 0);
	diskbuf_free(b);
	series_table_free(t);
}

/* What a series can hold is read back whole: as many labels as a
 * histogram bucket has (its sample's and le) and a label value far past
 * 255 bytes (a cgroup path, a command line). The reader once took neither
 * and cut the file there, losing every later record. */
static struct snapshot_label big_labels[SERIES_LABELS_MAX];
static char big_value[3000];
static int on_big(void *arg, const char *name, const struct snapshot_label *labels, size_t n, double value,
		  int64_t ts)
{
	int *ok = arg;

	(void)ts;
	*ok = *ok == 0 && !strcmp(name, "big_bucket") && n == SERIES_LABELS_MAX && value == 7;
	for (size_t i = 0; *ok && i < n; i++)
		*ok = !strcmp(labels[i].key, big_labels[i].key) && !strcmp(labels[i].value, big_labels[i].value);
	return 0;
}

static void test_long_labels(void)
{
	static char keys[SERIES_LABELS_MAX][16];
	char path[256];
	struct series_table *t = series_table_new();
	struct series *s;
	struct diskbuf_info info;
	struct diskbuf *b;
	int ok = 0;

	memset(big_value, 'v', sizeof(big_value) - 1);
	for (int i = 0; i < SERIES_LABELS_MAX; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
		big_labels[i] = (struct snapshot_label){ keys[i], i == 3 ? big_value : "x" };
	}
	s = series_intern(t, "big_bucket", big_labels, SERIES_LABELS_MAX);
	REQUIRE(s);
	snprintf(path, sizeof(path), "%s/big.buf", dir);
	REQUIRE(diskbuf_open(path, 1 << 20, NULL, NULL, &b, &info) == 0);
	REQUIRE(diskbuf_append(b, &(struct series_sample){ s, 7, 1000 }, 1) == 0);
	diskbuf_free(b);
	REQUIRE(diskbuf_open(path, 1 << 20, on_big, &ok, &b, &info) == 0);
	CHECK_U64(info.torn_bytes, 0);
	CHECK_U64(info.samples, 1);
	CHECK(ok);
	diskbuf_free(b);
	series_table_free(t);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(test_whole_file);
	RUN(test_cut_offsets);
	RUN(test_flipped_byte);
	RUN(test_bound);
	RUN(test_long_labels);
	test_rm_rf(dir);
	return test_done();
}
