/*
 * One process holding both ends of a pseudo-terminal: canonical input without echo, an
 * interrupt character moved, a 33x101 window and packet mode on the master. Every step
 * types a line at the master and writes a line at the slave before it works, and reads
 * both after, so a checkpoint always finds bytes in flight both ways; it checks the
 * line, the output as the line discipline made it ("\n" became "\r\n"), the packet byte,
 * the termios, the window size and that the two fds are still one pair. The pts number
 * may change across a restart and is not printed. One line per step; every line is the
 * same in an uninterrupted run.
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
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

/* Reads exactly n bytes, waiting for each piece at most 10 s (then what came). */
static ssize_t read_n(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 10000) <= 0)
			break;
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 60;
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		return 2;
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s < 0)
		return 2;
	struct termios t;
	tcgetattr(s, &t);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	t.c_lflag |= ICANON | ISIG;
	t.c_iflag |= ICRNL;
	t.c_oflag |= OPOST | ONLCR;
	t.c_cc[VINTR] = 7;
	t.c_cc[VERASE] = 8;
	cfsetospeed(&t, B9600);
	cfsetispeed(&t, B9600);
	struct winsize ws = { 33, 101, 0, 0 };
	int one = 1;
	if (tcsetattr(s, TCSANOW, &t) || ioctl(m, TIOCSWINSZ, &ws) || ioctl(m, TIOCPKT, &one))
		return 2;
	struct termios want;
	tcgetattr(s, &want);

	uint64_t x = 1;
	for (int i = 0; i < steps; i++) {
		char in[32], out[32];
		int nin = snprintf(in, sizeof(in), "line %04d\n", i);
		int nout = snprintf(out, sizeof(out), "out %04d\n", i);
		if (write(m, in, (size_t)nin) != nin || write(s, out, (size_t)nout) != nout)
			return 3;
		for (long k = 0; k < 20000000; k++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		char line[64] = { 0 }, pkt[64] = { 0 };
		ssize_t nl = read_n(s, line, (size_t)nin);
		ssize_t np = read_n(m, pkt, (size_t)nout + 2); /* packet byte, and "\r\n" for "\n" */
		char expect[40];
		snprintf(expect, sizeof(expect), "%c%.*s\r\n", 0, nout - 1, out);
		int line_ok = nl == nin && memcmp(line, in, (size_t)nin) == 0;
		int out_ok = np == nout + 2 && memcmp(pkt, expect, (size_t)np) == 0;
		struct termios now;
		struct winsize wn = { 0, 0, 0, 0 };
		tcgetattr(s, &now);
		ioctl(s, TIOCGWINSZ, &wn);
		int pkt_mode = -1;
		ioctl(m, TIOCGPKT, &pkt_mode);
		unsigned ptn = 0;
		struct stat st;
		ioctl(m, TIOCGPTN, &ptn);
		fstat(s, &st);
		int pair = minor(st.st_rdev) + (major(st.st_rdev) - 136) * 256 == ptn;
		int term_ok = now.c_iflag == want.c_iflag && now.c_oflag == want.c_oflag &&
			      now.c_cflag == want.c_cflag && now.c_lflag == want.c_lflag &&
			      memcmp(now.c_cc, want.c_cc, sizeof(now.c_cc)) == 0 && cfgetospeed(&now) == B9600;
		line[nl > 0 ? nl - 1 : 0] = 0;
		printf("step %d slave read \"%s\" %s master read %s termios %s winsize %ux%u packet %d pair %s lcg %016llx\n",
		       i, line, line_ok ? "ok" : "WRONG", out_ok ? "ok" : "WRONG", term_ok ? "ok" : "CHANGED",
		       wn.ws_row, wn.ws_col, pkt_mode, pair ? "ok" : "BROKEN", (unsigned long long)x);
		fflush(stdout);
	}
	return 0;
}
