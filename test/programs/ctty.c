/*
 * A pty as a session's controlling terminal, with job control, must come back as it was:
 *
 *   P (main) opens a pty and drives it through the master
 *    └─ S: setsid, opens the slave; forks C; then TIOCSCTTY; forks A and B, each into a
 *          group of its own, and makes A's group the terminal's foreground
 *        ├─ C: forked before the terminal was taken: in S's session without a terminal
 *        ├─ A: the foreground job: reads the lines P types at the master
 *        └─ B: a background job: reading the terminal fails (SIGTTIN ignored: EIO),
 *              writing it with TOSTOP set raises SIGTTOU (caught: EINTR)
 *
 * Every round P types "go N" for A and pokes S, B and C through pipes; each answers one
 * line of facts on a report pipe (its session, the terminal's foreground group and
 * session, whether /dev/tty opens and is the same terminal, what job control did to it),
 * which P prints in a fixed order. Only P prints, and no pid is printed (an uninterrupted
 * run outside a namespace has other pids): facts are compared with what each process
 * knew when it was made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int report[2];
static volatile sig_atomic_t ttou;

static void on_ttou(int sig)
{
	(void)sig;
	ttou++;
}

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

static ssize_t read_retry(int fd, void *b, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, b, n);
		if (r >= 0 || errno != EINTR)
			return r;
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	while (write(report[1], line, (size_t)n) < 0 && errno == EINTR)
		;
}

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "ok";
	case EIO: return "EIO";
	case EINTR: return "EINTR";
	case ENXIO: return "ENXIO";
	case ENOTTY: return "ENOTTY";
	case EAGAIN: return "EAGAIN";
	default: return strerror(e);
	}
}

/* Whether /dev/tty opens, and whether it is the terminal `fd` is an end of. */
static const char *dev_tty(int fd)
{
	int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t < 0)
		return err_name(errno);
	unsigned a = 0, b = 1; /* the terminal behind each fd (TIOCGDEV sees through /dev/tty) */
	int same = ioctl(t, TIOCGDEV, &a) == 0 && ioctl(fd, TIOCGDEV, &b) == 0 && a == b;
	close(t);
	return same ? "ok, the same terminal" : "ok, ANOTHER terminal";
}

static const char *yes(int c) { return c ? "yes" : "NO"; }

/* The terminal's foreground group and session, as this process sees them. */
static void term_facts(int fd, pid_t fg, pid_t sid, char *out, size_t n)
{
	errno = 0;
	pid_t g = tcgetpgrp(fd);
	int ge = g < 0 ? errno : 0;
	pid_t s = tcgetsid(fd);
	int se = s < 0 ? errno : 0;
	if (ge || se)
		snprintf(out, n, "tcgetpgrp %s, tcgetsid %s", err_name(ge), err_name(se));
	else
		snprintf(out, n, "foreground A %s, session S %s", yes(g == fg), yes(s == sid));
}

