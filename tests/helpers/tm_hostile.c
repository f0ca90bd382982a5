/* SPDX-License-Identifier: MIT */
/* Hostile telemetry pages for tests/it_heap.sh: each mode writes one kind of bad page and keeps it open.
 *
 *   tm_hostile MODE READY_FILE [DIR]
 * random   8 KiB of random bytes in a gengc-stats memfd         (magic)
 * size     a good header on a 4 KiB memfd                      (size)
 * version  a good page that says version 9                     (version)
 * never    a page whose writer never finishes (seq stays odd)  (torn)
 * absurd   a whole page whose old space uses more than its size (absurd)
 * torn     a pwrite-protocol page on tmpfs, seq != seq_end     (torn)
 * pwrite   a good pwrite-protocol page on tmpfs in DIR          (exported)
 * regress  a good page whose GC count goes back on SIGUSR1      (regressed)
 * Pages are named "hostile-MODE"; the process then waits to be killed.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gengc_telemetry.h"

static struct gengc_telemetry_page page;
static int page_fd = -1;
static char done_path[4200];            /* READY_FILE.2: the regression is on the page */

/* regress: the scavenge count drops from 3 to 1 in a whole, even page. */
static void on_usr1(int sig)
{
	(void)sig;
	page.kinds[0].count = 1;
	page.kinds[0].pause_histogram[2] = 1;
	page.seq = page.seq_end = page.seq + 2;
	if (pwrite(page_fd, &page, sizeof(page), 0) < 0)
		_exit(1);
	close(open(done_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
}

/* A page that passes every check. */
static void good_page(const char *mode, uint32_t protocol)
{
	static const char *const spaces[] = { "new_space", "old_space", "code_space" };

	memset(&page, 0, sizeof(page));
	memcpy(page.magic, GENGC_TELEMETRY_MAGIC, 8);
	page.version = GENGC_TELEMETRY_VERSION;
	page.size = GENGC_TELEMETRY_SIZE;
	page.protocol = protocol;
	page.pid = (uint32_t)getpid();
	page.heap_id = 1;
	page.seq = page.seq_end = 2;
	snprintf(page.name, sizeof(page.name), "hostile-%s", mode);
	page.heap_total_bytes = 1 << 20;
	page.heap_used_bytes = 1 << 19;
	page.n_spaces = 3;
	for (int i = 0; i < 3; i++) {
		snprintf(page.spaces[i].name, sizeof(page.spaces[i].name), "%s", spaces[i]);
		page.spaces[i].size_bytes = 4096u * (unsigned)(i + 1);
		page.spaces[i].used_bytes = 1000u * (unsigned)(i + 1);
	}
	page.n_kinds = 1;
	snprintf(page.kinds[0].name, sizeof(page.kinds[0].name), "scavenge");
	page.kinds[0].count = 3;
	page.kinds[0].pause_histogram[2] = 3;
	page.kinds[0].pause_total_ns = 30000;
	page.kinds[0].pause_max_ns = 12000;
}

static int page_memfd(size_t size)
{
	int fd = memfd_create(GENGC_TELEMETRY_MEMFD_NAME, MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		exit(1);
	return fd;
}

int main(int argc, char **argv)
{
	const char *mode;
	int fd;
	FILE *ready;

	if (argc < 3)
		return 64;
	mode = argv[1];
	if (strcmp(mode, "random") == 0) {
		uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();

		for (size_t i = 0; i < sizeof(page); i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			((unsigned char *)&page)[i] = (unsigned char)x;
		}
		fd = page_memfd(sizeof(page));
	} else if (strcmp(mode, "size") == 0) {
		good_page(mode, GENGC_TELEMETRY_SHARED);
		fd = page_memfd(4096);
		if (pwrite(fd, &page, 4096, 0) != 4096)
			return 1;
		goto ready;
	} else if (strcmp(mode, "version") == 0) {
		good_page(mode, GENGC_TELEMETRY_SHARED);
		page.version = 9;
		fd = page_memfd(sizeof(page));
	} else if (strcmp(mode, "never") == 0) {
		good_page(mode, GENGC_TELEMETRY_SHARED);
		page.seq = 3;           /* odd: an update that never ends */
		fd = page_memfd(sizeof(page));
	} else if (strcmp(mode, "regress") == 0) {
		good_page(mode, GENGC_TELEMETRY_SHARED);
		fd = page_memfd(sizeof(page));
		page_fd = fd;
		snprintf(done_path, sizeof(done_path), "%s.2", argv[2]);
		signal(SIGUSR1, on_usr1);
	} else if (strcmp(mode, "absurd") == 0) {
		good_page(mode, GENGC_TELEMETRY_SHARED);
		page.spaces[1].used_bytes = page.spaces[1].size_bytes + 1;
		fd = page_memfd(sizeof(page));
	} else if (strcmp(mode, "torn") == 0 || strcmp(mode, "pwrite") == 0) {
		char path[4096];

		if (argc < 4)
			return 64;
		good_page(mode, GENGC_TELEMETRY_PWRITE);
		if (strcmp(mode, "torn") == 0)
			page.seq_end = 4;       /* the body of the next update, not its start */
		snprintf(path, sizeof(path), "%s/" GENGC_TELEMETRY_FILE_PREFIX "XXXXXX", argv[3]);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0 || unlink(path) < 0)
			return 1;
	} else {
		return 64;
	}
	if (pwrite(fd, &page, sizeof(page), 0) != (ssize_t)sizeof(page))
		return 1;
ready:
	ready = fopen(argv[2], "w");
	if (!ready)
		return 1;
	fprintf(ready, "ready %d\n", fd);
	fclose(ready);
	for (;;)
		pause();
}
