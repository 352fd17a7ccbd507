/*
 * The computation's namespaces, and the life of its PID 1.
 *
 *   stasis-init (outer)   waits for init, forwards termination signals, exits with the
 *    │                    computation's status; dies → everything below dies
 *    └─ init, PID 1 of fresh PID + mount + IPC namespaces (inside a fresh user namespace
 *       when not root: uid and gid map to themselves). It mounts its own /proc, makes its
 *       own session, joins the coordinator as the namespace's init, and reaps.
 *        └─ the program (PID 2), or on restart the recreated tree with its old PIDs
 *
 * Why a namespace from the start: PIDs then restart as they were (clone3 set_tid needs
 * a PID namespace we own), orphans are reparented to an init we control, and the init can
 * list every process of the computation, so a checkpoint cannot miss one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include "init.h"

int init_in_userns;

/* One line on stderr, in one write (several processes may be saying something). */
static void vsay(const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	dprintf(2, "stasis: %s\n", line);
}

void init_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void init_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	_exit(1);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

static int map_ids(uid_t uid, gid_t gid)
{
	char line[64];
	write_file("/proc/self/setgroups", "deny");
	snprintf(line, sizeof(line), "%u %u 1", uid, uid);
	int e = write_file("/proc/self/uid_map", line);
	if (e)
		return e;
	snprintf(line, sizeof(line), "%u %u 1", gid, gid);
	return write_file("/proc/self/gid_map", line);
}

