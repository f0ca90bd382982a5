/* SPDX-License-Identifier: MIT */
/* The telemetry page reader (collectors/telemetry.c): every reason on made-up pages, the consistent read, regressions. */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "telemetry.h"
#include "test.h"

static struct gengc_telemetry_page good(void)
{
	struct gengc_telemetry_page p;

	memset(&p, 0, sizeof(p));
	memcpy(p.magic, GENGC_TELEMETRY_MAGIC, 8);
	p.version = GENGC_TELEMETRY_VERSION;
	p.size = GENGC_TELEMETRY_SIZE;
	p.protocol = GENGC_TELEMETRY_SHARED;
	p.pid = 42;
	p.seq = p.seq_end = 10;
	p.heap_id = 1;
	strcpy(p.name, "app");
	p.heap_total_bytes = 100;
	p.heap_used_bytes = 50;
	p.n_spaces = 2;
	strcpy(p.spaces[0].name, "new_space");
	p.spaces[0].size_bytes = 64;
	p.spaces[0].used_bytes = 10;
	strcpy(p.spaces[1].name, "old_space");
	p.n_kinds = 2;
	strcpy(p.kinds[0].name, "scavenge");
	p.kinds[0].count = 5;
	p.kinds[0].pause_histogram[3] = 5;
	p.kinds[0].pause_total_ns = 50;
	p.kinds[0].pause_max_ns = 20;
	strcpy(p.kinds[1].name, "mark_sweep");
	p.kinds[1].count = 2;
	p.kinds[1].pause_histogram[9] = 2;
	p.full_gcs = 2;
	p.gc_seq = 2;
	p.ring[1] = (struct gengc_telemetry_record){ 1, 100, 1000, 7 };
	p.ring[2] = (struct gengc_telemetry_record){ 2, 200, 1100, 8 };
	p.n_queues = 1;
	strcpy(p.queues[0].name, "jobs");
	p.queues[0].depth = 3;
	return p;
}

static enum telemetry_reason parse(const struct gengc_telemetry_page *p)
{
	struct gengc_telemetry_page out;

	return telemetry_parse(p, sizeof(*p), &out);
}

static void test_good_page_taken_whole(void)
{
	struct gengc_telemetry_page p = good(), out;

	memset(&out, 0xa5, sizeof(out));
	CHECK_EQ(telemetry_parse(&p, sizeof(p), &out), TELEMETRY_OK);
	CHECK(memcmp(&p, &out, sizeof(p)) == 0);
	p.protocol = GENGC_TELEMETRY_PWRITE;
	CHECK_EQ(parse(&p), TELEMETRY_OK);
	p.version = 1;                  /* libgengc builds before version 2 */
	CHECK_EQ(parse(&p), TELEMETRY_OK);
	p.version = 2;
	p.flags = GENGC_TELEMETRY_FLAGS_ALL;
	p.external_bytes = 100;
	p.array_buffers_bytes = 100;
	p.loop_delay_p50_ns = p.loop_delay_p99_ns = 10000000;
	strcpy(p.snapshot_socket, "memagent-node.42.1");
	p.snapshot_status = GENGC_TELEMETRY_SNAPSHOT_WRITTEN;
	strcpy(p.snapshot_path, "/var/tmp/a.heapsnapshot");
	p.snapshots = 1;
	CHECK_EQ(parse(&p), TELEMETRY_OK);
	p.spaces[0].available_bytes = 65;       /* V8: new_large_object_space */
	CHECK_EQ(parse(&p), TELEMETRY_OK);
}

