/* SPDX-License-Identifier: MIT */
/* libgengc's USDT probes (gc/probes.h): in the ELF notes with semaphores, off untraced, counted when traced.
 *
 * The test traces itself the way libbpf's bpf_program__attach_usdt() does:
 * it reads the probe's location and semaphore from its own .note.stapsdt,
 * opens a uprobe perf event at that location with the semaphore as the
 * reference counter (the kernel then raises the semaphore while the event
 * exists), and counts hits. Needs CAP_PERFMON (or root) and the uprobe PMU;
 * skipped without them.
 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gengc.h"
#include "test.h"
#include "usdt_self.h"

static void test_probes_in_the_notes(void)
{
	static const char *const names[] = { "gc__start", "gc__done", "heap__limit" };
	size_t len;
	char *img = map_self(&len);

	REQUIRE(img);
	for (int i = 0; i < 3; i++) {
		struct probe p;

		CHECK_EQ(find_probe(img, names[i], &p), 0);
		CHECK(p.sem != 0);              /* semaphore-guarded */
		CHECK(file_offset(img, p.pc) != 0);
	}
	munmap(img, len);
}

static int uprobe_open(uint64_t offset, uint64_t ref_ctr_offset)
{
	char type_s[16] = "";
	struct perf_event_attr attr = { .size = sizeof(attr) };
	int fd = open("/sys/bus/event_source/devices/uprobe/type", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, type_s, sizeof(type_s) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -ENOENT;
	attr.type = (uint32_t)atoi(type_s);
	attr.config = ref_ctr_offset << 32;
	attr.config1 = (uint64_t)(uintptr_t)"/proc/self/exe";
	attr.config2 = offset;
	attr.disabled = 1;
	fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void test_gc_done_counted_when_traced(void)
{
	struct gengc_heap *h = gengc_heap_new(NULL);
	volatile unsigned short *sem;
	struct probe p;
	size_t len;
	char *img = map_self(&len);
	uint64_t hits = 0;
	int fd;

	REQUIRE(h && img);
	REQUIRE(find_probe(img, "gc__done", &p) == 0);
	dl_iterate_phdr(first_object, NULL);
	sem = (volatile unsigned short *)(uintptr_t)(bias + p.sem);
	CHECK_EQ(*sem, 0);                      /* untraced: the arguments are not even computed */
	fd = uprobe_open(file_offset(img, p.pc), file_offset(img, p.sem));
	munmap(img, len);
	if (fd < 0) {
		gengc_heap_free(h);
		TEST_SKIP("no uprobe perf events here (needs CAP_PERFMON and the uprobe PMU)");
	}
	CHECK(*sem >= 1);                       /* the kernel raised it for us */
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	for (int i = 0; i < 5; i++)
		gengc_collect(h, i % 2 ? GENGC_GC_SCAVENGE : GENGC_GC_MARK_SWEEP);
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	CHECK(read(fd, &hits, sizeof(hits)) == sizeof(hits));
	CHECK_U64(hits, 5);
	close(fd);                              /* the kernel lowers the semaphore when it
	                                           frees the event, not necessarily by now */
	gengc_heap_free(h);
}

int main(void)
{
	RUN(test_probes_in_the_notes);
	RUN(test_gc_done_counted_when_traced);
	return test_done();
}
