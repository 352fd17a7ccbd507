/*
 * A process tree whose identity a restart must keep: every process checks, on every
 * step, that getpid, getppid, getpgrp and getsid (and a thread's gettid) still return what
 * they returned when it started, so a checkpoint landing anywhere is caught if the tree
 * comes back any different.
 *
 *   main ─┬─ A: its own session (setsid) ── G: A's grandchild, in A's session and group
 *         ├─ B: its own process group ── B2: joins B's group
 *         ├─ Z: exits 42 at once; main reaps it only at the end (a zombie meanwhile)
 *         ├─ M: makes its own session, forks D and exits: D is a double-fork daemon, an
 *         │     orphan in a session (and group) whose leader is gone
 *         ├─ J: leads its own group, forks J2 into it and exits: J2 is an orphan in a
 *         │     process group whose leader is gone; main stops it with kill(-J)
 *         └─ a thread of main, checking its TID
 *
 * At the end main stops A (which stops G) and B's whole group with kill(-pgid), and
 * reaps everyone, printing how each ended. Only main prints, one line per step; a
 * failed check prints FAIL (and changes an exit status), so the output differs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct ids { pid_t pid, ppid, pgrp, sid; };

static struct ids now(void)
{
	return (struct ids){ getpid(), getppid(), getpgrp(), getsid(0) };
}

static int same(const struct ids *a, const struct ids *b)
{
	return a->pid == b->pid && a->ppid == b->ppid && a->pgrp == b->pgrp && a->sid == b->sid;
}

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

static void nap(long ms)
{
	struct timespec t = { 0, ms * 1000000 };
	while (nanosleep(&t, &t) && errno == EINTR && !stop)
		;
}

/* A child's life: check its identity until told to stop; wait for its own child. */
static __attribute__((noreturn)) void child_loop(const char *name, pid_t kid)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, 0);
	struct ids first = now();
	while (!stop) {
		struct ids cur = now();
		if (!same(&first, &cur)) {
			printf("FAIL %s: pid %d/%d ppid %d/%d pgrp %d/%d sid %d/%d\n", name, first.pid, cur.pid,
			       first.ppid, cur.ppid, first.pgrp, cur.pgrp, first.sid, cur.sid);
			fflush(stdout);
			_exit(1);
		}
		nap(3);
	}
	int status = 0;
	if (kid > 0) {
		if (strcmp(name, "A") == 0)
			kill(kid, SIGTERM);
		if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status)) {
			printf("FAIL %s: its child ended with status %#x\n", name, status);
			fflush(stdout);
			_exit(1);
		}
	}
	_exit(0);
}

/* The daemon: once it is an orphan, it checks its ids like the others; SIGTERM ends it,
 * and it says so on the pipe main reads. */
static __attribute__((noreturn)) void daemon_loop(int say, pid_t middle)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, 0);
	while (getppid() == middle)
		nap(1);
	struct ids first = now();
	pid_t me = getpid();
	(void)!write(say, &me, sizeof(me));
	while (!stop) {
		struct ids cur = now();
		if (!same(&first, &cur)) {
			printf("FAIL D: pid %d/%d ppid %d/%d pgrp %d/%d sid %d/%d\n", first.pid, cur.pid,
			       first.ppid, cur.ppid, first.pgrp, cur.pgrp, first.sid, cur.sid);
			fflush(stdout);
			_exit(1);
		}
		nap(3);
	}
	(void)!write(say, "x", 1);
	_exit(0);
}

static struct ids thread_first;
static pid_t thread_tid;
static volatile int thread_bad;

static void *thread_main(void *arg)
{
	(void)arg;
	thread_tid = (pid_t)syscall(SYS_gettid);
	for (;;) {
		if ((pid_t)syscall(SYS_gettid) != thread_tid || getpid() != thread_first.pid)
			thread_bad = 1;
		nap(3);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 50;
	setvbuf(stdout, 0, _IOLBF, 0);
	struct ids first = now();
	thread_first = first;

	/* Each child says "set up" on a pipe before main's steps begin. */
	int ready[2];
	if (pipe(ready))
		return 1;
	pid_t a = fork();
	if (a == 0) {
		setsid();
		pid_t g = fork();
		if (g == 0)
			child_loop("G", 0);
		(void)!write(ready[1], "a", 1);
		child_loop("A", g);
	}
	pid_t b = fork();
	if (b == 0) {
		setpgid(0, 0);
		pid_t b2 = fork();
		if (b2 == 0) {
			setpgid(0, getppid());
			child_loop("B2", 0);
		}
		setpgid(b2, getpid()); /* whichever of the two runs first */
		(void)!write(ready[1], "b", 1);
		child_loop("B", b2);
	}
	setpgid(b, b);
	char got[2];
	for (int n = 0; n < 2;) {
		ssize_t r = read(ready[0], got + n, (size_t)(2 - n));
		if (r <= 0 && errno != EINTR)
			return 1;
		n += r > 0 ? (int)r : 0;
	}
	close(ready[0]);
	close(ready[1]);
	pid_t z = fork();
	if (z == 0)
		_exit(42);
	int dpipe[2];
	if (pipe(dpipe))
		return 1;
	pid_t m = fork();
	if (m == 0) {
		setsid();
		pid_t mine = getpid();
		if (fork() == 0)
			daemon_loop(dpipe[1], mine);
		_exit(0);
	}
	int mst;
	waitpid(m, &mst, 0);
	pid_t d = 0;
	if (read(dpipe[0], &d, sizeof(d)) != sizeof(d))
		return 1;
	int jpipe[2];
	if (pipe(jpipe))
		return 1;
	pid_t j = fork();
	if (j == 0) {
		setpgid(0, 0);
		pid_t mine = getpid();
		if (fork() == 0)
			daemon_loop(jpipe[1], mine);
		_exit(0);
	}
	setpgid(j, j);
	waitpid(j, &mst, 0);
	pid_t j2 = 0;
	if (read(jpipe[0], &j2, sizeof(j2)) != sizeof(j2))
		return 1;
	pthread_t th;
	pthread_create(&th, 0, thread_main, 0);

	for (int i = 1; i <= steps; i++) {
		struct ids cur = now();
		siginfo_t si = { 0 };
		/* The zombie stays a zombie (WNOWAIT), with its status, all along. */
		int zw = waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT);
		int ok = same(&first, &cur) && !thread_bad && zw == 0 && si.si_pid == z && si.si_status == 42 &&
			 getpgid(b) == b && getsid(a) == a && getsid(d) == m && getpgid(d) == m &&
			 getpgid(j2) == j;
		printf("step %d %s\n", i, ok ? "same ids" : "FAIL");
		nap(20);
	}
	kill(a, SIGTERM);
	kill(-b, SIGTERM);
	int status;
	waitpid(a, &status, 0);
	printf("A (own session) ended: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	waitpid(b, &status, 0);
	printf("B (own group, stopped with kill(-pgid)) ended: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	waitpid(z, &status, 0);
	printf("Z (zombie until now) ended: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	kill(d, SIGTERM);
	char bye;
	printf("D (double-fork daemon, its session's leader long gone) %s\n",
	       read(dpipe[0], &bye, 1) == 1 && bye == 'x' ? "stopped" : "FAIL");
	kill(-j, SIGTERM);
	printf("J2 (in a group whose leader is gone, stopped with kill(-pgid)) %s\n",
	       read(jpipe[0], &bye, 1) == 1 && bye == 'x' ? "stopped" : "FAIL");
	return 0;
}