/* Each mutation of a good page and the reason it must give. */
static void test_each_reason(void)
{
	struct gengc_telemetry_page p, out;
	char small[100];

#define EXPECT(mutation, reason) do { p = good(); mutation; CHECK_EQ(parse(&p), reason); } while (0)
	EXPECT(p.magic[0] = 'g', TELEMETRY_MAGIC);
	EXPECT(p.version = 3, TELEMETRY_VERSION);
	EXPECT(p.version = 0, TELEMETRY_VERSION);
	EXPECT(p.protocol = 3, TELEMETRY_VERSION);
	EXPECT(p.size = 4096, TELEMETRY_SIZE);
	EXPECT(p.n_spaces = 17, TELEMETRY_SIZE);
	EXPECT(p.n_kinds = 9, TELEMETRY_SIZE);
	EXPECT(p.n_queues = 33, TELEMETRY_SIZE);
	EXPECT(p.seq = 11, TELEMETRY_TORN);
	EXPECT(p.seq_end = 12, TELEMETRY_TORN);
	EXPECT(p.pid = 0, TELEMETRY_OWNER);
	EXPECT(p.name[0] = 0, TELEMETRY_NAME);
	EXPECT(memset(p.name, 'x', sizeof(p.name)), TELEMETRY_NAME);
	EXPECT(p.name[10] = 'y', TELEMETRY_NAME);          /* garbage after the NUL */
	EXPECT(strcpy(p.spaces[1].name, "new_space"), TELEMETRY_NAME);
	EXPECT(strcpy(p.kinds[1].name, "scavenge"), TELEMETRY_NAME);
	EXPECT(p.queues[0].name[0] = 0, TELEMETRY_NAME);
	EXPECT(p.spaces[0].used_bytes = 65, TELEMETRY_ABSURD);
	EXPECT(p.heap_used_bytes = 101, TELEMETRY_ABSURD);
	EXPECT(p.kinds[0].count = 6, TELEMETRY_ABSURD);     /* histogram sums to 5 */
	EXPECT(p.kinds[0].pause_max_ns = 51, TELEMETRY_ABSURD);
	EXPECT(p.kinds[0].pause_histogram[0] = UINT64_MAX, TELEMETRY_ABSURD);
	EXPECT(p.ring[5].seq = 2, TELEMETRY_ABSURD);         /* record 2 in slot 5 */
	EXPECT(p.ring[3].seq = 3, TELEMETRY_ABSURD);         /* newer than gc_seq */
	EXPECT(p.ring[2].seq = 0; p.ring[2].time_ns = 0; p.ring[2].old_used_after_bytes = 0;
	       p.ring[2].pause_ns = 0, TELEMETRY_ABSURD);    /* the newest is missing */
	EXPECT(p.ring[4].pause_ns = 1, TELEMETRY_ABSURD);    /* an unused slot with data */
	EXPECT(p.gc_seq = 34; p.full_gcs = 40; p.ring[2].seq = 34, TELEMETRY_ABSURD); /* record 1 is too old */
	EXPECT(p.gc_seq = 3; p.ring[3] = p.ring[2]; p.ring[3].seq = 3, TELEMETRY_ABSURD); /* gc_seq > full_gcs */
	EXPECT(p.reserved1 = 1, TELEMETRY_ABSURD);
	EXPECT(p.reserved3 = 1, TELEMETRY_ABSURD);
	EXPECT(p.reserved4 = 1, TELEMETRY_ABSURD);
	EXPECT(p.reserved2[383] = 1, TELEMETRY_ABSURD);
	/* Version 2's fields: zero unless flagged, sane when flagged. */
	EXPECT(p.flags = 8, TELEMETRY_ABSURD);
	EXPECT(p.loop_delay_p99_ns = 5, TELEMETRY_ABSURD);  /* not flagged */
	EXPECT(p.flags = GENGC_TELEMETRY_HAS_LOOP_DELAY; p.loop_delay_p50_ns = 6; p.loop_delay_p99_ns = 5,
	       TELEMETRY_ABSURD);
	EXPECT(p.array_buffers_bytes = 1, TELEMETRY_ABSURD);
	EXPECT(p.flags = GENGC_TELEMETRY_HAS_ARRAY_BUFFERS; p.external_bytes = 9; p.array_buffers_bytes = 10,
	       TELEMETRY_ABSURD);
	EXPECT(p.snapshot_status = 2, TELEMETRY_ABSURD);     /* not allowed */
	EXPECT(p.flags = GENGC_TELEMETRY_SNAPSHOT_ALLOWED, TELEMETRY_NAME);  /* no socket name */
	EXPECT(p.flags = GENGC_TELEMETRY_SNAPSHOT_ALLOWED; strcpy(p.snapshot_socket, "s");
	       memset(p.snapshot_path, 'x', sizeof(p.snapshot_path)), TELEMETRY_NAME);
	EXPECT(p.flags = GENGC_TELEMETRY_SNAPSHOT_ALLOWED; strcpy(p.snapshot_socket, "s");
	       p.snapshot_status = GENGC_TELEMETRY_SNAPSHOT_WRITTEN, TELEMETRY_ABSURD); /* no path */
	EXPECT(p.flags = GENGC_TELEMETRY_SNAPSHOT_ALLOWED; strcpy(p.snapshot_socket, "s");
	       p.snapshot_status = 5, TELEMETRY_ABSURD);
	/* Version 1 keeps version 2's fields reserved. */
	EXPECT(p.version = 1; p.flags = GENGC_TELEMETRY_HAS_LOOP_DELAY, TELEMETRY_ABSURD);
	EXPECT(p.version = 1; p.snapshot_token[3] = 1, TELEMETRY_ABSURD);
	EXPECT(p.queues[5].depth = 1, TELEMETRY_ABSURD);     /* past n_queues */
#undef EXPECT
	p = good();
	CHECK_EQ(telemetry_parse(&p, sizeof(p) - 1, &out), TELEMETRY_SIZE);
	CHECK_EQ(telemetry_parse(&p, 7, &out), TELEMETRY_SIZE);
	memcpy(small, &p, sizeof(small));
	CHECK_EQ(telemetry_parse(small, sizeof(small), &out), TELEMETRY_SIZE);
	CHECK_STR(telemetry_reason_name(TELEMETRY_TORN), "torn");
	CHECK_STR(telemetry_reason_name(TELEMETRY_REASON_MAX), "unknown");
}

