/* SPDX-License-Identifier: MIT */
/* libgengc's telemetry page (gc/telemetry.c): the file, its contents after GCs, the ring, names, queues, off, fork. */
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gengc.h"
#include "gengc_telemetry.h"
#include "test.h"

/* A copy of the heap's page, read through its descriptor as the agent would
 * (pread, not the mapping). */
static int read_page(struct gengc_heap *h, struct gengc_telemetry_page *ret)
{
	int fd = gengc_telemetry_fd(h);

	if (fd < 0)
		return fd;
	return pread(fd, ret, sizeof(*ret), 0) == (ssize_t)sizeof(*ret) ? 0 : -EIO;
}

static struct gengc_heap *new_heap(void)
{
	struct gengc_options o;

	gengc_options_init(&o);
	o.verify = 1;
	return gengc_heap_new(&o);
}

static void test_page_is_a_sealed_memfd(void)
{
	struct gengc_heap *h = new_heap(), *h2 = new_heap();
	struct gengc_telemetry_page p, p2;
	char path[64], link[256] = "", comm[17] = "";
	struct stat st;
	int fd;
	ssize_t n;

	REQUIRE(h && h2);
	fd = gengc_telemetry_fd(h);
	REQUIRE(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	CHECK(n > 0);
	CHECK_STR(link, "/memfd:gengc-stats (deleted)");
	CHECK_EQ(fcntl(fd, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
	CHECK(ftruncate(fd, 4096) < 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == GENGC_TELEMETRY_SIZE);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	REQUIRE(read_page(h, &p) == 0 && read_page(h2, &p2) == 0);
	CHECK(memcmp(p.magic, GENGC_TELEMETRY_MAGIC, 8) == 0);
	CHECK_EQ(p.version, GENGC_TELEMETRY_VERSION);
	CHECK_EQ(p.size, GENGC_TELEMETRY_SIZE);
	CHECK_EQ(p.protocol, (uint32_t)GENGC_TELEMETRY_SHARED);
	CHECK_EQ(p.pid, (uint32_t)getpid());
	CHECK(p.start_time > 0);
	CHECK(p.seq > 0 && p.seq % 2 == 0);
	CHECK_U64(p.seq_end, p.seq);
	prctl(PR_GET_NAME, comm);
	CHECK_STR(p.name, comm);
	CHECK(p.heap_id != p2.heap_id);
	CHECK_EQ(p.n_spaces, 3u);
	CHECK_STR(p.spaces[0].name, "new_space");
	CHECK_STR(p.spaces[1].name, "old_space");
	CHECK_STR(p.spaces[2].name, "large_object_space");
	CHECK_EQ(p.n_kinds, 3u);
	CHECK_STR(p.kinds[0].name, "scavenge");
	CHECK_STR(p.kinds[1].name, "mark_sweep");
	CHECK_STR(p.kinds[2].name, "mark_compact");
	CHECK_U64(p.gc_seq, 0);
	gengc_heap_free(h2);
	gengc_heap_free(h);
}

static void test_page_after_gc_equals_the_stats(void)
{
	struct gengc_heap *h = new_heap();
	struct gengc_telemetry_page p;
	struct gengc_stats st;
	void **keep;

	REQUIRE(h);
	struct gengc_type t = { .name = "cell", .size = 16, .flags = GENGC_TYPE_ALL_POINTERS };
	uint32_t cell;

	REQUIRE(gengc_type_register(h, &t, &cell) == 0);
	keep = gengc_handle(h, NULL);
	for (int i = 0; i < 80000; i++) {       /* a list of a third of them survives */
		void **o = gengc_alloc(h, cell);

		if (i % 3 == 0) {
			gengc_write(h, o, &o[0], *keep);
			*keep = o;
		}
	}
	void **big = gengc_handle(h, gengc_alloc_raw(h, 300 * 1024));  /* a large object */

	(void)big;
	gengc_adjust_external(h, 12345);
	REQUIRE(gengc_collect(h, GENGC_GC_MARK_SWEEP) == 0);
	REQUIRE(read_page(h, &p) == 0);
	REQUIRE(gengc_stats_read(h, &st) == 0);
	for (int s = 0; s < GENGC_SPACES; s++) {
		CHECK_U64(p.spaces[s].size_bytes, st.space[s].space_size);
		CHECK_U64(p.spaces[s].used_bytes, st.space[s].space_used_size);
		CHECK_U64(p.spaces[s].available_bytes, st.space[s].space_available_size);
		CHECK_U64(p.spaces[s].physical_bytes, st.space[s].physical_space_size);
	}
	CHECK_U64(p.heap_total_bytes, st.memory.heap_total);
	CHECK_U64(p.heap_used_bytes, st.memory.heap_used);
	CHECK_U64(p.heap_size_limit_bytes, st.heap.heap_size_limit);
	CHECK_U64(p.external_bytes, 12345);
	CHECK_U64(p.full_gcs, st.full_gcs);
	CHECK(st.full_gcs >= 1);
	CHECK_U64(p.gc_seq, st.full_gcs);
	for (int k = 0; k < GENGC_GC_KINDS; k++) {
		uint64_t sum = 0;

		CHECK_U64(p.kinds[k].count, st.gc[k].count);
		CHECK_U64(p.kinds[k].pause_total_ns, st.gc[k].total_pause_ns);
		for (int b = 0; b < GENGC_TELEMETRY_BUCKETS; b++)
			sum += p.kinds[k].pause_histogram[b];
		CHECK_U64(sum, p.kinds[k].count);
	}
	CHECK_U64(p.promoted_bytes, st.gc[0].bytes_promoted + st.gc[1].bytes_promoted + st.gc[2].bytes_promoted);
	CHECK(p.promoted_bytes > 0);
	CHECK_U64(p.ring[p.gc_seq % 32].seq, p.gc_seq);
	CHECK_U64(p.ring[p.gc_seq % 32].old_used_after_bytes, st.old_used_after_full_gc);
	CHECK(p.ring[p.gc_seq % 32].pause_ns > 0);
	CHECK_U64(p.seq_end, p.seq);
	gengc_heap_free(h);
}

static void test_ring_keeps_the_last_32(void)
{
	struct gengc_heap *h = new_heap();
	struct gengc_telemetry_page p;

	REQUIRE(h);
	for (int i = 0; i < 40; i++)
		REQUIRE(gengc_collect(h, i % 2 ? GENGC_GC_MARK_COMPACT : GENGC_GC_MARK_SWEEP) == 0);
	REQUIRE(read_page(h, &p) == 0);
	CHECK_U64(p.gc_seq, 40);
	for (uint64_t s = 9; s <= 40; s++) {
		CHECK_U64(p.ring[s % 32].seq, s);
		if (s > 9)
			CHECK(p.ring[s % 32].time_ns >= p.ring[(s - 1) % 32].time_ns);
	}
	CHECK_U64(p.kinds[1].count + p.kinds[2].count, 40);
	gengc_heap_free(h);
}

static void test_no_update_per_allocation(void)
{
	struct gengc_heap *h = new_heap();
	struct gengc_telemetry_page a, b;

	REQUIRE(h);
	REQUIRE(read_page(h, &a) == 0);
	for (int i = 0; i < 1000; i++)        /* 64 KiB: far from filling 1 MiB */
		gengc_alloc_raw(h, 56);
	REQUIRE(read_page(h, &b) == 0);
	CHECK_U64(b.seq, a.seq);
	REQUIRE(gengc_collect(h, GENGC_GC_SCAVENGE) == 0);
	REQUIRE(read_page(h, &b) == 0);
	CHECK_U64(b.seq, a.seq + 2);
	CHECK_U64(b.kinds[0].count, a.kinds[0].count + 1);
	CHECK_U64(b.gc_seq, 0);                /* a scavenge adds no full-GC record */
	gengc_heap_free(h);
}

static void test_name_contract(void)
{
	struct gengc_heap *h = new_heap();
	struct gengc_telemetry_page p;
	char name[80];

	REQUIRE(h);
	CHECK_EQ(gengc_telemetry_name(h, ""), -EINVAL);
	CHECK_EQ(gengc_telemetry_name(h, NULL), -EINVAL);
	memset(name, 'n', 64);
	name[64] = 0;
	CHECK_EQ(gengc_telemetry_name(h, name), -EINVAL);
	name[63] = 0;
	CHECK_EQ(gengc_telemetry_name(h, name), 0);
	REQUIRE(read_page(h, &p) == 0);
	CHECK_STR(p.name, name);
	CHECK_EQ(gengc_telemetry_name(h, "checkout"), 0);
	REQUIRE(read_page(h, &p) == 0);
	CHECK_STR(p.name, "checkout");
	CHECK(p.name[8] == 0 && p.name[62] == 0);  /* the longer name's tail is cleared */
	gengc_heap_free(h);
}

static void test_queue_contract(void)
{
	struct gengc_heap *h = new_heap();
	struct gengc_telemetry_page p;
	char name[80];

	REQUIRE(h);
	for (int i = 0; i < 32; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		CHECK_EQ(gengc_queue_report(h, name, (uint64_t)i * 10), 0);
	}
	CHECK_EQ(gengc_queue_report(h, "one-too-many", 1), -ENOSPC);
	CHECK_EQ(gengc_queue_report(h, "q7", 777), 0);  /* a known name still updates */
	memset(name, 'q', 64);
	name[64] = 0;
	CHECK_EQ(gengc_queue_report(h, name, 1), -EINVAL);
	CHECK_EQ(gengc_queue_report(h, "", 1), -EINVAL);
	REQUIRE(read_page(h, &p) == 0);
	CHECK_EQ(p.n_queues, 32u);
	CHECK_STR(p.queues[7].name, "q7");
	CHECK_U64(p.queues[7].depth, 777);
	CHECK_U64(p.queues[31].depth, 310);
	CHECK(p.queues[7].time_ns > 0);
	gengc_heap_free(h);
}

static void test_off_by_option(void)
{
	struct gengc_options o;
	struct gengc_heap *h;

	gengc_options_init(&o);
	CHECK_EQ(o.telemetry, 1u);
	o.telemetry = 0;
	h = gengc_heap_new(&o);
	REQUIRE(h);
	CHECK_EQ(gengc_telemetry_fd(h), -ENODEV);
	CHECK_EQ(gengc_telemetry_name(h, "x"), -ENODEV);
	CHECK_EQ(gengc_queue_report(h, "x", 1), -ENODEV);
	CHECK(gengc_collect(h, GENGC_GC_MARK_SWEEP) == 0);
	gengc_heap_free(h);
}

/* The environment is read once per process: a fresh process answers. */
static int env_off_child(void)
{
	struct gengc_heap *h = gengc_heap_new(NULL);
	int r = h && gengc_telemetry_fd(h) == -ENODEV ? 0 : 1;

	gengc_heap_free(h);
	return r;
}

static void test_off_by_environment(void)
{
	pid_t pid = fork();
	int status = -1;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		setenv("GENGC_TELEMETRY", "0", 1);
		execl("/proc/self/exe", "test_gc_telemetry", "--env-off", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A forked child that collects publishes a page of its own and leaves its
 * parent's alone. */
static void test_fork_child_gets_its_own_page(void)
{
	struct gengc_heap *h = new_heap();
	struct gengc_telemetry_page before, after;
	int pfd[2];
	pid_t pid;
	int status = -1;

	REQUIRE(h && pipe(pfd) == 0);
	REQUIRE(read_page(h, &before) == 0);
	int parent_fd = gengc_telemetry_fd(h);    /* asked in the child, it would be the child's */

	REQUIRE(parent_fd >= 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct gengc_telemetry_page mine;
		struct stat a, b;
		int inherited = dup(parent_fd);         /* the collect closes parent_fd here */
		int ok;

		close(pfd[0]);
		gengc_collect(h, GENGC_GC_MARK_SWEEP);
		ok = read_page(h, &mine) == 0;
		ok |= (mine.pid == (uint32_t)getpid()) << 1 |
		     (mine.heap_id == before.heap_id) << 2 | (mine.gc_seq == 1) << 3 |
		     (fstat(inherited, &a) == 0 && fstat(gengc_telemetry_fd(h), &b) == 0 && a.st_ino != b.st_ino) << 4;
		if (write(pfd[1], &ok, sizeof(ok)) != sizeof(ok))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	int ok = 0;

	CHECK(read(pfd[0], &ok, sizeof(ok)) == sizeof(ok));
	CHECK_EQ(ok, 31);
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(pfd[0]);
	REQUIRE(read_page(h, &after) == 0);
	CHECK_U64(after.seq, before.seq);      /* the child never wrote it */
	CHECK_EQ(after.pid, (uint32_t)getpid());
	CHECK_U64(after.gc_seq, 0);
	gengc_heap_free(h);
}

/* gengc_heap_free() marks the page closed before closing it: a reader
 * holding a descriptor sees a whole page with a zero magic. */
static void test_free_marks_the_page_closed(void)
{
	struct gengc_heap *h = new_heap();
	struct gengc_telemetry_page p;
	int fd;

	REQUIRE(h);
	fd = dup(gengc_telemetry_fd(h));
	REQUIRE(fd >= 0);
	gengc_heap_free(h);
	CHECK(pread(fd, &p, sizeof(p), 0) == (ssize_t)sizeof(p));
	CHECK(memcmp(p.magic, "\0\0\0\0\0\0\0\0", 8) == 0);
	CHECK(p.seq % 2 == 0 && p.seq == p.seq_end);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--env-off") == 0)
		return env_off_child();
	RUN(test_page_is_a_sealed_memfd);
	RUN(test_page_after_gc_equals_the_stats);
	RUN(test_ring_keeps_the_last_32);
	RUN(test_no_update_per_allocation);
	RUN(test_name_contract);
	RUN(test_queue_contract);
	RUN(test_off_by_option);
	RUN(test_off_by_environment);
	RUN(test_fork_child_gets_its_own_page);
	RUN(test_free_marks_the_page_closed);
	return test_done();
}
