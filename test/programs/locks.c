/*
 * File locks a restart must take back: the parent holds a flock on one file and a POSIX
 * write lock on bytes 10..19 of another; its child, through open file descriptions of its
 * own, checks on every step that both are still held (and by the parent's pid). At the
 * end the parent says it will let go, then does, and the child must then get both locks
 * itself (a lock it finds free is a failure only if it has not been told yet).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
	struct timespec t = { 0, ms * 1000000 };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

static int held_by(int fd, pid_t pid)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10 };
	return fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == pid;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 60;
	const char *tag = argc > 2 ? argv[2] : "run";
	setvbuf(stdout, 0, _IOLBF, 0);
	char a[128], b[128];
	snprintf(a, sizeof(a), "/tmp/stasis-locks-%s-%d-a", tag, getpid());
	snprintf(b, sizeof(b), "/tmp/stasis-locks-%s-%d-b", tag, getpid());
	int fa = open(a, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int fb = open(b, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fa < 0 || fb < 0 || write(fb, "0123456789abcdefghijklmnopqrstuvwxyz", 36) != 36)
		return 1;
	struct flock wl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10 };
	if (flock(fa, LOCK_EX) < 0 || fcntl(fb, F_SETLK, &wl) < 0)
		return 1;
	int done[2];
	if (pipe2(done, O_CLOEXEC))
		return 1;
	pid_t parent = getpid();
	pid_t c = fork();
	if (c == 0) {
		close(done[1]);
		int ca = open(a, O_RDWR | O_CLOEXEC), cb = open(b, O_RDWR | O_CLOEXEC);
		fcntl(done[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			char x;
			if (read(done[0], &x, 1) == 1)
				break;
			if (flock(ca, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK || !held_by(cb, parent)) {
				/* Free: the parent said it lets go before it did, so that is told now. */
				if (read(done[0], &x, 1) == 1)
					break;
				printf("FAIL: a lock the parent holds is free\n");
				_exit(1);
			}
			nap_ms(3);
		}
		struct flock mine = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10 };
		_exit(flock(ca, LOCK_EX) == 0 && fcntl(cb, F_SETLKW, &mine) == 0 ? 0 : 2);
	}
	close(done[0]);
	for (int i = 1; i <= steps; i++) {
		printf("step %d: the parent holds its flock and its POSIX lock\n", i);
		nap_ms(20);
	}
	struct flock un = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10 };
	(void)!write(done[1], "x", 1);
	flock(fa, LOCK_UN);
	fcntl(fb, F_SETLK, &un);
	int st;
	waitpid(c, &st, 0);
	printf("child exit %d (0: it got both locks once they were let go)\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	unlink(a);
	unlink(b);
	return 0;
}
