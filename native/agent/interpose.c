/*
 * Keeping the suspend signal usable: an application that blocks every signal in a thread
 * (common in thread pools) would make that thread impossible to stop, and one that
 * installs its own handler for our signal would break checkpoints. These wrappers keep
 * the signal unblocked and our handler in place; the application sees its own view.
 *
 * glibc's SIGEV_THREAD timers are the one case a wrapper of the mask cannot reach: glibc
 * creates their helper thread with every signal blocked from inside itself. So
 * timer_create() with SIGEV_THREAD is done here instead, the way glibc does it (a kernel
 * timer that notifies one helper thread by TID with signal 32, which the helper waits
 * for), with a helper that can be stopped. The timer_t is the kernel's id, which glibc's
 * other timer_* functions take as it is. The notification function runs on the helper
 * thread, not on a fresh thread per expiry.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "agent.h"
#include "../common/sys.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);

static int active(void)
{
	return g_agent.sig > 0;
}

AGENT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	static sigaction_fn next;
	if (!next)
		next = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (active() && sig == g_agent.sig && act && (void *)act->sa_sigaction != agent_handler()) {
		if (old) {
			sigemptyset(&old->sa_mask);
			old->sa_handler = SIG_DFL;
			old->sa_flags = 0;
		}
		return 0;
	}
	return next(sig, act, old);
}

static const sigset_t *strip(const sigset_t *set, sigset_t *copy)
{
	if (!set || !active() || !sigismember(set, g_agent.sig))
		return set;
	*copy = *set;
	sigdelset(copy, g_agent.sig);
	return copy;
}

AGENT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	static sigmask_fn next;
	if (!next)
		next = (sigmask_fn)dlsym(RTLD_NEXT, "pthread_sigmask");
	sigset_t copy;
	return next(how, how == SIG_UNBLOCK ? set : strip(set, &copy), old);
}

AGENT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	static sigmask_fn next;
	if (!next)
		next = (sigmask_fn)dlsym(RTLD_NEXT, "sigprocmask");
	sigset_t copy;
	return next(how, how == SIG_UNBLOCK ? set : strip(set, &copy), old);
}

/* ---- SIGEV_THREAD timers ---- */

#define SIGTIMER_ 32
#define SI_TIMER_ (-2)
#define MAX_THREAD_TIMERS 1024

typedef int (*timer_create_fn)(clockid_t, struct sigevent *, timer_t *);

struct thread_timer {
	void (*fn)(union sigval);
	union sigval value;
};

static struct thread_timer thread_timers[MAX_THREAD_TIMERS]; /* by kernel timer id */
static pthread_once_t helper_once = PTHREAD_ONCE_INIT;
static volatile pid_t helper_tid;

static void *timer_helper(void *arg)
{
	(void)arg;
	uint64_t set = 1ull << (SIGTIMER_ - 1);
	/* Raw: glibc's sigprocmask refuses to block 32, its cancellation signal. */
	sys_call4(SYS_rt_sigprocmask_, 0 /* SIG_BLOCK */, (long)&set, 0, 8);
	__atomic_store_n(&helper_tid, (pid_t)sys_gettid(), __ATOMIC_RELEASE);
	sys_futex((int *)&helper_tid, 1 /* FUTEX_WAKE */, 1, 0);
	for (;;) {
		siginfo_t si;
		long r = sys_call4(128 /* rt_sigtimedwait */, (long)&set, (long)&si, 0, 8);
		if (r != SIGTIMER_ || si.si_code != SI_TIMER_)
			continue;
		int id = si.si_timerid;
		if (id >= 0 && id < MAX_THREAD_TIMERS && thread_timers[id].fn)
			thread_timers[id].fn(thread_timers[id].value);
	}
	return 0;
}

static void start_helper(void)
{
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, timer_helper, 0) == 0)
		while (!__atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE))
			sys_futex((int *)&helper_tid, 0 /* FUTEX_WAIT */, 0, 0);
	pthread_attr_destroy(&at);
}

/* A forked child has no helper thread: it starts its own when it needs one. */
void agent_timers_after_fork(void)
{
	pthread_once_t fresh = PTHREAD_ONCE_INIT;
	helper_once = fresh;
	helper_tid = 0;
	memset(thread_timers, 0, sizeof(thread_timers));
}

AGENT_EXPORT int timer_create(clockid_t clk, struct sigevent *sev, timer_t *out)
{
	static timer_create_fn next;
	if (!next)
		next = (timer_create_fn)dlsym(RTLD_NEXT, "timer_create");
	if (!active() || !sev || sev->sigev_notify != SIGEV_THREAD)
		return next(clk, sev, out);
	pthread_once(&helper_once, start_helper);
	if (!helper_tid)
		return next(clk, sev, out);
	struct sigevent k;
	memset(&k, 0, sizeof(k));
	k.sigev_notify = SIGEV_THREAD_ID;
	k.sigev_signo = SIGTIMER_;
	k.sigev_value = sev->sigev_value;
	k._sigev_un._tid = helper_tid;
	int id = -1;
	long r = syscall(SYS_timer_create, clk, &k, &id);
	if (r < 0)
		return -1;
	if (id >= MAX_THREAD_TIMERS) {
		syscall(SYS_timer_delete, id);
		return next(clk, sev, out);
	}
	thread_timers[id].value = sev->sigev_value;
	__atomic_store_n(&thread_timers[id].fn, sev->sigev_notify_function, __ATOMIC_RELEASE);
	*out = (timer_t)(intptr_t)id;
	return 0;
}
