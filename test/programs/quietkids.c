/*
 * Watches for children it did not make. A SIGCHLD handler counts every SIGCHLD; on every
 * step the program asks waitpid(-1, WNOHANG) and waitid(P_ALL, WEXITED|WNOHANG) for a
 * child, and neither may find one. Every 25 steps it forks a child of its own that exits
 * with the step number, and expects exactly that child back, with one more SIGCHLD. An
 * image writer the program could see (a SIGCHLD, a child to wait for) turns its line into
 * "FAIL ...". It holds 64 MiB, so that an image writer lives a while, and steps every 2 ms.
 * Deterministic output.
 *
 *   quietkids STEPS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t sigchld;

static void on_sigchld(int sig)
{
	(void)sig;
	sigchld++;
}

int main(int argc, char **argv)
{
	long steps = argc > 1 ? atol(argv[1]) : 1000;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, 0);
	size_t words = (64u << 20) / sizeof(uint64_t);
	uint64_t *mem = malloc(words * sizeof(uint64_t));
	if (!mem)
		return 2;
	for (size_t i = 0; i < words; i++)
		mem[i] = i * 0x9e3779b97f4a7c15ull;
	setvbuf(stdout, 0, _IOLBF, 0);
	int own = 0;
	for (long step = 1; step <= steps; step++) {
		int st = 0;
		pid_t w = waitpid(-1, &st, WNOHANG);
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		int wi = waitid(P_ALL, 0, &si, WEXITED | WNOHANG);
		if (w != -1 || errno != ECHILD || wi != -1) {
			printf("step %ld FAIL: a child it did not make: waitpid %d, waitid %d pid %d\n", step, (int)w, wi,
			       (int)si.si_pid);
			continue;
		}
		if (sigchld != own) {
			printf("step %ld FAIL: %d SIGCHLD for %d children of its own\n", step, (int)sigchld, own);
			own = sigchld;
			continue;
		}
		if (step % 25 == 0) {
			pid_t c = fork();
			if (c == 0)
				_exit((int)(step / 25 % 100));
			pid_t got = waitpid(c, &st, 0);
			own++;
			printf("step %ld: its own child exited %d%s, SIGCHLD %d of %d\n", step,
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1, got == c ? "" : " (not reaped)", (int)sigchld, own);
		} else {
			mem[(size_t)step * 4099 % words] += (uint64_t)step;
			printf("step %ld: no children, SIGCHLD %d\n", step, (int)sigchld);
		}
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, 0);
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < words; i++)
		sum = (sum ^ mem[i]) * 0x100000001b3ull;
	printf("done %016llx\n", (unsigned long long)sum);
	return 0;
}
