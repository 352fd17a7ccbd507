/*
 * Keeping the suspend signal usable: an application that blocks every signal in a thread
 * (common in thread pools) would make that thread impossible to stop, and one that
 * installs its own handler for our signal would break checkpoints. These wrappers keep
 * the signal unblocked and our handler in place; the application sees its own view.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include "agent.h"

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