/* Waits for a poke (a byte) on fd; 0 at EOF. */
static int poked(int fd)
{
	char c;
	return read_retry(fd, &c, 1) == 1;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 40;
	setvbuf(stdout, 0, _IOLBF, 0);
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		printf("FAIL no pty: %s\n", strerror(errno));
		return 1;
	}
	char slave_name[64];
	if (ptsname_r(m, slave_name, sizeof(slave_name))) {
		printf("FAIL ptsname: %s\n", strerror(errno));
		return 1;
	}
	int poke_s[2], poke_b[2], poke_c[2];
	if (pipe2(report, O_CLOEXEC) || pipe2(poke_s, O_CLOEXEC) || pipe2(poke_b, O_CLOEXEC) || pipe2(poke_c, O_CLOEXEC))
		return 1;

	pid_t s = fork();
	if (s == 0) {
		close(m);
		close(poke_s[1]), close(poke_b[1]), close(poke_c[1]);
		setsid();
		int t = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (t < 0)
			_exit(10);
		struct termios tio;
		tcgetattr(t, &tio);
		tio.c_lflag &= ~(tcflag_t)ECHO;
		tio.c_lflag |= TOSTOP;
		tcsetattr(t, TCSANOW, &tio);
		pid_t me = getpid();
		pid_t c = fork();
		if (c == 0) {
			close(poke_s[0]), close(poke_b[0]);
			while (poked(poke_c[0])) {
				char f[128];
				term_facts(t, 0, me, f, sizeof(f));
				say("C: session S %s, /dev/tty %s, %s", yes(getsid(0) == me), dev_tty(t), f);
			}
			_exit(0);
		}
		if (ioctl(t, TIOCSCTTY, 0) < 0)
			_exit(11);
		int ready[2];
		if (pipe2(ready, O_CLOEXEC))
			_exit(14);
		pid_t a = fork();
		if (a == 0) {
			close(poke_s[0]), close(poke_b[0]), close(poke_c[0]);
			setpgid(0, 0);
			close(ready[1]);
			if (!poked(ready[0])) /* not before its group is the foreground */
				_exit(15);
			char line[64];
			for (;;) {
				ssize_t n = read_retry(t, line, sizeof(line) - 1);
				if (n <= 0 || !strncmp(line, "quit", 4))
					_exit(n < 0 ? 12 : 0);
				line[n - (line[n - 1] == '\n')] = 0;
				char f[128];
				term_facts(t, getpgrp(), me, f, sizeof(f));
				say("A: read \"%s\", leads its group %s, session S %s, /dev/tty %s, %s", line, yes(getpgrp() == getpid()),
				    yes(getsid(0) == me), dev_tty(t), f);
			}
		}
		setpgid(a, a);
		pid_t b = fork();
		if (b == 0) {
			close(poke_s[0]), close(poke_c[0]);
			setpgid(0, 0);
			signal(SIGTTIN, SIG_IGN);
			struct sigaction sa = { 0 };
			sa.sa_handler = on_ttou;
			sigaction(SIGTTOU, &sa, 0);
			while (poked(poke_b[0])) {
				char c1;
				ssize_t r = read(t, &c1, 1);
				int re = r < 0 ? errno : 0;
				ssize_t w = write(t, "b", 1);
				int we = w < 0 ? errno : 0;
				char f[128];
				term_facts(t, a, me, f, sizeof(f));
				say("B: read %s, write %s (SIGTTOU caught %d times), in the background %s, session S %s, /dev/tty %s, %s",
				    r < 0 ? err_name(re) : "a byte", w < 0 ? err_name(we) : "wrote", (int)ttou, yes(getpgrp() != a),
				    yes(getsid(0) == me), dev_tty(t), f);
			}
			_exit(0);
		}
		setpgid(b, b);
		if (tcsetpgrp(t, a) < 0)
			_exit(13);
		while (write(ready[1], "x", 1) < 0 && errno == EINTR)
			;
		close(poke_b[0]), close(poke_c[0]);
		say("S: ready");
		while (poked(poke_s[0])) {
			char f[128];
			term_facts(t, a, me, f, sizeof(f));
			say("S: leads its session %s, /dev/tty %s, %s", yes(getsid(0) == me), dev_tty(t), f);
		}
		int st, codes[3];
		pid_t kids[3] = { a, b, c };
		for (int i = 0; i < 3; i++)
			codes[i] = waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		say("S: A, B and C exited %d %d %d", codes[0], codes[1], codes[2]);
		_exit(0);
	}
	close(report[1]);
	close(poke_s[0]), close(poke_b[0]), close(poke_c[0]);
	FILE *rep = fdopen(report[0], "r");
	char line[4][512];
	if (!fgets(line[0], sizeof(line[0]), rep)) {
		printf("FAIL: S did not start\n");
		return 1;
	}
	printf("%s", line[0]);
	for (int r = 0; r < rounds; r++) {
		char go[32];
		int n = snprintf(go, sizeof(go), "go %d\n", r);
		while (write(m, go, (size_t)n) < 0 && errno == EINTR)
			;
		while (write(poke_s[1], "x", 1) < 0 && errno == EINTR)
			;
		while (write(poke_b[1], "x", 1) < 0 && errno == EINTR)
			;
		while (write(poke_c[1], "x", 1) < 0 && errno == EINTR)
			;
		for (int i = 0; i < 4; i++) {
			if (!fgets(line[i], sizeof(line[i]), rep)) {
				printf("FAIL: a report is missing in round %d\n", r);
				return 1;
			}
		}
		/* A, B, C, S: the order of the letters, whatever order they answered in. */
		for (int i = 0; i < 4; i++)
			for (int j = i + 1; j < 4; j++)
				if (line[j][0] < line[i][0]) {
					char tmp[512];
					memcpy(tmp, line[i], sizeof(tmp));
					memcpy(line[i], line[j], sizeof(tmp));
					memcpy(line[j], tmp, sizeof(tmp));
				}
		printf("round %d\n", r);
		for (int i = 0; i < 4; i++)
			printf("  %s", line[i]);
		nap_ms(40);
	}
	while (write(m, "quit\n", 5) < 0 && errno == EINTR)
		;
	close(poke_s[1]), close(poke_b[1]), close(poke_c[1]);
	char last[512];
	while (fgets(last, sizeof(last), rep))
		printf("%s", last);
	int st;
	waitpid(s, &st, 0);
	printf("P: /dev/tty %s (no terminal), S exited %d\n", dev_tty(m), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