static void test_regressed(void)
{
	struct gengc_telemetry_page p = good(), q;
	struct telemetry_counters c;

	telemetry_counters_of(&p, &c);
	q = p;
	CHECK(!telemetry_regressed(&c, &q));
	q.kinds[0].count = 4;
	CHECK(telemetry_regressed(&c, &q));
	q = p;
	q.gc_seq = 1;
	CHECK(telemetry_regressed(&c, &q));
	q = p;
	q.promoted_bytes = 0;
	p.promoted_bytes = 5;
	telemetry_counters_of(&p, &c);
	CHECK(telemetry_regressed(&c, &q));
	/* Kinds match by name: a reordered page is fine, a dropped kind is not. */
	p = good();
	telemetry_counters_of(&p, &c);
	q = p;
	q.kinds[0] = p.kinds[1];
	q.kinds[1] = p.kinds[0];
	CHECK(!telemetry_regressed(&c, &q));
	q.n_kinds = 1;
	CHECK(telemetry_regressed(&c, &q));
}

static int memfd_with(const struct gengc_telemetry_page *p, size_t size)
{
	int fd = memfd_create("gengc-stats", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		abort();
	if (pwrite(fd, p, size < sizeof(*p) ? size : sizeof(*p), 0) < 0)
		abort();
	return fd;
}

static void test_read_from_a_file(void)
{
	struct gengc_telemetry_page p = good(), out;
	int fd;

	fd = memfd_with(&p, sizeof(p));
	CHECK_EQ(telemetry_read(fd, &out), TELEMETRY_OK);
	CHECK_STR(out.name, "app");
	close(fd);
	fd = memfd_with(&p, 4096);
	CHECK_EQ(telemetry_read(fd, &out), TELEMETRY_SIZE);
	close(fd);
	p.seq = 11;                     /* a writer that never finishes */
	fd = memfd_with(&p, sizeof(p));
	CHECK_EQ(telemetry_read(fd, &out), TELEMETRY_TORN);
	close(fd);
	p = good();
	p.magic[1] = 0;                 /* random bytes are "magic", not "torn" */
	p.seq = 13;
	fd = memfd_with(&p, sizeof(p));
	CHECK_EQ(telemetry_read(fd, &out), TELEMETRY_MAGIC);
	close(fd);
	CHECK_EQ(telemetry_read(-1, &out), TELEMETRY_UNREADABLE);
	p = good();
	memset(p.magic, 0, sizeof(p.magic));   /* closed by its writer: not an error */
	fd = memfd_with(&p, sizeof(p));
	CHECK_EQ(telemetry_read(fd, &out), TELEMETRY_CLOSED);
	close(fd);
}

/* The fuzz corpus is written from docs/telemetry.md's table by a script,
 * not from the C struct: parsing it checks the header against the doc. */
static void test_corpus_pages_written_from_the_doc(void)
{
	static const struct { const char *file; enum telemetry_reason want; } cases[] = {
		{ "tests/fuzz/corpus/page/libgengc.page", TELEMETRY_OK },
		{ "tests/fuzz/corpus/page/node-like.page", TELEMETRY_OK },
		{ "tests/fuzz/corpus/page/pwrite.page", TELEMETRY_OK },
		{ "tests/fuzz/corpus/page/ring-wrapped.page", TELEMETRY_OK },
		{ "tests/fuzz/corpus/page/torn.page", TELEMETRY_TORN },
		{ "tests/fuzz/corpus/page/random.page", TELEMETRY_MAGIC },
		{ "tests/fuzz/corpus/page/short.page", TELEMETRY_SIZE },
	};
	struct gengc_telemetry_page out;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0;
		char *buf = test_slurp(cases[i].file, &len);

		REQUIRE(buf);
		CHECK_EQ(telemetry_parse(buf, len, &out), cases[i].want);
		if (cases[i].want == TELEMETRY_OK) {
			CHECK_EQ(out.pid, 4242u);
			CHECK_STR(out.spaces[0].name, "new_space");
			CHECK_U64(out.queues[0].depth, strstr(cases[i].file, "node") ? 0 : 7);
		}
		free(buf);
	}
	CHECK_U64(out.gc_seq, 40);          /* the last OK case: the wrapped ring */
}

