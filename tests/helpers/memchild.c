/* SPDX-License-Identifier: MIT */
/* memchild: a child process that allocates, touches and frees memory on command, for the BPF tests.
 *
 * Command mode (no arguments): reads one command per line on stdin, acts,
 * and answers "ok" (or "err") on stdout, so the parent synchronises on the
 * answer instead of sleeping:
 *   t N   map N MiB of private anonymous memory and write every page
 *   s N   map N MiB of a memfd shared and write every page (RssShmem)
 *   r N   write N MiB to an unlinked file in /tmp, map it and read every
 *         page (RssFile)
 *   p N   start N threads; each touches 16 pages of its own and blocks
 *   f     unmap everything t, s and r mapped
 *   x     exit 0
 * One-shot modes:
 *   --touch N      touch N MiB like "t N", then exit 0
 *   --hog          touch 1 MiB after 1 MiB until killed (the OOM test); gives
 *                  up with status 3 after 2 GiB, so a hog that escaped its
 *                  memory cgroup cannot take the machine down
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define MAX_MAPS 64
#define MAX_THREADS 64

struct mapping {
	char *p;
	size_t len;
};

static struct mapping maps[MAX_MAPS];
static int nmaps;
static int block_pipe[2] = { -1, -1 };

static void touch(char *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);

	for (size_t i = 0; i < len; i += (size_t)page)
		((volatile char *)p)[i] = 1;
}

static long read_all(const char *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE), sum = 0;

	for (size_t i = 0; i < len; i += (size_t)page)
		sum += ((const volatile char *)p)[i];
	return sum;
}

static int keep(char *p, size_t len)
{
	if (p == MAP_FAILED)
		return -1;
	if (nmaps == MAX_MAPS) {
		munmap(p, len);
		return -1;
	}
	maps[nmaps].p = p;
	maps[nmaps].len = len;
	nmaps++;
	return 0;
}

static int anon(size_t mib)
{
	size_t len = mib * MIB;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (keep(p, len) < 0)
		return -1;
	touch(p, len);
	return 0;
}

static int shmem(size_t mib)
{
	size_t len = mib * MIB;
	int fd = memfd_create("memchild", MFD_CLOEXEC);
	char *p;

	if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (keep(p, len) < 0)
		return -1;
	touch(p, len);
	return 0;
}

/* An unlinked file in /tmp: O_TMPFILE where the filesystem has it, else a
 * named file unlinked at once (overlayfs before 6.6 has no O_TMPFILE, and
 * the kernel matrix's /tmp is an overlay). */
static int tmpfile_fd(void)
{
	char name[] = "/tmp/memchild.XXXXXX";
	int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	fd = mkostemp(name, O_CLOEXEC);
	if (fd >= 0)
		unlink(name);
	return fd;
}

static int file(size_t mib)
{
	size_t len = mib * MIB;
	char block[65536];
	int fd = tmpfile_fd();
	char *p;

	if (fd < 0)
		return -1;
	memset(block, 7, sizeof(block));
	for (size_t done = 0; done < len; done += sizeof(block))
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block)) {
			close(fd);
			return -1;
		}
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (keep(p, len) < 0)
		return -1;
	return read_all(p, len) > 0 ? 0 : -1;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready;

static void *thread_main(void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, (size_t)page * 16, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char c;

	(void)arg;
	if (p != MAP_FAILED)
		touch(p, (size_t)page * 16);
	pthread_mutex_lock(&lock);
	ready++;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	/* Blocks until the process exits: nobody writes the pipe. */
	while (read(block_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int threads(int n)
{
	static int total;
	int want;

	if (n <= 0 || total + n > MAX_THREADS)
		return -1;
	if (block_pipe[0] < 0 && pipe2(block_pipe, O_CLOEXEC) < 0)
		return -1;
	want = ready + n;
	for (int i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, thread_main, NULL) != 0)
			return -1;
		pthread_detach(t);
		total++;
	}
	pthread_mutex_lock(&lock);
	while (ready < want)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return 0;
}

static void unmap_all(void)
{
	for (int i = 0; i < nmaps; i++)
		munmap(maps[i].p, maps[i].len);
	nmaps = 0;
}

static void answer(int ok)
{
	const char *s = ok ? "ok\n" : "err\n";

	if (write(STDOUT_FILENO, s, strlen(s)) < 0)
		_exit(3);
}

int main(int argc, char **argv)
{
	char line[64];

	if (argc == 3 && strcmp(argv[1], "--touch") == 0)
		return anon((size_t)atol(argv[2])) == 0 ? 0 : 1;
	if (argc == 2 && strcmp(argv[1], "--hog") == 0) {
		for (int mib = 0; mib < 2048; mib++) {
			char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				return 2;
			touch(p, MIB);
		}
		return 3;
	}
	setvbuf(stdin, NULL, _IONBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		long n = atol(line + 1);

		switch (line[0]) {
		case 't': answer(anon((size_t)n) == 0); break;
		case 's': answer(shmem((size_t)n) == 0); break;
		case 'r': answer(file((size_t)n) == 0); break;
		case 'p': answer(threads((int)n) == 0); break;
		case 'f': unmap_all(); answer(1); break;
		case 'x': answer(1); return 0;
		default: answer(0); break;
		}
	}
	return 0;
}
