/* SPDX-License-Identifier: MIT */
/* memhog: touches N MiB, says "ready", and waits for SIGTERM; for tests that
 * need a process of a known size.
 *
 *   memhog MIB [COMM]      COMM sets the process name (prctl)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib;
	char *mem;
	sigset_t none;

	if (argc < 2) {
		fprintf(stderr, "usage: memhog MIB [COMM]\n");
		return 2;
	}
	mib = strtoul(argv[1], NULL, 10);
	if (argc > 2)
		prctl(PR_SET_NAME, argv[2]);
	mem = mmap(NULL, mib << 20 ? mib << 20 : 1, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(mem, 0x5a, mib << 20);
	printf("ready %d\n", getpid());
	fflush(stdout);
	sigemptyset(&none);
	for (;;)
		sigsuspend(&none);
}
