/* SPDX-License-Identifier: MIT */
/* bench-idle: forks N children that sleep in pause() under one comm, for the agent benchmark.
 *
 * Usage: idle N [COMM]
 *
 * Prints "ready N" on stdout once every child exists (with its comm), then
 * waits for SIGTERM, SIGINT or SIGHUP, kills every child and reaps them. Each
 * child also asks the kernel for SIGKILL when this parent dies
 * (PR_SET_PDEATHSIG), so no child outlives the benchmark even when the parent
 * is killed with SIGKILL.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define IDLE_MAX 100000

static void child(pid_t parent, const sigset_t *old)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	sigprocmask(SIG_SETMASK, old, NULL);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	const char *comm = argc > 2 ? argv[2] : "bench-idle";
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	sigset_t stop, old;
	pid_t self = getpid(), *kids;
	long n;
	int sig;

	if (argc < 2 || (n = strtol(argv[1], NULL, 10)) < 1 || n > IDLE_MAX) {
		fprintf(stderr, "usage: idle N [COMM]   (1 <= N <= %d)\n", IDLE_MAX);
		return 64;
	}
	kids = calloc((size_t)n, sizeof(*kids));
	if (!kids)
		return 1;
	/* Root is not bound by RLIMIT_NPROC in practice, but say so explicitly. */
	setrlimit(RLIMIT_NPROC, &unlimited);
	/* A child inherits its comm at fork: every child has it from its first
	 * instant, so "ready" needs no handshake with the children. */
	prctl(PR_SET_NAME, comm);

	/* Block the stop signals before forking: a signal that arrives while
	 * children are being made is then taken by sigwait(), not lost. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);

	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			child(self, &old);
		if (pid < 0) {
			fprintf(stderr, "idle: fork %ld of %ld: %s\n", i + 1, n, strerror(errno));
			for (long k = 0; k < i; k++)
				kill(kids[k], SIGKILL);
			while (wait(NULL) > 0 || errno == EINTR)
				;
			return 1;
		}
		kids[i] = pid;
	}
	prctl(PR_SET_NAME, "bench-spawner");
	printf("ready %ld\n", n);
	fflush(stdout);
	/* The reader may stop listening; nothing more goes to stdout. */
	fclose(stdout);

	sigwait(&stop, &sig);
	for (long i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	free(kids);
	return 0;
}
