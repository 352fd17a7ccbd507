/*
 * Every way a program starts another: it first execs itself with an empty environment
 * (the agent must come along anyway), then on every step runs a child through popen(),
 * system(), posix_spawn() and vfork()+exec, and checks what each returned. A checkpoint
 * lands among these short-lived children; the output must be the same after a restart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[2], "clean")) {
		/* Phase 1: become ourselves again with nothing in the environment. */
		char *args[] = { argv[0], argc > 1 ? argv[1] : "40", "clean", 0 };
		char *none[] = { 0 }, self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return 1;
		self[n] = 0;
		execve(self, args, none);
		perror("execve");
		return 1;
	}
	int steps = atoi(argv[1]);
	setvbuf(stdout, 0, _IOLBF, 0);
	printf("exec'd with an empty environment: PATH %s\n", getenv("PATH") ? "set" : "unset");
	for (int i = 1; i <= steps; i++) {
		char cmd[64], got[64] = "";
		snprintf(cmd, sizeof(cmd), "/bin/echo popen %d", i);
		FILE *p = popen(cmd, "r");
		if (!p || !fgets(got, sizeof(got), p))
			strcpy(got, "FAIL\n");
		int pst = p ? pclose(p) : -1;
		int sst = system("exit 3");
		pid_t pid;
		char *targs[] = { "/bin/true", 0 };
		int spawned = posix_spawn(&pid, "/bin/true", 0, 0, targs, environ);
		int tst = -1;
		if (!spawned)
			waitpid(pid, &tst, 0);
		pid_t v = vfork();
		if (v == 0) {
			execl("/bin/sh", "sh", "-c", "exit 5", (char *)0);
			_exit(127);
		}
		int vst = -1;
		waitpid(v, &vst, 0);
		got[strcspn(got, "\n")] = 0;
		printf("step %d: %s (pclose %d), system %d, posix_spawn %d, vfork+exec %d\n", i, got,
		       WEXITSTATUS(pst), WEXITSTATUS(sst), WEXITSTATUS(tst), WEXITSTATUS(vst));
		struct timespec t = { 0, 20 * 1000000 };
		nanosleep(&t, 0);
	}
	return 0;
}
