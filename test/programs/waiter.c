/*
 * Holds MIB MiB of memory and waits for SIGUSR1: prints "ready", then "woke" each time
 * something other than SIGUSR1 interrupts its wait (a checkpoint's suspend signal), and on
 * SIGUSR1 a checksum of its memory, "bye", and exits with status 3. A test can make it
 * exit while its image is still being written.
 *
 * With `exec` it execs itself instead of exiting; the new program looks for children it
 * did not make, with __WALL (which would find an image writer left behind), says what it
 * found and exits with status 3.
 *
 *   waiter MIB [exec]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t usr1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1 = 1;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[2], "after")) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		int e = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | __WALL);
		if (e == -1 && errno == ECHILD)
			printf("after exec: no children\n");
		else
			printf("after exec: a child it did not make: waitid %d, pid %d\n", e, (int)si.si_pid);
		return 3;
	}
	size_t words = (argc > 1 ? strtoul(argv[1], 0, 10) : 64) << 17;
	uint64_t *a = malloc(words * sizeof(uint64_t));
	if (!a)
		return 2;
	uint64_t x = 0x243f6a8885a308d3ull;
	for (size_t i = 0; i < words; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		a[i] = x;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, 0);
	/* SIGUSR1 arrives only inside sigsuspend: none is lost between the check and the wait. */
	sigset_t usr, waiting;
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr, &waiting);
	sigdelset(&waiting, SIGUSR1);
	setvbuf(stdout, 0, _IOLBF, 0);
	printf("ready\n");
	while (!usr1) {
		sigsuspend(&waiting);
		if (!usr1)
			printf("woke\n");
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < words; i++)
		sum = (sum ^ a[i]) * 0x100000001b3ull;
	printf("bye %016llx\n", (unsigned long long)sum);
	if (argc > 2 && !strcmp(argv[2], "exec")) {
		execl("/proc/self/exe", argv[0], "0", "after", (char *)0);
		perror("waiter: exec");
	}
	return 3;
}