/* Termination signals that reach the outer process (or init) go to the program. */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (unsigned i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(set, forwarded[i]);
	sigprocmask(SIG_BLOCK, set, 0);
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The outer process: waits for `child`, forwarding signals; exits with its status. */
static __attribute__((noreturn)) void outer_wait(pid_t child)
{
	sigset_t set;
	block_signals(&set);
	for (;;) {
		int status;
		pid_t w = waitpid(child, &status, WNOHANG);
		if (w == child)
			_exit(exit_code(status));
		if (w < 0 && errno == ECHILD)
			_exit(1);
		int sig = sigwaitinfo(&set, 0);
		if (sig > 0 && sig != SIGCHLD)
			kill(child, sig);
	}
}

pid_t init_clone_pid(pid_t want)
{
	struct clone_args a;
	memset(&a, 0, sizeof(a));
	a.exit_signal = SIGCHLD;
	if (want) {
		a.set_tid = (uint64_t)(uintptr_t)&want;
		a.set_tid_size = 1;
	}
	long r = syscall(SYS_clone3, &a, sizeof(a));
	return r < 0 ? -errno : (pid_t)r;
}

uint64_t init_pidns(void)
{
	char link[64];
	ssize_t n = readlink("/proc/self/ns/pid", link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = 0;
	const char *p = strchr(link, '[');
	return p ? strtoull(p + 1, 0, 10) : 0;
}

/*
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from where the checkpoint left them: a time
 * namespace whose offsets make them read now what they read then. So a deadline computed
 * before the checkpoint (a condition wait, a poll timeout, a rate limiter) means the same
 * after it, on this machine or another with a different uptime; the time the computation
 * was down does not count. CLOCK_REALTIME stays the real time. The offsets can only be set
 * before any process is in the namespace: unshare here, then init is born into it.
 */
static void continue_clocks(const struct plan *p)
{
	if (!p || !p->mono_ns)
		return;
	struct timespec mono, boot;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_BOOTTIME, &boot);
	int64_t dm = p->mono_ns - (mono.tv_sec * 1000000000ll + mono.tv_nsec);
	int64_t db = p->boot_ns - (boot.tv_sec * 1000000000ll + boot.tv_nsec);
	if (unshare(CLONE_NEWTIME) < 0) {
		init_say("time namespaces are unavailable (%s): CLOCK_MONOTONIC will not go on from the checkpoint", strerror(errno));
		return;
	}
	char text[128];
	/* "clock seconds nanoseconds", nanoseconds in 0..999999999 even for a negative offset. */
	snprintf(text, sizeof(text), "%d %lld %lld\n%d %lld %lld\n", CLOCK_MONOTONIC,
		 (long long)(dm >= 0 ? dm / 1000000000 : -((-dm + 999999999) / 1000000000)),
		 (long long)(((dm % 1000000000) + 1000000000) % 1000000000), CLOCK_BOOTTIME,
		 (long long)(db >= 0 ? db / 1000000000 : -((-db + 999999999) / 1000000000)),
		 (long long)(((db % 1000000000) + 1000000000) % 1000000000));
	int e = write_file("/proc/self/timens_offsets", text);
	if (e)
		init_die("cannot set the clocks of the time namespace: %s", strerror(-e));
}

void init_enter_namespaces(const struct plan *p)
{
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(137);
	if (geteuid() != 0) {
		uid_t uid = getuid();
		gid_t gid = getgid();
		if (unshare(CLONE_NEWUSER) < 0)
			init_die("user namespaces are unavailable (%s): without them a computation cannot keep "
				 "its PIDs; ask the administrator to allow unprivileged user namespaces "
				 "(sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces)", strerror(errno));
		int e = map_ids(uid, gid);
		if (e)
			init_die("cannot map ids in the user namespace: %s", strerror(-e));
		init_in_userns = 1;
	}
	continue_clocks(p);
	struct clone_args a;
	memset(&a, 0, sizeof(a));
	a.flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC;
	a.exit_signal = SIGCHLD;
	long init = syscall(SYS_clone3, &a, sizeof(a));
	if (init < 0)
		init_die("cannot create the PID namespace: %s", strerror(errno));
	if (init > 0)
		outer_wait((pid_t)init);

	/* PID 1 from here. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mount(0, "/", 0, MS_REC | MS_PRIVATE, 0) < 0)
		init_die("cannot make the mount namespace private: %s", strerror(errno));
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0) < 0)
		init_die("cannot mount /proc for the PID namespace: %s", strerror(errno));
	setsid();
	prctl(PR_SET_NAME, "stasis-init");
}

/* Reaps every child; returns 1 (with *code set) once `main` has exited. */
static int reap(pid_t main, int *code)
{
	int status, done = 0;
	pid_t w;
	while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
		if (w == main) {
			*code = exit_code(status);
			done = 1;
		}
	}
	return done;
}

/*
 * The program has exited. Image writers still at work are let finish first (for at most
 * WRITERS_GRACE_MS): a checkpoint taken just before the end is as good as any, and its
 * processes ran on once they were captured. Exiting would end them with the namespace.
 */
#define WRITERS_GRACE_MS (5 * 60 * 1000)

static void wait_for_writers(void)
{
	pid_t pids[256];
	struct pollfd p[256];
	int n = coord_writers(pids, 256), k = 0;
	for (int i = 0; i < n; i++) {
		int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
		if (fd >= 0)
			p[k++] = (struct pollfd){ fd, POLLIN, 0 };
	}
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (k > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = WRITERS_GRACE_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || (poll(p, (nfds_t)k, (int)left) < 0 && errno != EINTR))
			break;
		for (int i = 0; i < k;)
			if (p[i].revents) {
				close(p[i].fd);
				p[i] = p[--k];
			} else {
				i++;
			}
	}
}

void init_serve(pid_t main, int coord_fd)
{
	sigset_t set;
	block_signals(&set);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		init_die("signalfd: %s", strerror(errno));
	int code = 0;
	for (;;) {
		if (reap(main, &code)) {
			wait_for_writers();
			_exit(code);
		}
		struct pollfd p[2] = { { sfd, POLLIN, 0 }, { coord_fd, POLLIN, 0 } };
		int n = poll(p, coord_fd >= 0 ? 2 : 1, -1);
		if (n < 0 && errno != EINTR)
			init_die("poll: %s", strerror(errno));
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if ((int)si.ssi_signo != SIGCHLD)
					kill(main, (int)si.ssi_signo);
				break;
			}
		}
		if (coord_fd >= 0 && p[1].revents && coord_handle(coord_fd) < 0) {
			close(coord_fd);
			coord_fd = -1;
		}
	}
}