/* A page clients/node/lib/page.js wrote (the JavaScript writer, not this
 * struct): version 2, every flag (snapshots allowed), V8's spaces. */
static void test_corpus_page_of_memagent_node(void)
{
	struct gengc_telemetry_page out;
	size_t len = 0;
	char *buf = test_slurp("tests/fuzz/corpus/page/memagent-node.page", &len);

	REQUIRE(buf);
	CHECK_EQ(telemetry_parse(buf, len, &out), TELEMETRY_OK);
	free(buf);
	CHECK_EQ(out.version, 2u);
	CHECK_EQ(out.protocol, (uint32_t)GENGC_TELEMETRY_PWRITE);
	CHECK_EQ(out.flags, (uint32_t)GENGC_TELEMETRY_FLAGS_ALL);
	CHECK(strncmp(out.snapshot_socket, "memagent-node.", 14) == 0);
	CHECK_EQ(out.snapshot_status, (uint32_t)GENGC_TELEMETRY_SNAPSHOT_NONE);
	CHECK_STR(out.name, "corpus-app");
	CHECK_STR(out.spaces[0].name, "read_only_space");
	CHECK_STR(out.spaces[2].name, "old_space");
	CHECK(out.spaces[2].used_bytes > 0);
	CHECK_STR(out.kinds[0].name, "scavenge");
	CHECK_STR(out.queues[0].name, "jobs");
	CHECK_U64(out.queues[0].depth, 4);
	CHECK(out.array_buffers_bytes <= out.external_bytes);
}

int main(void)
{
	RUN(test_good_page_taken_whole);
	RUN(test_each_reason);
	RUN(test_regressed);
	RUN(test_read_from_a_file);
	RUN(test_corpus_pages_written_from_the_doc);
	RUN(test_corpus_page_of_memagent_node);
	return test_done();
}
