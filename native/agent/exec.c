/*
 * Keeping the agent across exec. A program started by exec must load libstasis.so and
 * know its coordinator, even when the caller passes an environment it built itself (env -i,
 * Python's subprocess with env=, make's recipe environment) or one that names an old
 * coordinator (a process restarted against a new one). Every exec entry point that takes
 * an environment, or uses `environ`, goes through `fixed_env`: the caller's variables,
 * minus ours, plus ours as they are now. glibc's own system() and popen() spawn with
 * `environ` internally; they keep the agent as long as the program has not removed it
 * from its own environment.
 *
 * These wrappers run in ordinary application context (never while threads are stopped),
 * but a vfork child may call them: they use only the stack, never malloc.
 *
 * An exec ends the checkpoint thread, so one waits while this process's image writer is in
 * flight (writer.c): the thread reaps it and reports the image first. posix_spawn does not
 * replace the process and does not wait.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "agent.h"
#include "../common/fmt.h"

extern char **environ;

static char preload[4096]; /* this library's path, as the dynamic loader has it */

void agent_exec_init(void)
{
	Dl_info info;
	if (dladdr((void *)agent_exec_init, &info) && info.dli_fname)
		str_copy(preload, info.dli_fname, sizeof(preload));
}

static int active(void)
{
	return g_agent.sig > 0 && preload[0];
}

static int is_var(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(entry, name, n) && entry[n] == '=';
}

#define OUR_VARS 6
/* Text for our variables, built in `text` (one caller's stack frame). */
struct env_text {
	char preload[8192];
	char addr[64];
	char dir[4200];
	char sig[32];
};

static size_t env_count(char *const envp[])
{
	size_t n = 0;
	while (envp && envp[n])
		n++;
	return n;
}

/* Fills `out` (room for env_count(envp) + OUR_VARS + 1) with envp, our variables replaced
 * by their current values. */
static char **fixed_env(char *const envp[], char **out, struct env_text *t)
{
	size_t k = 0;
	const char *theirs = 0;
	for (size_t i = 0; envp && envp[i]; i++) {
		const char *e = envp[i];
		if (is_var(e, "LD_PRELOAD")) {
			theirs = e + sizeof("LD_PRELOAD");
			continue;
		}
		if (is_var(e, "STASIS_COORD_ADDR") || is_var(e, "STASIS_CKPT_DIR") || is_var(e, "STASIS_SIGNAL") ||
		    is_var(e, "STASIS_NO_FORK") || is_var(e, "STASIS_COMPRESS"))
			continue;
		out[k++] = (char *)e;
	}
	struct sbuf s;
	sb_init(&s, t->preload, sizeof(t->preload));
	sb_str(&s, "LD_PRELOAD=");
	sb_str(&s, preload);
	if (theirs) {
		/* Keep what else they preload, after us. */
		for (const char *p = theirs; *p;) {
			const char *end = strchrnul(p, ':');
			if (!((size_t)(end - p) == strlen(preload) && !strncmp(p, preload, (size_t)(end - p))) && end > p) {
				sb_str(&s, ":");
				sb_mem(&s, p, (size_t)(end - p));
			}
			p = *end ? end + 1 : end;
		}
	}
	out[k++] = (char *)sb_cstr(&s);

	sb_init(&s, t->addr, sizeof(t->addr));
	sb_str(&s, "STASIS_COORD_ADDR=");
	const uint8_t *ip = (const uint8_t *)&g_agent.coord_ip;
	for (int i = 0; i < 4; i++) {
		sb_udec(&s, ip[i]);
		sb_str(&s, i < 3 ? "." : ":");
	}
	sb_udec(&s, g_agent.coord_port);
	out[k++] = (char *)sb_cstr(&s);

	sb_init(&s, t->dir, sizeof(t->dir));
	sb_str(&s, "STASIS_CKPT_DIR=");
	sb_str(&s, g_agent.ckpt_dir);
	out[k++] = (char *)sb_cstr(&s);

	sb_init(&s, t->sig, sizeof(t->sig));
	sb_str(&s, "STASIS_SIGNAL=");
	sb_udec(&s, (uint64_t)g_agent.sig);
	out[k++] = (char *)sb_cstr(&s);
	if (g_agent.no_fork)
		out[k++] = (char *)"STASIS_NO_FORK=1";
	if (g_agent.no_compress)
		out[k++] = (char *)"STASIS_COMPRESS=0";
	out[k] = 0;
	return out;
}

#define NEXT(type, name) \
	static type next; \
	if (!next) \
		next = (type)dlsym(RTLD_NEXT, name)

/* Calls `call` (which names `fixed`) with envp fixed, or passes `plain` through when the
 * agent is not active. The fixed environment lives in this stack frame. */
#define WITH_ENV(envp, plain, call) \
	do { \
		if (!active()) \
			return plain; \
		char *fixed_[env_count(envp) + OUR_VARS + 1]; \
		struct env_text text_; \
		char *const *fixed = fixed_env(envp, fixed_, &text_); \
		return call; \
	} while (0)

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const[], char *const[]);

AGENT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	agent_writer_wait_idle();
	NEXT(execve_fn, "execve");
	WITH_ENV(envp, next(path, argv, envp), next(path, argv, fixed));
}

AGENT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	agent_writer_wait_idle();
	NEXT(execve_fn, "execvpe");
	WITH_ENV(envp, next(file, argv, envp), next(file, argv, fixed));
}

AGENT_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

AGENT_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

AGENT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	agent_writer_wait_idle();
	NEXT(fexecve_fn, "fexecve");
	WITH_ENV(envp, next(fd, argv, envp), next(fd, argv, fixed));
}

AGENT_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	agent_writer_wait_idle();
	NEXT(execveat_fn, "execveat");
	WITH_ENV(envp, next(dirfd, path, argv, envp, flags), next(dirfd, path, argv, fixed, flags));
}

/* The execl family: collect the variadic arguments on the stack. */
static size_t count_args(const char *arg, va_list ap)
{
	size_t n = 1;
	va_list aq;
	va_copy(aq, ap);
	for (const char *a = arg; a; a = va_arg(aq, const char *))
		n++;
	va_end(aq);
	return n;
}

#define COLLECT(argv, arg, ap) \
	do { \
		size_t i_ = 0; \
		for (const char *a_ = (arg); a_; a_ = va_arg((ap), const char *)) \
			(argv)[i_++] = (char *)a_; \
		(argv)[i_] = 0; \
	} while (0)

AGENT_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	char *argv[count_args(arg, ap)];
	COLLECT(argv, arg, ap);
	va_end(ap);
	return execve(path, argv, environ);
}

AGENT_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	char *argv[count_args(arg, ap)];
	COLLECT(argv, arg, ap);
	va_end(ap);
	return execvpe(file, argv, environ);
}

AGENT_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	char *argv[count_args(arg, ap)];
	COLLECT(argv, arg, ap);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}

AGENT_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	NEXT(spawn_fn, "posix_spawn");
	WITH_ENV(envp, next(pid, path, fa, attr, argv, envp), next(pid, path, fa, attr, argv, fixed));
}

AGENT_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			      const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	NEXT(spawn_fn, "posix_spawnp");
	WITH_ENV(envp, next(pid, file, fa, attr, argv, envp), next(pid, file, fa, attr, argv, fixed));
}
