/*
 * A named FIFO (mkfifo) open three ways at once: a non-blocking reader, a writer, and an
 * O_RDWR fd, with a 16 KiB buffer. Every step writes the next message before it works and
 * reads the previous one after, so a checkpoint always finds bytes in flight; the step
 * checks the message, what is still queued, the flags and the buffer size. Prints one
 * line per step; every line is the same in an uninterrupted run.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MSG 32

static void message(char *out, int i)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "message %06d ........................", i);
	memcpy(out, tmp, MSG - 1);
	out[MSG - 1] = '\n';
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 60;
	const char *path = "chan.fifo";
	unlink(path);
	if (mkfifo(path, 0600))
		return 2;
	int rd = open(path, O_RDONLY | O_NONBLOCK);
	int wr = open(path, O_WRONLY);
	int rw = open(path, O_RDWR);
	if (rd < 0 || wr < 0 || rw < 0 || fcntl(wr, F_SETPIPE_SZ, 16384) < 0)
		return 2;
	char msg[MSG];
	message(msg, 0);
	if (write(wr, msg, MSG) != MSG)
		return 2;
	uint64_t x = 1;
	for (int i = 0; i < steps; i++) {
		message(msg, i + 1);
		if (write(i % 2 ? rw : wr, msg, MSG) != MSG)
			return 3;
		for (long k = 0; k < 20000000; k++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		char got[MSG + 1] = { 0 }, want[MSG];
		message(want, i);
		struct pollfd p = { rd, POLLIN, 0 };
		poll(&p, 1, 10000);
		ssize_t n = read(rd, got, MSG);
		int queued = -1;
		ioctl(rd, FIONREAD, &queued);
		int ok = n == MSG && memcmp(got, want, MSG) == 0;
		got[MSG - 1] = 0;
		printf("step %d read \"%s\" %s queued %d nonblock %s rdwr %s pipe %d lcg %016llx\n", i, got,
		       ok ? "ok" : "WRONG", queued, fcntl(rd, F_GETFL) & O_NONBLOCK ? "yes" : "no",
		       (fcntl(rw, F_GETFL) & O_ACCMODE) == O_RDWR ? "yes" : "no", fcntl(wr, F_GETPIPE_SZ),
		       (unsigned long long)x);
		fflush(stdout);
	}
	unlink(path);
	return 0;
}
