/*
 * A program driven through a pty, as `script` or `expect` drive one: the parent holds the
 * master, the child reads its stdin from the slave and writes its stdout back to it. The
 * parent gives the pty non-default termios (canonical input without echo, a different EOF
 * character) and a window size; the child checks them before every answer. A restart must
 * rebuild one pty shared by the two processes, with its termios, window size and the bytes
 * in flight either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EOF_CHAR 0x02 /* ^B instead of ^D */

static void nap_ms(long ms)
{
	struct timespec t = { 0, ms * 1000000 };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

static __attribute__((noreturn)) void child(void)
{
	char line[256];
	for (;;) {
		ssize_t n = read(0, line, sizeof(line) - 1); /* canonical: one line */
		if (n <= 0)
			_exit(3);
		line[n] = 0;
		if (!strncmp(line, "quit", 4))
			_exit(0);
		struct termios t;
		struct winsize ws;
		int ok = tcgetattr(0, &t) == 0 && ioctl(0, TIOCGWINSZ, &ws) == 0 && (t.c_lflag & ICANON) &&
			 !(t.c_lflag & ECHO) && t.c_cc[VEOF] == EOF_CHAR && ws.ws_row == 40 && ws.ws_col == 120;
		for (char *p = line; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
		line[strcspn(line, "\n")] = 0;
		dprintf(1, "%s [termios %s]\n", line, ok ? "as set" : "CHANGED");
	}
}

/* One line from the master, without the \r the slave's ONLCR adds. */
static int read_line(int m, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		char c;
		ssize_t r = read(m, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\r')
			continue;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

int main(int argc, char **argv)
{
	int steps = argc > 1 ? atoi(argv[1]) : 60;
	setvbuf(stdout, 0, _IOLBF, 0);
	struct termios t;
	struct winsize ws = { .ws_row = 40, .ws_col = 120 };
	int m, s;
	if (openpty(&m, &s, 0, 0, &ws) < 0)
		return 1;
	tcgetattr(s, &t);
	t.c_lflag |= ICANON;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	t.c_cc[VEOF] = EOF_CHAR;
	tcsetattr(s, TCSANOW, &t);
	pid_t c = fork();
	if (c == 0) {
		close(m);
		dup2(s, 0);
		dup2(s, 1);
		close(s);
		child();
	}
	close(s);
	char buf[256];
	for (int i = 1; i <= steps; i++) {
		dprintf(m, "line %d of the driver\n", i);
		if (read_line(m, buf, sizeof(buf))) {
			printf("FAIL: the child's answer did not come\n");
			return 1;
		}
		printf("reply: %s\n", buf);
		nap_ms(25);
	}
	dprintf(m, "quit\n");
	int st;
	waitpid(c, &st, 0);
	printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
